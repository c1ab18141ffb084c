"""Derivative-table rows (see test_grad_primitives.py) for the linalg_decompositions family:
each row binds its primitive and passes check_grads to order 2 in both modes. Inputs are
well conditioned, symmetric positive definite where the function needs it, and have distinct
eigen/singular values (where eigenvectors and singular vectors are differentiable). Values,
batching and the numpy.linalg functions built on these primitives are in test_linalg.py."""

from __future__ import annotations

import numpy as np
from grad_cases import Case, real

from functrace import lax
from functrace.ops import linalg_decompositions as LD


def spd(shape):
    """Symmetric positive definite matrices with well-separated eigenvalues."""
    def make(rng, dt):
        n = shape[-1]
        q, _ = np.linalg.qr(rng.standard_normal(shape))
        w = np.arange(1, n + 1) * 1.5 + rng.uniform(0, 0.3, shape[:-1])
        return (q * w[..., None, :] @ np.swapaxes(q, -1, -2)).astype(dt)
    return make


def conditioned(shape):
    """Square matrices near 3·I (well away from singular)."""
    return lambda rng, dt: (rng.standard_normal(shape) * 0.4 + 3 * np.eye(shape[-1])).astype(dt)


def spread(shape):
    """Matrices with distinct singular values (1, 2, 3, ...), in random orientations."""
    def make(rng, dt):
        m, n = shape[-2:]
        k = min(m, n)
        u, _ = np.linalg.qr(rng.standard_normal(shape[:-2] + (m, k)))
        v, _ = np.linalg.qr(rng.standard_normal(shape[:-2] + (n, k)))
        return (u * np.arange(1.0, k + 1) @ np.swapaxes(v, -1, -2)).astype(dt)
    return make


def separated(shape, complex_=False):
    """General (non-symmetric) matrices with well-separated eigenvalues near 1, 2.5, 4, ...:
    where eigenvalues are differentiable. Complex in the precision of the run if ``complex_``."""
    def make(rng, dt):
        n = shape[-1]
        a = np.diag(1.0 + 1.5 * np.arange(n)) + 0.3 * rng.standard_normal(shape)
        if complex_:
            a = a + 0.3j * rng.standard_normal(shape)
            return a.astype(np.complex64 if np.dtype(dt) == np.float32 else np.complex128)
        return a.astype(dt)
    return make


def complex_of(make):
    """``make``'s values plus an imaginary part of the same size, complex in the run's precision."""
    def cmake(rng, dt):
        a = make(rng, np.float64)
        a = a + 1j * make(rng, np.float64) * 0.5
        return a.astype(np.complex64 if np.dtype(dt) == np.float32 else np.complex128)
    return cmake


def _eigvals(a):
    return lax.linalg.eig(a, compute_right_eigenvectors=False)[0]


def _ts(**kw):
    return lambda a, b: lax.linalg.triangular_solve(a, b, **kw)


CASES = [
    Case("cholesky", LD.cholesky_p, lax.linalg.cholesky, (spd((4, 4)),)),
    Case("cholesky[batch]", LD.cholesky_p, lax.linalg.cholesky, (spd((2, 3, 3)),)),
    Case("triangular_solve[left,lower]", LD.triangular_solve_p, _ts(left_side=True, lower=True),
         (conditioned((4, 4)), real((4, 2)))),
    Case("triangular_solve[right,upper,T]", LD.triangular_solve_p, _ts(transpose_a=True),
         (conditioned((3, 3)), real((2, 3)))),
    Case("triangular_solve[unit,batch]", LD.triangular_solve_p, _ts(left_side=True, unit_diagonal=True),
         (conditioned((2, 3, 3)), real((2, 3, 1)))),
    Case("solve", LD.solve_p, lax.linalg.solve, (conditioned((4, 4)), real((4, 3)))),
    Case("solve[batch]", LD.solve_p, lax.linalg.solve, (conditioned((2, 3, 3)), real((2, 3, 2)))),
    Case("solve[complex]", LD.solve_p, lax.linalg.solve, (complex_of(conditioned((3, 3))), complex_of(real((3, 2))))),
    # As in JAX, eigenvalues have a first derivative only (their rule computes eigenvectors).
    Case("eig[values]", LD.eig_p, _eigvals, (separated((3, 3)),), order=1),
    Case("eig[values,complex,batch]", LD.eig_p, _eigvals, (separated((2, 3, 3), complex_=True),), order=1),
    Case("det", LD.det_p, lax.linalg.det, (conditioned((3, 3)),)),
    Case("det[batch]", LD.det_p, lax.linalg.det, (conditioned((2, 2, 2)),)),
    Case("slogdet", LD.slogdet_p, lambda a: lax.linalg.slogdet(a)[1], (real((4, 4)),)),
    Case("qr[tall]", LD.qr_p, lambda a: lax.linalg.qr(a, full_matrices=False), (real((5, 3)),)),
    Case("qr[square,batch]", LD.qr_p, lax.linalg.qr, (conditioned((2, 3, 3)),)),
    Case("eigh", LD.eigh_p, lax.linalg.eigh, (spd((4, 4)),)),
    Case("eigh[values,batch]", LD.eigh_p, lambda a: lax.linalg.eigh(a)[1], (spd((2, 3, 3)),)),
    Case("svd[square]", LD.svd_p, lax.linalg.svd, (spread((3, 3)),)),
    Case("svd[tall]", LD.svd_p, lambda a: lax.linalg.svd(a, full_matrices=False), (spread((5, 3)),)),
    Case("svd[wide,batch]", LD.svd_p, lambda a: lax.linalg.svd(a, full_matrices=False), (spread((2, 2, 4)),)),
    Case("svd[values]", LD.svd_p, lambda a: lax.linalg.svd(a, compute_uv=False), (spread((4, 3)),)),
    Case("lu[square]", LD.lu_p, lambda a: lax.linalg.lu(a)[0], (real((4, 4)),)),
    Case("lu[tall,batch]", LD.lu_p, lambda a: lax.linalg.lu(a)[0], (real((2, 5, 3)),)),
    Case("lu[wide]", LD.lu_p, lambda a: lax.linalg.lu(a)[0], (real((3, 5)),)),
]

# Forward-only, as in JAX: sqrtm's JVP rule raises (eig's, for eigenvectors, is tested there too).
ELSEWHERE = {LD.sqrtm_p: "test_scipy_linalg.py::test_sqrtm_and_eig_are_forward_only"}
