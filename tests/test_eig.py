"""General eigenvalues (``fnp.linalg.eig``, ``eigvals``, ``lax.linalg.eig``) and what is built on
them (``roots``, ``poly`` of a matrix), against JAX 0.10.2's numbers (recorded here with x64
enabled, so that JAX is not a test dependency): values, dtypes, JAX's eigenvalue derivative
(first order only) and its refusals."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import ConcretizationError, MissingRuleError

A = np.array([[2.0, 1, 5], [3, 4, 7], [1, 3, 5]])  # one real and two complex eigenvalues
JAX_EIGVALS = np.array([10.26562558 + 0.0j, 0.36718721 + 1.15167734j, 0.36718721 - 1.15167734j])
JAX_GRAD_SUM_SQUARES = np.array([[4.0, 6, 2], [2, 8, 6], [10, 14, 10]])  # d/dA of real(sum(eigvals(A) ** 2))
JAX_GRAD_SUM_ABS = np.array([[0.02595669, -0.44215932, 0.5385546], [0.98590745, 0.74518361, -0.17374761],
                             [-0.70710868, 0.7278828, 0.83638536]])  # d/dA of sum(abs(eigvals(A)))
JAX_GRAD_COMPLEX = np.array([[4 + 4j, 6 + 2j, 2 + 10j], [2 + 6j, 8 + 8j, 6 + 14j],
                             [10 + 2j, 14 + 6j, 10 + 10j]])  # the same at A + 1j A.T (JAX's convention)
JAX_ROOTS_GRAD = np.array([-30.0, -21, -9, -3])  # d/dp of real(sum(roots(p) ** 3)) at p = [1, -3, 2, 5]


def _sorted(w):
    return np.sort_complex(np.asarray(host(w)).ravel())


def test_eigvals_and_eig_match_jax():
    w = fnp.linalg.eigvals(A)
    assert host(w).dtype == np.complex128
    np.testing.assert_allclose(_sorted(w), np.sort_complex(JAX_EIGVALS), atol=1e-8)
    res = fnp.linalg.eig(A)
    assert res._fields == ("eigenvalues", "eigenvectors")  # JAX 0.10's EigResult
    w, v = (host(r) for r in res)
    np.testing.assert_allclose(A @ v, v * w, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(v, axis=0), 1.0)
    big = v[np.argmax(np.abs(v), axis=0), range(3)]
    np.testing.assert_allclose(big.imag, 0.0, atol=1e-15)  # the largest entry real, and positive here
    assert (big.real > 0).all()
    assert host(fnp.linalg.eigvals(A.astype(np.float32))).dtype == np.complex64
    c = A + 1j * A.T
    np.testing.assert_allclose(_sorted(fnp.linalg.eigvals(c)), np.sort_complex(np.linalg.eigvals(c)), atol=1e-12)


@pytest.mark.parametrize("transform", ["eager", "jit", "vmap"])
def test_eigenvalue_derivatives_match_jax(transform):
    def sum_squares(m):
        return fnp.real(fnp.sum(fnp.linalg.eigvals(m) ** 2))

    def sum_abs(m):
        return fnp.sum(fnp.abs(fnp.linalg.eigvals(m)))

    for f, want, at in ((sum_squares, JAX_GRAD_SUM_SQUARES, A), (sum_abs, JAX_GRAD_SUM_ABS, A),
                        (sum_squares, JAX_GRAD_COMPLEX, A + 1j * A.T)):
        g = ft.grad(f)
        if transform == "jit":
            got = ft.jit(g)(at)
        elif transform == "vmap":
            got = ft.vmap(g)(np.stack([at, at]))[1]
        else:
            got = g(at)
        assert_close(got, want, rtol=1e-7, atol=1e-7)


def test_eigenvalue_jvp_is_the_finite_difference():
    rng = np.random.default_rng(0)
    a, da = rng.standard_normal((4, 4)), rng.standard_normal((4, 4))
    w, dw = ft.jvp(fnp.linalg.eigvals, (a,), (da,))
    eps = 1e-6
    fd = (np.linalg.eigvals(a + eps * da) - np.linalg.eigvals(a - eps * da)) / (2 * eps)
    order = [int(np.argmin(np.abs(np.linalg.eigvals(a) - x))) for x in host(w)]  # pair them by value
    np.testing.assert_allclose(host(dw), fd[order], rtol=1e-6, atol=1e-6)


def test_eig_refuses_what_jax_refuses():
    with pytest.raises(MissingRuleError, match="not its eigenvectors") as err:
        ft.grad(lambda m: fnp.real(fnp.sum(fnp.linalg.eig(m).eigenvectors)))(A)
    assert "test_eig.py" in str(err.value)  # names the user's line
    with pytest.raises(MissingRuleError, match="only once"):  # a second derivative of eigenvalues
        ft.hessian(lambda m: fnp.real(fnp.sum(fnp.linalg.eigvals(m) ** 2)))(A)
    with pytest.raises(NotImplementedError, match="left eigenvectors"):
        lax.linalg.eig(A, compute_left_eigenvectors=True)


def test_roots_match_jax():
    # always complex (NumPy returns real roots as reals), leading zeros stripped, or kept as nan
    got = fnp.roots(np.array([1.0, -3, 2]))
    assert host(got).dtype == np.complex128
    np.testing.assert_allclose(_sorted(got), [1, 2], atol=1e-12)
    np.testing.assert_allclose(_sorted(fnp.roots(np.array([1.0, 0, 1]))), [-1j, 1j], atol=1e-12)
    assert host(fnp.roots(np.array([1.0, 2], np.float32))).dtype == np.complex64
    np.testing.assert_allclose(host(fnp.roots(np.array([0.0, 1, 2]))), [-2], atol=1e-12)
    keep = host(fnp.roots(np.array([0.0, 1, 2]), strip_zeros=False))
    np.testing.assert_allclose(keep[0], -2, atol=1e-12)
    assert np.isnan(keep[1].real) and np.isnan(keep[1].imag)
    jitted = host(ft.jit(lambda p: fnp.roots(p, strip_zeros=False))(np.array([0.0, 0, 1, -3, 2])))
    np.testing.assert_allclose(np.sort_complex(jitted[:2]), [1, 2], atol=1e-12)  # JAX: [1, 2, nan, nan]
    assert np.isnan(jitted[2:]).all()
    assert host(fnp.roots(np.zeros(3))).shape == (0,)
    assert np.isnan(host(fnp.roots(np.zeros(3), strip_zeros=False))).all()
    assert host(fnp.roots(np.array([5.0]))).shape == (0,)
    with pytest.raises(ConcretizationError, match="strip_zeros=False"):
        ft.jit(fnp.roots)(np.array([1.0, 2]))
    with pytest.raises(ValueError, match="rank-1"):
        fnp.roots(np.ones((2, 2)))
    grad = ft.grad(lambda p: fnp.real(fnp.sum(fnp.roots(p) ** 3)))(np.array([1.0, -3, 2, 5]))
    assert_close(grad, JAX_ROOTS_GRAD, rtol=1e-9, atol=1e-9)


def test_poly_of_a_matrix_is_its_characteristic_polynomial():
    got = fnp.poly(A)  # general, not symmetric: from eigvals, complex (as JAX)
    assert host(got).dtype == np.complex128
    np.testing.assert_allclose(host(got), [1, -11, 9, -15], atol=1e-12)
    np.testing.assert_allclose(host(fnp.poly(np.array([2, 1 + 2j, 1 - 2j]))), [1, -4, 9, -10], atol=1e-12)
    assert_close(fnp.poly(3.0), np.array([1.0, -3.0]))


def test_vector_signs_are_the_same_on_every_backend():
    """README ("Differences from JAX"): eigh's, svd's and eig's vectors are each turned so their
    largest entry is positive (real and positive for eig), whatever sign the LAPACK returned."""
    rng = np.random.default_rng(3)
    s = rng.standard_normal((4, 4))
    s = s + s.T
    vectors = [host(fnp.linalg.eigh(s).eigenvectors), host(fnp.linalg.eig(A).eigenvectors)]
    u, _, vh = (host(r) for r in fnp.linalg.svd(rng.standard_normal((4, 3)), full_matrices=False))
    vectors += [u, vh.T]
    for v in vectors:
        big = v[np.argmax(np.abs(v), axis=0), range(v.shape[1])]
        assert (big.real > 0).all() and np.allclose(big.imag, 0.0)
