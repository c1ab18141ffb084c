"""Special-function primitives (as ``lax``'s): ``lgamma``, ``digamma``, ``polygamma``, ``erfc``,
``igamma``, ``igammac``, ``bessel_i0e``, ``bessel_i1e``, ``zeta``.

Elementwise on real floating operands; their derivatives are JAX's (``lgamma' = digamma``,
``digamma' = polygamma(1, .)``, ...). ``polygamma`` takes its order ``m`` as a static
non-negative int. ``igamma``/``igammac`` (the regularised incomplete gamma functions) are
differentiated in ``x`` only: the derivative in the shape ``a`` raises an error that says so.
The NumPy backend computes them with SciPy (optional; it names what is missing), torch with
``torch.special``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import DTypeError, MissingRuleError
from functrace.primitives import binop, check_kind, def_primitive, unop
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
    def rule(t, ans, a, x):
        raise located(MissingRuleError(
            f"functrace differentiates {name} in {other} only; the derivative in {arg} is not "
            f"implemented (pass {arg} as a constant, e.g. through ft.stop_gradient)"))
    return rule


def _igamma_x(t, ans, a, x):
    # d/dx P(a, x) = exp(-x) x**(a-1) / Gamma(a), computed in logs.
    log_density = lax.sub(lax.sub(lax.mul(lax.sub(a, const_like(1, a)), lax.log(x)), x), lgamma(a))
    return lax.mul(t, lax.exp(log_density))


defjvp(igamma_p, _no_derivative("igamma(a, x)", "the shape a", "x"), _igamma_x)
defjvp(igammac_p, _no_derivative("igammac(a, x)", "the shape a", "x"),
       lambda t, ans, a, x: lax.neg(_igamma_x(t, ans, a, x)))
# d/dq zeta(x, q) = -x zeta(x + 1, q)
defjvp(zeta_p, _no_derivative("zeta(x, q)", "the exponent x", "q"),
       lambda t, ans, x, q: lax.mul(t, lax.neg(lax.mul(x, zeta(lax.add(x, const_like(1, x)), q)))))
