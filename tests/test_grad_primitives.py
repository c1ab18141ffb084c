"""Derivatives of every primitive, driven by one table.

Each row of ``CASES`` calls one primitive through ``functrace.lax`` on inputs drawn from the
primitive's domain (positive for ``log``, inside (-1, 1) for ``asin``, away from kinks and
ties: those have dedicated tests in ``test_autodiff.py``). Every row is checked with
``check_grads`` to order 2 in both modes, in float32 and float64, on odd shapes and with
rank-0 operands standing for every position. Structural tests make sure the table covers every
primitive in ``functrace.primitives.all_primitives``, that every primitive has a JVP rule and
every linear one a transpose rule, so a new primitive without derivative tests fails here.
"""

from __future__ import annotations

import importlib
import zlib
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace import ops as P
from functrace.rules import jvp_rule, transpose_rules

check_grads = ft.test_util.check_grads

from grad_cases import (  # noqa: E402,F401 -- the table's pieces, shared with tests/cases_*.py
    DTYPES,
    TOL,
    Case,
    binary,
    bools,
    distinct,
    dtype_of,
    fixed,
    ints,
    nonzero,
    off_grid,
    pair_apart,
    real,
    unary,
    uniform,
)


def rem_args(shape):
    """x, y > 0 with x / y at least 0.2 away from an integer (rem's derivative in y jumps there)."""
    def make(rng, dt):
        y = rng.uniform(0.5, 2.0, shape)
        return (y * (rng.integers(0, 3, shape) + rng.uniform(0.2, 0.8, shape))).astype(dt), y.astype(dt)
    return make


def power_of(y: int) -> Callable:
    return lambda x: lax.integer_pow(x, y)


def compare(name: str) -> Callable:
    """A comparison used as a mask: the derivative flows through the chosen branch only."""
    cmp = getattr(lax, name)
    return lambda x, y: lax.select(cmp(x, y), lax.mul(x, y), lax.sub(x, y))


def other_float(x):
    """Convert to the other float dtype and back: the derivative passes through both casts."""
    dt = dtype_of(x)
    other = np.float64 if dt == np.float32 else np.float32
    y = lax.convert_element_type(x, other)
    return lax.convert_element_type(lax.mul(y, lax.sin(y)), dt)


