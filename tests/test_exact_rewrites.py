"""Every rewrite applied by default is exact: the simplifier (trace-time peepholes and the jit
passes) gives bit-identical results for every input, signed zeros, inf, nan, overflow,
underflow and integer wrap-around included. Random elementwise programs are compared, through
``make_jaxpr`` + ``eval_jaxpr`` and through ``jit``, with the same function run by plain NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host
from hypothesis import given, settings
from hypothesis import strategies as st

import functrace as ft
import functrace.numpy as fnp

FLOAT_EDGES = [0.0, -0.0, 1.0, -1.0, 2.0, 0.5, -3.0, np.inf, -np.inf, np.nan, 1e308, -1e308, 1e-300, 5e-324,
               1e200, 1e-200, 3.0, 0.1]
CONSTS = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, 4.0, 3.0, 1e200, 1e-200, 0.1, 1e308]

# (name, arity, NumPy function, traced function); both see the same operands.
OPS = [
    ("add", 2, np.add, lambda a, b: a + b), ("sub", 2, np.subtract, lambda a, b: a - b),
    ("mul", 2, np.multiply, lambda a, b: a * b), ("div", 2, np.divide, lambda a, b: a / b),
    ("neg", 1, np.negative, lambda a: -a), ("max", 2, np.maximum, fnp.maximum),
    ("min", 2, np.minimum, fnp.minimum), ("atan2", 2, np.arctan2, fnp.arctan2),
    ("square", 1, np.square, lambda a: a * a),
]


def _program(draw, n_ops):
    """A list of steps, each (op index, operand refs): a ref is an earlier value or a constant."""
    steps = []
    for i in range(n_ops):
        k = draw(st.integers(0, len(OPS) - 1))
        refs = [draw(st.one_of(st.integers(0, i), st.sampled_from(CONSTS).map(lambda c: ("c", c))))
                for _ in range(OPS[k][1])]
        steps.append((k, refs))
    return steps


def _run(steps, x, consts_as, ops_of):
    vals = [x]
    for k, refs in steps:
        args = [consts_as(r[1]) if isinstance(r, tuple) else vals[r] for r in refs]
        vals.append(ops_of(k)(*args))
    return vals[-1]


def _eval(closed, *args):
    """The one output of ``closed`` run by ``eval_jaxpr``."""
    out = ft.eval_jaxpr(closed, *args)
    return out[0] if isinstance(out, (list, tuple)) else out


def _same_bits(got, want):
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    nan = np.isnan(want)
    assert np.array_equal(np.isnan(got), nan), (got, want)
    assert np.array_equal(got[~nan].view(np.uint8), want[~nan].view(np.uint8)), (got, want)


@pytest.mark.parametrize("op, np_op", [(fnp.maximum, np.maximum), (fnp.minimum, np.minimum)])
def test_max_and_min_of_swapped_operands_stay_two_equations(op, np_op):
    """max(-0.0, 0.0) is -0.0 and max(0.0, -0.0) is 0.0 in NumPy: swapping the operands of max
    or min changes the sign of a zero result, so CSE must not merge the two (a case the random
    programs below found)."""
    x = np.array([-0.0, 0.0, 1.0])

    def f(x):
        y = x - x  # +0.0 where x is -0.0
        return op(x, y), op(y, x)

    want = [np_op(x, x - x), np_op(x - x, x)]
    with ft.use_backend("numpy"):
        for got in (f(x), ft.jit(f)(x), ft.eval_jaxpr(ft.make_jaxpr(f)(x), x)):
            for g, w in zip(got, want, strict=True):
                _same_bits(host(g), w)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), n_ops=st.integers(1, 6), dtype=st.sampled_from([np.float64, np.float32]))
def test_random_programs_are_bitwise_numpy(data, n_ops, dtype):
    steps = _program(data.draw, n_ops)
    x = np.array(FLOAT_EDGES, dtype=dtype)

    def traced(x):
        return _run(steps, x, lambda c: np.asarray(c, dtype=dtype)[()], lambda k: OPS[k][3])

    with np.errstate(all="ignore"):
        want = _run(steps, x, lambda c: np.asarray(c, dtype=dtype)[()], lambda k: OPS[k][2])
        want = np.broadcast_to(want, x.shape).astype(dtype)
    # The rewrites act on the IR, whatever runs it; the reference is plain NumPy, so the programs
    # run on the NumPy backend (torch's own kernels differ from NumPy's in the last bit here and
    # there, and flush subnormals in some eager paths).
    with ft.use_backend("numpy"):
        closed = ft.make_jaxpr(traced)(x)
        _same_bits(np.broadcast_to(host(_eval(closed, x)), x.shape), want)
        _same_bits(np.broadcast_to(host(ft.jit(traced)(x)), x.shape), want)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_ops=st.integers(1, 6), dtype=st.sampled_from([np.float64, np.float32]))
def test_random_scalar_programs_are_bitwise_numpy_under_jit(data, n_ops, dtype):
    """Programs of scalars are lowered to NumPy's scalar arithmetic (Python's operators) on the
    NumPy backend: each edge value, one at a time, gives the ufuncs' bits."""
    steps = _program(data.draw, n_ops)

    def traced(x):
        return _run(steps, x, lambda c: np.asarray(c, dtype=dtype)[()], lambda k: OPS[k][3])

    with ft.use_backend("numpy"):
        f = ft.jit(traced)
        for edge in FLOAT_EDGES:
            with np.errstate(all="ignore"):
                x = np.asarray(edge, dtype=dtype)
                want = np.asarray(_run(steps, x, lambda c: np.asarray(c, dtype=dtype)[()], lambda k: OPS[k][2]),
                                  dtype=dtype)
            _same_bits(host(f(x)), want)


