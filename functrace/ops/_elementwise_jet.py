"""Taylor rules (jet) of the elementwise primitives (``functrace.ops.elementwise``, which imports
this module once its primitives are declared), and ``piecewise_jet`` for the primitives of
other families that are piecewise linear or locally constant."""

from __future__ import annotations

import numpy as np

from functrace import lax
from functrace.ops import _taylor as T
from functrace.ops.elementwise import (
    abs_p,
    acos_p,
    acosh_p,
    asin_p,
    asinh_p,
    atan2_p,
    atan_p,
    atanh_p,
    cos_p,
    cosh_p,
    div_p,
    erf_p,
    exp2_p,
    exp_p,
    expm1_p,
    integer_pow_p,
    log1p_p,
    log_p,
    logistic_p,
    max_p,
    min_p,
    mul_p,
    pow_p,
    rem_p,
    select_p,
    sin_p,
    sinh_p,
    sqrt_p,
    tan_p,
    tanh_p,
)
from functrace.primitives import (
    Primitive,
)
from functrace.rules import (
    Zero,
    const_like,
    def_jet_rule,
    jvp_rule,
)
from functrace.tracing import bind, get_aval

# Series arithmetic lives in functrace.ops._taylor (normalised coefficients). add, sub, neg and
# convert_element_type need no rule (linear); comparisons and the rounding functions none
# (zero_derivative). See transforms/jet.py.


def _unary_jet(prim: Primitive, series_fn):
    """A rule for a unary primitive whose output series ``series_fn(u)`` computes (``u``: the
    operand's Taylor); the zeroth coefficient is the primitive itself."""

    def rule(primals, series):
        (x,), (sx,) = primals, series
        ans = bind(prim, x)
        u = T.from_parts(x, sx, ans, len(sx))
        return ans, series_fn(u, ans)[1:]

    def_jet_rule(prim, rule)


def _with_h(h_fn):
    """Series of ``f(u)`` from the series of ``f'(u)``, given as a function of ``u``'s Taylor."""
    return lambda u, ans: T.integrate(ans, u, h_fn(u))


def _one(u):
    return T.Taylor([lax.full_like_aval(get_aval(u[0]), 1)] + [lax.zeros_like(c) for c in u.c[1:]])


_unary_jet(exp_p, lambda u, ans: T.ode(ans, u, lambda y, m: y[m], first=ans))
_unary_jet(exp2_p, lambda u, ans: T.ode(ans, T.scale(u, np.log(2.0)), lambda y, m: y[m], first=ans))
_unary_jet(expm1_p, lambda u, ans: T.ode(ans, u, lambda y, m: lax.add(y[0], const_like(1, y[0])) if m == 0 else y[m]))
_unary_jet(log_p, lambda u, ans: T.log(u))
_unary_jet(log1p_p, lambda u, ans: T.Taylor([ans] + T.log(T.shift(u, 1.0)).c[1:]))
_unary_jet(sqrt_p, lambda u, ans: T.sqrt(u))
_unary_jet(sin_p, lambda u, ans: T.sin_cos(u)[0])
_unary_jet(cos_p, lambda u, ans: T.sin_cos(u)[1])
_unary_jet(sinh_p, lambda u, ans: T.sin_cos(u, hyperbolic=True)[0])
_unary_jet(cosh_p, lambda u, ans: T.sin_cos(u, hyperbolic=True)[1])
# tan' = 1 + tan^2, tanh' = 1 - tanh^2, logistic' = logistic - logistic^2: quadratic ODEs.
_unary_jet(tan_p, lambda u, ans: T.quadratic_ode(ans, u, 1.0, 0.0, 1.0))
_unary_jet(tanh_p, lambda u, ans: T.quadratic_ode(ans, u, 1.0, 0.0, -1.0))
_unary_jet(logistic_p, lambda u, ans: T.quadratic_ode(ans, u, 0.0, 1.0, -1.0))
# The inverse functions: their derivatives are algebraic in u.
_unary_jet(atan_p, _with_h(lambda u: T.div(_one(u), T.shift(T.mul(u, u), 1.0))))
_unary_jet(asin_p, _with_h(lambda u: T.div(_one(u), T.sqrt(T.shift(T.scale(T.mul(u, u), -1.0), 1.0)))))
_unary_jet(acos_p, _with_h(lambda u: T.div(T.scale(_one(u), -1.0), T.sqrt(T.shift(T.scale(T.mul(u, u), -1.0), 1.0)))))
_unary_jet(asinh_p, _with_h(lambda u: T.div(_one(u), T.sqrt(T.shift(T.mul(u, u), 1.0)))))
_unary_jet(acosh_p, _with_h(lambda u: T.div(_one(u), T.sqrt(T.shift(T.mul(u, u), -1.0)))))
_unary_jet(atanh_p, _with_h(lambda u: T.div(_one(u), T.shift(T.scale(T.mul(u, u), -1.0), 1.0))))
# erf' = 2/sqrt(pi) exp(-u^2)
_unary_jet(erf_p, _with_h(lambda u: T.scale(T.exp(T.scale(T.mul(u, u), -1.0)), 2 / np.sqrt(np.pi))))


