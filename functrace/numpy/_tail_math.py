"""The long tail of ``jax.numpy``'s elementwise math, comparisons, NaN-ignoring reductions and
statistics, each composed from ``functrace.numpy``'s own functions (so each differentiates,
batches and compiles as its parts do; none has a rule of its own).

Integer-only operations (shifts, ``gcd``, ``bitwise_count``) are built from integer arithmetic:
a shift by ``y`` is a product or floor-division by ``2**y`` (wrapping as NumPy's integers do),
shifts by the bit width or more give 0 (or -1 for negative values shifted right), as in JAX.

The functions live in ``_tail_elementwise``, ``_tail_integers`` (with the comparisons) and
``_tail_stats`` (with the NaN-ignoring reductions); this module keeps the array API's spellings,
the creation functions, NumPy's dtype helpers and the list of names.
"""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from functrace.numpy._core import (
    _as_operand,
    abs,
    arccos,
    arccosh,
    arcsin,
    arcsinh,
    arctan,
    arctan2,
    arctanh,
    asarray,
    astype,
    bitwise_and,
    equal,
    greater,
    invert,
    isinf,
    isnan,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    multiply,
    negative,
    power,
    true_divide,
    user_error,
    where,
)
from functrace.numpy._reductions import sum
from functrace.numpy._shape import concatenate, expand_dims, moveaxis, reshape, transpose
from functrace.numpy._tail_elementwise import (
    _float,
    _like,
    cbrt,
    copysign,
    deg2rad,
    degrees,
    fmax,
    fmin,
    frexp,
    heaviside,
    hypot,
    i0,
    isneginf,
    isposinf,
    isrealobj,
    isscalar,
    ldexp,
    logaddexp2,
    modf,
    nan_to_num,
    rad2deg,
    radians,
    signbit,
    sinc,
    spacing,
    unwrap,
)
from functrace.numpy._tail_integers import (
    allclose,
    array_equal,
    array_equiv,
    bitwise_count,
    bitwise_left_shift,
    bitwise_right_shift,
    gcd,
    isclose,
    isin,
    lcm,
    left_shift,
    right_shift,
)
from functrace.numpy._tail_stats import (
    average,
    bincount,
    corrcoef,
    cov,
    histogram,
    histogram2d,
    histogram_bin_edges,
    histogramdd,
    interp,
    nanargmax,
    nanargmin,
    nanmax,
    nanmean,
    nanmin,
    nanprod,
    nanstd,
    nansum,
    nanvar,
    ptp,
)
from functrace.tracing import get_aval

Array = Any

__all__ = [
    "acos", "acosh", "asin", "asinh", "atan", "atan2", "atanh", "pow", "bitwise_invert", "bitwise_not",
    "bitwise_left_shift", "bitwise_right_shift", "left_shift", "right_shift", "bitwise_count", "gcd", "lcm",
    "fabs", "concat", "permute_dims",
    "cbrt", "hypot", "copysign", "signbit", "ldexp", "frexp", "modf", "logaddexp2", "sinc", "heaviside", "fmax",
    "fmin", "nan_to_num", "i0", "deg2rad", "rad2deg", "degrees", "radians", "isneginf", "isposinf",
    "isrealobj", "isscalar", "spacing", "unwrap",
    "isclose", "allclose", "array_equal", "array_equiv", "isin",
    "nansum", "nanprod", "nanmax", "nanmin", "nanmean", "nanvar", "nanstd", "nanargmax", "nanargmin",
    "average", "ptp", "cov", "corrcoef", "bincount", "histogram", "histogram_bin_edges", "histogram2d",
    "histogramdd", "interp", "logspace", "geomspace", "empty_like", "euler_gamma", "nextafter", "packbits",
    "unpackbits", "frombuffer", "fromiter", "fromstring", "from_dlpack", "frompyfunc", "iterable", "finfo", "iinfo",
    "can_cast", "promote_types", "issubdtype", "isdtype",
]

