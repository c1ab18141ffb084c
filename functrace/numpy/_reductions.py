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


def sum(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None,  # noqa: A001
        keepdims: bool = False) -> Array:
    """Sum over ``axis`` (all axes by default). ``fnp.sum(x, axis=0, keepdims=True)``."""
    a = _arr(a)
    axes = _axes(a, axis)
    dt = as_dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    return _keep(lax.reduce_sum(lax.convert_element_type(a, dt), axes), get_aval(a).shape, axes, keepdims)


def prod(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None,
         keepdims: bool = False) -> Array:
    """Product over ``axis``."""
    a = _arr(a)
    axes = _axes(a, axis)
    dt = as_dtype(dtype) if dtype is not None else _sum_dtype(get_aval(a).dtype)
    return _keep(lax.reduce_prod(lax.convert_element_type(a, dt), axes), get_aval(a).shape, axes, keepdims)


def max(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Array:  # noqa: A001
    """Maximum over ``axis`` (nan propagates)."""
    a = _arr(a)
    axes = _axes(a, axis)
    return _keep(lax.reduce_max(a, axes), get_aval(a).shape, axes, keepdims)


def min(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Array:  # noqa: A001
    """Minimum over ``axis``."""
    a = _arr(a)
    axes = _axes(a, axis)
    return _keep(lax.reduce_min(a, axes), get_aval(a).shape, axes, keepdims)


amax, amin = max, min


def all(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Array:  # noqa: A001
    """True where every element along ``axis`` is non-zero."""
    a = _to_bool(_arr(a))
    axes = _axes(a, axis)
    return _keep(lax.reduce_and(a, axes), get_aval(a).shape, axes, keepdims)


def any(a: Array, axis: int | Sequence[int] | None = None, keepdims: bool = False) -> Array:  # noqa: A001
    """True where some element along ``axis`` is non-zero."""
    a = _to_bool(_arr(a))
    axes = _axes(a, axis)
    return _keep(lax.reduce_or(a, axes), get_aval(a).shape, axes, keepdims)


def _count(a: Any, axes: tuple[int, ...]) -> int:
    shape = get_aval(a).shape
    n = 1
    for ax in axes:
        n *= shape[ax]
    return n


def mean(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None,
         keepdims: bool = False) -> Array:
    """Arithmetic mean over ``axis``; integer inputs give float64, as in NumPy."""
    a = _arr(a)
    axes = _axes(a, axis)
    dt = as_dtype(dtype) if dtype is not None else (get_aval(a).dtype if is_float(get_aval(a).dtype)
                                                    else np.dtype(np.float64))
    s = sum(a, axis=axes, dtype=dt, keepdims=keepdims)
    return lax.div(s, _cast(float(_count(a, axes)), dt))


def var(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Array:
    """Variance: mean of squared deviations, divided by ``n - ddof``."""
    a = _arr(a)
    axes = _axes(a, axis)
    dt = as_dtype(dtype) if dtype is not None else get_aval(a).dtype
    if not is_float(dt):  # integers and booleans: float64, as NumPy
        dt = np.dtype(np.float64)
    a = lax.convert_element_type(a, dt)
    centered = subtract(a, mean(a, axis=axes, keepdims=True))
    ss = lax.reduce_sum(lax.integer_pow(centered, 2), axes)
    out = lax.div(ss, _cast(float(_count(a, axes) - ddof), dt))
    return _keep(out, get_aval(a).shape, axes, keepdims)


def std(a: Array, axis: int | Sequence[int] | None = None, dtype: Any = None, ddof: int = 0,
        keepdims: bool = False) -> Array:
    """Standard deviation: ``sqrt(var(...))``."""
    return sqrt(var(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


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


