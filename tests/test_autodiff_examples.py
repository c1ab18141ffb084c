"""Worked examples: derivatives of small real programs against formulas worked out by hand."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.ir import typecheck_jaxpr

check_grads = ft.test_util.check_grads
rng = np.random.default_rng(42)


def close(got, want, rtol=1e-9, atol=1e-12):
    np.testing.assert_allclose(host(got), want, rtol=rtol, atol=atol)


# ---------------------------------------------------------------------------- logistic regression
X_LR = rng.standard_normal((20, 3))
Y_LR = (rng.random(20) < 0.5).astype(np.float64)


def logistic_loss(w, b, x, y):
    """Mean binary cross-entropy of sigmoid(x @ w + b), written the way users write it."""
    z = x @ w + b
    return fnp.mean(fnp.logaddexp(0.0, z) - y * z)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logistic_regression(dtype):
    x, y = X_LR.astype(dtype), Y_LR.astype(dtype)
    w, b = np.array([0.5, -1.0, 0.25], dtype), dtype(0.1)
    gw, gb = ft.grad(logistic_loss, argnums=(0, 1))(w, b, x, y)
    p = 1 / (1 + np.exp(-(X_LR @ w.astype(np.float64) + float(b))))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    close(gw, X_LR.T @ (p - Y_LR) / 20, rtol=tol, atol=tol)
    close(gb, np.mean(p - Y_LR), rtol=tol, atol=tol)
    assert host(gw).dtype == dtype and host(gb).dtype == dtype
    h = ft.hessian(logistic_loss)(w, b, x, y)
    close(h, X_LR.T @ (X_LR * (p * (1 - p))[:, None]) / 20, rtol=tol * 10, atol=tol)
    check_grads(lambda w, b: logistic_loss(w, b, x, y), (w, b), order=2)


def test_logistic_regression_training_decreases_loss():
    w, b = np.zeros(3), 0.0
    vg = ft.value_and_grad(logistic_loss, argnums=(0, 1))
    losses = []
    for _ in range(20):
        loss, (gw, gb) = vg(w, b, X_LR, Y_LR)
        losses.append(float(host(loss)))
        w, b = w - 0.5 * host(gw), b - 0.5 * host(gb)
    assert losses[0] == pytest.approx(np.log(2.0))
    assert all(a > c for a, c in zip(losses[:-1], losses[1:], strict=True))


# ---------------------------------------------------------------------------- MLP softmax cross-entropy
def init_mlp(sizes, seed=0):
    r = np.random.default_rng(seed)
    return {f"layer{i}": {"w": r.standard_normal((m, n)) / np.sqrt(m), "b": r.standard_normal(n) * 0.1}
            for i, (m, n) in enumerate(zip(sizes[:-1], sizes[1:], strict=True))}


def mlp_logits(params, x):
    h = x
    n = len(params)
    for i in range(n):
        layer = params[f"layer{i}"]
        h = h @ layer["w"] + layer["b"]
        if i < n - 1:
            h = fnp.tanh(h)
    return h


def cross_entropy(params, x, labels):
    logp = ft.nn.log_softmax(mlp_logits(params, x))
    return -fnp.mean(fnp.sum(ft.nn.one_hot(labels, 4) * logp, axis=-1))


def manual_backprop(params, x, labels):
    """The textbook backward pass of a tanh MLP with softmax cross-entropy, in NumPy."""
    n = len(params)
    hs, h = [x], x
    for i in range(n):
        z = h @ params[f"layer{i}"]["w"] + params[f"layer{i}"]["b"]
        h = np.tanh(z) if i < n - 1 else z
        hs.append(h)
    logits = hs[-1]
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    delta = (p - np.eye(4)[labels]) / x.shape[0]
    grads = {}
    for i in reversed(range(n)):
        grads[f"layer{i}"] = {"w": hs[i].T @ delta, "b": delta.sum(0)}
        if i > 0:
            delta = (delta @ params[f"layer{i}"]["w"].T) * (1 - hs[i] ** 2)
    return grads


def test_mlp_softmax_cross_entropy():
    params = init_mlp([5, 7, 6, 4])
    x = rng.standard_normal((9, 5))
    labels = rng.integers(0, 4, 9)
    g = ft.grad(cross_entropy)(params, x, labels)
    want = manual_backprop(params, x, labels)
    assert ft.tree_util.tree_structure(g) == ft.tree_util.tree_structure(want)
    for got, w in zip(ft.tree_util.tree_leaves(g), ft.tree_util.tree_leaves(want), strict=True):
        close(got, w, rtol=1e-10, atol=1e-13)
    small = init_mlp([5, 3, 4], seed=1)
    check_grads(lambda p: cross_entropy(p, x, labels), (small,), order=2)


# ---------------------------------------------------------------------------- layer norm
def layer_norm(x, gamma, beta, eps=1e-5):
    mu = fnp.mean(x, axis=-1, keepdims=True)
    var = fnp.var(x, axis=-1, keepdims=True)
    return (x - mu) / fnp.sqrt(var + eps) * gamma + beta


def test_layer_norm():
    x = rng.standard_normal((4, 6))
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    c = rng.standard_normal((4, 6))
    loss = lambda x, g, b: fnp.sum(layer_norm(x, g, b) * c)
    gx, gg, gb = ft.grad(loss, argnums=(0, 1, 2))(x, gamma, beta)
    # the standard closed form of the layer-norm backward pass
    n = x.shape[-1]
    mu = x.mean(-1, keepdims=True)
    inv = 1 / np.sqrt(x.var(-1, keepdims=True) + 1e-5)
    xhat = (x - mu) * inv
    dxhat = c * gamma
    want_x = inv / n * (n * dxhat - dxhat.sum(-1, keepdims=True) - xhat * (dxhat * xhat).sum(-1, keepdims=True))
    close(gx, want_x, rtol=1e-9, atol=1e-12)
    close(gg, (c * xhat).sum(0))
    close(gb, c.sum(0))
    # the normalised output is shift-invariant: its gradient sums to zero per row
    close(host(gx).sum(-1), np.zeros(4), atol=1e-12)
    check_grads(lambda x: layer_norm(x, gamma, beta), (x,), order=2)
    x32 = x.astype(np.float32)
    check_grads(lambda x: layer_norm(x, gamma.astype(np.float32), beta.astype(np.float32)), (x32,), order=2)


# ---------------------------------------------------------------------------- Rosenbrock
def rosenbrock(x):
    return fnp.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)


def rosenbrock_hessian(x):
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200 * x[i] ** 2 - 400 * x[i + 1] + 2
        h[i + 1, i + 1] += 200
        h[i, i + 1] = h[i + 1, i] = -400 * x[i]
    return h


@pytest.mark.parametrize("x", [np.array([-1.2, 1.0, 0.5, 2.0, -0.3]), np.ones(4)], ids=["random", "minimum"])
def test_rosenbrock_hessian(x):
    want = rosenbrock_hessian(x)
    close(ft.hessian(rosenbrock)(x), want, rtol=1e-12)
    close(ft.jacfwd(ft.jacrev(rosenbrock))(x), want, rtol=1e-12)
    close(ft.jacrev(ft.jacrev(rosenbrock))(x), want, rtol=1e-12)
    close(ft.jacfwd(ft.grad(rosenbrock))(x), want, rtol=1e-12)
    v = np.arange(1.0, len(x) + 1)
    close(ft.jvp(ft.grad(rosenbrock), (x,), (v,))[1], want @ v, rtol=1e-12)
    g = host(ft.grad(rosenbrock)(x))
    if np.all(x == 1.0):
        close(g, np.zeros(len(x)))  # the minimum, with a positive definite Hessian
        assert np.all(np.linalg.eigvalsh(host(ft.hessian(rosenbrock)(x))) > 0)


# ---------------------------------------------------------------------------- tanh, 6th derivative
def tanh6(x):
    """The closed form: d^6/dx^6 tanh x = -16 t (1 - t^2)(17 - 60 t^2 + 45 t^4), t = tanh x."""
    t = np.tanh(x)
    return -16 * t * (1 - t ** 2) * (17 - 60 * t ** 2 + 45 * t ** 4)


def test_sixth_derivative_of_tanh():
    d = fnp.tanh
    for _ in range(6):
        d = ft.grad(d)
    for x in (-1.3, 0.0, 0.2, 0.9, 2.5):
        close(d(x), tanh6(x), rtol=1e-10, atol=1e-10)
    closed = ft.make_jaxpr(d)(0.2)
    typecheck_jaxpr(closed.jaxpr)
    close(ft.eval_jaxpr(closed, 0.9), tanh6(0.9), rtol=1e-10)
    # the same by six nested forward-mode jvps, and elementwise on an array
    f = fnp.tanh
    for _ in range(6):
        f = (lambda g: lambda x: ft.jvp(g, (x,), (np.ones_like(host(x)),))[1])(f)
    xs = np.array([-0.4, 0.3, 1.1])
    close(f(xs), tanh6(xs), rtol=1e-10, atol=1e-10)


# ---------------------------------------------------------------------------- perturbation confusion
def test_perturbation_confusion():
    """d/dx [x * d/dy (x + y)] = 1, and d/dx [x * d/dy (x * y)] = d/dx x^2 = 2x (Siskind & Pearlmutter)."""
    for x in (-2.0, 0.0, 1.0, 3.0):
        close(ft.grad(lambda x: x * ft.grad(lambda y: x + y)(1.0))(x), 1.0)
        close(ft.grad(lambda x: x * ft.grad(lambda y: x * y)(2.0))(x), 2 * x)
    # the same tangent direction at both levels of forward mode
    close(ft.jvp(lambda x: x * ft.jvp(lambda y: x + y, (1.0,), (1.0,))[1], (5.0,), (1.0,))[1], 1.0)


# ---------------------------------------------------------------------------- control flow on values
def cube_root(a, tol=1e-13):
    """Newton's method with a data-dependent loop and branch: a function of plain Python floats."""
    if a < 0:
        return -cube_root(-a, tol)
    x = a if a > 1 else 1.0
    err = 1.0
    while err > tol:
        new = x - (x ** 3 - a) / (3 * x ** 2)
        err = abs(new - x)
        x = new
    return x