CASES: list[Case] = [
    *unary(P.neg_p, lax.neg, real),
    *unary(P.sign_p, lax.sign, nonzero),
    *unary(P.abs_p, lax.abs, nonzero),
    *unary(P.floor_p, lax.floor, off_grid),
    *unary(P.ceil_p, lax.ceil, off_grid),
    *unary(P.round_p, lambda x: lax.round(x, lax.RoundingMethod.TO_NEAREST_EVEN), lambda s: off_grid(s, 1.0, 0.5)),
    *unary(P.sin_p, lax.sin, real),
    *unary(P.cos_p, lax.cos, real),
    *unary(P.tan_p, lax.tan, lambda s: uniform(-1.2, 1.2, s)),
    *unary(P.asin_p, lax.asin, lambda s: uniform(-0.8, 0.8, s)),
    *unary(P.acos_p, lax.acos, lambda s: uniform(-0.8, 0.8, s)),
    *unary(P.atan_p, lax.atan, real),
    *unary(P.sinh_p, lax.sinh, real),
    *unary(P.cosh_p, lax.cosh, real),
    *unary(P.tanh_p, lax.tanh, real),
    *unary(P.asinh_p, lax.asinh, real),
    *unary(P.acosh_p, lax.acosh, lambda s: uniform(1.2, 3.0, s)),
    *unary(P.atanh_p, lax.atanh, lambda s: uniform(-0.8, 0.8, s)),
    *unary(P.exp_p, lax.exp, real),
    *unary(P.exp2_p, lax.exp2, real),
    *unary(P.expm1_p, lax.expm1, real),
    *unary(P.log_p, lax.log, lambda s: uniform(0.5, 3.0, s)),
    *unary(P.log1p_p, lax.log1p, lambda s: uniform(-0.5, 3.0, s)),
    *unary(P.sqrt_p, lax.sqrt, lambda s: uniform(0.5, 3.0, s)),
    *unary(P.logistic_p, lax.logistic, real),
    *unary(P.erf_p, lax.erf, real),
    *[Case(f"integer_pow[y={y}]", P.integer_pow_p, power_of(y), (nonzero((3, 2)),)) for y in (-3, -1, 0, 1, 2, 3, 5)],
    *binary(P.add_p, lax.add),
    *binary(P.sub_p, lax.sub),
    *binary(P.mul_p, lax.mul),
    *binary(P.div_p, lax.div, real, nonzero),
    Case("rem[3,4]", P.rem_p, lax.rem, rem_args((3, 4))),
    Case("rem[]", P.rem_p, lax.rem, rem_args(())),
    *binary(P.pow_p, lax.pow, lambda s: uniform(0.5, 2.5, s), real),
    *binary(P.atan2_p, lax.atan2, nonzero, nonzero),
    Case("max[3,4]", P.max_p, lax.max, pair_apart((3, 4))),
    Case("min[3,4]", P.min_p, lax.min, pair_apart((3, 4))),
    Case("max[]x[5]", P.max_p, lax.max, (fixed(0.1), distinct((5,), 0.4))),
    Case("min[5]x[]", P.min_p, lax.min, (distinct((5,), 0.4), fixed(0.1))),
    # Comparisons, is_finite, argmax/argmin: integer/boolean results carry no tangent; used as masks
    # or converted to floats, they contribute exactly zero derivative.
    *[Case(p.name, p, compare(p.name), pair_apart((3, 2))) for p in (P.eq_p, P.ne_p, P.lt_p, P.le_p, P.gt_p, P.ge_p)],
    Case("is_finite", P.is_finite_p, lambda x: lax.select(lax.is_finite(x), lax.sin(x), x), (real((4,)),)),
    Case("select[3,2]", P.select_p, lambda p, x, y: lax.select(p, x, y), (bools((3, 2)), real((3, 2)), real((3, 2)))),
    Case("select[]pred", P.select_p, lambda p, x, y: lax.select(p, x, y), (bools(()), real((4,)), real((4,)))),
    Case("select[]branch", P.select_p, lambda p, x, y: lax.select(p, x, y), (bools((4,)), real(()), real((4,)))),
    Case("convert_element_type[f->f]", P.convert_element_type_p, other_float, (real((3,)),), loose=True),
    Case("convert_element_type[f->i]", P.convert_element_type_p,
         lambda x: lax.mul(x, lax.convert_element_type(lax.convert_element_type(x, np.int32), dtype_of(x))),
         (off_grid((3,)),)),
    Case("reduce_sum[0,2]", P.reduce_sum_p, lambda x: lax.reduce_sum(x, (0, 2)), (real((2, 3, 4)),)),
    Case("reduce_sum[]", P.reduce_sum_p, lambda x: lax.reduce_sum(x, ()), (real((3,)),)),
    Case("reduce_prod[1]", P.reduce_prod_p, lambda x: lax.reduce_prod(x, (1,)), (nonzero((3, 4)),)),
    # A product is a polynomial: its derivatives are exact with one or two zero factors.
    Case("reduce_prod[zeros]", P.reduce_prod_p, lambda x: lax.reduce_prod(x, (1,)),
         (fixed([[0.0, 1.5, -2.0, 0.7], [0.0, 0.0, 1.3, 0.9], [1.1, -0.8, 2.0, 0.5]]),)),
    Case("reduce_max[1]", P.reduce_max_p, lambda x: lax.reduce_max(x, (1,)), (distinct((3, 4)),)),
    Case("reduce_max[0,1]", P.reduce_max_p, lambda x: lax.reduce_max(x, (0, 1)), (distinct((3, 4)),)),
    Case("reduce_min[0]", P.reduce_min_p, lambda x: lax.reduce_min(x, (0,)), (distinct((3, 4)),)),
    Case("argmax", P.argmax_p, lambda x: lax.mul(x, lax.convert_element_type(lax.argmax(x, 0), dtype_of(x))),
         (distinct((5,)),)),
    Case("argmin", P.argmin_p, lambda x: lax.gather(x, lax.argmin(x, 1), 1), (distinct((3, 4)),)),
    Case("cumsum[0]", P.cumsum_p, lambda x: lax.cumsum(x, 0), (real((4, 3)),)),
    Case("cumsum[1,reverse]", P.cumsum_p, lambda x: lax.cumsum(x, 1, reverse=True), (real((4, 3)),)),
    Case("broadcast_in_dim[new]", P.broadcast_in_dim_p, lambda x: lax.broadcast_in_dim(x, (2, 3, 4), (1,)),
         (real((3,)),)),
    Case("broadcast_in_dim[stretch]", P.broadcast_in_dim_p,
         lambda x: lax.broadcast_in_dim(x, (5, 3, 4), (0, 2)), (real((1, 4)),)),
    Case("broadcast_in_dim[scalar]", P.broadcast_in_dim_p, lambda x: lax.broadcast_in_dim(x, (2, 3), ()),
         (real(()),)),
    Case("reshape", P.reshape_p, lambda x: lax.reshape(x, (3, 2, 2)), (real((4, 3)),)),
    Case("transpose", P.transpose_p, lambda x: lax.transpose(x, (2, 0, 1)), (real((2, 3, 4)),)),
    Case("slice", P.slice_p, lambda x: lax.slice(x, (1, 0), (5, 3)), (real((6, 3)),)),
    Case("slice[strided]", P.slice_p, lambda x: lax.slice(x, (0, 1), (7, 5), (3, 2)), (real((7, 5)),)),
    Case("rev", P.rev_p, lambda x: lax.rev(x, (0, 2)), (real((3, 2, 4)),)),
    Case("pad", P.pad_p, lambda x, v: lax.pad(x, v, ((1, 2, 0), (0, 1, 2))), (real((3, 2)), real(()))),
    Case("pad[negative]", P.pad_p, lambda x, v: lax.pad(x, v, ((-1, 2, 1), (1, -2, 0))), (real((4, 5)), real(()))),
    Case("concatenate", P.concatenate_p, lambda x, y, z: lax.concatenate([x, y, z], 1),
         (real((2, 1)), real((2, 3)), real((2, 2)))),
    Case("gather", P.gather_p, lambda x, i: lax.gather(x, i, 0), (real((5, 3)), fixed([[4, 0], [4, 2]], np.int32))),
    Case("gather[axis1]", P.gather_p, lambda x, i: lax.gather(x, i, 1), (real((2, 4, 3)), fixed([3, 3, 0], np.int32))),
    Case("scatter_add", P.scatter_add_p, lambda x, i, u: lax.scatter_add(x, i, u, 0),
         (real((4, 3)), fixed([1, 3, 1], np.int32), real((3, 3)))),
    Case("scatter_add[axis1]", P.scatter_add_p, lambda x, i, u: lax.scatter_add(x, i, u, 1),
         (real((2, 5)), fixed([[0, 4], [0, 0]], np.int32), real((2, 2, 2)))),
    Case("dot_general[matmul]", P.dot_general_p, lambda x, y: lax.dot_general(x, y, (((1,), (0,)), ((), ()))),
         (real((3, 4)), real((4, 2)))),
    Case("dot_general[batch]", P.dot_general_p,
         lambda x, y: lax.dot_general(x, y, (((2,), (1,)), ((0,), (0,)))), (real((2, 3, 4)), real((2, 4, 5)))),
    Case("dot_general[batch-last]", P.dot_general_p,
         lambda x, y: lax.dot_general(x, y, (((0, 3), (3, 1)), ((2,), (0,)))),
         (real((3, 2, 4, 5)), real((4, 5, 2, 3)))),
    Case("dot_general[outer]", P.dot_general_p, lambda x, y: lax.dot_general(x, y, (((), ()), ((), ()))),
         (real((3,)), real((2,)))),
    Case("dot_general[inner]", P.dot_general_p, lambda x, y: lax.dot_general(x, y, (((0,), (0,)), ((), ()))),
         (real((5,)), real((5,)))),
]
# Boolean/integer logic primitives take no float operand; they appear here as masks, and their
# own (zero) rules are called directly in ``test_zero_derivative_rules``.
CASES += [
    Case("and/or/xor/not", P.and_p,
         lambda x, y: lax.select(lax.bitwise_xor(lax.bitwise_and(lax.gt(x, y), lax.bitwise_not(lax.lt(x, y))),
                                                 lax.bitwise_or(lax.gt(y, x), lax.gt(x, x))), lax.sin(x), y),
         pair_apart((4,))),
    Case("reduce_and/reduce_or", P.reduce_and_p,
         lambda x: lax.select(lax.bitwise_and(lax.reduce_and(lax.gt(x, lax.neg(x)), (1,)),
                                              lax.reduce_or(lax.gt(x, lax.neg(x)), (1,))),
                              lax.reduce_sum(x, (1,)), lax.reduce_max(x, (1,))),
         (distinct((3, 2)),)),
]