# dtype introspection: NumPy's own helpers (functrace's dtypes are NumPy's)
finfo, iinfo, can_cast, promote_types, issubdtype, isdtype = (np.finfo, np.iinfo, np.can_cast, np.promote_types,
                                                               np.issubdtype, np.isdtype)

euler_gamma = float(np.euler_gamma)


# ---------------------------------------------------------------------------- spellings
acos, acosh, asin, asinh, atan, atanh = arccos, arccosh, arcsin, arcsinh, arctan, arctanh
atan2, pow, bitwise_invert, bitwise_not = arctan2, power, invert, invert  # noqa: A001


def fabs(x: Array) -> Array:
    """Absolute value in floating point."""
    return abs(_float(x))


concat, permute_dims = concatenate, transpose  # the array API's names (NumPy's are the same functions)


# ---------------------------------------------------------------------------- creation
def logspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, base: float = 10.0, dtype: Any = None,
             axis: int = 0) -> Array:
    """``base ** linspace(start, stop, num)``."""
    from functrace.numpy._creation import linspace

    y = linspace(start, stop, num, endpoint=endpoint, axis=axis) if axis else linspace(start, stop, num,
                                                                                       endpoint=endpoint)
    out = power(_like(base, y) if hasattr(y, "aval") or hasattr(y, "dtype") else base, y)
    return astype(out, dtype) if dtype is not None else out


def geomspace(start: Any, stop: Any, num: int = 50, endpoint: bool = True, dtype: Any = None,
              axis: int = 0) -> Array:
    """Numbers spaced evenly on a log scale between ``start`` and ``stop`` (same signs):
    ``start * (stop / start) ** t`` for ``t`` evenly spaced in [0, 1]."""
    s, e = _float(start), _float(stop)
    if num <= 0:
        return astype(multiply(asarray(np.zeros(0)), 0.0), dtype or np.float64)
    den = (num - 1) if endpoint else num
    t = np.arange(num, dtype=np.float64) / builtins.max(den, 1)
    out = multiply(s, power(true_divide(e, s), t))
    if endpoint and num > 1:
        out = concatenate([out[:-1], reshape(astype(e, get_aval(out).dtype), (1,))])
    if axis:
        out = moveaxis(out, 0, axis)
    return astype(out, dtype) if dtype is not None else out


def empty_like(prototype: Array, dtype: Any = None, shape: Any = None) -> Array:
    """Zeros like ``prototype`` (functrace never returns uninitialised memory)."""
    from functrace.numpy._creation import zeros, zeros_like

    if shape is not None:
        return zeros(shape, dtype or get_aval(_as_operand(prototype)).dtype)
    return zeros_like(prototype, dtype=dtype)



def nextafter(x1: Array, x2: Array) -> Array:
    """The next representable number after ``x1`` in the direction of ``x2`` (from ``frexp``:
    one unit in the last place, half of it when stepping down to a smaller binade)."""
    x1, x2 = _float(x1), _float(x2)
    dt = np.result_type(get_aval(x1).dtype, get_aval(x2).dtype)
    x1, x2 = astype(x1, dt), astype(x2, dt)
    info = np.finfo(dt)
    tiny = _like(info.smallest_subnormal, x1)
    m, e = frexp(x1)
    ulp = maximum(power(_like(2.0, x1), astype(e, dt) - float(info.nmant) - 1.0), tiny)
    up = greater(x2, x1)
    away = equal(up, greater(x1, 0))  # moving away from zero
    exact_pow2 = equal(abs(m), 0.5)
    step = where(logical_and(logical_not(away), exact_pow2), maximum(ulp * 0.5, tiny), ulp)
    out = where(up, x1 + step, x1 - step)
    out = where(equal(x1, 0), where(up, tiny, negative(tiny)), out)
    out = where(equal(x1, x2), x2, out)
    out = where(logical_and(isinf(x1), logical_not(equal(x1, x2))),
                where(greater(x1, 0), _like(info.max, x1), _like(info.min, x1)), out)
    return where(logical_or(isnan(x1), isnan(x2)), _like(np.nan, x1), out)


