"""``functrace.scipy.special``: SciPy's special functions with SciPy's semantics and JAX's
derivatives (as ``jax.scipy.special``). float32 and float64 keep their type; integers, booleans
and float16 are computed in float64 (as SciPy 1.17's ufuncs do; SciPy 1.18 takes float32 for int8, bool and float16)."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import nn as _nn
from functrace import numpy as fnp
from functrace.numpy._core import user_error
from functrace.ops.custom_jvp import custom_jvp
from functrace.tracing import get_aval

Array = Any


def _float(x: Any, floats: tuple = (np.float32, np.float64)) -> Any:
    """``x`` in the type it is computed in: float32 and float64 stay, everything else (integers,
    booleans, float16) becomes float64, the first loop of SciPy 1.17's ufuncs."""
    x = fnp.asarray(x)
    dt = get_aval(x).dtype
    return lax.convert_element_type(x, dt if dt in floats else np.dtype(np.float64))


def erf(x: Array) -> Array:
    """The error function, 2/sqrt(pi) times the integral of exp(-t**2) from 0 to x."""
    return lax.erf(_float(x))


def expit(x: Array) -> Array:
    """The logistic sigmoid 1 / (1 + exp(-x)), accurate in both tails."""
    return lax.logistic(_float(x))


def logit(x: Array) -> Array:
    """log(x / (1 - x)), the inverse of ``expit``."""
    x = _float(x)
    return fnp.subtract(fnp.log(x), fnp.log1p(fnp.negative(x)))


