"""Forward mode: a JVP rule per primitive, and the interpreter that pushes tangents through a jaxpr.

Rules are written with ``functrace.lax``; ``bind`` sends each operation to the right place:
primal work to the enclosing trace (or eager evaluation), tangent work to the tangents' trace.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import primitives as P
from functrace.ir import Jaxpr, Literal
from functrace.rules import (
    Zero,
    def_jvp_rule,
    defjvp,
    deflinear,
    defzero,
    instantiate,
    jvp_rule,
    prim_bind,
)
from functrace.tracing import _state, bind, get_aval
from functrace.transforms import transpose as T


def _c(value: float, like: Any) -> Any:
    """A scalar constant of ``like``'s dtype (a Literal in the IR)."""
    return np.asarray(value, dtype=get_aval(like).dtype)[()]


# ---------------------------------------------------------------------------- elementwise
defjvp(P.sin_p, lambda t, ans, x: lax.mul(t, lax.cos(x)))
defjvp(P.cos_p, lambda t, ans, x: lax.neg(lax.mul(t, lax.sin(x))))
defjvp(P.tan_p, lambda t, ans, x: lax.mul(t, lax.add(_c(1, x), lax.integer_pow(ans, 2))))
defjvp(P.asin_p, lambda t, ans, x: lax.div(t, lax.sqrt(lax.sub(_c(1, x), lax.integer_pow(x, 2)))))
defjvp(P.acos_p, lambda t, ans, x: lax.neg(lax.div(t, lax.sqrt(lax.sub(_c(1, x), lax.integer_pow(x, 2))))))
defjvp(P.atan_p, lambda t, ans, x: lax.div(t, lax.add(_c(1, x), lax.integer_pow(x, 2))))
defjvp(P.sinh_p, lambda t, ans, x: lax.mul(t, lax.cosh(x)))
defjvp(P.cosh_p, lambda t, ans, x: lax.mul(t, lax.sinh(x)))
defjvp(P.tanh_p, lambda t, ans, x: lax.mul(t, lax.sub(_c(1, x), lax.integer_pow(ans, 2))))
defjvp(P.asinh_p, lambda t, ans, x: lax.div(t, lax.sqrt(lax.add(lax.integer_pow(x, 2), _c(1, x)))))
defjvp(P.acosh_p, lambda t, ans, x: lax.div(t, lax.sqrt(lax.sub(lax.integer_pow(x, 2), _c(1, x)))))
defjvp(P.atanh_p, lambda t, ans, x: lax.div(t, lax.sub(_c(1, x), lax.integer_pow(x, 2))))
defjvp(P.exp_p, lambda t, ans, x: lax.mul(t, ans))
defjvp(P.exp2_p, lambda t, ans, x: lax.mul(t, lax.mul(ans, _c(np.log(2.0), x))))
defjvp(P.expm1_p, lambda t, ans, x: lax.mul(t, lax.add(ans, _c(1, x))))
defjvp(P.log_p, lambda t, ans, x: lax.div(t, x))
defjvp(P.log1p_p, lambda t, ans, x: lax.div(t, lax.add(x, _c(1, x))))
defjvp(P.sqrt_p, lambda t, ans, x: lax.div(t, lax.mul(ans, _c(2, x))))
defjvp(P.logistic_p, lambda t, ans, x: lax.mul(t, lax.mul(ans, lax.sub(_c(1, x), ans))))
defjvp(P.erf_p, lambda t, ans, x: lax.mul(t, lax.mul(_c(2 / np.sqrt(np.pi), x),
                                                     lax.exp(lax.neg(lax.integer_pow(x, 2))))))
# |x|: derivative +1 at 0, as JAX chooses.
defjvp(P.abs_p, lambda t, ans, x: lax.select(lax.ge(x, _c(0, x)), t, lax.neg(t)))
for _p in (P.sign_p, P.floor_p, P.ceil_p, P.round_p, P.is_finite_p, P.not_p, P.and_p, P.or_p, P.xor_p,
           P.eq_p, P.ne_p, P.lt_p, P.le_p, P.gt_p, P.ge_p, P.argmax_p, P.argmin_p, P.iota_p,
           P.reduce_and_p, P.reduce_or_p, P.stop_gradient_p):
    defzero(_p)