# ---------------------------------------------------------------------------- control flow
def cond_case(p, x, y):
    return lax.cond(p, lambda a, b: lax.mul(a, lax.sin(b)), lambda a, b: lax.sub(a, lax.mul(b, b)), x, y)


def cond_on_value(x):
    """The predicate is computed from the differentiated input; each branch closes over x."""
    s = lax.reduce_sum(x, (0,))
    return lax.cond(lax.gt(s, _c0(s)), lambda v: lax.mul(v, lax.exp(lax.neg(x))), lambda v: lax.cos(v), x)


def _c0(x):
    return np.zeros((), dtype_of(x))[()]


def scan_case(c, xs):
    """A carry and stacked outputs that both depend non-linearly on the carry and the xs."""
    def body(carry, x):
        new = lax.add(lax.mul(carry, lax.sin(x)), lax.mul(x, x))
        return new, lax.mul(carry, lax.tanh(x))

    return lax.scan(body, c, xs)


def fori_case(x):
    """fori_loop with concrete bounds: a scan, differentiable in both modes."""
    return lax.fori_loop(0, 3, lambda i, v: lax.add(lax.sin(v), lax.mul(v, v)), x)


def while_case(x):
    """A while loop with a value-independent trip count: forward mode only, as in JAX."""
    def body(carry):
        i, v = carry
        return lax.add(i, np.int32(1)), lax.add(lax.mul(v, lax.cos(v)), _half(v))

    return lax.while_loop(lambda carry: lax.lt(carry[0], np.int32(3)), body, (np.int32(0), x))[1]


