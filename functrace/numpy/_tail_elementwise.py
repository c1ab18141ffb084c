"""The long tail of ``jax.numpy``: elementwise math (``cbrt``, ``hypot``, ``frexp``, ``sinc``,
``nan_to_num``, ``i0``, ``spacing``, ...); re-exported by ``_tail_math``."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.numpy._core import (
    _as_operand,
    abs,
    asarray,
    astype,
    equal,
    exp,
    floor,
    greater,
    isfinite,
    isinf,
    isnan,
    less,
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
    where,
)
from functrace.numpy._shape import concatenate
from functrace.tracing import get_aval

Array = Any


def _float(x: Array) -> Array:
    x = asarray(_as_operand(x))
    dt = get_aval(x).dtype
    return x if is_float(dt) else astype(x, np.result_type(dt, np.float16) if dt != np.bool_ else np.float16)


def _like(value: Any, x: Array) -> Any:
    """``value`` in ``x``'s dtype: a NumPy scalar for a number, a cast for an array (a traced
    tolerance or fill value too, as JAX takes them)."""
    dt = get_aval(x).dtype
    if isinstance(value, (bool, int, float, complex, np.generic)):
        return np.asarray(value, dt)[()]
    return astype(asarray(_as_operand(value)), dt)


# ---------------------------------------------------------------------------- elementwise math
def cbrt(x: Array) -> Array:
    """The real cube root."""
    x = _float(x)
    r = power(abs(x), _like(1.0 / 3.0, x))
    return where(signbit(x), negative(r), r)  # -0.0 -> -0.0, as JAX


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
    # frexp gives exponent 0 for zeros and infinities: their spacing is the smallest subnormal
    # and nan (NumPy's)
    ulp = where(equal(x, 0), _like(info.smallest_subnormal, x), ulp)
    return where(isfinite(x), where(signbit(x), negative(ulp), ulp), _like(np.nan, x))  # -0.0: JAX's sign


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
