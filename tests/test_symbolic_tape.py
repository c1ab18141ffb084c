"""Reverse mode while jit traces: the symbolic tape (``transforms.symbolic_tape``).

``jit(grad(f))`` copies each primitive's cached forward and backward jaxprs into jit's program
instead of tracing, splitting and transposing ``f`` through the general route. Its results must
be the general route's, bit for bit on the NumPy backend (the same operations in the same
order), for every row of the primitive derivative table, and it must keep jit's semantics:
effects at run time, errors on Python control flow, nested and batched derivatives.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from helpers import host
from test_cross_route import REV_CASES, _inputs, _pullback
from test_grad_primitives import DTYPES

import functrace as ft
import functrace.numpy as fnp
from functrace.errors import ConcretizationError, UnexpectedTracerError
from functrace.transforms import autodiff, symbolic_tape

TORCH = os.environ.get("FUNCTRACE_BACKEND", "numpy") == "torch"


@pytest.fixture
def taken(monkeypatch):
    """How many times the symbolic route ran."""
    count = [0]
    real = autodiff.symbolic_linearize

    def counting(*args, **kwargs):
        count[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(autodiff, "symbolic_linearize", counting)
    return count


def _general(fn, *args):
    saved = symbolic_tape.ENABLED
    symbolic_tape.ENABLED = False
    try:
        return ft.jit(fn)(*args)
    finally:
        symbolic_tape.ENABLED = saved


def _same(a, b, exact, what):
    for k, (x, y) in enumerate(zip(ft.tree_util.tree_leaves(a), ft.tree_util.tree_leaves(b), strict=True)):
        x, y = host(x), host(y)
        assert (x.shape, x.dtype) == (y.shape, y.dtype), (what, k)
        if exact:
            np.testing.assert_array_equal(x, y, err_msg=f"{what}: leaf {k} (bitwise)")
        else:
            np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6, err_msg=f"{what}: leaf {k}")


@pytest.mark.parametrize("backward", ["simplified", "copied"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.__name__)
@pytest.mark.parametrize("case", REV_CASES, ids=lambda c: c.name)
def test_symbolic_tape_equals_the_general_route(case, dtype, backward, taken, monkeypatch):
    """Both ways of copying the backward jaxprs: through the trace's simplifications (a short
    tape) and as they are (a long one, ``COMPACT_BELOW``)."""
    monkeypatch.setattr(symbolic_tape, "COMPACT_BELOW", 10**9 if backward == "simplified" else 0)
    args, diff, ct = _inputs(case, dtype)
    dargs = [args[i] for i in diff]
    pull = _pullback(case, args, diff, ct)
    got = ft.jit(pull)(*dargs)
    assert taken[0] == 1
    _same(got, _general(pull, *dargs), not TORCH, case.name)


def _f(x, w):
    y = fnp.tanh(x @ w) * 1.5
    return fnp.sum(fnp.sin(y) * y) + fnp.sum(w ** 2)


X = np.linspace(-1.0, 1.0, 6).reshape(2, 3)
W = np.linspace(0.5, -0.5, 12).reshape(3, 4)


@pytest.mark.parametrize("name", ["grad", "grad_grad", "hessian", "jacrev", "jacfwd_of_grad", "value_and_grad_aux",
                                  "vjp_twice", "vmap_of_vjp_fn", "scan_in_grad"])
def test_compositions_under_jit_equal_the_general_route(name, taken):
    def vjp_twice(x, w):
        y, fn = ft.vjp(lambda a: fnp.sin(a @ w), x)
        return fn(fnp.ones_like(y)), fn(y)

    def vmap_of_vjp_fn(x, w):
        y, fn = ft.vjp(lambda a: fnp.sin(a @ w), x)
        return ft.vmap(fn)(fnp.stack([y, 2.0 * y]))

    def scan_loss(x, w):
        def step(c, r):
            return fnp.tanh(c * r + 0.5), c
        c, ys = ft.lax.scan(step, x[0], x)
        return fnp.sum(c) + fnp.sum(ys) + fnp.sum(w)

    programs = {
        "grad": ft.grad(_f, argnums=(0, 1)),
        "grad_grad": ft.grad(lambda x, w: fnp.sum(ft.grad(_f)(x, w) ** 2)),
        "hessian": lambda x, w: ft.hessian(lambda v: _f(v.reshape(2, 3), w))(x.reshape(-1)),
        "jacrev": lambda x, w: ft.jacrev(lambda v: fnp.sin(v @ w))(x),
        "jacfwd_of_grad": lambda x, w: ft.jacfwd(ft.grad(_f))(x, w),
        "value_and_grad_aux": ft.value_and_grad(lambda x, w: (_f(x, w), fnp.cos(x)), has_aux=True),
        "vjp_twice": vjp_twice,
        "vmap_of_vjp_fn": vmap_of_vjp_fn,
        "scan_in_grad": ft.grad(scan_loss, argnums=(0, 1)),
    }
    fn = programs[name]
    got = ft.jit(fn)(X, W)
    # Forward mode over reverse (jacfwd of grad, hessian) traces the reverse pass under jvp's
    # trace: that takes the general route.
    assert (taken[0] >= 1) == (name not in ("jacfwd_of_grad", "hessian")), name
    _same(got, _general(fn, X, W), not TORCH, name)
    _same(got, fn(X, W), False, name + " vs eager")


def test_effects_run_when_the_program_runs(capsys, taken):
    def f(x):
        ft.debug.print("value {}", x[0])
        ft.debug.print("constant")
        return fnp.sum(fnp.sin(x))

    g = ft.jit(ft.grad(f))
    g(np.array([1.0, 2.0]))
    g(np.array([3.0, 4.0]))
    assert taken[0] == 1  # traced once
    assert capsys.readouterr().out.splitlines() == ["value 1.0", "constant", "value 3.0", "constant"]


@pytest.mark.parametrize("use", ["float", "if"])
def test_python_control_flow_on_a_value_is_refused_as_under_jit(use, taken):
    def f(x):
        if use == "float":
            return float(x) * x
        return x * 2.0 if x > 0 else -x

    with pytest.raises(ConcretizationError, match="inside jit"):
        ft.jit(ft.grad(f))(1.0)
    assert taken[0] == 1


def test_a_traced_program_names_the_users_lines(taken):
    def f(x):
        return fnp.sum(fnp.exp(x) * 3.0)

    line = f.__code__.co_firstlineno + 1
    closed = ft.jit(ft.grad(f)).trace(np.ones(3)).jaxpr
    lines = {eqn.source_info for eqn in closed.jaxpr.eqns}
    assert lines == {(__file__, line)}, lines


@pytest.mark.parametrize("route", ["symbolic", "general"])
def test_a_pullback_kept_past_jits_trace_is_a_leaked_tracer(route, monkeypatch):
    monkeypatch.setattr(symbolic_tape, "ENABLED", route == "symbolic")
    kept = []

    def f(x):
        y, vjp_fn = ft.vjp(lambda v: fnp.sin(v) * v, x)
        kept.append(vjp_fn)
        return y

    ft.jit(f)(np.ones(3))
    with pytest.raises(UnexpectedTracerError, match="escaped"):
        kept[0](np.ones(3))


def test_a_function_that_takes_a_derivative_itself_is_traced_on_the_general_route(capsys, monkeypatch):
    """grad of grad under jit: the inner derivative is differentiated as a whole simplified
    program (the 8th derivative of tanh is 279 equations so, 422 from per-primitive jaxprs), and
    what the abandoned run had added to jit's program (an effect, here) is taken back."""
    def f(x):
        ft.debug.print("once {}", x)
        return fnp.tanh(x)

    g = f
    for _ in range(4):
        g = ft.grad(g)
    symbolic = ft.jit(g).trace(0.3).jaxpr
    monkeypatch.setattr(symbolic_tape, "ENABLED", False)
    general = ft.jit(g).trace(0.3).jaxpr
    assert str(symbolic) == str(general)
    monkeypatch.setattr(symbolic_tape, "ENABLED", True)
    capsys.readouterr()
    ft.jit(g)(0.3)
    assert capsys.readouterr().out.splitlines() == ["once 0.3"]


def test_a_nested_derivative_inside_a_users_except_still_falls_back(monkeypatch):
    def f(x):
        try:
            inner = ft.grad(lambda v: fnp.sum(fnp.sin(v) * v))(x)
        except BaseException:  # a user's catch-all must not change what is computed
            inner = x * 0.0
        return fnp.sum(inner * x)

    x = np.linspace(-1.0, 1.0, 5)
    got = ft.jit(ft.grad(f))(x)
    monkeypatch.setattr(symbolic_tape, "ENABLED", False)
    np.testing.assert_array_equal(host(got), host(ft.jit(ft.grad(f))(x)))
    np.testing.assert_allclose(host(got), host(ft.grad(f)(x)), rtol=1e-12)
