"""Cumulative products and sums, differences, gradients and the trapezoid rule, with NumPy's
signatures, composed from the cumulative primitives, slices and arithmetic."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_bool, is_float
from functrace.errors import ShapeError
from functrace.numpy import _core as C
from functrace.numpy._core import _cast, check_axis, user_error
from functrace.numpy._reductions import _arr, _sum_dtype, cumsum
from functrace.ops.cumulative import cumprod as lax_cumprod
from functrace.tracing import get_aval, located

__all__ = [
    "cumprod", "cumulative_prod", "cumulative_sum", "diff", "ediff1d", "gradient", "nancumprod", "nancumsum",
    "trapezoid",
]

Array = Any


def _flat_or_axis(a: Array, axis: int | None) -> tuple[Array, int]:
    if axis is None:
        return lax.reshape(a, (get_aval(a).size,)), 0
    return a, check_axis(axis, a)


def cumprod(a: Array, axis: int | None = None, dtype: Any = None) -> Array:
    """``numpy.cumprod``: cumulative product along ``axis`` (of the flattened array when None).
    Its derivative is exact where elements are zero (no division)."""
    a, ax = _flat_or_axis(_arr(a), axis)
    dt = np.dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    return lax_cumprod(lax.convert_element_type(a, dt), ax)


def nancumsum(a: Array, axis: int | None = None, dtype: Any = None) -> Array:
    """``numpy.nancumsum``: ``cumsum`` with NaN counted as zero."""
    a = _arr(a)
    if is_float(get_aval(a).dtype):
        a = C.where(C.isnan(a), 0, a)
    return cumsum(a, axis, dtype)


def nancumprod(a: Array, axis: int | None = None, dtype: Any = None) -> Array:
    """``numpy.nancumprod``: ``cumprod`` with NaN counted as one."""
    a = _arr(a)
    if is_float(get_aval(a).dtype):
        a = C.where(C.isnan(a), 1, a)
    return cumprod(a, axis, dtype)


def _cumulative(name: str, op, identity: int, x: Array, axis: int | None, dtype: Any,
                include_initial: bool) -> Array:
    x = _arr(x)
    nd = get_aval(x).ndim
    if nd == 0:
        raise user_error(ValueError(f"{name} does not accept 0-d arrays"))
    if axis is None:
        if nd > 1:
            raise user_error(ValueError(f"{name}: axis must be given for arrays of more than one dimension"))
        axis = 0
    ax = check_axis(axis, x)
    out = op(x, ax, dtype)
    if not include_initial:
        return out
    oa = get_aval(out)
    shape = oa.shape[:ax] + (1,) + oa.shape[ax + 1:]
    return lax.concatenate([lax.full(shape, identity, oa.dtype), out], ax)


def cumulative_sum(x: Array, /, *, axis: int | None = None, dtype: Any = None, include_initial: bool = False) -> Array:
    """``numpy.cumulative_sum`` (NumPy 2): ``cumsum`` that needs ``axis`` for n-d input and can
    start with the initial 0 (``include_initial``)."""
    return _cumulative("cumulative_sum", cumsum, 0, x, axis, dtype, include_initial)


def cumulative_prod(x: Array, /, *, axis: int | None = None, dtype: Any = None,
                    include_initial: bool = False) -> Array:
    """``numpy.cumulative_prod`` (NumPy 2): ``cumprod`` that needs ``axis`` for n-d input and can
    start with the initial 1 (``include_initial``)."""
    return _cumulative("cumulative_prod", cumprod, 1, x, axis, dtype, include_initial)


def _take(a: Array, start: int, stop: int, axis: int) -> Array:
    """``a[start:stop]`` along ``axis`` (non-negative static bounds)."""
    shape = get_aval(a).shape
    s, e = [0] * len(shape), list(shape)
    s[axis], e[axis] = start, stop
    return lax.slice(a, s, e)


def diff(a: Array, n: int = 1, axis: int = -1, prepend: Any = None, append: Any = None) -> Array:
    """``numpy.diff``: the ``n``-th difference along ``axis`` (``!=`` for booleans), after
    joining ``prepend``/``append`` (a scalar stands for a slice of the array's shape)."""
    from functrace.numpy._shape import broadcast_to, concatenate

    a = _arr(a)
    if n < 0:
        raise user_error(ValueError(f"order must be non-negative but got {n}"))
    if n == 0:
        return a
    nd = get_aval(a).ndim
    if nd == 0:
        raise user_error(ValueError("diff requires input that is at least one dimensional"))
    ax = check_axis(axis, a)
    def edge(extra: Any) -> Array:
        e = _arr(extra)
        if get_aval(e).ndim == 0:
            shape = list(get_aval(a).shape)
            shape[ax] = 1
            e = broadcast_to(e, tuple(shape))
        return e

    parts = ([edge(prepend)] if prepend is not None else []) + [a] + ([edge(append)] if append is not None else [])
    if len(parts) > 1:
        a = concatenate(parts, axis=ax)
    for _ in range(n):
        m = get_aval(a).shape[ax]
        hi, lo = _take(a, 1, max(m, 1), ax), _take(a, 0, max(m - 1, 0), ax)
        a = C.not_equal(hi, lo) if is_bool(get_aval(a).dtype) else C.subtract(hi, lo)
    return a


def ediff1d(ary: Array, to_end: Any = None, to_begin: Any = None) -> Array:
    """``numpy.ediff1d``: differences of the flattened array, with ``to_begin``/``to_end`` joined."""
    from functrace.numpy._shape import concatenate, ravel

    x = ravel(_arr(ary))
    dt = get_aval(x).dtype
    m = get_aval(x).shape[0]
    d = C.subtract(_take(x, 1, max(m, 1), 0), _take(x, 0, max(m - 1, 0), 0))
    d = _cast(d, dt)
    parts = [d]
    if to_begin is not None:
        parts.insert(0, _cast(ravel(_arr(to_begin)), dt))
    if to_end is not None:
        parts.append(_cast(ravel(_arr(to_end)), dt))
    return concatenate(parts) if len(parts) > 1 else d


def _concrete(x: Array) -> np.ndarray | None:
    """The value of ``x`` on the host, or None when it is abstract (under jit)."""
    from functrace.tracing import Tracer

    if isinstance(x, Tracer):
        return None if x.val is None else x.to_host("gradient's spacing")
    return np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x)


