"""Reductions with NumPy's ``axis``/``keepdims``/``dtype`` semantics, built on reduce primitives."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.errors import FunctraceError
from functrace.numpy._core import (
    _as_operand,
    _cast,
    _to_bool,
    as_dtype,
    asarray,
    check_axis,
    sqrt,
    subtract,
    user_error,
)
from functrace.tracing import get_aval, located

Array = Any


def _arr(x: Any) -> Any:
    x = _as_operand(x)
    return x if not isinstance(x, (bool, int, float, complex)) else asarray(x)


def _axes(x: Any, axis: int | Sequence[int] | None) -> tuple[int, ...]:
    nd = get_aval(x).ndim
    if axis is None:
        return tuple(range(nd))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    if nd == 0 and axes and set(axes) <= {0, -1} and not isinstance(axes[0], bool):
        return ()  # NumPy accepts axis 0 / -1 of a 0-d array: a reduction over nothing
    out = tuple(check_axis(a, x) for a in axes)
    if len(set(out)) != len(out):
        raise user_error(ValueError(f"duplicate value in 'axis': {axis}"))
    return out


def _keep(out: Any, x_shape: tuple[int, ...], axes: tuple[int, ...], keepdims: bool) -> Any:
    if not keepdims:
        return out
    return lax.reshape(out, tuple(1 if i in axes else d for i, d in enumerate(x_shape)))


@lru_cache(maxsize=None)
def _sum_dtype(dt: np.dtype) -> np.dtype:
    """The dtype NumPy's sum gives for ``dt`` (bool and small ints accumulate in the platform int)."""
    return np.add.reduce(np.zeros(1, dt)).dtype


def _no_out(name: str, out: Any) -> None:
    if out is not None:
        raise user_error(TypeError(f"{name}: out= is not supported (arrays are immutable); use the result"))


def _no_mask(where: Any) -> Any:
    """None for a ``where`` that chooses everything (``True``, NumPy's default spelled out)."""
    return None if where is True or (isinstance(where, np.bool_) and bool(where)) else where


def _masked(a: Any, where: Any, fill: Any) -> Any:
    """``a`` with the entries ``where`` leaves out replaced by ``fill`` (a reduction's identity),
    in the shape ``a`` and the mask broadcast to."""
    if where is None:
        return a
    from functrace.numpy._core import where as select

    mask = _to_bool(_arr(where))
    return select(mask, a, _cast(fill, get_aval(a).dtype))


def _with_initial(out: Any, initial: Any, combine: Any) -> Any:
    return out if initial is None else combine(out, _cast(initial, get_aval(out).dtype))


def sum(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None,  # noqa: A001
        keepdims: bool = False, *, out: None = None, initial: Any = None, where: Any = None) -> Array:
    """Sum over ``axis`` (all axes by default) of the entries ``where`` chooses, plus ``initial``."""
    return _accumulate("sum", lax.reduce_sum, lax.add, 0, a, axis, dtype, keepdims, out, initial, where)


def prod(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None,
         keepdims: bool = False, *, out: None = None, initial: Any = None, where: Any = None) -> Array:
    """Product over ``axis`` of the entries ``where`` chooses, times ``initial``."""
    return _accumulate("prod", lax.reduce_prod, lax.mul, 1, a, axis, dtype, keepdims, out, initial, where)


def _accumulate(name: str, reduce: Any, combine: Any, identity: int, a: Any, axis: Any, dtype: Any,
                keepdims: bool, out: Any, initial: Any, where: Any) -> Any:
    """A sum or product in ``dtype`` (NumPy's accumulator by default) of the chosen entries (the
    others count as the identity), combined with ``initial``."""
    where = _no_mask(where)
    _no_out(name, out)
    a = _arr(a)
    dt = as_dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    a = _masked(lax.convert_element_type(a, dt), where, identity)
    axes = _axes(a, axis)
    return _with_initial(_keep(reduce(a, axes), get_aval(a).shape, axes, keepdims), initial, combine)


def _broadcast_like(a: Any, where: Any) -> Any:
    """``a`` broadcast to its shape with the mask's (a mask may have more axes)."""
    from functrace.numpy._shape import broadcast_to

    shape = np.broadcast_shapes(get_aval(a).shape, np.shape(where))
    return a if tuple(shape) == get_aval(a).shape else broadcast_to(a, shape)


def _extremum(name: str, reduce: Any, combine: Any, a: Any, axis: Any, keepdims: bool, out: Any, initial: Any,
              where: Any) -> Any:
    _no_out(name, out)
    where = _no_mask(where)
    a = _arr(a)
    if where is not None:
        if initial is None:
            raise user_error(ValueError(f"{name}: where= needs initial= (the value of a slice that chooses "
                                        "nothing), as in NumPy"))
        a = _masked(a, where, initial)
    axes = _axes(a, axis)
    return _with_initial(_keep(reduce(a, axes), get_aval(a).shape, axes, keepdims), initial, combine)


def max(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,  # noqa: A001
        out: None = None, initial: Any = None, where: Any = None) -> Array:
    """Maximum over ``axis`` (nan propagates); with ``where``, of the chosen entries and ``initial``."""
    return _extremum("max", lax.reduce_max, lax.max, a, axis, keepdims, out, initial, where)