def _integer_pow_jvp(t, ans, x, *, y):
    if y == 0:
        return Zero(get_aval(ans))
    d = lax.mul(_c(y, x), x if y == 2 else _c(1, x) if y == 1 else lax.integer_pow(x, y - 1))
    return lax.mul(t, d) if y != 1 else t


defjvp(P.integer_pow_p, _integer_pow_jvp)


def _pow_jvp_x(t, ans, x, y):
    # d/dx x**y = y * x**(y-1). Not masked where y == 0: its derivative in y, x**(y-1), is the mixed
    # second derivative. Only where x == y == 0 is the base replaced by 1, so that 0 * 0**-1 = nan
    # reaches neither mode; the derivative there is 0 (as JAX gives for 0**0).
    both_zero = lax.bitwise_and(lax.eq(x, _c(0, x)), lax.eq(y, _c(0, y)))
    safe_x = lax.select(both_zero, lax.full_like_aval(get_aval(x), 1), x)
    return lax.mul(t, lax.mul(y, lax.pow(safe_x, lax.sub(y, _c(1, y)))))


def _pow_jvp_y(t, ans, x, y):
    # d/dy x**y = log(x) * x**y, taken as 0 where x == 0.
    safe_x = lax.select(lax.eq(x, _c(0, x)), lax.full_like_aval(get_aval(x), 1), x)
    return lax.mul(t, lax.mul(lax.log(safe_x), ans))


defjvp(P.pow_p, _pow_jvp_x, _pow_jvp_y)


def _balanced_eq(x, ans, y):
    """1 where x is the max/min alone, 1/2 where x and y tie, 0 elsewhere (JAX's choice)."""
    one = lax.full_like_aval(get_aval(ans), 1)
    half = lax.full_like_aval(get_aval(ans), 0.5)
    zero = lax.full_like_aval(get_aval(ans), 0)
    return lax.select(lax.eq(x, ans), lax.select(lax.eq(y, ans), half, one), zero)


defjvp(P.max_p, lambda t, ans, x, y: lax.mul(t, _balanced_eq(x, ans, y)),
       lambda t, ans, x, y: lax.mul(t, _balanced_eq(y, ans, x)))
defjvp(P.min_p, lambda t, ans, x, y: lax.mul(t, _balanced_eq(x, ans, y)),
       lambda t, ans, x, y: lax.mul(t, _balanced_eq(y, ans, x)))


def _atan2_denom(x, y):
    return lax.add(lax.integer_pow(x, 2), lax.integer_pow(y, 2))


defjvp(P.atan2_p, lambda t, ans, x, y: lax.mul(t, lax.div(y, _atan2_denom(x, y))),
       lambda t, ans, x, y: lax.mul(t, lax.neg(lax.div(x, _atan2_denom(x, y)))))

defjvp(P.mul_p, lambda t, ans, x, y: lax.mul(t, y), lambda t, ans, x, y: lax.mul(x, t))
defjvp(P.div_p, lambda t, ans, x, y: lax.div(t, y),
       lambda t, ans, x, y: lax.neg(lax.mul(t, lax.div(ans, y))))
defjvp(P.rem_p, lambda t, ans, x, y: t,
       lambda t, ans, x, y: lax.neg(lax.mul(t, lax.mul(lax.sign(lax.div(x, y)), lax.floor(lax.abs(lax.div(x, y)))))))