def _float(a: Array) -> Array:
    dt = get_aval(a).dtype
    return a if is_float(dt) else _cast(a, np.dtype(np.float64))


def _gradient_axis(f: Array, h: Any, ax: int, edge_order: int) -> Array:
    """The derivative of ``f`` along ``ax``: central differences inside, one-sided ones of
    ``edge_order`` at the two ends, with spacing ``h`` (a scalar, or the coordinates)."""
    from functrace.numpy._shape import concatenate

    n = get_aval(f).shape[ax]
    if n < edge_order + 1:
        raise user_error(ValueError("Shape of array too small to calculate a numerical gradient, at least "
                                    "(edge_order + 1) elements are required."))

    def at(i: int, j: int | None = None) -> Array:
        i = i + n if i < 0 else i
        j = i + 1 if j is None else (j + n if j < 0 else j)
        return _take(f, i, j, ax)

    def along(v: Array) -> Array:  # a 1-D array of coefficients, lined up with axis ax of f
        shape = [1] * get_aval(f).ndim
        shape[ax] = get_aval(v).shape[0]
        return lax.reshape(v, tuple(shape))

    coords = None if (get_aval(h).ndim if hasattr(h, "shape") else np.ndim(h)) == 0 else h
    uniform = coords is None
    if coords is not None:
        coords = _float(_arr(coords))
        if get_aval(coords).shape != (n,):
            raise located(ShapeError("when 1d, distances must match the length of the corresponding dimension"))
        dx = C.subtract(_take(coords, 1, n, 0), _take(coords, 0, n - 1, 0))
        hv = _concrete(dx)
        if hv is not None and hv.size and np.all(hv == hv[0]):  # NumPy's uniform formula for equal steps
            uniform, h = True, lax.reshape(_take(dx, 0, 1, 0), ())
    if uniform:
        interior = C.true_divide(C.subtract(at(2, n), at(0, n - 2)), C.multiply(2.0, h))
        if edge_order == 1:
            first = C.true_divide(C.subtract(at(1), at(0)), h)
            last = C.true_divide(C.subtract(at(-1), at(-2)), h)
        else:
            first = C.add(C.add(C.multiply(C.true_divide(-1.5, h), at(0)), C.multiply(C.true_divide(2.0, h), at(1))),
                          C.multiply(C.true_divide(-0.5, h), at(2)))
            last = C.add(C.add(C.multiply(C.true_divide(0.5, h), at(-3)), C.multiply(C.true_divide(-2.0, h), at(-2))),
                         C.multiply(C.true_divide(1.5, h), at(-1)))
    else:
        dx1, dx2 = _take(dx, 0, n - 2, 0), _take(dx, 1, n - 1, 0)
        s = C.add(dx1, dx2)
        a = C.negative(C.true_divide(dx2, C.multiply(dx1, s)))
        b = C.true_divide(C.subtract(dx2, dx1), C.multiply(dx1, dx2))
        c = C.true_divide(dx1, C.multiply(dx2, s))
        interior = C.add(C.add(C.multiply(along(a), at(0, n - 2)), C.multiply(along(b), at(1, n - 1))),
                         C.multiply(along(c), at(2, n)))
        if edge_order == 1:
            first = C.true_divide(C.subtract(at(1), at(0)), along(_take(dx, 0, 1, 0)))
            last = C.true_divide(C.subtract(at(-1), at(-2)), along(_take(dx, n - 2, n - 1, 0)))
        else:
            d1, d2 = along(_take(dx, 0, 1, 0)), along(_take(dx, 1, 2, 0))
            s = C.add(d1, d2)
            a = C.negative(C.true_divide(C.add(C.multiply(2.0, d1), d2), C.multiply(d1, s)))
            b = C.true_divide(s, C.multiply(d1, d2))
            c = C.negative(C.true_divide(d1, C.multiply(d2, s)))
            first = C.add(C.add(C.multiply(a, at(0)), C.multiply(b, at(1))), C.multiply(c, at(2)))
            d1, d2 = along(_take(dx, n - 3, n - 2, 0)), along(_take(dx, n - 2, n - 1, 0))
            s = C.add(d1, d2)
            a = C.true_divide(d2, C.multiply(d1, s))
            b = C.negative(C.true_divide(s, C.multiply(d1, d2)))
            c = C.true_divide(C.add(C.multiply(2.0, d2), d1), C.multiply(d2, s))
            last = C.add(C.add(C.multiply(a, at(-3)), C.multiply(b, at(-2))), C.multiply(c, at(-1)))
    return concatenate([first, interior, last], axis=ax)