@settings(max_examples=60, deadline=None)
@given(data=st.data(), n_ops=st.integers(1, 5), dtype=st.sampled_from([np.uint8, np.int8, np.int32]))
def test_random_integer_programs_wrap_around_as_numpy(data, n_ops, dtype):
    info = np.iinfo(dtype)
    consts = [0, 1, 2, 3, info.max, info.min, 7]
    int_ops = [("add", 2, np.add, lambda a, b: a + b), ("sub", 2, np.subtract, lambda a, b: a - b),
               ("mul", 2, np.multiply, lambda a, b: a * b), ("neg", 1, np.negative, lambda a: -a)]
    steps = []
    for i in range(n_ops):
        k = data.draw(st.integers(0, len(int_ops) - 1))
        refs = [data.draw(st.one_of(st.integers(0, i), st.sampled_from(consts).map(lambda c: ("c", c))))
                for _ in range(int_ops[k][1])]
        steps.append((k, refs))
    x = np.array([0, 1, 2, info.max, info.min, 100 % (info.max + 1)], dtype=dtype)

    def traced(x):
        return _run(steps, x, lambda c: np.asarray(c, dtype=dtype)[()], lambda k: int_ops[k][3])

    with np.errstate(all="ignore"):
        want = np.broadcast_to(_run(steps, x, lambda c: np.asarray(c, dtype=dtype)[()],
                                    lambda k: int_ops[k][2]), x.shape).astype(dtype)
    np.testing.assert_array_equal(np.broadcast_to(host(_eval(ft.make_jaxpr(traced)(x), x)), x.shape), want)
    np.testing.assert_array_equal(np.broadcast_to(host(ft.jit(traced)(x)), x.shape), want)


# The cases named in the issues, each a wrong number before.
@pytest.mark.parametrize("f, x, want", [
    (lambda x: (x * 1e200) * 1e200, 1e-300, 1e100),
    (lambda x: (x * 1e-200) * 1e-200, 1e300, 1e-100),
    (lambda x: x + 0.0, -0.0, 0.0),
    (lambda x: 0.0 - x, 0.0, 0.0),
    (lambda x: x - x, -3.0, 0.0),
    (lambda x: fnp.arctan2(x - x, -1.0), -3.0, np.pi),
    (lambda x: (x - x) - x, np.inf, np.nan),
    (lambda x: x * 3 - x * 2, 1e308, np.nan),
], ids=["reassociate-overflow", "reassociate-underflow", "plus-zero", "zero-minus", "x-minus-x",
        "arctan2-signed-zero", "like-terms-inf", "like-terms-overflow"])
@pytest.mark.parametrize("how", ["jit", "make_jaxpr", "jvp", "vmap"])
def test_named_cases(f, x, want, how):
    x = np.float64(x)
    if how == "jit":
        got = ft.jit(f)(x)
    elif how == "make_jaxpr":
        got = _eval(ft.make_jaxpr(f)(x), x)
    elif how == "jvp":
        got = ft.jvp(f, (x,), (np.float64(1.0),))[0]
    else:
        got = ft.vmap(f)(np.array([x]))[0]
    _same_bits(np.asarray(host(got), np.float64), np.float64(want))


@pytest.mark.parametrize("f", [lambda x: x - x, lambda x: -(-x),  # noqa: B002
                               lambda x: 2 * (-x), lambda x: (-x) * 3 + x * 5],
                         ids=["x-x", "neg-neg", "2*neg", "like-terms"])
def test_unsigned_integers_trace_and_wrap(f):
    x = np.array([0, 1, 200, 255], np.uint8)
    with np.errstate(all="ignore"):
        want = f(x)
    np.testing.assert_array_equal(host(ft.jit(f)(x)), want)
    np.testing.assert_array_equal(host(_eval(ft.make_jaxpr(f)(x), x)), want)


def test_the_eighth_derivative_of_tanh_stays_small():
    """Exact rewrites cost some compactness; the issue allows up to 285 equations (JAX: 2,847)."""
    f = fnp.tanh
    for _ in range(8):
        f = ft.grad(f)
    assert len(ft.make_jaxpr(f)(0.5).jaxpr.eqns) <= 285
