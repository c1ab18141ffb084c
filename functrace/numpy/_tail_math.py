"""The long tail of ``jax.numpy``'s elementwise math, comparisons, NaN-ignoring reductions and
statistics, each composed from ``functrace.numpy``'s own functions (so each differentiates,
batches and compiles as its parts do; none has a rule of its own).

Integer-only operations (shifts, ``gcd``, ``bitwise_count``) are built from integer arithmetic:
a shift by ``y`` is a product or floor-division by ``2**y`` (wrapping as NumPy's integers do),
shifts by the bit width or more give 0 (or -1 for negative values shifted right), as in JAX.
"""

from __future__ import annotations

import builtins
import math
from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import is_float
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
    exp,
    floor,
    floor_divide,
    greater,
    invert,
    isfinite,
    isinf,
    isnan,
    less,
    less_equal,
    log,
    logaddexp,
    logical_and,
    logical_not,
    logical_or,
    maximum,
    minimum,
    multiply,
    negative,
    power,
    remainder,
    sin,
    sqrt,
    subtract,
    true_divide,
    trunc,
    user_error,
    where,
)
from functrace.numpy._reductions import all, any, argmax, argmin, max, mean, min, prod, sum
from functrace.numpy._shape import concatenate, expand_dims, moveaxis, reshape, transpose
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


def _float(x: Array) -> Array:
    x = asarray(_as_operand(x))
    dt = get_aval(x).dtype
    return x if is_float(dt) else astype(x, np.result_type(dt, np.float16) if dt != np.bool_ else np.float16)


def _like(value: float, x: Array) -> Any:
    return np.asarray(value, get_aval(x).dtype)[()]


# ---------------------------------------------------------------------------- elementwise math
def cbrt(x: Array) -> Array:
    """The real cube root."""
    x = _float(x)
    r = power(abs(x), _like(1.0 / 3.0, x))
    return where(less(x, 0), negative(r), r)


def hypot(x1: Array, x2: Array) -> Array:
    """``sqrt(x1² + x2²)`` without overflow for large inputs (scaled by the larger magnitude)."""
    x1, x2 = _float(x1), _float(x2)
    a, b = abs(x1), abs(x2)
    hi, lo = maximum(a, b), minimum(a, b)
    safe = where(equal(hi, 0), 1.0, hi)
    r = true_divide(lo, safe)
    out = multiply(hi, sqrt(1.0 + multiply(r, r)))
    return where(logical_or(isinf(a), isinf(b)), np.inf, out)


def signbit(x: Array) -> Array:
    """True where the sign bit is set (negative numbers and -0.0)."""
    x = asarray(_as_operand(x))
    if not is_float(get_aval(x).dtype):
        return less(x, 0)
    neg_zero = logical_and(equal(x, 0), less(true_divide(1.0, where(equal(x, 0), x, 1.0)), 0))
    return logical_or(less(x, 0), neg_zero)


def copysign(x1: Array, x2: Array) -> Array:
    """``|x1|`` with the sign (bit) of ``x2``."""
    x1 = _float(x1)
    return where(signbit(x2), negative(abs(x1)), abs(x1))


def ldexp(x1: Array, x2: Array) -> Array:
    """``x1 * 2**x2`` (integer ``x2``)."""
    x1 = _float(x1)
    return multiply(x1, power(_like(2.0, x1), astype(x2, get_aval(x1).dtype)))


def frexp(x: Array) -> tuple:
    """Mantissa in [0.5, 1) (by magnitude) and integer exponent with ``x = m * 2**e``."""
    x = _float(x)
    dt = get_aval(x).dtype
    finite_nonzero = logical_and(isfinite(x), logical_not(equal(x, 0)))
    safe = where(finite_nonzero, abs(x), 1.0)
    e = floor(true_divide(log(safe), _like(math.log(2), x))) + 1.0
    m = true_divide(x, power(_like(2.0, x), e))
    # log rounding: bring |m| into [0.5, 1)
    big, small = greater(abs(m), _like(1.0, x)) | equal(abs(m), 1.0), less(abs(m), 0.5)
    e = where(big, e + 1.0, where(small, e - 1.0, e))
    m = where(big, m * 0.5, where(small, m * 2.0, m))
    e = where(finite_nonzero, e, 0.0)
    m = where(finite_nonzero, m, x)
    return m, astype(e, np.int32 if dt != np.float64 else np.int32)