def _half(v):
    return np.asarray(0.5, dtype_of(v))[()]


CASES += [
    Case("cond[true]", P.all_primitives["cond"], cond_case, (fixed(True, bool), real((3,)), real((3,)))),
    Case("cond[false]", P.all_primitives["cond"], cond_case, (fixed(False, bool), real(()), real(()))),
    Case("cond[on value]", P.all_primitives["cond"], cond_on_value, (nonzero((4,)),)),
    Case("scan", P.all_primitives["scan"], scan_case, (real((2,)), real((4, 2)))),
    Case("scan[fori_loop]", P.all_primitives["scan"], fori_case, (uniform(-0.5, 0.5, (3,)),)),
    Case("while", P.all_primitives["while"], while_case, (real((2,)),), modes=("fwd",)),
]


# ---------------------------------------------------------------------------- custom derivatives
def softplus_custom_jvp(x):
    """softplus with a hand-written JVP (t * sigmoid(x)) via ft.custom_jvp, as in JAX."""
    @ft.custom_jvp
    def f(x):
        return lax.log1p(lax.exp(x))

    @f.defjvp
    def f_jvp(primals, tangents):
        (x,), (t,) = primals, tangents
        return f(x), lax.mul(t, lax.logistic(x))

    return f(x)


def xsin_custom_vjp(x):
    """x sin x with a hand-written VJP via ft.custom_vjp (reverse mode only, as in JAX)."""
    @ft.custom_vjp
    def f(x):
        return lax.mul(x, lax.sin(x))

    def fwd(x):
        return f(x), (x,)

    def bwd(res, ct):
        (x,) = res
        return (lax.mul(ct, lax.add(lax.sin(x), lax.mul(x, lax.cos(x)))),)

    f.defvjp(fwd, bwd)
    return f(x)


CASES += [
    Case("custom_jvp", P.all_primitives["custom_jvp_call"], softplus_custom_jvp, (real((3,)),)),
    Case("custom_vjp", P.all_primitives["custom_vjp_call"], xsin_custom_vjp, (real((3,)),), modes=("rev",)),
]

# Read off the traits declared with each primitive (functrace.primitives.Primitive).
ZERO_DERIVATIVE = {p for p in P.all_primitives.values() if p.zero_derivative}
LINEAR = {p for p in P.all_primitives.values() if p.linear}
# Primitives whose transpose rule exists only to raise a clear error (reverse mode of while).
TRANSPOSE_REFUSES = {P.all_primitives["while"]}
# Primitives tested outside the table, with the test that does it.
# (iota has no operands, so inside a function it is evaluated eagerly and becomes a constant.)
ELSEWHERE = {
    P.stop_gradient_p: "test_stop_gradient",
    P.iota_p: "test_iota_has_no_derivative",
    # only in the linearized program of a custom_vjp function, i.e. under reverse mode
    P.all_primitives["custom_lin"]: "test_check_grads_custom_derivatives",
}


