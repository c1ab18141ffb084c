"""``ft.checkpoint`` / ``ft.remat`` (issue 18 item 4): same values and derivatives as without it,
under every transform; the backward pass recomputes what the policy does not save."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.test_util import check_grads

CP = ft.checkpoint_policies
POLICIES = [None, CP.nothing_saveable, CP.everything_saveable, CP.dots_saveable, CP.save_only_these_names("h")]
POLICY_IDS = ["default", "nothing", "everything", "dots", "names"]


def block(w, x):
    h = ft.checkpoint_name(x @ w, "h")
    return fnp.tanh(h) * 1.5 + fnp.sin(x)


def net(ws, x, wrap):
    for w in ws:
        x = wrap(block)(w, x)
    return fnp.sum(x ** 2)


def params(dt, depth=3, width=5):
    rng = np.random.default_rng(0)
    return [(rng.standard_normal((width, width)) * 0.4).astype(dt) for _ in range(depth)], \
        rng.standard_normal((3, width)).astype(dt)


def count(closed, name):
    """Equations named ``name`` anywhere in ``closed`` (sub-jaxprs included)."""
    total = 0
    for e in closed.eqns:
        total += e.primitive.name == name
        for v in e.params.values():
            for x in (v if isinstance(v, tuple) else (v,)):
                if isinstance(x, ft.ClosedJaxpr):
                    total += count(x, name)
    return total


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("policy", POLICIES, ids=POLICY_IDS)
def test_gradients_match_the_unchecked_function(policy, dtype):
    ws, x = ft.device_put(params(dtype))
    wrap = lambda f: ft.checkpoint(f, policy=policy)  # noqa: E731
    want = host(ft.grad(net, argnums=(0, 1))(ws, x, lambda f: f))
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    for g in (ft.grad(net, argnums=(0, 1)), ft.jit(ft.grad(net, argnums=(0, 1)), static_argnums=2)):
        got = host(g(ws, x, wrap))
        for a, b in zip(ft.tree_util.tree_leaves(got), ft.tree_util.tree_leaves(want), strict=True):
            np.testing.assert_allclose(a, b, **tol)
    np.testing.assert_allclose(host(net(ws, x, wrap)), host(net(ws, x, lambda f: f)), **tol)


@pytest.mark.parametrize("policy", POLICIES, ids=POLICY_IDS)
def test_check_grads_to_second_order(policy):
    ws, x = params(np.float64, depth=2, width=3)
    f = ft.checkpoint(block, policy=policy)
    check_grads(lambda w, x: fnp.sum(f(w, x) ** 2), (ws[0], x), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("policy", POLICIES[:4], ids=POLICY_IDS[:4])
def test_vmap_jvp_and_hessian(policy):
    ws, x = params(np.float64, depth=1, width=3)
    f = ft.checkpoint(block, policy=policy)
    xs = np.stack([x, x * 0.5])
    np.testing.assert_allclose(host(ft.vmap(f, in_axes=(None, 0))(ws[0], xs)),
                               host(ft.vmap(block, in_axes=(None, 0))(ws[0], xs)), rtol=1e-12)
    g = ft.vmap(ft.grad(lambda x: fnp.sum(f(ws[0], x))))(xs)
    np.testing.assert_allclose(host(g), host(ft.vmap(ft.grad(lambda x: fnp.sum(block(ws[0], x))))(xs)), rtol=1e-12)
    t = np.ones_like(x)
    a = ft.jvp(lambda x: f(ws[0], x), (x,), (t,))
    b = ft.jvp(lambda x: block(ws[0], x), (x,), (t,))
    np.testing.assert_allclose(host(a[1]), host(b[1]), rtol=1e-12)
    h1 = ft.hessian(lambda v: fnp.sum(f(ws[0], v.reshape(x.shape)) ** 2))(x.ravel())
    h2 = ft.hessian(lambda v: fnp.sum(block(ws[0], v.reshape(x.shape)) ** 2))(x.ravel())
    np.testing.assert_allclose(host(h1), host(h2), rtol=1e-10, atol=1e-12)


def _grad_program(policy):
    ws, x = params(np.float64, depth=1)
    wrap = (lambda f: f) if policy == "none" else (lambda f: ft.checkpoint(f, policy=policy))
    return ft.make_jaxpr(ft.grad(lambda w: net([w], x, wrap)))(ws[0])


def test_the_backward_pass_recomputes_what_the_policy_does_not_save():
    plain = _grad_program("none")
    assert count(plain, "tanh") == 1 and count(plain, "dot_general") == 2  # forward, and dw
    nothing = _grad_program(CP.nothing_saveable)
    assert count(nothing, "tanh") == 2 and count(nothing, "dot_general") == 3  # the forward, again
    dots = _grad_program(CP.dots_saveable)
    assert count(dots, "tanh") == 2 and count(dots, "dot_general") == 2  # the product is kept
    names = _grad_program(CP.save_only_these_names("h"))
    assert count(names, "tanh") == 2 and count(names, "dot_general") == 2
    everything = _grad_program(CP.everything_saveable)
    assert count(everything, "tanh") == 1


def test_checkpointed_programs_print_and_parse_back():
    for policy in POLICIES:
        closed = _grad_program(policy)
        again = ft.ir.parse_jaxpr(str(closed), closed.large_consts())
        assert str(again) == str(closed)
        w = params(np.float64, depth=1)[0][0]
        np.testing.assert_array_equal(host(ft.eval_jaxpr(again, w)[0]), host(ft.eval_jaxpr(closed, w)))


def test_static_argnums_pytrees_closures_and_scan():
    scale = np.float64(3.0)

    def f(d, n):
        return {"y": d["a"] * scale ** n + d["b"]}

    g = ft.checkpoint(f, static_argnums=1)
    d = {"a": np.arange(3.0), "b": np.ones(3)}
    np.testing.assert_allclose(host(g(d, 2)["y"]), np.arange(3.0) * 9 + 1)
    grads = ft.grad(lambda d: fnp.sum(g(d, 2)["y"] ** 2))(d)
    np.testing.assert_allclose(host(grads["a"]), 2 * (np.arange(3.0) * 9 + 1) * 9)

    def body(c, w):
        return ft.checkpoint(lambda c, w: fnp.tanh(c @ w))(c, w), None

    ws = np.random.default_rng(1).standard_normal((4, 3, 3)) * 0.5
    loss = lambda c: fnp.sum(lax.scan(body, c, ws)[0])  # noqa: E731
    ref = lambda c: fnp.sum(lax.scan(lambda c, w: (fnp.tanh(c @ w), None), c, ws)[0])  # noqa: E731
    np.testing.assert_allclose(host(ft.grad(loss)(np.ones(3))), host(ft.grad(ref)(np.ones(3))), rtol=1e-12)


def test_bad_policy_and_name():
    with pytest.raises(TypeError, match="unknown policy"):
        ft.checkpoint(block, policy="sometimes")
    with pytest.raises(TypeError, match="string"):
        ft.checkpoint_name(np.ones(2), 3)
    with pytest.raises(TypeError, match="strings"):
        CP.save_only_these_names(1)
    assert ft.remat is ft.checkpoint


def test_benchmark_shows_the_memory_saving():
    """benchmarks/checkpoint.py at a small size: checkpointing each layer lowers the peak memory of
    jit(grad) (only each layer's input is kept) and gives the same gradients."""
    from benchmarks import checkpoint as bench

    with ft.use_backend("numpy"):  # tracemalloc sees NumPy's buffers, not the torch allocator's
        r = bench.run(depth=16, width=64, batch=512, repeat=1)
    assert r["checkpoint(nothing_saveable)"]["peak_mb"] < 0.75 * r["no checkpoint"]["peak_mb"]