def packbits(a: Array, axis: int | None = None, bitorder: str = "big") -> Array:
    """Pack the truth of ``a`` into uint8 bytes along ``axis`` (padded with zeros to 8)."""
    from functrace.numpy._shape import pad

    a = asarray(_as_operand(a))
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis %= builtins.max(get_aval(a).ndim, 1)
    bits = astype(astype(a, np.bool_), np.uint8)
    n = get_aval(bits).shape[axis]
    padn = (-n) % 8
    if padn:
        widths = [(0, 0)] * get_aval(bits).ndim
        widths[axis] = (0, padn)
        bits = pad(bits, widths)
    bits = moveaxis(bits, axis, -1)
    lead = get_aval(bits).shape[:-1]
    bits = reshape(bits, lead + ((n + padn) // 8, 8))
    weights = np.array([128, 64, 32, 16, 8, 4, 2, 1] if bitorder == "big" else [1, 2, 4, 8, 16, 32, 64, 128], np.uint8)
    out = sum(multiply(bits, weights), axis=-1, dtype=np.uint8)
    return moveaxis(out, -1, axis)


def unpackbits(a: Array, axis: int | None = None, count: int | None = None, bitorder: str = "big") -> Array:
    """Unpack uint8 bytes into bits along ``axis``."""
    a = asarray(_as_operand(a))
    if get_aval(a).dtype != np.uint8:
        raise user_error(TypeError(f"unpackbits needs uint8, got {get_aval(a).dtype}"))
    if axis is None:
        a, axis = reshape(a, (-1,)), 0
    axis %= builtins.max(get_aval(a).ndim, 1)
    a = moveaxis(a, axis, -1)
    shifts = np.array([7, 6, 5, 4, 3, 2, 1, 0] if bitorder == "big" else list(range(8)), np.uint8)
    bits = bitwise_and(right_shift(expand_dims(a, -1), shifts), np.uint8(1))
    lead = get_aval(a).shape[:-1]
    bits = reshape(bits, lead + (get_aval(a).shape[-1] * 8,))
    if count is not None:
        total = get_aval(bits).shape[-1]
        if count <= total:
            bits = bits[..., :count]
        else:
            from functrace.numpy._shape import pad

            bits = pad(bits, [(0, 0)] * len(lead) + [(0, count - total)])
    return moveaxis(bits, -1, axis)


def frombuffer(buffer: Any, dtype: Any = float, count: int = -1, offset: int = 0) -> Array:
    """An array from the bytes of ``buffer`` (read on the host, as NumPy)."""
    return asarray(np.frombuffer(buffer, dtype=dtype, count=count, offset=offset).copy())


def fromiter(iterable: Any, dtype: Any, count: int = -1) -> Array:
    """An array from an iterable of numbers (read on the host)."""
    return asarray(np.fromiter(iterable, dtype=dtype, count=count))


def fromstring(string: str, dtype: Any = float, count: int = -1, *, sep: str) -> Array:
    """An array from a text string of numbers separated by ``sep``."""
    return asarray(np.fromstring(string, dtype=dtype, count=count, sep=sep))


def from_dlpack(x: Any, /, *, device: Any = None, copy: bool | None = None) -> Array:
    """An array from an object with ``__dlpack__`` (through NumPy)."""
    return asarray(np.from_dlpack(x))


def frompyfunc(func: Any, /, nin: int, nout: int, *, identity: Any = None) -> Any:
    """``func`` of scalars as a vectorized function (``vectorize``; no ufunc methods)."""
    from functrace.numpy._tail_shape import vectorize

    return vectorize(func)


def iterable(y: Any) -> bool:
    """True when ``iter(y)`` works."""
    try:
        iter(y)
    except TypeError:
        return False
    return True