def logsumexp(a: Array, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Any:
    """log(sum(b * exp(a))) along ``axis``, without overflow (``b`` weights, default 1).

    With ``return_sign``, returns ``(log|sum|, sign(sum))`` so negative weights work; without it
    a negative sum gives nan, as in SciPy. The maximum is taken without gradient, as JAX does.
    """
    # SciPy's logsumexp is NumPy code, not a ufunc: float16 stays float16 there.
    a = _float(a, (np.float16, np.float32, np.float64))
    if b is None and not return_sign:
        return _nn.logsumexp(a, axis=axis, keepdims=keepdims)
    if b is not None:
        b = fnp.asarray(b)
        a, b = fnp.broadcast_arrays(a, fnp.astype(b, fnp.result_type(a, b)))
        a = fnp.astype(a, get_aval(b).dtype)
    amax = fnp.max(a, axis=axis, keepdims=True)
    amax = lax.stop_gradient(fnp.where(fnp.isfinite(amax), amax, fnp.zeros_like(amax)))
    e = fnp.exp(fnp.subtract(a, amax))
    if b is not None:
        e = fnp.multiply(b, e)
    total = fnp.sum(e, axis=axis, keepdims=True)
    sign = fnp.sign(total)
    out = fnp.add(fnp.log(fnp.abs(total) if return_sign else total), amax)
    if not keepdims:
        out, sign = fnp.squeeze(out, axis), fnp.squeeze(sign, axis) if axis is not None else fnp.squeeze(sign)
    return (out, sign) if return_sign else out


# ---------------------------------------------------------------------------- gamma family
def gammaln(x: Array) -> Array:
    """log|Gamma(x)|; its derivative is ``digamma``."""
    return lax.lgamma(_float(x))


def gamma(x: Array) -> Array:
    """Gamma(x) = sign * exp(gammaln(x)), the sign negative on (-1, 0), (-3, -2), ...; nan at the
    poles (the negative integers, and -inf), +-inf at +-0 (as SciPy and JAX; the poles were
    +-inf and gamma(-0.0) +inf)."""
    x = _float(x)
    dt = get_aval(x).dtype
    negative_odd = fnp.logical_and(fnp.less(x, 0), fnp.equal(fnp.mod(fnp.floor(x), 2), 1))
    sign = fnp.where(negative_odd, fnp.asarray(-1, dt), fnp.asarray(1, dt))
    out = fnp.multiply(sign, fnp.exp(lax.lgamma(x)))
    pole = fnp.logical_and(fnp.less(x, 0), fnp.equal(fnp.floor(x), x))
    out = fnp.where(pole, fnp.asarray(np.nan, dt), out)
    return fnp.where(fnp.equal(x, 0), fnp.where(fnp.signbit(x), fnp.asarray(-np.inf, dt), fnp.asarray(np.inf, dt)),
                     out)


def digamma(x: Array) -> Array:
    """The logarithmic derivative of Gamma (``psi``)."""
    return lax.digamma(_float(x))


psi = digamma


def polygamma(n: Any, x: Array) -> Array:
    """The ``n``-th derivative of ``digamma``; ``n`` a non-negative integer known at trace time."""
    try:
        m = int(np.asarray(n))
    except Exception:
        raise user_error(NotImplementedError("polygamma needs a concrete integer order n (not a traced value)")) \
            from None
    if m != np.asarray(n) or m < 0:
        raise user_error(ValueError(f"polygamma's order n must be a non-negative integer, got {n!r}"))
    x = _float(x)
    return lax.digamma(x) if m == 0 else lax.polygamma(m, x)


def betaln(a: Array, b: Array) -> Array:
    """log|B(a, b)| = gammaln(a) + gammaln(b) - gammaln(a + b)."""
    a, b = _float2(a, b)
    return fnp.subtract(fnp.add(lax.lgamma(a), lax.lgamma(b)), lax.lgamma(fnp.add(a, b)))


def multigammaln(a: Array, d: int) -> Array:
    """The log of the multivariate gamma function of dimension ``d`` (a static int)."""
    if int(d) != d or d < 1:
        raise user_error(ValueError(f"multigammaln: d must be a positive integer, got {d!r}"))
    a = _float(a)
    d = int(d)
    terms = [lax.lgamma(fnp.subtract(a, j / 2)) for j in range(d)]
    total = terms[0]
    for t in terms[1:]:
        total = fnp.add(total, t)
    return fnp.add(total, d * (d - 1) / 4 * np.log(np.pi))


def gammainc(a: Array, x: Array) -> Array:
    """The regularised lower incomplete gamma function P(a, x): differentiable in x (to any
    order) and once in a, as in JAX."""
    return lax.igamma(*_float2(a, x))


def gammaincc(a: Array, x: Array) -> Array:
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x): differentiable in x
    (to any order) and once in a, as in JAX."""
    return lax.igammac(*_float2(a, x))


def betainc(a: Array, b: Array, x: Array) -> Array:
    """The regularised incomplete beta function I_x(a, b), differentiable in x (in a and b it
    raises, as JAX's does)."""
    a, b = _float2(a, b)
    a, x = _float2(a, x)
    b = fnp.astype(b, get_aval(a).dtype)
    a, b, x = fnp.broadcast_arrays(a, b, x)
    return lax.betainc(a, b, x)


def zeta(x: Array, q: Array | None = None) -> Array:
    """The Hurwitz zeta function (the Riemann zeta function without ``q``), differentiable in q
    and, through the Euler-Maclaurin expansion JAX differentiates, in x."""
    return lax.zeta(*_float2(x, 1.0 if q is None else q))


# ---------------------------------------------------------------------------- error function family
def erfc(x: Array) -> Array:
    """1 - erf(x), accurate for large x."""
    return lax.erfc(_float(x))


def erfinv(x: Array) -> Array:
    """The inverse error function on (-1, 1) (+-inf at +-1, nan outside)."""
    return lax.erf_inv(_float(x))


def ndtr(x: Array) -> Array:
    """The standard normal CDF, erfc(-x / sqrt(2)) / 2."""
    x = _float(x)
    return fnp.multiply(lax.erfc(fnp.multiply(x, float(-1 / np.sqrt(2)))), 0.5)


@custom_jvp
def ndtri(p: Array) -> Array:
    """The inverse of ``ndtr`` (the standard normal quantile), accurate in both tails: a rational
    first guess in sqrt(-2 log q), q = min(p, 1 - p) (Abramowitz & Stegun 26.2.23), then Newton
    steps on ``log_ndtr``. Its derivative is 1 / pdf(ndtri(p)) (a custom JVP, as the steps are
    not part of it)."""
    p = _float(p)
    q = fnp.minimum(p, fnp.subtract(1.0, p))
    safe_q = fnp.where(fnp.logical_and(fnp.greater(q, 0), fnp.less_equal(q, 0.5)), q, fnp.full_like(q, 0.25))
    t = fnp.sqrt(fnp.multiply(fnp.log(safe_q), -2.0))
    num = fnp.add(2.515517, fnp.multiply(t, fnp.add(0.802853, fnp.multiply(t, 0.010328))))
    den = fnp.add(1.0, fnp.multiply(t, fnp.add(1.432788, fnp.multiply(t, fnp.add(0.189269,
                                                                                   fnp.multiply(t, 0.001308))))))
    x = fnp.negative(fnp.subtract(t, fnp.divide(num, den)))
    log_q = fnp.log(safe_q)
    for _ in range(4):  # Newton on log ndtr(x) = log q: x -= (ndtr(x) - q) / pdf(x), in logs
        ln = log_ndtr(x)
        log_pdf = fnp.subtract(fnp.multiply(fnp.square(x), -0.5), float(0.5 * np.log(2 * np.pi)))
        ratio = fnp.exp(fnp.subtract(ln, log_pdf))  # ndtr(x) / pdf(x)
        x = fnp.subtract(x, fnp.multiply(fnp.negative(fnp.expm1(fnp.subtract(log_q, ln))), ratio))
    x = fnp.where(fnp.greater(p, 0.5), fnp.negative(x), fnp.where(fnp.equal(p, 0.5), fnp.zeros_like(x), x))
    x = fnp.where(fnp.equal(p, 0), fnp.full_like(x, -np.inf), fnp.where(fnp.equal(p, 1), fnp.full_like(x, np.inf), x))
    outside = fnp.logical_or(fnp.logical_or(fnp.less(p, 0), fnp.greater(p, 1)), fnp.isnan(p))  # nan: not -0.67
    return fnp.where(outside, fnp.full_like(x, np.nan), x)


@ndtri.defjvp
def _ndtri_jvp(primals: tuple, tangents: tuple) -> tuple:
    (p,), (tp,) = primals, tangents
    x = ndtri(p)
    slope = fnp.exp(fnp.add(fnp.multiply(fnp.square(x), 0.5), float(0.5 * np.log(2 * np.pi))))
    return x, fnp.multiply(tp, slope)


def log_ndtr(x: Array) -> Array:
    """log(ndtr(x)), accurate in both tails: log1p(-ndtr(-x)) above -1 (no rounding of values
    near 1), log(ndtr(x)) down to -20, and the asymptotic series of the Mills ratio below."""
    x = _float(x)
    dt = get_aval(x).dtype
    lower = -30.0 if dt == np.float64 else -10.0
    # Each branch sees x only where it is taken (a constant elsewhere), so no branch's nan or tie
    # reaches the derivative.
    is_upper, is_mid = fnp.greater(x, -1.0), fnp.logical_and(fnp.greater(x, lower), fnp.less_equal(x, -1.0))
    upper = fnp.log1p(fnp.negative(ndtr(fnp.negative(fnp.where(is_upper, x, fnp.full_like(x, 0.0))))))
    mid = fnp.log(ndtr(fnp.where(is_mid, x, fnp.full_like(x, -2.0))))
    t = fnp.where(fnp.logical_or(is_upper, is_mid), fnp.full_like(x, lower), x)
    t2 = fnp.reciprocal(fnp.square(t))
    series = fnp.zeros_like(t2)
    for c in (-945.0, 105.0, -15.0, 3.0, -1.0):  # 1 - 1/t^2 + 3/t^4 - 15/t^6 + 105/t^8 - 945/t^10
        series = fnp.multiply(t2, fnp.add(series, c))
    series = fnp.log1p(series)
    tail = fnp.subtract(fnp.subtract(fnp.multiply(fnp.square(t), -0.5), fnp.log(fnp.negative(t))),
                        fnp.subtract(float(0.5 * np.log(2 * np.pi)), series))
    return fnp.where(is_upper, upper, fnp.where(is_mid, mid, tail))


# ---------------------------------------------------------------------------- logs and entropy
def _float2(x: Any, y: Any) -> tuple:
    """Two operands promoted together and computed in float (as a SciPy binary ufunc)."""
    x, y = fnp.asarray(x), fnp.asarray(y)
    dt = np.result_type(get_aval(x).dtype, get_aval(y).dtype)
    dt = dt if dt in (np.float32, np.float64) else np.dtype(np.float64)
    return fnp.astype(x, dt), fnp.astype(y, dt)


@custom_jvp
def xlogy(x: Array, y: Array) -> Array:
    """x * log(y), 0 where x == 0 (even where y == 0)."""
    x, y = _float2(x, y)
    safe_y = fnp.where(fnp.equal(x, 0), fnp.ones_like(y), y)
    return fnp.where(fnp.equal(x, 0), fnp.zeros_like(x), fnp.multiply(x, fnp.log(safe_y)))


@xlogy.defjvp
def _xlogy_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (tx, ty) = primals, tangents
    out = xlogy(x, y)
    x, y = _float2(x, y)
    return out, fnp.add(fnp.multiply(tx, fnp.log(y)), fnp.divide(fnp.multiply(ty, x), y))


@custom_jvp
def xlog1py(x: Array, y: Array) -> Array:
    """x * log1p(y), 0 where x == 0 (even where y == -1)."""
    x, y = _float2(x, y)
    safe_y = fnp.where(fnp.equal(x, 0), fnp.zeros_like(y), y)
    return fnp.where(fnp.equal(x, 0), fnp.zeros_like(x), fnp.multiply(x, fnp.log1p(safe_y)))


@xlog1py.defjvp
def _xlog1py_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (tx, ty) = primals, tangents
    out = xlog1py(x, y)
    x, y = _float2(x, y)
    return out, fnp.add(fnp.multiply(tx, fnp.log1p(y)), fnp.divide(fnp.multiply(ty, x), fnp.add(y, 1)))


def entr(x: Array) -> Array:
    """-x log(x) for x > 0, 0 at 0, -inf for x < 0, nan for nan."""
    x = _float(x)
    neg_inf = fnp.where(fnp.isnan(x), x, fnp.full_like(x, -np.inf))
    return fnp.where(fnp.greater(x, 0), fnp.negative(xlogy(x, x)), fnp.where(fnp.equal(x, 0), fnp.zeros_like(x),
                                                                              neg_inf))


# ---------------------------------------------------------------------------- Bessel functions
def i0e(x: Array) -> Array:
    """exp(-|x|) I0(x), the exponentially scaled modified Bessel function of order 0."""
    return lax.bessel_i0e(_float(x))


def i1e(x: Array) -> Array:
    """exp(-|x|) I1(x), the exponentially scaled modified Bessel function of order 1."""
    return lax.bessel_i1e(_float(x))


def i0(x: Array) -> Array:
    """The modified Bessel function of order 0, exp(|x|) i0e(x)."""
    x = _float(x)
    return fnp.multiply(fnp.exp(fnp.abs(x)), lax.bessel_i0e(x))


def i1(x: Array) -> Array:
    """The modified Bessel function of order 1, exp(|x|) i1e(x)."""
    x = _float(x)
    return fnp.multiply(fnp.exp(fnp.abs(x)), lax.bessel_i1e(x))


__all__ = ["erf", "erfc", "erfinv", "expit", "logit", "logsumexp", "gammaln", "gamma", "digamma", "psi",
           "polygamma", "betaln", "betainc", "multigammaln", "gammainc", "gammaincc", "ndtr", "ndtri", "log_ndtr",
           "xlogy", "xlog1py", "entr", "i0e", "i1e", "i0", "i1", "zeta"]