def modf(x: Array) -> tuple:
    """Fractional and integral parts, both with the sign of ``x``."""
    x = _float(x)
    t = trunc(x)
    return where(isinf(x), multiply(x, 0.0), subtract(x, t)), t


def logaddexp2(x1: Array, x2: Array) -> Array:
    """``log2(2**x1 + 2**x2)``."""
    x1, x2 = _float(x1), _float(x2)
    ln2 = _like(math.log(2), x1)
    return true_divide(logaddexp(multiply(x1, ln2), multiply(x2, ln2)), ln2)


def sinc(x: Array) -> Array:
    """``sin(pi x) / (pi x)``, 1 at 0 (with derivative 0 there)."""
    x = _float(x)
    zero = equal(x, 0)
    px = multiply(where(zero, 1.0, x), _like(np.pi, x))
    return where(zero, 1.0, true_divide(sin(px), px))


def heaviside(x1: Array, x2: Array) -> Array:
    """0 for negative ``x1``, 1 for positive, ``x2`` at zero (nan stays nan)."""
    x1 = _float(x1)
    out = where(less(x1, 0), 0.0, where(greater(x1, 0), 1.0, x2))
    return where(isnan(x1), x1, astype(out, np.result_type(get_aval(x1).dtype, np.asarray(x2).dtype)
                                       if not hasattr(x2, "aval") else get_aval(x1).dtype))


def fmax(x1: Array, x2: Array) -> Array:
    """Elementwise maximum that ignores NaN (NaN only where both are NaN)."""
    return _nan_ignoring(maximum, x1, x2)


def fmin(x1: Array, x2: Array) -> Array:
    """Elementwise minimum that ignores NaN."""
    return _nan_ignoring(minimum, x1, x2)


def _nan_ignoring(op: Any, x1: Array, x2: Array) -> Array:
    """``op`` of the two with a NaN on one side replaced by the other side (so no NaN reaches
    ``op``, or its derivative, unless both are NaN)."""
    x1, x2 = asarray(_as_operand(x1)), asarray(_as_operand(x2))
    if not is_float(np.result_type(get_aval(x1).dtype, get_aval(x2).dtype)):
        return op(x1, x2)
    return op(where(isnan(x1), x2, x1), where(isnan(x2), x1, x2))