# Rows and exceptions of the families that keep their cases in tests/cases_<family>.py.
for _path in sorted(Path(__file__).parent.glob("cases_*.py")):
    _mod = importlib.import_module(_path.stem)
    CASES += _mod.CASES
    ELSEWHERE.update(getattr(_mod, "ELSEWHERE", {}))
    LINEAR |= set(getattr(_mod, "LINEAR", ()))


# ---------------------------------------------------------------------------- structure
def _prims_in(case: Case, dt) -> set[P.Primitive]:
    args = case.make(np.random.default_rng(0), dt)
    return {e.primitive for e in ft.make_jaxpr(case.fn)(*args).jaxpr.eqns}


def test_table_covers_every_primitive():
    """A primitive added to functrace.primitives without a row here (or a named test) fails."""
    covered = set(ELSEWHERE).union(*(_prims_in(c, np.float64) for c in CASES))
    missing = sorted(p.name for p in P.all_primitives.values() if p not in covered)
    assert not missing, f"primitives without derivative tests in CASES: {missing}"


def test_every_primitive_has_a_jvp_rule():
    missing = sorted(p.name for p in P.all_primitives.values() if jvp_rule(p) is None)
    assert not missing, f"primitives without a JVP rule: {missing}"


def test_every_linear_primitive_has_a_transpose_rule():
    missing = sorted(p.name for p in LINEAR if p not in transpose_rules)
    assert not missing, f"linear primitives without a transpose rule: {missing}"
    # ... and nothing non-linear claims to be transposable.
    extra = set(transpose_rules) - LINEAR - TRANSPOSE_REFUSES
    assert not extra, sorted(p.name for p in extra)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_case_binds_its_primitive(case: Case):
    """Each row really exercises the primitive it is named after (no silent no-op wrappers)."""
    for dt in DTYPES:
        assert case.prim in _prims_in(case, dt), f"{case.name} does not bind {case.prim.name} in {dt.__name__}"


# ---------------------------------------------------------------------------- derivatives
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_check_grads(case: Case, dtype):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    args = case.make(rng, dtype)
    tol = TOL[np.float32] if case.loose else TOL[dtype]
    check_grads(case.fn, args, order=case.order, modes=case.modes, **tol)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", [c for c in CASES if c.prim not in ZERO_DERIVATIVE][:40:7], ids=lambda c: c.name)
def test_gradient_keeps_dtype(case: Case, dtype):
    """Cotangents have their primal's dtype: a float32 input gets a float32 gradient."""
    args = case.make(np.random.default_rng(1), dtype)
    out, vjp_fn = ft.vjp(case.fn, *args)
    cts = vjp_fn(ft.tree_util.tree_map(lambda o: np.ones(np.shape(host(o)), host(o).dtype), out))
    for a, g in zip(args, cts, strict=True):
        assert host(g).dtype == np.asarray(a).dtype and host(g).shape == np.shape(a)


_X = np.array([0.5, -1.0, 2.0])
_B = np.array([True, False, True])
# Operands of the zero-derivative primitives of the core families; the rule is the one the trait
# gives (functrace.rules.jvp_rule), the same for every zero_derivative primitive, and
# tests/test_rule_coverage.py checks that no such primitive registers a rule of its own.
ZERO_ARGS = {
    P.not_p: ([_B], {}), P.and_p: ([_B, _B], {}), P.or_p: ([_B, _B], {}), P.xor_p: ([_B, _B], {}),
    P.reduce_and_p: ([_B], {"axes": (0,)}), P.reduce_or_p: ([_B], {"axes": (0,)}),
    P.argmax_p: ([_X], {"axis": 0, "index_dtype": np.dtype(np.int64)}),
    P.argmin_p: ([_X], {"axis": 0, "index_dtype": np.dtype(np.int64)}),
    P.is_finite_p: ([_X], {}), P.stop_gradient_p: ([_X], {}), P.sign_p: ([_X], {}), P.floor_p: ([_X], {}),
    P.ceil_p: ([_X], {}), P.round_p: ([_X], {}),
    **{p: ([_X, _X[::-1].copy()], {}) for p in (P.eq_p, P.ne_p, P.lt_p, P.le_p, P.gt_p, P.ge_p)},
}


@pytest.mark.parametrize("prim", sorted(ZERO_ARGS, key=lambda p: p.name), ids=lambda p: p.name)
def test_zero_derivative_rules(prim):
    """The rule of an integer/boolean-valued primitive returns a symbolic zero tangent."""
    from functrace.rules import Zero

    assert prim.zero_derivative
    args, params = ZERO_ARGS[prim]
    tangents = [np.ones_like(a, dtype=float) for a in args]
    ans, t = jvp_rule(prim)(args, tangents, **params)
    assert isinstance(t, Zero), f"{prim.name}: tangent {t!r} should be a symbolic zero"
    assert t.aval.shape == np.shape(host(ans))


