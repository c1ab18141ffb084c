"""The IR optimisation passes (transforms/passes.py), each on its own.

Jaxprs are built by hand with a tiny builder (tracing would already simplify some of these
patterns as it records them). Every pass result is type-checked, compared with its input by
value on the active backend, and the input is checked to be unchanged (passes never mutate).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, mlp_loss

import functrace as ft
import functrace.numpy as fnp
from functrace import ops as P
from functrace.avals import ShapedArray
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var, typecheck_jaxpr
from functrace.primitives import abstract_eval_rules
from functrace.transforms import folding, passes

f32, f64, i32 = np.dtype(np.float32), np.dtype(np.float64), np.dtype(np.int32)


def lit(value, dtype=f32) -> Literal:
    return Literal(np.asarray(value, dtype=dtype)[()], ShapedArray((), dtype))


class Builder:
    """Records equations by hand: ``b.op(P.add_p, x, y)`` returns the new Var."""

    def __init__(self) -> None:
        self.invars: list[Var] = []
        self.constvars: list[Var] = []
        self.consts: list = []
        self.eqns: list[JaxprEqn] = []

    def arg(self, shape=(3,), dtype=f32) -> Var:
        v = Var(ShapedArray(shape, dtype))
        self.invars.append(v)
        return v

    def const(self, value) -> Var:
        value = np.asarray(value)
        v = Var(ShapedArray(value.shape, value.dtype))
        self.constvars.append(v)
        self.consts.append(value)
        return v

    def op(self, prim, *ins, **params) -> Var:
        out = Var(abstract_eval_rules[prim](*[x.aval for x in ins], **params))
        self.eqns.append(JaxprEqn(prim, list(ins), [out], params))
        return out

    def build(self, *outs) -> ClosedJaxpr:
        closed = ClosedJaxpr(Jaxpr(self.constvars, self.invars, list(outs), self.eqns), self.consts)
        typecheck_jaxpr(closed.jaxpr)
        return closed


def inputs(closed: ClosedJaxpr, seed: int = 0) -> list:
    rng = np.random.default_rng(seed)
    out = []
    for a in closed.in_avals:
        if a.dtype.kind in "iu":
            out.append(rng.integers(-5, 6, a.shape).astype(a.dtype))
        else:
            out.append(rng.standard_normal(a.shape).astype(a.dtype))
    return out


def run_pass(pass_fn, closed: ClosedJaxpr, **kw) -> ClosedJaxpr:
    """Apply a Jaxpr -> Jaxpr pass (or a ClosedJaxpr pass), check typing, values, no mutation."""
    before = str(closed.jaxpr)
    if pass_fn in (passes.fold_constants, passes.optimize):
        new = pass_fn(closed, **kw)
    else:
        new = ClosedJaxpr(pass_fn(closed.jaxpr, **kw), closed.consts)
    assert str(closed.jaxpr) == before, "the pass mutated its input"
    typecheck_jaxpr(new.jaxpr)
    args = inputs(closed)
    for got, want in zip(ft.eval_jaxpr(new, *args), ft.eval_jaxpr(closed, *args), strict=True):
        assert_close(got, np.asarray(ft.device_get(want)))
    return new


def prims(closed: ClosedJaxpr) -> list[str]:
    return [e.primitive.name for e in closed.jaxpr.eqns]


# ---------------------------------------------------------------------------- DCE
def test_dce_drops_unused_equations_and_keeps_used_ones():
    b = Builder()
    x = b.arg()
    y = b.op(P.sin_p, x)
    b.op(P.cos_p, x)  # unused
    b.op(P.exp_p, b.op(P.log_p, x))  # unused chain
    new = run_pass(passes.dce, b.build(y))
    assert prims(new) == ["sin"]


def test_dce_returns_the_same_jaxpr_when_nothing_is_dead():
    b = Builder()
    x = b.arg()
    closed = b.build(b.op(P.sin_p, x))
    assert passes.dce(closed.jaxpr) is closed.jaxpr


def test_prune_consts_removes_the_unread_one():
    b = Builder()
    x = b.arg()
    c1 = b.const(np.arange(3, dtype=f32))
    b.const(np.arange(4, dtype=f32))
    closed = b.build(b.op(P.add_p, x, c1))
    assert len(passes.dce(closed.jaxpr).constvars) == 2  # dce keeps constvars (no values to drop)
    new = passes.prune_consts(closed)
    typecheck_jaxpr(new.jaxpr)
    assert [c.shape for c in new.consts] == [(3,)]


# ---------------------------------------------------------------------------- CSE
def test_cse_merges_identical_equations_transitively():
    b = Builder()
    x = b.arg()
    s1, s2 = b.op(P.sin_p, x), b.op(P.sin_p, x)
    m1, m2 = b.op(P.mul_p, s1, lit(2.0)), b.op(P.mul_p, s2, lit(2.0))  # equal once s1 == s2
    new = run_pass(passes.cse, b.build(b.op(P.add_p, m1, m2)))
    assert prims(new) == ["sin", "mul", "add"]
    add = new.jaxpr.eqns[-1]
    assert add.invars[0] is add.invars[1]


def test_cse_merges_commutative_operations_in_either_order():
    b = Builder()
    x, y = b.arg(), b.arg()
    new = run_pass(passes.cse, b.build(b.op(P.mul_p, x, y), b.op(P.mul_p, y, x), b.op(P.sub_p, x, y),
                                       b.op(P.sub_p, y, x)))
    assert prims(new) == ["mul", "sub", "sub"]
    assert new.jaxpr.outvars[0] is new.jaxpr.outvars[1]


def test_cse_keeps_different_params_and_signed_zero_literals_apart():
    b = Builder()
    x = b.arg((2, 3))
    r0 = b.op(P.reduce_sum_p, x, axes=(0,))
    r1 = b.op(P.reduce_sum_p, x, axes=(1,))
    y = b.arg((3,))
    a = b.op(P.mul_p, y, lit(0.0))
    c = b.op(P.mul_p, y, lit(-0.0))  # 0.0 == -0.0, but the products differ in sign
    new = run_pass(passes.cse, b.build(r0, r1, a, c))
    assert prims(new) == ["reduce_sum", "reduce_sum", "mul", "mul"]


def test_cse_unchanged_returns_input():
    b = Builder()
    x = b.arg()
    closed = b.build(b.op(P.sin_p, x), b.op(P.cos_p, x))
    assert passes.cse(closed.jaxpr) is closed.jaxpr


# ---------------------------------------------------------------------------- constant folding
def test_fold_literals_into_a_literal():
    b = Builder()
    x = b.arg()
    three = b.op(P.add_p, lit(1.0), lit(2.0))
    nine = b.op(P.integer_pow_p, three, y=2)
    new = run_pass(passes.fold_constants, b.build(b.op(P.mul_p, x, nine)))
    assert prims(new) == ["mul"]
    (k,) = [a for a in new.jaxpr.eqns[0].invars if isinstance(a, Literal)]
    assert k.val == 9.0 and k.aval.dtype == f32


def test_fold_constant_arrays_into_a_new_constant():
    b = Builder()
    x = b.arg((3,))
    c = b.const(np.array([1.0, 2.0, 3.0], f32))
    e = b.op(P.exp_p, b.op(P.sin_p, c))
    new = run_pass(passes.fold_constants, b.build(b.op(P.add_p, x, e)))
    assert prims(new) == ["add"]
    assert len(new.consts) == 1
    np.testing.assert_allclose(np.asarray(ft.device_get(new.consts[0])), np.exp(np.sin([1.0, 2.0, 3.0])), rtol=1e-6)


def test_fold_uniform_constant_becomes_broadcast_literal_and_is_absorbed():
    """A constant of zeros (as grad's cotangent zeros are) is a broadcast of a literal; then
    simplify absorbs it (sub x 0 -> x, exact for every x) and nothing is left."""
    b = Builder()
    x = b.arg((2, 3))
    zeros = b.const(np.zeros((2, 3), f32))
    closed = b.build(b.op(P.sub_p, x, zeros))
    folded = run_pass(passes.fold_constants, closed)
    assert folded.consts == [] and prims(folded) == ["broadcast_in_dim", "sub"]
    assert isinstance(folded.jaxpr.eqns[0].invars[0], Literal) and folded.jaxpr.eqns[0].invars[0].val == 0
    simplified = run_pass(passes.simplify, folded)
    assert prims(simplified) == [] and simplified.jaxpr.outvars[0] is x


def test_fold_shape_ops_of_uniform_values_stay_uniform():
    b = Builder()
    x = b.arg((6, 4))
    ones = b.op(P.broadcast_in_dim_p, lit(1.0), shape=(4, 6), broadcast_dimensions=())
    t = b.op(P.transpose_p, b.op(P.reshape_p, ones, new_sizes=(4, 6)), permutation=(1, 0))
    two = b.op(P.add_p, t, t)  # uniform 2.0
    new = run_pass(passes.fold_constants, b.build(b.op(P.mul_p, x, two)))
    bcasts = [e for e in new.jaxpr.eqns if e.primitive is P.broadcast_in_dim_p]
    assert prims(new).count("transpose") == 0 and prims(new).count("reshape") == 0
    assert any(e.invars[0].val == 2.0 and e.outvars[0].aval.shape == (6, 4) for e in bcasts)


def test_fold_keeps_equations_that_fail_and_results_over_the_limit(monkeypatch):
    b = Builder()
    x = b.arg((), i32)
    bad = b.op(P.integer_pow_p, lit(2, i32), y=-1)  # integers to a negative power: a run-time error
    big = b.op(P.iota_p, dtype=f32, shape=(64,), dimension=0)
    monkeypatch.setattr(folding, "FOLD_LIMIT", 16)
    closed = b.build(b.op(P.add_p, x, lit(1, i32)), big)
    closed2 = ClosedJaxpr(Jaxpr([], closed.jaxpr.invars, closed.jaxpr.outvars + [bad], closed.jaxpr.eqns), [])
    new = passes.fold_constants(closed2)
    typecheck_jaxpr(new.jaxpr)
    assert "integer_pow" in prims(new) and "iota" in prims(new)


def test_fold_small_iota_becomes_a_constant():
    b = Builder()
    x = b.arg((5,))
    r = b.op(P.iota_p, dtype=f32, shape=(5,), dimension=0)
    new = run_pass(passes.fold_constants, b.build(b.op(P.mul_p, x, r)))
    assert prims(new) == ["mul"]
    np.testing.assert_array_equal(np.asarray(ft.device_get(new.consts[0])), np.arange(5, dtype=f32))


def test_fold_unchanged_returns_input():
    b = Builder()
    x = b.arg()
    closed = b.build(b.op(P.sin_p, x))
    assert passes.fold_constants(closed) is closed


def test_uniform_value_is_exact_about_signed_zero_and_nan():
    assert passes.uniform_value(np.zeros(4)) == 0.0
    assert passes.uniform_value(np.array([0.0, -0.0])) is None
    assert passes.uniform_value(np.array([np.nan, np.nan])) is None
    assert passes.uniform_value(np.broadcast_to(np.float32(3), (1000, 1000))) == 3.0
    assert passes.uniform_value(np.zeros(0)) is None


# ---------------------------------------------------------------------------- simplify
@pytest.mark.parametrize("make, expect", [
    # x + (-0.0) is x for every x; x + (+0.0) is not (-0.0 + 0.0 is +0.0), so it stays.
    (lambda b, x: b.op(P.add_p, x, lit(-0.0)), []),
    (lambda b, x: b.op(P.add_p, lit(-0.0), x), []),
    (lambda b, x: b.op(P.add_p, x, lit(0.0)), ["add"]),
    (lambda b, x: b.op(P.add_p, lit(0.0), x), ["add"]),
    (lambda b, x: b.op(P.sub_p, x, lit(0.0)), []),
    (lambda b, x: b.op(P.sub_p, x, lit(-0.0)), ["sub"]),
    (lambda b, x: b.op(P.mul_p, lit(1.0), x), []),
    (lambda b, x: b.op(P.mul_p, x, lit(1.0)), []),
    (lambda b, x: b.op(P.div_p, x, lit(1.0)), []),
    (lambda b, x: b.op(P.mul_p, x, lit(-1.0)), ["neg"]),
    (lambda b, x: b.op(P.mul_p, lit(-1.0), x), ["neg"]),
    (lambda b, x: b.op(P.sub_p, lit(-0.0), x), ["neg"]),
    (lambda b, x: b.op(P.sub_p, lit(0.0), x), ["sub"]),  # 0.0 - 0.0 is +0.0, -(0.0) is -0.0
    (lambda b, x: b.op(P.neg_p, b.op(P.neg_p, x)), []),
    (lambda b, x: b.op(P.neg_p, b.op(P.neg_p, b.op(P.neg_p, x))), ["neg"]),
    (lambda b, x: b.op(P.integer_pow_p, x, y=1), []),
    (lambda b, x: b.op(P.mul_p, x, b.op(P.broadcast_in_dim_p, lit(1.0), shape=(3,), broadcast_dimensions=())), []),
    (lambda b, x: b.op(P.mul_p, x, b.op(P.broadcast_in_dim_p, lit(3.0), shape=(3,), broadcast_dimensions=())),
     ["mul"]),
    (lambda b, x: b.op(P.select_p, lit(True, bool), x, b.op(P.sin_p, x)), []),
    (lambda b, x: b.op(P.select_p, lit(False, bool), b.op(P.sin_p, x), x), []),
])
def test_simplify_identities(make, expect):
    b = Builder()
    x = b.arg((3,))
    new = run_pass(passes.simplify, b.build(make(b, x)))
    assert prims(new) == expect
    if not expect:
        assert new.jaxpr.outvars[0] is x


def test_simplify_integer_pow_zero_is_ones_even_for_inf_and_nan():
    b = Builder()
    x = b.arg((3,))
    new = run_pass(passes.simplify, b.build(b.op(P.integer_pow_p, x, y=0)))
    out = ft.eval_jaxpr(new, np.array([np.inf, np.nan, 2.0], f32))[0]
    np.testing.assert_array_equal(np.asarray(ft.device_get(out)), np.ones(3, f32))


def test_simplify_leaves_float_times_zero_alone_but_folds_integer_times_zero():
    b = Builder()
    x = b.arg((3,))
    n = b.arg((3,), i32)
    closed = b.build(b.op(P.mul_p, x, lit(0.0)), b.op(P.mul_p, n, lit(0, i32)))
    new = run_pass(passes.simplify, closed)
    assert prims(new) == ["mul", "broadcast_in_dim"]
    with np.errstate(invalid="ignore"):
        out = ft.eval_jaxpr(new, np.array([np.inf, np.nan, -2.0], f32), np.arange(3, dtype=i32))
    got = np.asarray(ft.device_get(out[0]))
    assert np.isnan(got[0]) and np.isnan(got[1]) and np.signbit(got[2])  # inf*0, nan*0, -2*0 = -0.0


def test_simplify_composes_transposes_reshapes_and_broadcasts():
    b = Builder()
    x = b.arg((2, 3, 4))
    t = b.op(P.transpose_p, b.op(P.transpose_p, x, permutation=(1, 2, 0)), permutation=(2, 0, 1))  # identity
    u = b.op(P.transpose_p, b.op(P.transpose_p, x, permutation=(1, 0, 2)), permutation=(0, 2, 1))
    r = b.op(P.reshape_p, b.op(P.reshape_p, x, new_sizes=(6, 4)), new_sizes=(24,))
    v = b.arg((3,))
    bb = b.op(P.broadcast_in_dim_p, b.op(P.broadcast_in_dim_p, v, shape=(2, 3), broadcast_dimensions=(1,)),
              shape=(5, 2, 3), broadcast_dimensions=(1, 2))
    new = run_pass(passes.simplify, b.build(t, u, r, bb))
    assert new.jaxpr.outvars[0] is x
    assert prims(new) == ["transpose", "reshape", "broadcast_in_dim"]
    tr, rs, bc = new.jaxpr.eqns
    assert tr.invars[0] is x and tr.params["permutation"] == (1, 2, 0)
    assert rs.invars[0] is x and rs.params["new_sizes"] == (24,)
    assert bc.invars[0] is v and bc.params["broadcast_dimensions"] == (2,)


def test_simplify_keeps_a_broadcast_that_carries_the_shape():
    """add s:f32[] (broadcast 0.0 to f32[3]): forwarding s would change the result's shape."""
    b = Builder()
    s = b.arg(())
    zeros = b.op(P.broadcast_in_dim_p, lit(0.0), shape=(3,), broadcast_dimensions=())
    new = run_pass(passes.simplify, b.build(b.op(P.add_p, s, zeros)))
    assert new.out_avals[0].shape == (3,)


# ---------------------------------------------------------------------------- forwarding
@pytest.mark.parametrize("make", [
    lambda b, x: b.op(P.convert_element_type_p, x, new_dtype=f32),
    lambda b, x: b.op(P.reshape_p, x, new_sizes=(2, 3)),
    lambda b, x: b.op(P.transpose_p, x, permutation=(0, 1)),
    lambda b, x: b.op(P.broadcast_in_dim_p, x, shape=(2, 3), broadcast_dimensions=(0, 1)),
    lambda b, x: b.op(P.reduce_sum_p, x, axes=()),
    lambda b, x: b.op(P.reduce_max_p, x, axes=()),
    lambda b, x: b.op(P.slice_p, x, start_indices=(0, 0), limit_indices=(2, 3), strides=(1, 1)),
    lambda b, x: b.op(P.rev_p, x, dimensions=()),
    lambda b, x: b.op(P.pad_p, x, lit(0.0), padding_config=((0, 0, 0), (0, 0, 0))),
    lambda b, x: b.op(P.concatenate_p, x, dimension=0),
    lambda b, x: b.op(P.select_p, b.op(P.gt_p, x, lit(0.0)), x, x),
])
def test_forward_identities(make):
    b = Builder()
    x = b.arg((2, 3))
    new = run_pass(passes.forward_identities, b.build(make(b, x)))
    assert prims(new) == [] and new.jaxpr.outvars[0] is x


def test_forward_keeps_real_work():
    b = Builder()
    x = b.arg((2, 3))
    outs = [b.op(P.convert_element_type_p, x, new_dtype=f64), b.op(P.reshape_p, x, new_sizes=(3, 2)),
            b.op(P.transpose_p, x, permutation=(1, 0)), b.op(P.rev_p, x, dimensions=(1,)),
            b.op(P.slice_p, x, start_indices=(0, 1), limit_indices=(2, 3), strides=(1, 1))]
    closed = b.build(*outs)
    assert passes.forward_identities(closed.jaxpr) is closed.jaxpr


def test_stop_gradient_is_forwarded_only_when_asked():
    b = Builder()
    x = b.arg()
    closed = b.build(b.op(P.sin_p, b.op(P.stop_gradient_p, x)))
    assert prims(run_pass(passes.forward_identities, closed)) == ["stop_gradient", "sin"]
    new = run_pass(passes.forward_identities, closed, drop_stop_gradient=True)
    assert prims(new) == ["sin"] and new.jaxpr.eqns[0].invars[0] is x


# ---------------------------------------------------------------------------- the pipeline
def _mlp_args():
    rng = np.random.default_rng(1)
    params = [(rng.standard_normal((4, 8)).astype(f32), np.zeros(8, f32)),
              (rng.standard_normal((8, 1)).astype(f32), np.zeros(1, f32))]
    return params, rng.standard_normal((6, 4)).astype(f32), rng.standard_normal((6, 1)).astype(f32)


@pytest.mark.parametrize("fun", [
    ft.value_and_grad(mlp_loss),
    lambda p, x, y: ft.grad(lambda x: fnp.sum(fnp.sin(x) * fnp.zeros_like(x) + x * 1.0))(x),
    lambda p, x, y: ft.hessian(lambda x: fnp.sum(fnp.tanh(x) ** 3))(x[0]),
])
def test_optimize_on_derived_jaxprs(fun):
    args = _mlp_args()
    closed = ft.make_jaxpr(fun)(*args)
    before = str(closed)
    new = passes.optimize(closed)
    assert str(closed) == before
    typecheck_jaxpr(new.jaxpr)
    assert len(new.jaxpr.eqns) <= len(closed.jaxpr.eqns)
    for got, want in zip(ft.tree_util.tree_leaves(ft.eval_jaxpr(new, *args)),
                         ft.tree_util.tree_leaves(ft.eval_jaxpr(closed, *args)), strict=True):
        assert_close(got, np.asarray(ft.device_get(want)))
    again = passes.optimize(new)
    assert str(again) == str(new)  # a fixed point


def test_optimize_removes_zero_cotangents_from_a_gradient():
    closed = ft.make_jaxpr(ft.grad(lambda x: fnp.sum(x * 3.0 + fnp.zeros(3))))(np.ones(3, f32))
    new = passes.optimize(closed)
    assert new.consts == [] or all(np.asarray(ft.device_get(c)).size == 0 for c in new.consts)
    out = ft.eval_jaxpr(new, np.ones(3, f32))
    assert_close(out, np.full(3, 3.0, f32))


def test_passes_handle_a_long_chain_without_recursion():
    b = Builder()
    x = b.arg((2,))
    y = x
    for i in range(10000):
        y = b.op(P.sin_p if i % 2 else P.neg_p, y)
    closed = b.build(y)
    new = passes.optimize(closed)
    assert len(new.jaxpr.eqns) == 10000
    typecheck_jaxpr(new.jaxpr)


def test_optimize_sub_jaxprs_only_when_asked_and_without_mutation():
    def f(x):
        return ft.lax.cond(fnp.sum(x) > 0, lambda v: fnp.reshape(fnp.reshape(v, (3, 1)), (3,)), lambda v: -v, x)

    closed = ft.make_jaxpr(f)(np.ones(3))
    before = str(closed)
    assert passes.has_sub_jaxprs(closed.jaxpr)
    assert str(passes.optimize(closed)) == before  # the branches are left alone by default
    new = passes.optimize(closed, sub_jaxprs=True)
    assert str(closed) == before
    typecheck_jaxpr(new.jaxpr)
    assert "reshape" not in str(new)
    for x in (np.ones(3), -np.ones(3)):
        assert_close(ft.eval_jaxpr(new, x), np.asarray(ft.device_get(ft.eval_jaxpr(closed, x))))