def nan_to_num(x: Array, copy: bool = True, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Array:
    """NaN to ``nan``, +inf/-inf to ``posinf``/``neginf`` (default: the dtype's extremes)."""
    x = asarray(_as_operand(x))
    dt = get_aval(x).dtype
    if not is_float(dt):
        return x
    info = np.finfo(dt)
    hi = info.max if posinf is None else posinf
    lo = info.min if neginf is None else neginf
    out = where(isnan(x), _like(nan, x), x)
    out = where(logical_and(isinf(x), greater(x, 0)), _like(hi, x), out)
    return where(logical_and(isinf(x), less(x, 0)), _like(lo, x), out)


def i0(x: Array) -> Array:
    """The modified Bessel function of the first kind, order 0: its power series for
    ``|x| <= 40`` and the asymptotic expansion beyond."""
    x = _float(x)
    ax = abs(x)
    cut = 40.0
    small = where(greater(ax, cut), 0.0, ax)
    q = multiply(small, small) * 0.25
    term, total = 1.0 + multiply(q, 0.0), 1.0 + multiply(q, 0.0)
    for k in range(1, 110):
        term = true_divide(multiply(term, q), float(k * k))
        total = total + term
    big = where(greater(ax, cut), ax, cut)
    inv = true_divide(1.0, big)
    coef, series, power_k = 1.0, 1.0 + multiply(inv, 0.0), 1.0 + multiply(inv, 0.0)
    for k in range(1, 16):  # sum of ((2k-1)!!)² / (k! 8^k x^k)
        coef *= (2 * k - 1) ** 2 / (8.0 * k)
        power_k = multiply(power_k, inv)
        series = series + multiply(power_k, coef)
    asym = true_divide(multiply(exp(big), series), sqrt(multiply(big, _like(2 * np.pi, x))))
    return where(greater(ax, cut), asym, total)


def deg2rad(x: Array) -> Array:
    """Degrees to radians."""
    x = _float(x)
    return multiply(x, _like(np.pi / 180.0, x))


def rad2deg(x: Array) -> Array:
    """Radians to degrees."""
    x = _float(x)
    return multiply(x, _like(180.0 / np.pi, x))


radians, degrees = deg2rad, rad2deg


def isposinf(x: Array) -> Array:
    """True at +inf."""
    return logical_and(isinf(x), greater(x, 0))


def isneginf(x: Array) -> Array:
    """True at -inf."""
    return logical_and(isinf(x), less(x, 0))


def isrealobj(x: Any) -> bool:
    """True when ``x`` is not of a complex dtype (``iscomplexobj`` is in functrace.numpy._complex)."""
    from functrace.numpy._complex import iscomplexobj

    return not iscomplexobj(x)


def isscalar(element: Any) -> bool:
    """True for Python/NumPy scalars and 0-d arrays (as ``jax.numpy.isscalar``)."""
    if isinstance(element, (bool, int, float, complex, np.generic)):
        return True
    aval = getattr(element, "aval", None)
    if aval is not None:
        return aval.ndim == 0
    return hasattr(element, "shape") and tuple(element.shape) == ()


def spacing(x: Array) -> Array:
    """The distance from ``x`` to the next representable number away from zero."""
    x = _float(x)
    dt = get_aval(x).dtype
    info = np.finfo(dt)
    m, e = frexp(x)
    ulp = power(_like(2.0, x), astype(e, dt) - float(info.nmant) - 1.0)
    ulp = maximum(ulp, _like(info.smallest_subnormal, x))
    return where(signbit(x), negative(ulp), ulp)


def unwrap(p: Array, discont: float | None = None, axis: int = -1, period: float = 2 * np.pi) -> Array:
    """Unwrap phases along ``axis`` by adding multiples of ``period`` where jumps exceed
    ``max(discont, period/2)``."""
    from functrace.numpy._cumulative import diff
    from functrace.numpy._reductions import cumsum

    p = _float(p)
    discont = period / 2 if discont is None else discont
    dd = diff(p, axis=axis)
    half = period / 2
    ddmod = remainder(dd + half, period) - half
    ddmod = where(logical_and(equal(ddmod, -half), greater(dd, 0)), half, ddmod)
    correct = where(less(abs(dd), discont), 0.0, ddmod - dd)
    nd = get_aval(p).ndim
    ax = axis % nd
    first = lax.slice_in_dim(p, 0, 1, 1, ax) if get_aval(p).shape[ax] else p
    return concatenate([first, lax.slice_in_dim(p, 1, get_aval(p).shape[ax], 1, ax) + cumsum(correct, axis=ax)],
                       axis=ax) if get_aval(p).shape[ax] > 1 else p


# ---------------------------------------------------------------------------- integers
def _int_operands(name: str, x1: Array, x2: Array) -> tuple:
    x1, x2 = asarray(_as_operand(x1)), asarray(_as_operand(x2))
    dt = np.result_type(get_aval(x1).dtype, get_aval(x2).dtype)
    if dt.kind not in "iub":
        raise user_error(TypeError(f"{name} needs integer operands, got {dt}"))
    return astype(x1, dt), astype(x2, dt), dt


def _pow2(y: Array, dt: np.dtype) -> Array:
    """``2**y`` wrapping in ``dt`` (``y`` in [0, bits))."""
    return power(np.asarray(2, dt)[()], y)


def left_shift(x1: Array, x2: Array) -> Array:
    """``x1 << x2``: 0 for shifts of the bit width or more (as JAX)."""
    x1, x2, dt = _int_operands("left_shift", x1, x2)
    if dt == np.bool_:
        x1, x2, dt = astype(x1, np.int8), astype(x2, np.int8), np.dtype(np.int8)
    bits = dt.itemsize * 8
    ok = logical_and(less(x2, bits), logical_not(less(x2, 0)))
    y = where(ok, x2, 0)
    return where(ok, multiply(x1, _pow2(y, dt)), np.asarray(0, dt)[()])


def right_shift(x1: Array, x2: Array) -> Array:
    """``x1 >> x2``: arithmetic for signed integers (floor division by ``2**x2``)."""
    x1, x2, dt = _int_operands("right_shift", x1, x2)
    if dt == np.bool_:
        x1, x2, dt = astype(x1, np.int8), astype(x2, np.int8), np.dtype(np.int8)
    bits = dt.itemsize * 8
    top = bits - 1 if dt.kind == "i" else bits
    ok = logical_and(less(x2, top), logical_not(less(x2, 0)))
    y = where(ok, x2, 0)
    shifted = floor_divide(x1, _pow2(y, dt))
    overflow = where(less(x1, 0), np.asarray(-1, dt)[()], np.asarray(0, dt)[()]) if dt.kind == "i" \
        else np.asarray(0, dt)[()]
    return where(ok, shifted, overflow)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


def bitwise_count(x: Array) -> Array:
    """The number of 1 bits in ``|x|`` (as NumPy and JAX), as uint8."""
    x = asarray(_as_operand(x))
    dt = get_aval(x).dtype
    if dt == np.bool_:
        return astype(x, np.uint8)
    total = astype(multiply(x, 0), np.uint8)
    v = x
    if dt.kind == "i":  # |x|; the minimum (whose negation wraps to itself) has one bit, 2**(bits-1)
        lowest = np.iinfo(dt).min
        is_min = equal(x, lowest)
        v = where(is_min, 0, where(less(x, 0), negative(x), x))
        total = astype(is_min, np.uint8)
    for _ in range(dt.itemsize * 8):
        total = total + astype(bitwise_and(v, 1), np.uint8)
        v = _halve(v, dt)
    return total


def _halve(v: Array, dt: np.dtype) -> Array:
    """``v // 2`` for non-negative ``v`` (unsigned 32/64-bit division as a shift of two halves is
    not needed: a wide enough signed type holds every unsigned value up to uint32)."""
    if dt.kind == "u" and dt.itemsize >= 4:
        return _unsigned_halve(v, dt)
    return floor_divide(v, 2)


def _unsigned_halve(v: Array, dt: np.dtype) -> Array:
    if dt.itemsize == 4:
        return astype(floor_divide(astype(v, np.int64), 2), dt)
    # uint64: the top bit through a comparison, the rest in int64
    top = logical_not(less(v, np.uint64(2**63)))
    low = astype(bitwise_and(v, np.uint64(2**63 - 1)), np.int64)
    return astype(floor_divide(low, 2), dt) + astype(where(top, np.uint64(2**62), np.uint64(0)), dt)


def gcd(x1: Array, x2: Array) -> Array:
    """Greatest common divisor (non-negative), by Euclid's algorithm in a ``while_loop``."""
    x1, x2, dt = _int_operands("gcd", x1, x2)
    a, b = abs(x1), abs(x2)
    from functrace.numpy._shape import broadcast_arrays

    a, b = broadcast_arrays(a, b)

    def cond(c):
        return any(c[1] != 0)

    def body(c):
        x, y = c
        nz = y != 0
        return where(nz, y, x), where(nz, remainder(x, where(nz, y, 1)), 0)

    return lax.while_loop(cond, body, (a, b))[0]


def lcm(x1: Array, x2: Array) -> Array:
    """Least common multiple (non-negative)."""
    x1, x2, dt = _int_operands("lcm", x1, x2)
    g = gcd(x1, x2)
    zero = equal(g, 0)
    return abs(where(zero, 0, multiply(floor_divide(x1, where(zero, 1, g)), x2)))


# ---------------------------------------------------------------------------- comparisons
def isclose(a: Array, b: Array, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Array:
    """``|a - b| <= atol + rtol * |b|``, infinities equal only to themselves."""
    a, b = asarray(_as_operand(a)), asarray(_as_operand(b))
    dt = np.result_type(get_aval(a).dtype, get_aval(b).dtype)
    if not is_float(dt):
        return equal(a, b)
    a, b = astype(a, dt), astype(b, dt)
    finite = logical_and(isfinite(a), isfinite(b))
    diff = abs(subtract(where(finite, a, 0), where(finite, b, 0)))
    close = less_equal(diff, _like(atol, diff) + multiply(_like(rtol, diff), abs(where(finite, b, 0))))
    out = where(finite, close, equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a: Array, b: Array, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Array:
    """All of ``isclose``."""
    return all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: Array, a2: Array, equal_nan: bool = False) -> Any:
    """Same shape and equal elements (False for different shapes, as a plain bool)."""
    a1, a2 = asarray(_as_operand(a1)), asarray(_as_operand(a2))
    if get_aval(a1).shape != get_aval(a2).shape:
        return np.bool_(False)
    eq = equal(a1, a2)
    if equal_nan and is_float(np.result_type(get_aval(a1).dtype, get_aval(a2).dtype)):
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return all(eq)


def array_equiv(a1: Array, a2: Array) -> Any:
    """Equal after broadcasting (False when the shapes do not broadcast)."""
    a1, a2 = asarray(_as_operand(a1)), asarray(_as_operand(a2))
    try:
        np.broadcast_shapes(get_aval(a1).shape, get_aval(a2).shape)
    except ValueError:
        return np.bool_(False)
    return all(equal(a1, a2))


def isin(element: Array, test_elements: Array, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto") -> Array:
    """True where ``element`` occurs in ``test_elements`` (compared all against all)."""
    e = asarray(_as_operand(element))
    t = reshape(asarray(_as_operand(test_elements)), (-1,))
    hit = any(equal(expand_dims(e, -1), t), axis=-1) if get_aval(t).shape[0] else equal(e, e) & False
    return logical_not(hit) if invert else hit


# ---------------------------------------------------------------------------- NaN-ignoring reductions
def _nan_fill(a: Array, value: float) -> Array:
    a = asarray(_as_operand(a))
    return where(isnan(a), _like(value, a), a) if is_float(get_aval(a).dtype) else a


def nansum(a: Array, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Sum treating NaN as 0."""
    return sum(_nan_fill(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a: Array, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Product treating NaN as 1."""
    out = prod(_nan_fill(a, 1.0), axis=axis, keepdims=keepdims)
    return astype(out, dtype) if dtype is not None else out


def nanmax(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """Maximum ignoring NaN (NaN where a slice is all NaN)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return max(a, axis=axis, keepdims=keepdims)
    out = max(_nan_fill(a, -np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), np.nan, out)


def nanmin(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """Minimum ignoring NaN (NaN where a slice is all NaN)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return min(a, axis=axis, keepdims=keepdims)
    out = min(_nan_fill(a, np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), np.nan, out)


def _nan_count(a: Array, axis: Any, keepdims: bool) -> Array:
    a = asarray(_as_operand(a))
    ok = logical_not(isnan(a)) if is_float(get_aval(a).dtype) else equal(a, a)
    return sum(astype(ok, _float(a).aval.dtype if hasattr(_float(a), "aval") else np.float64), axis=axis,
               keepdims=keepdims)


def nanmean(a: Array, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Mean of the non-NaN entries (NaN for an all-NaN slice)."""
    a = _float(a)
    n = sum(astype(logical_not(isnan(a)), get_aval(a).dtype), axis=axis, keepdims=keepdims)
    out = true_divide(nansum(a, axis=axis, keepdims=keepdims), n)
    return astype(out, dtype) if dtype is not None else out


def nanvar(a: Array, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Variance of the non-NaN entries."""
    a = _float(a)
    ok = logical_not(isnan(a))
    n = sum(astype(ok, get_aval(a).dtype), axis=axis, keepdims=True)
    m = true_divide(nansum(a, axis=axis, keepdims=True), n)
    d = where(ok, subtract(a, m), 0.0)
    ss = sum(multiply(d, d), axis=axis, keepdims=keepdims)
    n = n if keepdims else reshape(n, get_aval(ss).shape)
    out = true_divide(ss, maximum(n - ddof, 0.0))
    return astype(out, dtype) if dtype is not None else out


def nanstd(a: Array, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Standard deviation of the non-NaN entries."""
    return sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def nanargmax(a: Array, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the maximum ignoring NaN; -1 for an all-NaN slice (as JAX)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return argmax(a, axis=axis, keepdims=keepdims)
    idx = argmax(_nan_fill(a, -np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), -1, idx)


def nanargmin(a: Array, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the minimum ignoring NaN; -1 for an all-NaN slice (as JAX)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return argmin(a, axis=axis, keepdims=keepdims)
    idx = argmin(_nan_fill(a, np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), -1, idx)


# ---------------------------------------------------------------------------- statistics
def average(a: Array, axis: Any = None, weights: Array | None = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted mean; with ``returned``, also the sum of the weights."""
    a = _float(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        n = get_aval(a).size // builtins.max(get_aval(avg).size, 1) if axis is not None else get_aval(a).size
        return avg, multiply(avg, 0.0) + float(n)
    w = asarray(_as_operand(weights))
    if get_aval(w).shape != get_aval(a).shape:
        if axis is None or get_aval(w).ndim != 1:
            raise user_error(TypeError("average: 1-D weights need an axis, and other weights a's shape"))
        ax = axis % get_aval(a).ndim
        w = lax.broadcast_in_dim(astype(w, get_aval(a).dtype), get_aval(a).shape, (ax,))
    w = astype(w, np.result_type(get_aval(a).dtype, get_aval(w).dtype))
    wsum = sum(w, axis=axis, keepdims=keepdims)
    avg = true_divide(sum(multiply(a, w), axis=axis, keepdims=keepdims), wsum)
    return (avg, wsum + multiply(avg, 0.0)) if returned else avg


def ptp(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """Range: max - min."""
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


def cov(m: Array, y: Array | None = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Array | None = None, aweights: Array | None = None) -> Array:
    """Covariance matrix of the variables (rows, or columns without ``rowvar``)."""
    x = _float(m)
    if get_aval(x).ndim == 1:
        x = reshape(x, (1, -1))
    if not rowvar and get_aval(x).shape[0] != 1:
        x = transpose(x)
    if y is not None:
        yy = _float(y)
        yy = reshape(yy, (1, -1)) if get_aval(yy).ndim == 1 else yy
        if not rowvar and get_aval(yy).shape[0] != 1:
            yy = transpose(yy)
        x = concatenate([x, astype(yy, get_aval(x).dtype)], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    n = get_aval(x).shape[1]
    w = None
    if fweights is not None:
        w = astype(asarray(fweights), get_aval(x).dtype)
    if aweights is not None:
        aw = astype(asarray(aweights), get_aval(x).dtype)
        w = aw if w is None else multiply(w, aw)
    if w is None:
        avg = mean(x, axis=1, keepdims=True)
        fact = float(n - ddof)
        xc = subtract(x, avg)
        c = true_divide(lax.dot_general(xc, xc, (((1,), (1,)), ((), ()))), fact)
    else:
        wsum = sum(w)
        avg = true_divide(sum(multiply(x, w), axis=1, keepdims=True), wsum)
        if ddof == 0:
            fact = wsum
        elif aweights is None:
            fact = wsum - ddof
        else:
            fact = wsum - ddof * true_divide(sum(multiply(w, astype(asarray(aweights), get_aval(x).dtype))), wsum)
        xc = subtract(x, avg)
        c = true_divide(lax.dot_general(multiply(xc, w), xc, (((1,), (1,)), ((), ()))), fact)
    return reshape(c, ()) if get_aval(c).shape == (1, 1) else c


def corrcoef(x: Array, y: Array | None = None, rowvar: bool = True) -> Array:
    """Pearson correlation coefficients, clipped to [-1, 1]."""
    c = cov(x, y, rowvar)
    if get_aval(c).ndim == 0:
        return true_divide(c, c)
    d = sqrt(lax.reduce_sum(multiply(c, np.eye(get_aval(c).shape[0], dtype=get_aval(c).dtype)), (1,)))
    c = true_divide(true_divide(c, expand_dims(d, 1)), expand_dims(d, 0))
    return minimum(maximum(c, -1.0), 1.0)


def bincount(x: Array, weights: Array | None = None, minlength: int = 0, *, length: int | None = None) -> Array:
    """Counts (or summed weights) of each non-negative integer in ``x``; ``length`` (static) is
    needed under ``jit``, as in JAX. Values past ``length`` are dropped."""
    from functrace.numpy._sorting import _host

    x = asarray(_as_operand(x))
    if get_aval(x).dtype.kind not in "iub":
        raise user_error(TypeError(f"bincount needs integers, got {get_aval(x).dtype}"))
    if length is None:
        from functrace.tracing import Tracer

        if isinstance(x, Tracer) and x.val is None:
            from functrace.errors import ConcretizationError
            from functrace.tracing import located

            raise located(ConcretizationError("bincount's length depends on the values of x, which are abstract "
                                              "here (inside jit); pass a static length=, as in JAX"))
        hx = _host(x.to_host("bincount") if isinstance(x, Tracer) else x)
        length = int(np.max(hx)) + 1 if hx.size else 0
        length = builtins.max(length, int(minlength))
    x = reshape(x, (-1,))
    w = multiply(astype(equal(x, x), np.int64), 1) if weights is None else reshape(asarray(weights), (-1,))
    if weights is not None and not is_float(get_aval(w).dtype):
        w = astype(w, np.float64) if get_aval(w).dtype != np.bool_ else astype(w, np.int64)
    onehot = equal(expand_dims(astype(x, np.int64), 1), np.arange(length, dtype=np.int64))
    return sum(multiply(astype(onehot, get_aval(w).dtype), expand_dims(w, 1)), axis=0)


def histogram_bin_edges(a: Array, bins: Any = 10, range: Any = None, weights: Array | None = None) -> Array:  # noqa: A002
    """Edges of ``bins`` equal bins over ``range`` (default: the data's min and max)."""
    from functrace.numpy._creation import linspace

    a = _float(a)
    if not isinstance(bins, int):
        return asarray(bins)
    if range is None:
        lo, hi = min(a), max(a)
    else:
        lo, hi = asarray(range[0], get_aval(a).dtype), asarray(range[1], get_aval(a).dtype)
    same = equal(lo, hi)
    lo, hi = where(same, lo - 0.5, lo), where(same, hi + 0.5, hi)
    steps = np.linspace(0.0, 1.0, bins + 1).astype(get_aval(a).dtype)
    del linspace
    return lo + multiply(hi - lo, steps)


def histogram(a: Array, bins: Any = 10, range: Any = None, weights: Array | None = None,  # noqa: A002
              density: bool | None = None) -> tuple:
    """Counts per bin (static ``bins``) and the bin edges; the last bin includes its right edge."""
    from functrace.numpy._sorting import searchsorted

    a = reshape(_float(a), (-1,))
    edges = histogram_bin_edges(a, bins, range)
    nb = get_aval(edges).shape[0] - 1
    idx = searchsorted(edges, a, side="right") - 1
    idx = where(equal(a, edges[-1]), nb - 1, idx)
    inside = logical_and(greater(idx, -1), less(idx, nb))
    w = astype(inside, get_aval(a).dtype) if weights is None else \
        where(inside, reshape(astype(asarray(weights), get_aval(a).dtype), (-1,)), 0.0)
    onehot = astype(equal(expand_dims(idx, 1), np.arange(nb)), get_aval(a).dtype)
    counts = sum(multiply(onehot, expand_dims(w, 1)), axis=0)
    if density:
        widths = edges[1:] - edges[:-1]
        counts = true_divide(true_divide(counts, sum(counts)), widths)
    return counts, edges


def histogramdd(sample: Array, bins: Any = 10, range: Any = None, weights: Array | None = None,  # noqa: A002
                density: bool | None = None) -> tuple:
    """A D-dimensional histogram of ``sample`` (N, D) with static bin counts."""
    from functrace.numpy._sorting import searchsorted

    s = _float(sample)
    n, d = get_aval(s).shape
    bins = [bins] * d if isinstance(bins, int) else list(bins)
    edges, flat, inside, stride = [], 0, None, 1
    for k in reversed(np.arange(d).tolist()):
        col = s[:, k]
        e = histogram_bin_edges(col, bins[k], None if range is None else range[k])
        nb = get_aval(e).shape[0] - 1
        idx = searchsorted(e, col, side="right") - 1
        idx = where(equal(col, e[-1]), nb - 1, idx)
        ok = logical_and(greater(idx, -1), less(idx, nb))
        inside = ok if inside is None else logical_and(inside, ok)
        flat = flat + multiply(where(ok, idx, 0), stride)
        stride *= nb
        edges.insert(0, e)
    w = astype(inside, get_aval(s).dtype) if weights is None else \
        where(inside, astype(asarray(weights), get_aval(s).dtype), 0.0)
    onehot = astype(equal(expand_dims(flat, 1), np.arange(stride)), get_aval(s).dtype)
    counts = sum(multiply(onehot, expand_dims(w, 1)), axis=0)
    shape = tuple(get_aval(e).shape[0] - 1 for e in edges)
    counts = reshape(counts, shape)
    if density:
        total = sum(counts)
        for k, e in enumerate(edges):
            widths = e[1:] - e[:-1]
            counts = true_divide(counts, reshape(widths, tuple(-1 if j == k else 1 for j in np.arange(d).tolist())))
        counts = true_divide(counts, total)
    return counts, edges


def histogram2d(x: Array, y: Array, bins: Any = 10, range: Any = None, weights: Array | None = None,  # noqa: A002
                density: bool | None = None) -> tuple:
    """A 2-D histogram: ``(counts, xedges, yedges)``."""
    from functrace.numpy._shape import stack

    counts, (ex, ey) = histogramdd(stack([_float(x), _float(y)], axis=1), bins, range, weights, density)
    return counts, ex, ey


def interp(x: Array, xp: Array, fp: Array, left: Any = None, right: Any = None, period: Any = None) -> Array:
    """Piecewise-linear interpolation of (``xp``, ``fp``) at ``x`` (``xp`` increasing)."""
    from functrace.numpy._sorting import argsort, searchsorted

    x, xp, fp = _float(x), _float(xp), _float(fp)
    if period is not None:
        x = remainder(x, period)
        xp = remainder(xp, period)
        order = argsort(xp)
        xp, fp = xp[order], fp[order]
        xp = concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = concatenate([fp[-1:], fp, fp[:1]])
    n = get_aval(xp).shape[0]
    i = minimum(maximum(searchsorted(xp, x, side="right"), 1), n - 1)
    from functrace.numpy._indexing import take

    x0, x1, f0, f1 = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
    dx = x1 - x0
    t = true_divide(x - x0, where(equal(dx, 0), 1.0, dx))
    out = f0 + multiply(t, f1 - f0)
    out = where(equal(dx, 0), f1, out)
    if period is None:
        out = where(less(x, xp[0]), fp[0] if left is None else left, out)
        out = where(greater(x, xp[-1]), fp[-1] if right is None else right, out)
    return out


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