@pytest.mark.parametrize("a", [8.0, 0.3, -27.0])
def test_gradient_through_if_and_while(a):
    root = np.cbrt(a)
    close(cube_root(a), root, rtol=1e-12)
    close(ft.grad(cube_root)(a), 1 / (3 * root ** 2), rtol=1e-8)
    close(ft.jvp(cube_root, (a,), (2.0,))[1], 2 / (3 * root ** 2), rtol=1e-8)
    close(ft.vjp(cube_root, a)[1](1.0)[0], 1 / (3 * root ** 2), rtol=1e-8)
    close(ft.grad(ft.grad(cube_root))(a), -2 / (9 * np.cbrt(a) ** 5), rtol=1e-6)


# ---------------------------------------------------------------------------- dict params with has_aux
def loss_with_metrics(params, x, labels):
    logits = mlp_logits(params, x)
    loss = -fnp.mean(fnp.sum(ft.nn.one_hot(labels, 4) * ft.nn.log_softmax(logits), axis=-1))
    accuracy = fnp.mean((fnp.argmax(logits, axis=-1) == labels).astype(float))
    return loss, {"accuracy": accuracy, "logits": logits}


def test_dict_params_has_aux_training():
    params = init_mlp([5, 8, 4], seed=3)
    x = rng.standard_normal((16, 5))
    labels = rng.integers(0, 4, 16)
    g, aux = ft.grad(loss_with_metrics, has_aux=True)(params, x, labels)
    assert set(aux) == {"accuracy", "logits"} and host(aux["logits"]).shape == (16, 4)
    plain = ft.grad(lambda p: loss_with_metrics(p, x, labels)[0])(params)
    for a, b in zip(ft.tree_util.tree_leaves(g), ft.tree_util.tree_leaves(plain), strict=True):
        close(a, host(b))
    (loss0, _), _ = ft.value_and_grad(loss_with_metrics, has_aux=True)(params, x, labels)
    vg = ft.value_and_grad(loss_with_metrics, has_aux=True)
    for _ in range(30):
        (loss, aux), g = vg(params, x, labels)
        params = ft.tree_util.tree_map(lambda p, d: p - 0.5 * host(d), params, g)
    assert float(host(loss)) < 0.7 * float(host(loss0))
    assert 0.0 <= float(host(aux["accuracy"])) <= 1.0
