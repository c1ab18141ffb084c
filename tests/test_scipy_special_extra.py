"""The special functions of issue 17's second round: ``betainc`` (values against SciPy with its
edges, derivative in x), the derivative of ``gammainc``/``gammaincc`` in the shape ``a`` (once,
as JAX, through the ``igamma_grad_a`` primitive) and of ``zeta`` in ``x`` (JAX's
Euler-Maclaurin expansion). Reference derivatives are literal numbers from JAX 0.10.2
(float64; jax is not a test dependency). Both backends."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
from functrace import lax
from functrace.scipy import special as fs
from functrace.test_util import check_grads

sc = pytest.importorskip("scipy.special")

# jax.vmap(jax.grad(jax.scipy.special.gammainc, 0))(A, X), jax 0.10.2
A = np.array([0.5, 2.0, 2.0, 10.0, 10.0, 0.1, 50.0, 3.0])
X = np.array([0.1, 0.4, 5.0, 3.0, 12.0, 20.0, 45.0, 1.5])
GAMMAINC_DA = [-0.8229360969795988, -0.11604776014773094, -0.05585989605253675, -0.001415636460575206,
               -0.09717797203717927, -1.8869851303406324e-10, -0.045543292140124085, -0.18363042561309537]
# jax.grad(jax.scipy.special.zeta, 0) and its second derivatives, at (S, Q), jax 0.10.2
S = np.array([1.5, 2.0, 3.0, 4.5, 7.0])
Q = np.array([0.5, 1.0, 2.0, 3.5, 1.2])
ZETA_DX = [-2.068209378232991, -0.9375482543158438, -0.19812624288563682, -0.008092542900508318,
           -0.05446924164724961]
ZETA_DXDX = [17.367324145816404, 1.9892802342989009, 0.23974691730538722, 0.01189647864396769, 0.01229597837415304]
ZETA_DXDQ = [-11.43144097317088, -0.8058044173883205, 0.12441056397723795, 0.00731068279995806, 0.07325354565710976]


def _grad_each(f, argnum, *args):
    return host(ft.vmap(ft.grad(f, argnums=argnum))(*args))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gammainc_derivative_in_a_matches_jax(dtype):
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    a, x = A.astype(dtype), X.astype(dtype)
    np.testing.assert_allclose(_grad_each(fs.gammainc, 0, a, x), GAMMAINC_DA, rtol=rtol)
    np.testing.assert_allclose(_grad_each(fs.gammaincc, 0, a, x), -np.array(GAMMAINC_DA), rtol=rtol)


def test_igamma_grad_a_values_and_no_second_derivative():
    assert_close(lax.igamma_grad_a(A, X), np.array(GAMMAINC_DA), rtol=1e-12, atol=0)
    # edges: 0 at x = 0 and x = inf (P is constant in a there), nan outside the domain
    edge = host(lax.igamma_grad_a(np.array([2.0, 2.0, -1.0, 2.0, np.nan]), np.array([0.0, np.inf, 1.0, -1.0, 1.0])))
    np.testing.assert_array_equal(edge, [0.0, 0.0, np.nan, np.nan, np.nan])
    # shapes too large for the iterations to converge give nan, not a rough value
    assert np.isnan(host(lax.igamma_grad_a(np.array([1e6]), np.array([1e6])))).all()
    with pytest.raises(ft.errors.MissingRuleError, match="gammainc"):
        ft.grad(ft.grad(fs.gammainc))(2.0, 1.5)
    with pytest.raises(ft.errors.MissingRuleError, match="mixed"):
        ft.grad(ft.grad(fs.gammainc), argnums=1)(2.0, 1.5)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_zeta_derivatives_in_x_match_jax(dtype):
    rtol = 1e-11 if dtype == np.float64 else 1e-4
    s, q = S.astype(dtype), Q.astype(dtype)
    np.testing.assert_allclose(_grad_each(fs.zeta, 0, s, q), ZETA_DX, rtol=rtol)
    np.testing.assert_allclose(_grad_each(ft.grad(fs.zeta, 0), 0, s, q), ZETA_DXDX, rtol=rtol * 10)
    np.testing.assert_allclose(_grad_each(ft.grad(fs.zeta, 0), 1, s, q), ZETA_DXDQ, rtol=rtol * 10)


def test_zeta_derivatives_check_grads():
    check_grads(fs.zeta, (S, Q), order=2, modes=("fwd", "rev"))


BETAINC_VALUES = [
    ("interior", np.array([0.5, 2.0, 5.0, 1.0, 0.1, 30.0]), np.array([0.5, 3.0, 1.5, 1.0, 0.2, 20.0]),
     np.array([0.2, 0.5, 0.9, 0.3, 0.99, 0.6])),
    ("edges", np.array([2.0, 2.0, 0.0, 2.0, 0.0, 2.0, -1.0, 2.0, 1.0]),
     np.array([3.0, 3.0, 2.0, 0.0, 0.0, 3.0, 2.0, np.nan, 1.0]),
     np.array([0.0, 1.0, 0.5, 0.5, 0.5, 1.5, 0.5, 0.5, -0.1])),
    ("large", np.array([200.0, 1e3, 0.01]), np.array([300.0, 5.0, 0.01]), np.array([0.4, 0.995, 0.5])),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,a,b,x", BETAINC_VALUES, ids=[c[0] for c in BETAINC_VALUES])
def test_betainc_matches_scipy(name, a, b, x, dtype):
    tol = 1e-12 if dtype == np.float64 else 1e-5
    want = sc.betainc(a, b, x).astype(dtype)
    assert_close(fs.betainc(a.astype(dtype), b.astype(dtype), x.astype(dtype)), want, rtol=tol, atol=tol)


def test_betainc_derivative_in_x_and_refusal_in_a_b():
    a, b, x = np.array([0.5, 2.0, 5.0, 1.0]), np.array([0.5, 3.0, 1.5, 1.0]), np.array([0.2, 0.5, 0.9, 0.3])
    # jax.vmap(jax.grad(jax.scipy.special.betainc, 2)), jax 0.10.2
    np.testing.assert_allclose(_grad_each(fs.betainc, 2, a, b, x), [0.79577472, 1.5, 2.80823412, 1.0], rtol=1e-8)
    check_grads(lambda x: fs.betainc(a, b, x), (x,), order=2, modes=("fwd", "rev"))
    for argnum in (0, 1):
        with pytest.raises(ft.errors.MissingRuleError, match="betainc"):
            ft.grad(fs.betainc, argnums=argnum)(2.0, 3.0, 0.4)


def test_scipy_betainc_on_a_traced_value_reaches_functrace():
    f = ft.jit(lambda x: sc.betainc(2.0, 3.0, x))
    np.testing.assert_allclose(host(f(np.array([0.3, 0.7]))), sc.betainc(2.0, 3.0, [0.3, 0.7]), rtol=1e-12)
    np.testing.assert_allclose(host(ft.grad(lambda x: sc.betainc(2.0, 3.0, x))(0.3)), 12 * 0.3 * 0.7**2, rtol=1e-12)


def test_jit_and_vmap():
    f = ft.jit(lambda a, x: ft.grad(fs.gammainc)(a, x))
    np.testing.assert_allclose(host(ft.vmap(f)(A, X)), GAMMAINC_DA, rtol=1e-12)
    g = ft.jit(ft.vmap(lambda a, b, x: fs.betainc(a, b, x)))
    np.testing.assert_allclose(host(g(*BETAINC_VALUES[0][1:])), sc.betainc(*BETAINC_VALUES[0][1:]), rtol=1e-12)
