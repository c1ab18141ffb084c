"""Derivatives of ``functrace.nn`` and of ``fnp.logaddexp``: check_grads to second order in both
modes away from the kinks, JAX's choices at the kinks, relu(nan), and derivatives of every order
that stay exact at ties (the Hessian of a logistic loss at zero, Newton's method from zero)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace.test_util import check_grads

nn = ft.nn
f32, f64 = np.float32, np.float64

# Elementwise functions with the points their kinks sit at (the checks keep away from those).
ELEMENTWISE: dict[str, tuple[Callable, tuple[float, ...]]] = {
    "relu": (nn.relu, (0.0,)), "relu6": (nn.relu6, (0.0, 6.0)), "sigmoid": (nn.sigmoid, ()),
    "log_sigmoid": (nn.log_sigmoid, ()), "softplus": (nn.softplus, ()), "soft_sign": (nn.soft_sign, (0.0,)),
    "squareplus": (nn.squareplus, ()), "sparse_plus": (nn.sparse_plus, (-1.0, 1.0)),
    "sparse_sigmoid": (nn.sparse_sigmoid, (-1.0, 1.0)), "silu": (nn.silu, ()), "swish": (nn.swish, ()),
    "mish": (nn.mish, ()), "elu": (nn.elu, (0.0,)), "elu(alpha=0.3)": (lambda x: nn.elu(x, 0.3), (0.0,)),
    "celu": (nn.celu, (0.0,)), "celu(alpha=2)": (lambda x: nn.celu(x, 2.0), (0.0,)), "selu": (nn.selu, (0.0,)),
    "leaky_relu": (nn.leaky_relu, (0.0,)), "hard_tanh": (nn.hard_tanh, (-1.0, 1.0)),
    "hard_sigmoid": (nn.hard_sigmoid, (-3.0, 3.0)), "hard_silu": (nn.hard_silu, (-3.0, 3.0)),
    "hard_swish": (nn.hard_swish, (-3.0, 3.0)), "gelu": (nn.gelu, ()),
    "gelu(approximate=False)": (lambda x: nn.gelu(x, approximate=False), ()), "tanh": (nn.tanh, ()),
    "identity": (nn.identity, ()), "log1mexp(x+1)": (lambda x: nn.log1mexp(fnp.add(x, 8.0)), ()),
}


def _points(kinks: tuple[float, ...], dtype=f64) -> np.ndarray:
    """Points spread over [-8, 8] (all branches), each at least 0.05 from every kink."""
    x = np.random.default_rng(3).uniform(-8, 8, 40)
    for k in kinks:
        x = np.where(np.abs(x - k) < 0.05, x + 0.1, x)
    return x.astype(dtype)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_check_grads_second_order_both_modes(name: str):
    f, kinks = ELEMENTWISE[name]
    check_grads(f, (_points(kinks),), order=2, modes=("fwd", "rev"))


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_float32_derivatives_stay_float32(name: str):
    f, kinks = ELEMENTWISE[name]
    x32 = _points(kinks, f32)
    d32 = ft.vmap(ft.grad(f))(x32)
    assert np.dtype(ft.device_get(d32).dtype) == f32
    assert_close(d32, host(ft.vmap(ft.grad(f))(x32.astype(f64))).astype(f32), rtol=2e-5, atol=2e-6)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_jit_and_vmap_agree_with_eager(name: str):
    f, kinks = ELEMENTWISE[name]
    x = _points(kinks).reshape(4, 10)
    want = host(f(x))
    assert_close(ft.jit(f)(x), want)
    assert_close(ft.vmap(f)(x), want)
    assert_close(ft.jit(ft.vmap(ft.vmap(ft.grad(f))))(x), host(ft.vmap(ft.vmap(ft.grad(f)))(x)))


# (function, point, first derivative, second derivative): JAX's values at the kinks (see also
# test_nn_jax.py, which compares a whole grid through the kinks with recorded JAX outputs).
KINKS = [
    (nn.relu, 0.0, 0.0, 0.0), (nn.relu6, 0.0, 0.0, 0.0), (nn.relu6, 6.0, 0.0, 0.0),
    (nn.hard_tanh, -1.0, 1.0, 0.0), (nn.hard_tanh, 1.0, 1.0, 0.0), (nn.leaky_relu, 0.0, 1.0, 0.0),
    (nn.elu, 0.0, 1.0, 1.0), (lambda x: nn.elu(x, 0.5), 0.0, 0.5, 0.5), (nn.celu, 0.0, 1.0, 0.25),
    (nn.hard_sigmoid, -3.0, 0.0, 0.0), (nn.hard_sigmoid, 3.0, 0.0, 0.0), (nn.hard_silu, 3.0, 1.0, 0.0),
    (nn.sparse_sigmoid, -1.0, 0.25, 0.0), (nn.sparse_plus, 1.0, 1.0, 0.0), (nn.soft_sign, 0.0, 1.0, -2.0),
    (nn.softplus, 0.0, 0.5, 0.25), (nn.log_sigmoid, 0.0, 0.5, -0.25),
]


@pytest.mark.parametrize("f,x,d1,d2", KINKS)
@pytest.mark.parametrize("dtype", [f32, f64])
def test_derivatives_at_the_kinks_are_jaxs(f, x, d1, d2, dtype):
    x = dtype(x)
    assert_close(ft.grad(f)(x), dtype(d1))
    assert_close(ft.jit(ft.grad(ft.grad(f)))(x), dtype(d2))
    assert_close(ft.jvp(f, (x,), (dtype(1.0),))[1], dtype(d1))


@pytest.mark.parametrize("mode", ["eager", "jit", "vmap"])
def test_relu_passes_nan_through_and_its_derivative_at_zero_is_zero(mode):
    """relu(nan) is nan as np.maximum(nan, 0) (it was 0: a diverged activation hidden); relu'(0) = 0
    as in JAX. relu'(nan) is 1 (JAX: 0), so nan's cotangent still reaches what produced it."""
    x = np.array([np.nan, 0.0, -0.0, -2.0, 3.0, -np.inf, np.inf])
    run = {"eager": lambda f: f, "jit": ft.jit, "vmap": ft.vmap}[mode]
    got = host(run(nn.relu)(x))
    np.testing.assert_array_equal(got, np.maximum(x, 0))
    assert not np.signbit(got[2])  # relu(-0.0) is +0.0, as np.maximum(-0.0, 0)
    assert_close(run(ft.vmap(ft.grad(nn.relu)) if mode != "vmap" else ft.grad(nn.relu))(x),
                 np.array([1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0]))
    assert np.isnan(host(nn.relu6(np.nan))) and np.isnan(host(nn.hard_sigmoid(np.float32(np.nan))))


def test_relu_keeps_integers():
    x = np.array([-3, 0, 4], np.int32)
    assert_close(nn.relu(x), np.array([0, 0, 4], np.int32))


# ---------------------------------------------------------------- ties: logaddexp and the softmax family
def _logistic_data(dtype=f64):
    rng = np.random.default_rng(7)
    X = rng.standard_normal((100, 3)).astype(dtype)
    w_true = np.array([0.8, -0.5, 0.3])
    y = np.where(rng.random(100) < 1 / (1 + np.exp(-X @ w_true)), 1.0, -1.0).astype(dtype)
    return X, y


def _logistic_loss(X, y, weights=None):
    def loss(w):
        terms = fnp.logaddexp(0.0, -y * (X @ w))
        return fnp.sum(terms if weights is None else weights * terms)

    return loss


@pytest.mark.parametrize("dtype", [f32, f64])
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_logistic_loss_hessian_at_zero(dtype, mode):
    """At w = 0 every margin is a tie of logaddexp(0, z): the Hessian is X^T diag(c y^2 / 4) X
    (it came out all zeros, so Newton's method from zero could not start)."""
    X, y = _logistic_data(dtype)
    c = np.linspace(0.5, 2.0, len(y)).astype(dtype)  # per-example weights
    hess = ft.hessian(_logistic_loss(X, y, c))
    hess = ft.jit(hess) if mode == "jit" else hess
    want = (X.T * (c * y * y / 4)) @ X
    assert_close(hess(np.zeros(3, dtype)), want.astype(dtype), rtol=1e-5 if dtype == f32 else 1e-12)


def test_newton_from_zero_converges_on_the_logistic_loss():
    X, y = _logistic_data()
    loss = _logistic_loss(X, y)
    grad, hess = ft.jit(ft.grad(loss)), ft.jit(ft.hessian(loss))
    w = np.zeros(3)
    norms = []
    for _ in range(12):
        g = host(grad(w))
        norms.append(np.linalg.norm(g))
        if norms[-1] < 1e-10:
            break
        w = w - np.linalg.solve(host(hess(w)), g)
    # quadratic convergence: a handful of steps, each squaring the error near the end
    assert norms[-1] < 1e-10 and len(norms) <= 7, norms
    assert norms[-2] < 1e-3 and norms[1] < norms[0]
    # The same optimum from the closed-form gradient and Hessian in NumPy.
    v = np.zeros(3)
    for _ in range(30):
        p = 1 / (1 + np.exp(y * (X @ v)))  # sigmoid(-y x.v)
        g = -(X.T @ (y * p))
        H = (X.T * (p * (1 - p))) @ X
        v = v - np.linalg.solve(H, g)
    assert_close(w, v, rtol=1e-10)


def test_logaddexp_derivatives_of_every_order_at_a_tie():
    """d^n/dx^n logaddexp(x, 0) at 0: sigmoid's derivatives 1/2, 1/4, 0, -1/8."""
    f = lambda x: fnp.logaddexp(x, 0.0)
    want = [np.log(2.0), 0.5, 0.25, 0.0, -0.125]
    for n, w in enumerate(want):
        assert_close(f(0.0), np.float64(w), atol=1e-15, what=f"derivative {n}: ")
        f = ft.grad(f)
    x = np.array([0.0, 1.0, -2.0, 3.0])
    check_grads(fnp.logaddexp, (x, x), order=3, modes=("fwd", "rev"))  # every point a tie
    check_grads(fnp.logaddexp, (x, x[::-1].copy()), order=3, modes=("fwd", "rev"))


@pytest.mark.parametrize("dtype", [f32, f64])
def test_logaddexp_values_infinities_and_nan_as_numpy(dtype):
    inf, nan = np.inf, np.nan
    a = np.array([0.0, inf, -inf, inf, -inf, nan, 1.0, 800.0, -800.0], dtype)
    b = np.array([0.0, inf, -inf, -inf, 2.0, 1.0, nan, 799.0, -800.0], dtype)
    with np.errstate(invalid="ignore"):
        want = np.logaddexp(a, b)
    for run in (lambda f: f, ft.jit, ft.vmap):
        assert_close(run(fnp.logaddexp)(a, b), want, rtol=1e-6 if dtype == f32 else 1e-15)
    ga, gb = ft.vmap(ft.grad(fnp.logaddexp, argnums=(0, 1)))(a, b)
    # weights sigmoid(a - b) and sigmoid(b - a); equal infinities split evenly
    assert_close(ga, np.array([0.5, 0.5, 0.5, 1.0, 0.0, nan, nan, 1 / (1 + np.exp(-1.0)), 0.5], dtype), rtol=1e-6)
    assert_close(gb, np.array([0.5, 0.5, 0.5, 0.0, 1.0, nan, nan, 1 / (1 + np.exp(1.0)), 0.5], dtype), rtol=1e-6)


def test_logaddexp_keeps_weak_types_and_broadcasts():
    x = np.array([[0.5], [-1.0]], f32)
    out = fnp.logaddexp(x, np.array([0.0, 1.0, 2.0], f32))
    assert_close(out, np.logaddexp(x, np.array([0.0, 1.0, 2.0], f32)))
    assert_close(fnp.logaddexp(x, 0), np.logaddexp(x, f32(0)))
    assert_close(ft.grad(lambda t: fnp.sum(fnp.logaddexp(t, np.zeros(3, f32))))(x), 3 / (1 + np.exp(-x)))


def _softmax_hessian(p):
    return np.diag(p) - np.outer(p, p)


@pytest.mark.parametrize("x", [np.zeros(3), np.array([1.0, 1.0, -0.5]), np.array([2.0, 2.0, 2.0, 2.0])])
def test_softmax_family_second_derivatives_exact_at_ties(x):
    """The shift by the maximum goes through stop_gradient, so ties in the maximum (where a max's
    derivative would be a convention) change nothing: the Hessian of logsumexp is diag(p) - pp^T."""
    p = np.exp(x - x.max()) / np.exp(x - x.max()).sum()
    H = _softmax_hessian(p)
    assert_close(ft.hessian(nn.logsumexp)(x), H)
    assert_close(ft.jit(ft.hessian(nn.logsumexp))(x), H)
    # log_softmax_i = x_i - logsumexp(x): the Hessian of each component is -H
    assert_close(ft.hessian(lambda t: nn.log_softmax(t)[0])(x), -H)
    # d softmax_0 / dx = p_0 (e_0 - p); its Jacobian from H's first row
    d = ft.jacfwd(ft.grad(lambda t: nn.softmax(t)[0]))(x)
    e0 = np.eye(len(x))[0]
    want = p[0] * (np.outer(e0 - p, e0 - p) - _softmax_hessian(p))
    assert_close(d, want)
    check_grads(nn.logsumexp, (x,), order=3, modes=("fwd", "rev"))
    check_grads(lambda t: nn.softmax(t, axis=0), (x,), order=2, modes=("fwd", "rev"))


def test_softplus_and_log_sigmoid_at_zero_are_smooth():
    assert_close(ft.grad(ft.grad(ft.grad(nn.softplus)))(0.0), np.float64(0.0), atol=1e-15)
    assert_close(ft.grad(ft.grad(ft.grad(ft.grad(nn.softplus))))(0.0), np.float64(-0.125))
    check_grads(nn.log_sigmoid, (np.array([0.0, -1e-3, 1e-3]),), order=3, modes=("fwd", "rev"))


def test_norm_at_zero_is_jaxs_nan_and_smooth_elsewhere():
    """The 2-norm is not differentiable at 0; its gradient there is nan, as JAX's (no silent 0).
    Elsewhere, including where entries tie in |x|, its derivatives are exact."""
    with np.errstate(all="ignore"):
        assert np.all(np.isnan(host(ft.grad(fnp.linalg.norm)(np.zeros(3)))))
    x = np.array([1.0, -1.0, 1.0])
    n = np.sqrt(3.0)
    assert_close(ft.hessian(fnp.linalg.norm)(x), (np.eye(3) - np.outer(x, x) / 3) / n)


@pytest.mark.parametrize("f,args", [
    (lambda x, b: nn.logsumexp(x, axis=1, b=b), (np.random.default_rng(1).standard_normal((3, 4)),
                                                  np.random.default_rng(2).uniform(0.5, 2, (3, 4)))),
    (lambda x, w: nn.standardize(x * w), (np.random.default_rng(1).standard_normal((3, 5)),
                                          np.random.default_rng(2).uniform(0.5, 2, (3, 5)))),
    (lambda x, w: nn.glu(x * w, axis=0), (np.random.default_rng(1).standard_normal((4, 3)),
                                          np.random.default_rng(2).uniform(0.5, 2, (4, 3)))),
    (lambda x, w: nn.logmeanexp(x * w, axis=0), (np.random.default_rng(1).standard_normal((4, 3)),
                                                  np.random.default_rng(2).uniform(0.5, 2, (4, 3)))),
])
def test_check_grads_of_the_reductions(f, args):
    check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_masked_entries_get_zero_derivatives():
    x = np.array([[0.3, -1.0, 2.0], [1.0, 1.0, 1.0]])
    where = np.array([[True, False, True], [False, False, False]])
    for f in (lambda t: fnp.sum(nn.softmax(t, where=where) * np.arange(3.0)),
              lambda t: fnp.sum(fnp.where(where, nn.log_softmax(t, where=where), 0.0)),
              lambda t: fnp.sum(nn.logsumexp(t[:1], axis=1, where=where[:1]))):
        g = host(ft.grad(f)(x))
        assert np.all(g[~where] == 0) and np.all(np.isfinite(g))