def _select_jvp(primals, tangents):
    pred, a, b = primals
    _, ta, tb = tangents
    ans = lax.select(pred, a, b)
    if isinstance(ta, Zero) and isinstance(tb, Zero):
        return ans, Zero(get_aval(ans))
    out = get_aval(ans)
    ta = instantiate(ta) if not isinstance(ta, Zero) else lax.full(get_aval(a).shape, 0, out.dtype)
    tb = instantiate(tb) if not isinstance(tb, Zero) else lax.full(get_aval(b).shape, 0, out.dtype)
    return ans, lax.select(pred, ta, tb)


def_jvp_rule(P.select_p, _select_jvp)


def _convert_jvp(primals, tangents, *, new_dtype):
    (x,), (t,) = primals, tangents
    ans = lax.convert_element_type(x, new_dtype)
    if isinstance(t, Zero) or not np.issubdtype(new_dtype, np.floating):
        return ans, Zero(get_aval(ans))
    return ans, lax.convert_element_type(t, new_dtype)


def_jvp_rule(P.convert_element_type_p, _convert_jvp)


# ---------------------------------------------------------------------------- linear primitives
deflinear(P.neg_p, T.neg_transpose)
deflinear(P.add_p, T.add_transpose)
deflinear(P.sub_p, T.sub_transpose)
deflinear(P.reduce_sum_p, T.reduce_sum_transpose)
deflinear(P.cumsum_p, T.cumsum_transpose)
deflinear(P.broadcast_in_dim_p, T.broadcast_in_dim_transpose)
deflinear(P.reshape_p, T.reshape_transpose)
deflinear(P.transpose_p, T.transpose_transpose)
deflinear(P.slice_p, T.slice_transpose)
deflinear(P.rev_p, T.rev_transpose)
deflinear(P.pad_p, T.pad_transpose)
deflinear(P.concatenate_p, T.concatenate_transpose)


def _gather_jvp(primals, tangents, *, axis):
    x, idx = primals
    ans = lax.gather(x, idx, axis)
    t = tangents[0]
    return ans, Zero(get_aval(ans)) if isinstance(t, Zero) else lax.gather(t, idx, axis)


def_jvp_rule(P.gather_p, _gather_jvp)


def _scatter_add_jvp(primals, tangents, *, axis):
    x, idx, u = primals
    tx, _, tu = tangents
    ans = lax.scatter_add(x, idx, u, axis)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return ans, Zero(get_aval(ans))
    return ans, lax.scatter_add(instantiate(tx, get_aval(x)), idx, instantiate(tu, get_aval(u)), axis)


def_jvp_rule(P.scatter_add_p, _scatter_add_jvp)

defjvp(P.dot_general_p,
       lambda t, ans, x, y, *, dimension_numbers: lax.dot_general(t, y, dimension_numbers),
       lambda t, ans, x, y, *, dimension_numbers: lax.dot_general(x, t, dimension_numbers))


# ---------------------------------------------------------------------------- reductions
def _reduce_chooser_jvp(primals, tangents, *, axes, prim):
    """max/min: the tangent averages over the positions that attain the extremum (JAX's choice)."""
    (x,), (t,) = primals, tangents
    ans = prim_bind(prim, [x], {"axes": axes})
    if isinstance(t, Zero):
        return ans, Zero(get_aval(ans))
    xa = get_aval(x)
    kept = tuple(i for i in range(xa.ndim) if i not in axes)
    location = lax.convert_element_type(lax.eq(x, lax.broadcast_in_dim(ans, xa.shape, kept)), xa.dtype)
    counts = lax.reduce_sum(location, axes)
    return ans, lax.div(lax.reduce_sum(lax.mul(t, location), axes), counts)


def_jvp_rule(P.reduce_max_p, lambda p, t, *, axes: _reduce_chooser_jvp(p, t, axes=axes, prim=P.reduce_max_p))
def_jvp_rule(P.reduce_min_p, lambda p, t, *, axes: _reduce_chooser_jvp(p, t, axes=axes, prim=P.reduce_min_p))