def _integer_pow_jet(primals, series, *, y):
    (x,), (sx,) = primals, series
    ans = lax.integer_pow(x, y)
    if y == 0:
        return ans, None
    u = T.from_parts(x, sx, ans, len(sx))
    return ans, T.integer_power(u, y).c[1:]


def_jet_rule(integer_pow_p, _integer_pow_jet)


def _binary_parts(primals, series, ans):
    order = len(next(s for s in series if s is not None))
    return [T.from_parts(p, s, ans, order) for p, s in zip(primals, series, strict=True)]


def _mul_jet(primals, series):
    ans = lax.mul(*primals)
    a, b = _binary_parts(primals, series, ans)
    return ans, [T.conv(a, b, k) for k in range(1, len(a))]


def _div_jet(primals, series):
    ans = lax.div(*primals)
    a, b = _binary_parts(primals, series, ans)
    q = T.div(a, b)
    return ans, q.c[1:]


def _pow_jet(primals, series):
    """``x ** y = exp(y log x)`` along the path (as JAX: needs x > 0 where the series matter)."""
    ans = lax.pow(*primals)
    a, b = _binary_parts(primals, series, ans)
    if series[1] is None:  # base only: y u' / u, avoiding log where u_0 <= 0 matters less
        lx = T.log(a)
        w = T.Taylor([lax.mul(b[0], lx[0])] + [lax.mul(b[0], c) for c in lx.c[1:]])
    else:
        w = T.mul(b, T.log(a))
    return ans, T.ode(ans, w, lambda y, m: y[m], first=ans).c[1:]


def _atan2_jet(primals, series):
    """``d atan2(x, y) = (y dx - x dy) / (x^2 + y^2)``, integrated along the path."""
    ans = lax.atan2(*primals)
    a, b = _binary_parts(primals, series, ans)
    n = len(a)
    da = T.Taylor([lax.mul(a[k + 1], const_like(k + 1, a[0])) for k in range(n - 1)])
    db = T.Taylor([lax.mul(b[k + 1], const_like(k + 1, b[0])) for k in range(n - 1)])
    trunc_a, trunc_b = T.Taylor(a.c[:n - 1]), T.Taylor(b.c[:n - 1])
    g = T.div(T.sub(T.mul(trunc_b, da), T.mul(trunc_a, db)), T.add(T.mul(trunc_a, trunc_a), T.mul(trunc_b, trunc_b)))
    return ans, [g[k - 1] if k == 1 else lax.mul(g[k - 1], const_like(1.0 / k, ans)) for k in range(1, n)]


def_jet_rule(mul_p, _mul_jet)
def_jet_rule(div_p, _div_jet)
def_jet_rule(pow_p, _pow_jet)
def_jet_rule(atan2_p, _atan2_jet)


def _select_jet(primals, series):
    """The series of the branch taken at each position (the predicate is constant along the path)."""
    pred, a, b = primals
    _, sa, sb = series
    ans = lax.select(pred, a, b)
    order = len(sa if sa is not None else sb)
    za = lax.zeros_like(a) if sa is None else None
    zb = lax.zeros_like(b) if sb is None else None
    return ans, [lax.select(pred, za if sa is None else sa[k], zb if sb is None else sb[k]) for k in range(order)]


def_jet_rule(select_p, _select_jet)


def piecewise_jet(prim: Primitive) -> None:
    """A rule for a primitive that is linear on each piece of its domain (abs, max, min, rem in
    its first operand, sorting, ...): each coefficient goes through the JVP at the primal
    point, i.e. the series of the piece taken there. At a kink the JVP's choice applies."""

    def rule(primals, series, **params):
        jvp = jvp_rule(prim)
        order = len(next(s for s in series if s is not None))
        ans = bind(prim, *primals, **params)
        outs = ans if prim.multiple_results else [ans]
        per_order = []
        for k in range(order):
            ts = [Zero(get_aval(p)) if s is None else s[k] for p, s in zip(primals, series, strict=True)]
            _, t = jvp(primals, ts, **params)
            t = t if prim.multiple_results else [t]
            per_order.append([lax.zeros_like(o) if isinstance(ti, Zero) else ti for ti, o in zip(t, outs, strict=True)])
        out_series = [[per_order[k][j] for k in range(order)] for j in range(len(outs))]
        return ans, (out_series if prim.multiple_results else out_series[0])

    def_jet_rule(prim, rule)


for _p in (abs_p, max_p, min_p):
    piecewise_jet(_p)


def _rem_jet(primals, series):
    """``rem(x, y) = x - y trunc(x/y)``: the quotient is constant on each piece."""
    x, y = primals
    sx, sy = series
    ans = lax.rem(x, y)
    q = lax.sub(lax.div(lax.sub(x, ans), y), lax.zeros_like(ans)) if sy is not None else None
    order = len(sx if sx is not None else sy)
    out = []
    for k in range(order):
        t = lax.zeros_like(ans) if sx is None else T._bcast(sx[k], get_aval(ans))
        if sy is not None:
            t = lax.sub(t, lax.mul(q, T._bcast(sy[k], get_aval(ans))))
        out.append(t)
    return ans, out


def_jet_rule(rem_p, _rem_jet)
