"""Special-function primitives (as ``lax``'s): ``lgamma``, ``digamma``, ``polygamma``, ``erfc``,
``igamma``, ``igammac``, ``igamma_grad_a``, ``regularized_incomplete_beta`` (``lax.betainc``),
``bessel_i0e``, ``bessel_i1e``, ``zeta``.

Elementwise on real floating operands; their derivatives are JAX's (``lgamma' = digamma``,
``digamma' = polygamma(1, .)``, ...). ``polygamma`` takes its order ``m`` as a static
non-negative int. ``igamma``/``igammac`` (the regularised incomplete gamma functions) are
differentiated in ``x`` and, once, in the shape ``a`` (through ``igamma_grad_a``, which itself
has no derivative, as in JAX). ``betainc`` is differentiated in ``x`` only (JAX raises for
``a`` and ``b`` too). ``zeta(x, q)`` is differentiated in ``q`` exactly and in ``x`` through the
Euler-Maclaurin expansion JAX differentiates (Johansson 2015, eq. 5).
The NumPy backend computes them with SciPy (optional; it names what is missing), torch with
``torch.special`` and, where torch has no such function (``betainc``, ``igamma_grad_a``), with
the series and continued fractions of ``backends/numpy_special.py``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import DTypeError, MissingRuleError
from functrace.primitives import binop, check_kind, def_primitive, elementwise_shape, same_dtype, unop
from functrace.rules import const_like, defjvp
from functrace.tracing import bind, get_aval, located

Array = Any

lgamma_p = unop("lgamma")
digamma_p = unop("digamma")
erfc_p = unop("erfc")
bessel_i0e_p = unop("bessel_i0e")
bessel_i1e_p = unop("bessel_i1e")
igamma_p = binop("igamma", "f")
igammac_p = binop("igammac", "f")
zeta_p = binop("zeta", "f")
igamma_grad_a_p = binop("igamma_grad_a", "f")


def _betainc_rule(a: ShapedArray, b: ShapedArray, x: ShapedArray) -> ShapedArray:
    dt = same_dtype("regularized_incomplete_beta", a, b, x)
    check_kind("regularized_incomplete_beta", dt, "f")
    return ShapedArray(elementwise_shape("regularized_incomplete_beta", a, b, x), dt)


betainc_p = def_primitive("regularized_incomplete_beta", _betainc_rule, elementwise=True)


def betainc(a: Array, b: Array, x: Array) -> Array:
    """The regularised incomplete beta function I_x(a, b)."""
    return bind(betainc_p, a, b, x)


def igamma_grad_a(a: Array, x: Array) -> Array:
    """d/da of the regularised lower incomplete gamma function P(a, x)."""
    return bind(igamma_grad_a_p, a, x)


def zeta(x: Array, q: Array) -> Array:
    """The Hurwitz zeta function sum over n >= 0 of (n + q) ** -x (differentiable in q)."""
    return bind(zeta_p, x, q)


def _polygamma_rule(x: ShapedArray, *, m: int) -> ShapedArray:
    check_kind("polygamma", x.dtype, "f")
    if not isinstance(m, int) or m < 0:
        raise DTypeError(f"polygamma needs a static non-negative int order m, got {m!r}")
    return x


polygamma_p = def_primitive("polygamma", _polygamma_rule, elementwise=True)


def lgamma(x: Array) -> Array:
    """log|Gamma(x)|, elementwise."""
    return bind(lgamma_p, x)


def digamma(x: Array) -> Array:
    """The logarithmic derivative of Gamma, elementwise."""
    return bind(digamma_p, x)


def polygamma(m: int, x: Array) -> Array:
    """The ``m``-th derivative of ``digamma`` (``m`` a static int), elementwise."""
    return bind(polygamma_p, x, m=int(m))


def erfc(x: Array) -> Array:
    """The complementary error function 1 - erf(x), accurate where erf(x) is near 1."""
    return bind(erfc_p, x)


def bessel_i0e(x: Array) -> Array:
    """The exponentially scaled modified Bessel function of order 0, exp(-|x|) I0(x)."""
    return bind(bessel_i0e_p, x)


def bessel_i1e(x: Array) -> Array:
    """The exponentially scaled modified Bessel function of order 1, exp(-|x|) I1(x)."""
    return bind(bessel_i1e_p, x)


def igamma(a: Array, x: Array) -> Array:
    """The regularised lower incomplete gamma function P(a, x)."""
    return bind(igamma_p, a, x)


def igammac(a: Array, x: Array) -> Array:
    """The regularised upper incomplete gamma function Q(a, x) = 1 - P(a, x)."""
    return bind(igammac_p, a, x)


# ---------------------------------------------------------------------------- derivatives
defjvp(lgamma_p, lambda t, ans, x: lax.mul(t, digamma(x)))
defjvp(digamma_p, lambda t, ans, x: lax.mul(t, polygamma(1, x)))
defjvp(polygamma_p, lambda t, ans, x, *, m: lax.mul(t, polygamma(m + 1, x)))
defjvp(erfc_p, lambda t, ans, x: lax.mul(t, lax.mul(const_like(-2 / np.sqrt(np.pi), x),
                                                      lax.exp(lax.neg(lax.integer_pow(x, 2))))))
# d/dx i0e(x) = i1e(x) - sign(x) i0e(x); d/dx i1e(x) = i0e(x) - i1e(x) (sign(x) + 1/x), i0e(0)/2 at 0.
defjvp(bessel_i0e_p, lambda t, ans, x: lax.mul(t, lax.sub(bessel_i1e(x), lax.mul(lax.sign(x), ans))))


def _i1e_slope(ans, x):
    zero = lax.eq(x, const_like(0, x))
    safe_x = lax.select(zero, lax.full_like_aval(get_aval(x), 1), x)
    slope = lax.sub(bessel_i0e(x), lax.mul(ans, lax.add(lax.sign(x), lax.div(const_like(1, x), safe_x))))
    return lax.select(zero, lax.full_like_aval(get_aval(x), 0.5), slope)


defjvp(bessel_i1e_p, lambda t, ans, x: lax.mul(t, _i1e_slope(ans, x)))


def _no_derivative(name, arg, other):
    def rule(t, ans, *operands):
        raise located(MissingRuleError(
            f"functrace differentiates {name} in {other} only; the derivative in {arg} is not "
            f"implemented (pass {arg} as a constant, e.g. through ft.stop_gradient)"))
    return rule


def _igamma_x(t, ans, a, x):
    # d/dx P(a, x) = exp(-x) x**(a-1) / Gamma(a), computed in logs.
    log_density = lax.sub(lax.sub(lax.mul(lax.sub(a, const_like(1, a)), lax.log(x)), x), lgamma(a))
    return lax.mul(t, lax.exp(log_density))


defjvp(igamma_p, lambda t, ans, a, x: lax.mul(t, igamma_grad_a(a, x)), _igamma_x)
defjvp(igammac_p, lambda t, ans, a, x: lax.neg(lax.mul(t, igamma_grad_a(a, x))),
       lambda t, ans, a, x: lax.neg(_igamma_x(t, ans, a, x)))
defjvp(igamma_grad_a_p, _no_derivative("igamma_grad_a(a, x)", "a", "no argument (as in JAX): the second "
                                       "derivative of gammainc in a"),
       _no_derivative("igamma_grad_a(a, x)", "x", "no argument (as in JAX): the mixed derivative of gammainc"))


def _betainc_x(t, ans, a, b, x):
    # d/dx I_x(a, b) = x**(a-1) (1-x)**(b-1) / B(a, b); a term is 0 where its exponent is (even at x = 0 or 1)
    one = const_like(1, x)
    am1, bm1 = lax.sub(a, one), lax.sub(b, one)
    zero = const_like(0, x)
    log_x = lax.select(lax.eq(am1, zero), zero, lax.mul(am1, lax.log(x)))
    log_1mx = lax.select(lax.eq(bm1, zero), zero, lax.mul(bm1, lax.log1p(lax.neg(x))))
    log_beta = lax.sub(lax.add(lgamma(a), lgamma(b)), lgamma(lax.add(a, b)))
    return lax.mul(t, lax.exp(lax.sub(lax.add(log_x, log_1mx), log_beta)))


defjvp(betainc_p, _no_derivative("betainc(a, b, x)", "a", "x (as JAX)"),
       _no_derivative("betainc(a, b, x)", "b", "x (as JAX)"), _betainc_x)


# Euler-Maclaurin for zeta(s, a) (Johansson 2015, eq. 5), as JAX differentiates it:
#   sum_{k<N} (a+k)^-s + (a+N)^(1-s)/(s-1) + (a+N)^-s [1/2 + sum_{j=1}^M B_2j/(2j)! (s)_(2j-1) (a+N)^(1-2j)]
# with (s)_n the rising factorial s (s+1) ... (s+n-1). Its derivative in s is written out below, in
# lax operations, so it differentiates again.
def _bernoulli_over_factorial(m: int) -> list[float]:
    """B_2j / (2j)! for j = 1..m, from the exact Bernoulli numbers (Akiyama-Tanigawa)."""
    from fractions import Fraction
    from math import factorial

    n = 2 * m
    row = [Fraction(0)] * (n + 1)
    bern = []
    for i in range(n + 1):
        row[i] = Fraction(1, i + 1)
        for j in range(i, 0, -1):
            row[j - 1] = j * (row[j - 1] - row[j])
        bern.append(row[0])
    return [float(bern[2 * j] / factorial(2 * j)) for j in range(1, m + 1)]


_ZETA_TERMS = {np.dtype(np.float32): 8, np.dtype(np.float64): 16}
_ZETA_COEFS = {n: _bernoulli_over_factorial(n) for n in set(_ZETA_TERMS.values())}


def _zeta_ds(s, a):
    """d/ds of the Euler-Maclaurin expansion of zeta(s, a)."""
    n = _ZETA_TERMS[get_aval(s).dtype]
    c = lambda v: const_like(v, s)  # noqa: E731
    total = None
    for k in range(n):  # d/ds (a+k)^-s = -log(a+k) (a+k)^-s
        ak = lax.add(a, c(k))
        term = lax.neg(lax.mul(lax.log(ak), lax.pow(ak, lax.neg(s))))
        total = term if total is None else lax.add(total, term)
    an = lax.add(a, c(n))
    log_an = lax.log(an)
    sm1 = lax.sub(s, c(1))
    # d/ds (a+N)^(1-s)/(s-1) = -(a+N)^(1-s) (log(a+N)/(s-1) + 1/(s-1)^2)
    integral = lax.neg(lax.mul(lax.pow(an, lax.neg(sm1)), lax.add(lax.div(log_an, sm1),
                                                                   lax.div(c(1), lax.mul(sm1, sm1)))))
    t0 = lax.pow(an, lax.neg(s))
    # series = 1/2 + sum_j coef_j (s)_(2j-1) / (a+N)^(2j-1), built with its s-derivative term by term
    prod, dprod = lax.div(s, an), lax.div(c(1), an)  # (s)_1 / (a+N) and its derivative
    series, dseries = lax.add(c(0.5), lax.mul(c(_ZETA_COEFS[n][0]), prod)), lax.mul(c(_ZETA_COEFS[n][0]), dprod)
    for j in range(2, n + 1):
        for m in (2 * j - 3, 2 * j - 2):  # two more factors (s + m) / (a + N)
            f = lax.div(lax.add(s, c(m)), an)
            prod, dprod = lax.mul(prod, f), lax.add(lax.mul(dprod, f), lax.div(prod, an))
        series = lax.add(series, lax.mul(c(_ZETA_COEFS[n][j - 1]), prod))
        dseries = lax.add(dseries, lax.mul(c(_ZETA_COEFS[n][j - 1]), dprod))
    tail = lax.sub(lax.mul(t0, dseries), lax.mul(lax.mul(log_an, t0), series))
    return lax.add(lax.add(total, integral), tail)


# d/dq zeta(x, q) = -x zeta(x + 1, q); d/dx from the expansion above
defjvp(zeta_p, lambda t, ans, x, q: lax.mul(t, _zeta_ds(x, q)),
       lambda t, ans, x, q: lax.mul(t, lax.neg(lax.mul(x, zeta(lax.add(x, const_like(1, x)), q)))))