def _reduce_prod_jvp(primals, tangents, *, axes):
    """The product as a balanced tree of pairwise ``mul``s, differentiated by the product rule.

    Division-free, so exact where some x_j are zero, and built only from differentiable
    primitives, so every higher derivative is exact too (a quotient ``prod / x_i`` is neither).
    """
    (x,), (t,) = primals, tangents
    ans = lax.reduce_prod(x, axes)
    if isinstance(t, Zero):
        return ans, Zero(get_aval(ans))
    xa = get_aval(x)
    kept = tuple(i for i in range(xa.ndim) if i not in axes)
    n = int(np.prod([xa.shape[a] for a in axes], dtype=np.int64))
    m = int(np.prod([xa.shape[a] for a in kept], dtype=np.int64))
    if n == 0:
        return ans, lax.full(get_aval(ans).shape, 0, xa.dtype)

    def rows(v):  # reduced axes first, flattened: shape (n, m)
        return lax.reshape(lax.transpose(v, tuple(axes) + kept), (n, m))

    p, dp = rows(x), rows(t)
    while n > 1:
        if n % 2:  # pad with one factor 1 (tangent 0) to pair every row
            p, dp = lax.pad(p, _c(1, x), ((0, 1, 0), (0, 0, 0))), lax.pad(dp, _c(0, x), ((0, 1, 0), (0, 0, 0)))
            n += 1
        a, b = lax.slice(p, (0, 0), (n, m), (2, 1)), lax.slice(p, (1, 0), (n, m), (2, 1))
        da, db = lax.slice(dp, (0, 0), (n, m), (2, 1)), lax.slice(dp, (1, 0), (n, m), (2, 1))
        p, dp = lax.mul(a, b), lax.add(lax.mul(da, b), lax.mul(a, db))
        n //= 2
    return ans, lax.reshape(dp, get_aval(ans).shape)


def_jvp_rule(P.reduce_prod_p, _reduce_prod_jvp)


# ---------------------------------------------------------------------------- the interpreter
def jvp_jaxpr(jaxpr: Jaxpr, consts: list, primals: list, tangents: list) -> tuple[list, list]:
    """Evaluate ``jaxpr`` on ``primals`` and push ``tangents`` (arrays, tracers or Zero) through it.

    Iterative; each equation's new operations are attributed to its source line.
    """
    penv: dict[int, Any] = {}
    tenv: dict[int, Any] = {}
    for v, c in zip(jaxpr.constvars, consts, strict=True):
        penv[id(v)] = c
    for v, p, t in zip(jaxpr.invars, primals, tangents, strict=True):
        penv[id(v)] = p
        if not isinstance(t, Zero):
            tenv[id(v)] = t

    def read_p(x):
        return x.val if isinstance(x, Literal) else penv[id(x)]

    def read_t(x):
        if isinstance(x, Literal):
            return Zero(x.aval)
        t = tenv.get(id(x))
        return Zero(x.aval) if t is None else t

    saved = _state.source
    try:
        for eqn in jaxpr.eqns:
            _state.source = eqn.source_info
            ps = [read_p(x) for x in eqn.invars]
            ts = [read_t(x) for x in eqn.invars]
            multiple = eqn.primitive.multiple_results
            if all(isinstance(t, Zero) for t in ts):
                out = bind(eqn.primitive, *ps, **eqn.params)
                outs = out if multiple else [out]
                for v, o in zip(eqn.outvars, outs, strict=True):
                    penv[id(v)] = o
                continue
            rule = jvp_rule(eqn.primitive)
            if rule is None:
                raise NotImplementedError(f"differentiation rule for '{eqn.primitive.name}' is not implemented "
                                          "(forward mode, jvp)")
            po, to = rule(ps, ts, **eqn.params)
            if not multiple:
                po, to = [po], [to]
            for v, p, t in zip(eqn.outvars, po, to, strict=True):
                penv[id(v)] = p
                if not isinstance(t, Zero):
                    tenv[id(v)] = t
    finally:
        _state.source = saved
    return [read_p(x) for x in jaxpr.outvars], [read_t(x) for x in jaxpr.outvars]