def gradient(f: Array, *varargs: Any, axis: int | Sequence[int] | None = None, edge_order: int = 1) -> Any:
    """``numpy.gradient``: second-order central differences inside, one-sided differences of
    ``edge_order`` (1 or 2) at the ends; spacing per axis as a scalar or coordinates. One
    array for one axis, else a tuple (as NumPy 2)."""
    f = _float(_arr(f))
    nd = get_aval(f).ndim
    axes = tuple(range(nd)) if axis is None else tuple(
        check_axis(a, f) for a in ((axis,) if isinstance(axis, (int, np.integer)) else axis))
    if edge_order not in (1, 2):
        raise user_error(ValueError("'edge_order' greater than 2 not supported"))
    if not varargs:
        spacing = [1.0] * len(axes)
    elif len(varargs) == 1 and np.ndim(varargs[0]) == 0:
        spacing = [varargs[0]] * len(axes)
    elif len(varargs) == len(axes):
        spacing = list(varargs)
    else:
        raise user_error(TypeError("invalid number of arguments"))
    out = tuple(_gradient_axis(f, h, ax, edge_order) for h, ax in zip(spacing, axes, strict=True))
    return out[0] if len(out) == 1 else out


def trapezoid(y: Array, x: Array | None = None, dx: Any = 1.0, axis: int = -1) -> Array:
    """``numpy.trapezoid``: the integral of ``y`` along ``axis`` by the trapezoid rule, with
    sample points ``x`` (1-D, or ``y``'s shape) or a constant spacing ``dx``."""
    y = _arr(y)
    ax = check_axis(axis, y)
    n = get_aval(y).shape[ax]
    if x is None:
        d = dx
    else:
        x = _arr(x)
        xa = get_aval(x)
        if xa.ndim == 1:
            d = C.subtract(_take(x, 1, max(n, 1), 0), _take(x, 0, max(n - 1, 0), 0))
            shape = [1] * get_aval(y).ndim
            shape[ax] = get_aval(d).shape[0]
            d = lax.reshape(d, tuple(shape))
        else:
            d = diff(x, axis=ax)
    mid = C.true_divide(C.add(_take(y, 1, max(n, 1), ax), _take(y, 0, max(n - 1, 0), ax)), 2.0)
    from functrace.numpy._reductions import sum as fsum

    return fsum(C.multiply(d, mid), axis=ax)