def min(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,  # noqa: A001
        out: None = None, initial: Any = None, where: Any = None) -> Array:
    """Minimum over ``axis``; with ``where``, of the chosen entries and ``initial``."""
    return _extremum("min", lax.reduce_min, lax.min, a, axis, keepdims, out, initial, where)


amax, amin = max, min


def all(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,  # noqa: A001
        out: None = None, where: Any = None) -> Array:
    """True where every chosen element along ``axis`` is non-zero."""
    return _logical("all", lax.reduce_and, True, a, axis, keepdims, out, where)


def any(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False, *,  # noqa: A001
        out: None = None, where: Any = None) -> Array:
    """True where some chosen element along ``axis`` is non-zero."""
    return _logical("any", lax.reduce_or, False, a, axis, keepdims, out, where)


def _logical(name: str, reduce: Any, identity: bool, a: Any, axis: Any, keepdims: bool, out: Any,
             where: Any) -> Any:
    _no_out(name, out)
    a = _masked(_to_bool(_arr(a)), _no_mask(where), identity)
    axes = _axes(a, axis)
    return _keep(reduce(a, axes), get_aval(a).shape, axes, keepdims)


def _count(a: Any, axes: tuple[int, ...]) -> int:
    shape = get_aval(a).shape
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def _chosen(a: Any, axes: tuple[int, ...], where: Any, dt: np.dtype, keepdims: bool) -> Any:
    """How many entries each slice counts: its size, or the number ``where`` chooses."""
    if where is None:
        return _cast(float(_count(a, axes)), dt)
    mask = lax.convert_element_type(_broadcast_like(_to_bool(_arr(where)), a), dt)
    return sum(mask, axis=axes, dtype=dt, keepdims=keepdims)


def mean(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None,
         keepdims: bool = False, *, out: None = None, where: Any = None) -> Array:
    """Arithmetic mean over ``axis`` of the entries ``where`` chooses; integer inputs give
    float64, as in NumPy (nan for a slice that chooses nothing)."""
    where = _no_mask(where)
    _no_out("mean", out)
    a = _arr(a)
    dt = as_dtype(dtype) if dtype is not None else (get_aval(a).dtype if is_float(get_aval(a).dtype)
                                                    else np.dtype(np.float64))
    if where is not None:
        a = _broadcast_like(a, where)
    axes = _axes(a, axis)
    s = sum(a, axis=axes, dtype=dt, keepdims=keepdims, where=where)
    return lax.div(s, _chosen(a, axes, where, dt, keepdims))


def var(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False, *, out: None = None, where: Any = None) -> Array:
    """Variance: mean of squared deviations (of the chosen entries), divided by ``n - ddof``."""
    where = _no_mask(where)
    _no_out("var", out)
    a = _arr(a)
    dt = as_dtype(dtype) if dtype is not None else get_aval(a).dtype
    if not is_float(dt):  # integers and booleans: float64, as NumPy
        dt = np.dtype(np.float64)
    a = lax.convert_element_type(a, dt)
    if where is not None:
        a = _broadcast_like(a, where)
    axes = _axes(a, axis)
    centered = subtract(a, mean(a, axis=axes, keepdims=True, where=where))
    ss = sum(lax.integer_pow(centered, 2), axis=axes, keepdims=keepdims, where=where)
    # n - ddof, not below 0 (as NumPy): a slice with too few entries is nan (0 / 0), not -0.0
    dof = lax.max(lax.sub(_chosen(a, axes, where, dt, keepdims), _cast(float(ddof), dt)), _cast(0.0, dt))
    return lax.div(ss, dof)


def std(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False, *, out: None = None, where: Any = None) -> Array:
    """Standard deviation: ``sqrt(var(...))``."""
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims, out=out, where=where))


def _arg(reducer, a: Array, axis: int | None, keepdims: bool) -> Array:
    a = _arr(a)
    if axis is None:
        flat = lax.reshape(a, (get_aval(a).size,))
        out = reducer(flat, 0, np.int64)
        return lax.reshape(out, (1,) * get_aval(a).ndim) if keepdims else out
    (ax,) = _axes(a, axis)
    try:
        out = reducer(a, ax, np.int64)
    except FunctraceError as e:
        raise located(e) from None
    return _keep(out, get_aval(a).shape, (ax,), keepdims)


def argmax(a: Array, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the first maximum (over the flattened array when ``axis`` is None)."""
    return _arg(lax.argmax, a, axis, keepdims)


def argmin(a: Array, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the first minimum."""
    return _arg(lax.argmin, a, axis, keepdims)


def cumsum(a: Array, axis: int | None = None, dtype: Any = None) -> Array:
    """Cumulative sum along ``axis`` (of the flattened array when ``axis`` is None)."""
    a = _arr(a)
    if axis is None:
        a = lax.reshape(a, (get_aval(a).size,))
        axis = 0
    (ax,) = _axes(a, axis)
    dt = as_dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    return lax.cumsum(lax.convert_element_type(a, dt), ax)


