"""ft.lax.cond / switch / while_loop / fori_loop / scan: values, printing, derivatives, jit, errors.

Derivatives: every control-flow primitive passes ``check_grads`` to order 2, in both modes
where reverse mode is defined (cond, scan, fori_loop with concrete bounds) and in forward mode
for while_loop, whose reverse mode raises a clear error (as in JAX). vmap against a Python
loop is in ``test_vmap.py`` (the table there has rows for these primitives).
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.ir import ClosedJaxpr, Jaxpr, typecheck_jaxpr
from functrace.test_util import check_grads
from functrace.tracing import current_backend

X = np.array([0.3, -1.2, 0.7])


def close(got, want, rtol=1e-10, atol=1e-12):
    np.testing.assert_allclose(host(got), want, rtol=rtol, atol=atol)


def typecheck_all(jaxpr: Jaxpr) -> int:
    """Type-check a jaxpr and every sub-jaxpr in its params; returns how many were checked."""
    stack, n = [jaxpr], 0
    while stack:
        j = stack.pop()
        typecheck_jaxpr(j)
        n += 1
        for eqn in j.eqns:
            for v in eqn.params.values():
                for sub in v if isinstance(v, tuple) else (v,):
                    if isinstance(sub, ClosedJaxpr):
                        stack.append(sub.jaxpr)
    return n


def prim_names(f, *args) -> list[str]:
    return [e.primitive.name for e in ft.make_jaxpr(f)(*args).jaxpr.eqns]


# ---------------------------------------------------------------------------- the functions
def scan_fn(x):
    c, ys = lax.scan(lambda c, xi: (c * fnp.sin(xi) + xi, fnp.cos(c) * xi), 1.0, x)
    return c + fnp.sum(ys ** 2)


def scan_ref(x):
    c, ys = 1.0, []
    for xi in x:
        ys.append(np.cos(c) * xi)
        c = c * np.sin(xi) + xi
    return c + np.sum(np.array(ys) ** 2)


def scan_matrix_fn(x, w):
    """A tanh RNN over the rows of an outer product, reversed, with the weights closed over."""
    xs = fnp.outer(np.array([1.0, -0.5, 2.0]), x)
    c, ys = lax.scan(lambda c, xi: (fnp.tanh(c @ w + xi), c * w[0]), fnp.zeros(3), xs, reverse=True)
    return fnp.sum(c) + fnp.sum(ys ** 2)


def cond_fn(x):
    return lax.cond(fnp.sum(x) > 0, lambda v: fnp.sin(v) * v, lambda v: fnp.exp(v) - v[0], x)


def switch_fn(i, x):
    return lax.switch(i, [lambda v: fnp.sin(v), lambda v: v * v[1], lambda v: fnp.tanh(v) * 3.0], x)


def fori_fn(x):
    return lax.fori_loop(0, 3, lambda i, v: fnp.sin(v) * (i + 1.0) + v * v[0], x)


def while_fn(x):
    return lax.while_loop(lambda c: c[0] < 4, lambda c: (c[0] + 1, fnp.sin(c[1]) * 1.5 + c[1] * c[1][0]), (0, x))[1]


def nested_fn(x):
    """A cond and a fori_loop inside a scan body."""
    def body(c, xi):
        c = lax.cond(xi > 0, lambda a: a * fnp.cos(xi), lambda a: a + xi * xi, c)
        c = lax.fori_loop(0, 2, lambda i, a: fnp.sin(a) + a * 0.5, c)
        return c, c * xi
    c, ys = lax.scan(body, fnp.ones(2), x)
    return fnp.sum(c) * fnp.sum(ys)


# ---------------------------------------------------------------------------- values
def test_scan_values_and_tree_structure():
    close(scan_fn(X), scan_ref(X))
    (c, d), ys = lax.scan(lambda carry, x: ((carry[0] + x["a"], carry[1] * 2.0), {"s": x["a"] * x["b"]}),
                          (0.0, 1.0), {"a": np.arange(4.0), "b": np.ones((4, 2))})
    close(c, 6.0)
    close(d, 16.0)
    close(ys["s"], np.arange(4.0)[:, None] * np.ones((4, 2)))


def test_scan_reverse_length_and_none_ys():
    c, ys = lax.scan(lambda c, x: (c * 10.0 + x, c), 0.0, np.array([1.0, 2.0, 3.0]), reverse=True)
    close(c, 321.0)
    close(ys, [32.0, 3.0, 0.0])  # ys[i] is the carry on entering step i
    c, ys = lax.scan(lambda c, _: (c + 1.0, None), 0.0, None, length=5)
    close(c, 5.0)
    assert ys is None
    c, ys = lax.scan(lambda c, x: (c, x), 0.0, np.zeros((0, 2)))
    assert host(ys).shape == (0, 2)


def test_cond_switch_values():
    close(cond_fn(X), np.exp(X) - X[0])  # sum(X) < 0
    close(cond_fn(-X), np.sin(-X) * -X)
    close(lax.cond(True, lambda: 1.0, lambda: 2.0), 1.0)
    close(lax.cond(np.int32(0), lambda a, b: a, lambda a, b: b, 1.0, 2.0), 2.0)  # a number compared with 0
    for i, want in [(0, np.sin(X)), (1, X * X[1]), (2, np.tanh(X) * 3.0), (7, np.tanh(X) * 3.0), (-3, np.sin(X))]:
        close(switch_fn(np.int32(i), X), want)  # the index is clamped, as in JAX


def test_while_and_fori_values():
    assert int(host(lax.while_loop(lambda c: c < 100, lambda c: c * 3, 1))) == 243
    ref = X.copy()
    for i in range(3):
        ref = np.sin(ref) * (i + 1.0) + ref * ref[0]
    close(fori_fn(X), ref)
    close(lax.fori_loop(2, 2, lambda i, v: v + 1.0, 1.0), 1.0)  # empty range
    close(lax.fori_loop(np.int32(0), 4, lambda i, v: v + i, 0), 6)


def test_traced_fori_bounds_become_a_while_loop():
    f = lambda n, x: lax.fori_loop(0, n, lambda i, v: v * 2.0, x)
    assert "while" in prim_names(f, 3, 1.0)
    assert "scan" in prim_names(lambda x: lax.fori_loop(0, 3, lambda i, v: v * 2.0, x), 1.0)
    close(ft.jit(f)(np.int64(4), 1.0), 16.0)


def test_eval_jaxpr_matches_eager():
    for f, args in [(scan_fn, (X,)), (cond_fn, (X,)), (fori_fn, (X,)), (while_fn, (X,)), (nested_fn, (X,)),
                    (switch_fn, (np.int32(1), X))]:
        closed = ft.make_jaxpr(f)(*args)
        assert typecheck_all(closed.jaxpr) >= 2
        close(ft.eval_jaxpr(closed, *args), host(f(*args)))


@pytest.mark.parametrize("name", ["scan", "cond", "fori", "while", "nested"])
def test_transformed_jaxprs_typecheck_to_the_innermost_body(name):
    f = {"scan": scan_fn, "cond": cond_fn, "fori": fori_fn, "while": while_fn, "nested": nested_fn}[name]
    g = lambda x: fnp.sum(f(x))
    xs = np.stack([X, -X])
    transforms = [ft.vmap(f), ft.vmap(ft.jacfwd(g))]
    if name != "while":
        transforms += [ft.vmap(ft.grad(g)), ft.grad(lambda xs: fnp.sum(ft.vmap(g)(xs))), ft.vmap(ft.hessian(g))]
    for t in transforms:
        closed = ft.make_jaxpr(t)(xs)
        typecheck_all(closed.jaxpr)  # (a cond on a batched predicate becomes a select: no sub-jaxpr)
        close(ft.eval_jaxpr(closed, xs), host(t(xs)), rtol=1e-9)


# ---------------------------------------------------------------------------- printing
def test_printed_nested_like_jax():
    text = str(ft.make_jaxpr(lambda x: lax.scan(lambda c, x: (c + x, c * x), 0.0, x))(np.arange(3.0)))
    assert text == """{ lambda ; a:f64[3]. let
    b:f64[] c:f64[3] = scan[jaxpr={ lambda ; a:f64[] b:f64[]. let
        c:f64[] = add a b
        d:f64[] = mul a b
      in (c, d) }, length=3, reverse=False, num_consts=0, num_carry=1] 0.0 a
  in (b, c) }"""
    text = str(ft.make_jaxpr(cond_fn)(X))
    assert "cond[branches=({ lambda ; a:f64[3]. let" in text and "exp" in text and "sin" in text
    text = str(ft.make_jaxpr(while_fn)(X))
    assert "while[cond_jaxpr={ lambda" in text and "body_jaxpr={ lambda" in text


def test_closed_over_tracer_is_an_explicit_operand():
    w = np.array([[0.5, -0.2, 0.1], [0.3, 0.8, -0.4], [0.0, 0.2, 0.9]])
    closed = ft.make_jaxpr(scan_matrix_fn)(X, w)
    scan_eqn = next(e for e in closed.jaxpr.eqns if e.primitive.name == "scan")
    assert scan_eqn.params["num_consts"] >= 1
    assert closed.jaxpr.invars[1] in scan_eqn.invars  # w goes in as an operand, not a constant


# ---------------------------------------------------------------------------- derivatives
REV_CASES = {
    "scan": (scan_fn, (X,)),
    "scan[reverse,closure]": (scan_matrix_fn, (X, np.random.default_rng(0).standard_normal((3, 3)) * 0.5)),
    "cond[false]": (cond_fn, (X,)),
    "cond[true]": (cond_fn, (-X,)),
    "switch": (lambda x: switch_fn(np.int32(1), x), (X,)),
    "fori_loop[static]": (fori_fn, (X,)),
    "nested": (nested_fn, (X,)),
}


@pytest.mark.parametrize("name", list(REV_CASES))
def test_check_grads_both_modes_order_2(name):
    f, args = REV_CASES[name]
    check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_while_loop_forward_mode_order_2():
    check_grads(while_fn, (X,), order=2, modes=("fwd",))
    j = ft.jacfwd(while_fn)(X)
    j_scan = ft.jacfwd(lambda x: lax.fori_loop(0, 4, lambda i, v: fnp.sin(v) * 1.5 + v * v[0], x))(X)
    close(j, host(j_scan))


def test_while_loop_reverse_mode_is_a_clear_error():
    with pytest.raises(NotImplementedError, match="while_loop.*scan.*fori_loop"):
        ft.grad(lambda x: fnp.sum(while_fn(x)))(X)
    with pytest.raises(NotImplementedError, match="while_loop"):
        # under jit the bound is traced, so the fori_loop is a while_loop
        ft.grad(ft.jit(lambda x, n: lax.fori_loop(0, n, lambda i, v: v * x, 1.0)))(2.0, 3)
    close(ft.grad(lambda x, n: lax.fori_loop(0, n, lambda i, v: v * x, 1.0))(2.0, 3), 12.0)  # concrete: a scan


def test_gradients_match_unrolled_python():
    w = np.random.default_rng(1).standard_normal((3, 3)) * 0.5

    def unrolled(x, w):
        w = fnp.asarray(w)
        xs = np.array([1.0, -0.5, 2.0])[:, None] * x[None, :]
        c, ys = fnp.zeros(3), []
        for i in reversed(range(3)):
            ys.append(c * w[0])
            c = fnp.tanh(c @ w + xs[i])
        return fnp.sum(c) + sum(fnp.sum(y ** 2) for y in ys)

    for argnums in (0, 1):
        close(ft.grad(scan_matrix_fn, argnums)(X, w), host(ft.grad(unrolled, argnums)(X, w)), rtol=1e-9)
    close(ft.hessian(scan_fn)(X), host(ft.hessian(lambda x: _unrolled_scan_fn(x))(X)), rtol=1e-9)


def _unrolled_scan_fn(x):
    c, total = 1.0, 0.0
    for i in range(3):
        total = total + (fnp.cos(c) * x[i]) ** 2
        c = c * fnp.sin(x[i]) + x[i]
    return c + total


def test_grad_of_scan_stays_a_loop():
    """Reverse mode of a scan is a scan (residuals stacked), whatever the trip count."""
    def f(x):
        return lax.scan(lambda c, xi: (fnp.sin(c) * xi, c), 0.5, x)[0]

    short = ft.make_jaxpr(ft.grad(f))(np.ones(3))
    long = ft.make_jaxpr(ft.grad(f))(np.ones(300))
    assert len(long.jaxpr.eqns) == len(short.jaxpr.eqns)
    assert [e.primitive.name for e in long.jaxpr.eqns].count("scan") >= 2
    typecheck_all(long.jaxpr)


def test_cond_only_differentiates_the_taken_branch():
    f = lambda x: lax.cond(x > 0, lambda v: fnp.sqrt(v), lambda v: v * 0.0, x)
    close(ft.grad(f)(-1.0), 0.0)  # sqrt's derivative at -1 (nan) is never selected
    close(ft.grad(f)(4.0), 0.25)


def test_integer_carry_and_int_operands():
    def f(x):
        (i, v), _ = lax.scan(lambda c, xi: ((c[0] + 1, c[1] * xi + c[0]), None), (0, 1.0), x)
        return v * i
    check_grads(f, (X,), order=2)
    g = ft.grad(lambda x, k: lax.cond(k > 1, lambda a: a * k, lambda a: a, x))
    close(g(2.0, 3), 3.0)


def test_jvp_of_grad_and_grad_of_jvp_through_scan():
    t = np.array([1.0, 0.5, -2.0])
    h = host(ft.hessian(scan_fn)(X))
    _, hv = ft.jvp(ft.grad(scan_fn), (X,), (t,))
    close(hv, h @ t, rtol=1e-8)
    hv2 = ft.grad(lambda x: ft.jvp(scan_fn, (x,), (t,))[1])(X)
    close(hv2, h @ t, rtol=1e-8)


@pytest.mark.parametrize("g", [scan_fn, cond_fn, fori_fn, nested_fn], ids=lambda g: g.__name__)
def test_vmap_of_grad_and_grad_of_vmap_through_control_flow(g):
    xs = np.random.default_rng(2).standard_normal((4, 3))
    f = lambda x: fnp.sum(g(x))
    per = ft.vmap(ft.grad(f))(xs)
    close(per, np.stack([host(ft.grad(f)(x)) for x in xs]), rtol=1e-9)
    total = ft.grad(lambda xs: fnp.sum(ft.vmap(f)(xs)))(xs)
    close(total, host(per), rtol=1e-9)


# ---------------------------------------------------------------------------- jit
def test_jit_runs_control_flow_with_traced_predicates():
    def f(x, n):
        c, ys = lax.scan(lambda c, xi: (c * fnp.sin(xi) + xi, fnp.cos(c)), 1.0, x)
        w = lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.1), (0, c))[1]
        return lax.cond(w > 0, lambda: w + fnp.sum(ys), lambda: -w)

    for n in (0, 3):
        close(ft.jit(f)(X, n), host(f(X, n)))
    close(ft.jit(ft.grad(scan_fn))(X), host(ft.grad(scan_fn)(X)))
    close(ft.jit(ft.vmap(cond_fn))(np.stack([X, -X])), np.stack([host(cond_fn(X)), host(cond_fn(-X))]))


def test_bodies_run_often_are_compiled_and_agree_with_interpretation():
    """A body is interpreted for its first ``COMPILE_BODY_AFTER - 1`` runs, then compiled by the
    jit lowering and cached on the backend: a long scan switches within one call, a loop body
    and a branch under jit after a few calls. Results do not change at the switch."""
    backend = current_backend()
    after = backend.COMPILE_BODY_AFTER
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((3 * after, 4))
    w = rng.standard_normal((4, 4)) * 0.5

    def rnn(h, xs):
        return lax.scan(lambda h, x: (fnp.tanh(w @ h + x), fnp.sum(h * x)), h, xs)

    h = np.zeros(4)
    want_h, want_ys = h, []
    for x in xs:
        want_ys.append(np.sum(want_h * x))
        want_h = np.tanh(w @ want_h + x)
    def compiled_since(before=frozenset()):
        return {id(e[0]) for e in backend._bodies.values() if e[2] is not None} - before

    before = frozenset(compiled_since())
    for run in (rnn, ft.jit(rnn)):
        got_h, got_ys = run(h, xs)
        close(got_h, want_h)
        close(got_ys, np.array(want_ys))
    assert len(compiled_since(before)) == 2, "each scan of 3 * COMPILE_BODY_AFTER steps compiles its step"

    loop = ft.jit(lambda x, n: lax.while_loop(lambda c: c[0] < n, lambda c: (c[0] + 1, c[1] * 1.5), (0, x))[1])
    branch = ft.jit(lambda x: lax.cond(fnp.sum(x) > 0, lambda: x * 2.0, lambda: -x))
    for i in range(2 * after + 2):  # the branches alternate: each is compiled after `after` runs of its own
        close(loop(X, 3), X * 1.5 ** 3)
        x = X * (-1) ** i
        close(branch(x), x * 2.0 if np.sum(x) > 0 else -x)
    assert len(compiled_since(before)) == 2 + 2 + 2  # the two scan steps, the loop's cond and body, both branches


def test_python_if_in_a_body_needs_cond():
    with pytest.raises(ft.ConcretizationError):
        lax.scan(lambda c, x: (c + x if x > 0 else c, None), 0.0, X)


# ---------------------------------------------------------------------------- errors
def test_errors_name_the_problem():
    with pytest.raises(TypeError, match="same structure, shapes and dtypes"):
        lax.cond(True, lambda x: x, lambda x: (x, x), 1.0)
    with pytest.raises(TypeError, match="same structure, shapes and dtypes"):
        lax.cond(True, lambda x: x, lambda x: fnp.stack([x, x]), 1.0)
    with pytest.raises(TypeError, match="predicate must be a scalar"):
        lax.cond(np.array([True, False]), lambda: 1.0, lambda: 2.0)
    with pytest.raises(TypeError, match="carry"):
        lax.scan(lambda c, x: (c * np.ones(2), x), 0.0, X)
    with pytest.raises(TypeError, match="pair"):
        lax.scan(lambda c, x: c, 0.0, X)
    with pytest.raises(ValueError, match="disagree"):
        lax.scan(lambda c, x: (c, x), 0.0, X, length=5)
    with pytest.raises(ValueError, match="length="):
        lax.scan(lambda c, x: (c, x), 0.0, None)
    with pytest.raises(TypeError, match="boolean scalar"):
        lax.while_loop(lambda c: c, lambda c: c, 1.0)
    with pytest.raises(TypeError, match="body_fun"):
        lax.while_loop(lambda c: c < 3, lambda c: c + 1.0, np.int64(0))
    with pytest.raises(TypeError, match="integers"):
        lax.fori_loop(0.0, 3, lambda i, v: v, 1.0)