def test_iota_has_no_derivative():
    from functrace.rules import Zero

    ans, t = jvp_rule(P.iota_p)([], [], dtype=np.dtype(np.int32), shape=(2, 3), dimension=1)
    assert isinstance(t, Zero) and t.aval.shape == (2, 3)


def test_stop_gradient():
    f = lambda x: lax.mul(x, lax.stop_gradient(lax.mul(x, x)))
    x = np.array([1.5, -2.0])
    np.testing.assert_allclose(host(ft.grad(lambda x: lax.reduce_sum(f(x), (0,)))(x)), x * x)
    np.testing.assert_allclose(host(ft.jvp(f, (x,), (np.ones(2),))[1]), x * x)
    np.testing.assert_allclose(host(ft.grad(lambda x: ft.stop_gradient(x) * x)(3.0)), 3.0)


# ---------------------------------------------------------------------------- broadcasting (numpy layer)
BROADCAST_OPS = [
    ("add", lambda x, y: x + y, real, real),
    ("sub", lambda x, y: x - y, real, real),
    ("mul", lambda x, y: x * y, real, real),
    ("div", lambda x, y: x / y, real, nonzero),
    ("power", fnp.power, lambda s: uniform(0.5, 2.0, s), real),
    ("maximum", fnp.maximum, real, lambda s: uniform(3.0, 4.0, s)),
    ("minimum", fnp.minimum, real, lambda s: uniform(3.0, 4.0, s)),
    ("arctan2", fnp.arctan2, nonzero, nonzero),
    ("where", lambda x, y: fnp.where(x > 0, x * y, y), nonzero, real),
]
BROADCAST_SHAPES = [((2, 1, 3), (4, 3)), ((3,), (2, 1)), ((), (2, 3)), ((5, 1), ())]


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("shapes", BROADCAST_SHAPES, ids=str)
@pytest.mark.parametrize("name,f,dx,dy", BROADCAST_OPS, ids=[o[0] for o in BROADCAST_OPS])
def test_check_grads_broadcasting(name, f, dx, dy, shapes, dtype):
    """Operands of different shapes: the un-broadcasting transpose of broadcast_in_dim sums back."""
    sx, sy = shapes
    rng = np.random.default_rng(7)
    args = (dx(sx)(rng, dtype), dy(sy)(rng, dtype))
    check_grads(f, args, order=2, **TOL[dtype])
    grads = ft.grad(lambda x, y: fnp.sum(f(x, y)), argnums=(0, 1))(*args)
    assert [host(g).shape for g in grads] == [sx, sy]
    assert all(host(g).dtype == dtype for g in grads)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("sx,sy", [((2, 1, 3, 4), (5, 4, 2)), ((4,), (3, 4, 2)), ((2, 3, 4), (4,))], ids=str)
def test_check_grads_matmul_broadcasting(sx, sy, dtype):
    """Batched matmul with broadcast batch axes: dot_general with batch dimensions underneath."""
    rng = np.random.default_rng(3)
    args = (real(sx)(rng, dtype), real(sy)(rng, dtype))
    check_grads(fnp.matmul, args, order=2, **TOL[dtype])
    grads = ft.grad(lambda x, y: fnp.sum(fnp.sin(x @ y)), argnums=(0, 1))(*args)
    assert [host(g).shape for g in grads] == [sx, sy]
    assert all(host(g).dtype == dtype for g in grads)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("subscripts,sx,sy", [("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),
                                              ("ij...,j...->i...", (3, 2, 1), (2, 4)),
                                              ("...ii,...i->...", (2, 3, 3), (3,))], ids=str)
def test_check_grads_einsum_ellipsis(subscripts, sx, sy, dtype):
    """einsum with '...': size-1 axes broadcast, so their cotangents are summed back."""
    rng = np.random.default_rng(5)
    args = (real(sx)(rng, dtype), real(sy)(rng, dtype))
    check_grads(lambda x, y: fnp.einsum(subscripts, x, y), args, order=2, **TOL[dtype])
    grads = ft.grad(lambda x, y: fnp.sum(fnp.einsum(subscripts, x, y) ** 2), argnums=(0, 1))(*args)
    assert [host(g).shape for g in grads] == [sx, sy]
