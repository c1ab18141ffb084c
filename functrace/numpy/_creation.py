"""Array creation. With no traced inputs these return the active backend's native arrays."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.numpy._core import _as_operand, as_dtype, asarray
from functrace.tracing import Tracer, current_backend, get_aval

Array = Any


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    return (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)


def _native(arr: np.ndarray) -> Array:
    return current_backend().asarray(arr)


def _dtype(dtype: Any, default: Any = None) -> np.dtype | None:
    """A ``dtype=`` argument as a NumPy dtype (a torch dtype too), or ``default`` when None."""
    return as_dtype(dtype) if dtype is not None else default


def zeros(shape: int | Sequence[int], dtype: Any = None) -> Array:
    """An array of zeros (float64 unless ``dtype``)."""
    return _native(np.zeros(_shape(shape), dtype=_dtype(dtype, np.float64)))


def ones(shape: int | Sequence[int], dtype: Any = None) -> Array:
    """An array of ones (float64 unless ``dtype``)."""
    return _native(np.ones(_shape(shape), dtype=_dtype(dtype, np.float64)))


def full(shape: int | Sequence[int], fill_value: Any, dtype: Any = None) -> Array:
    """An array filled with ``fill_value`` (which may be traced)."""
    shape, dtype = _shape(shape), _dtype(dtype)
    if isinstance(fill_value, Tracer):
        v = fill_value if dtype is None else lax.convert_element_type(fill_value, dtype)
        from functrace.numpy._shape import broadcast_to

        return broadcast_to(v, shape)
    return _native(np.full(shape, fill_value, dtype=dtype))


def _like(x: Any, value: Any, dtype: Any, shape: Any) -> Array:
    x = _as_operand(x)
    aval = get_aval(x) if not isinstance(x, (bool, int, float, complex)) else get_aval(asarray(x))
    dt = _dtype(dtype, aval.dtype)
    shp = aval.shape if shape is None else _shape(shape)
    if isinstance(value, Tracer):
        return full(shp, value, dt)
    return _native(np.full(shp, value, dtype=dt))


def zeros_like(a: Array, dtype: Any = None, shape: Any = None) -> Array:
    """Zeros with the shape and dtype of ``a``."""
    return _like(a, 0, dtype, shape)


def ones_like(a: Array, dtype: Any = None, shape: Any = None) -> Array:
    """Ones with the shape and dtype of ``a``."""
    return _like(a, 1, dtype, shape)


def full_like(a: Array, fill_value: Any, dtype: Any = None, shape: Any = None) -> Array:
    """``fill_value`` with the shape and dtype of ``a``."""
    return _like(a, fill_value, dtype, shape)


def empty(shape: int | Sequence[int], dtype: Any = None) -> Array:
    return zeros(shape, dtype)


def arange(start: Any, stop: Any = None, step: Any = None, dtype: Any = None) -> Array:
    """Evenly spaced values in [start, stop), as ``numpy.arange`` (bounds must be concrete)."""
    args = [a for a in (start, stop, step) if a is not None]
    args = [float(a) if isinstance(a, Tracer) and np.issubdtype(a.dtype, np.floating)
            else int(a) if isinstance(a, Tracer) else a for a in args]
    return _native(np.arange(*args, dtype=_dtype(dtype)))


def linspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None) -> Array:
    """``num`` evenly spaced values from start to stop (traced endpoints are allowed)."""
    dtype = _dtype(dtype)
    if isinstance(start, Tracer) or isinstance(stop, Tracer):
        from functrace.numpy._core import add, multiply, result_type, subtract

        dt = result_type(start, stop, float(num))  # NumPy's rule: a float of the inputs' kind
        start, stop = (lax.convert_element_type(asarray(v), dt) for v in (start, stop))
        steps = np.linspace(0.0, 1.0, num, endpoint=endpoint).astype(dt)
        out = add(start, multiply(subtract(stop, start), steps))
        return out if dtype is None else lax.convert_element_type(out, dtype)
    return _native(np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype))


def eye(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Array:
    """A 2-D array with ones on the k-th diagonal."""
    return _native(np.eye(N, M, k=k, dtype=_dtype(dtype, np.float64)))


def identity(n: int, dtype: Any = None) -> Array:
    return eye(n, dtype=dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: Any = None) -> Array:
    return _native(np.tri(N, M, k=k, dtype=_dtype(dtype, np.float64)))


def tril(m: Array, k: int = 0) -> Array:
    """Lower triangle (zeros above the k-th diagonal)."""
    from functrace.numpy._core import where

    aval = get_aval(_as_operand(m))
    zero = np.zeros((), aval.dtype)  # of m's own dtype, so booleans stay boolean
    return where(np.tri(aval.shape[-2], aval.shape[-1], k=k, dtype=bool), m, zero)


def triu(m: Array, k: int = 0) -> Array:
    """Upper triangle (zeros below the k-th diagonal)."""
    from functrace.numpy._core import where

    aval = get_aval(_as_operand(m))
    zero = np.zeros((), aval.dtype)
    return where(np.tri(aval.shape[-2], aval.shape[-1], k=k - 1, dtype=bool), zero, m)
