"""NumPy implementations of the decompositions family (``functrace/ops/linalg_decompositions.py``)."""

from __future__ import annotations

import warnings

import numpy as np

from functrace.errors import BackendError
from functrace.ops import linalg_decompositions as LD


def _np_cholesky(a):
    """Lower factors; nan for matrices that are not positive definite (as JAX), not an error."""
    try:
        return np.linalg.cholesky(a)
    except np.linalg.LinAlgError:
        flat = a.reshape((-1,) + a.shape[-2:])
        out = np.empty_like(flat)
        for i, m in enumerate(flat):
            try:
                out[i] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                out[i] = np.nan
        return out.reshape(a.shape)


def _np_triangular_solve(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    """SciPy's solve_triangular where SciPy is installed, else a general solve of the triangle."""
    n = a.shape[-1]
    tri = np.tril(a) if lower else np.triu(a)
    if unit_diagonal:
        tri = tri - tri * np.eye(n, dtype=a.dtype) + np.eye(n, dtype=a.dtype)
    if not left_side:  # x op(a) = b  <=>  op(a)^T x^T = b^T
        return np.swapaxes(_np_triangular_solve(tri, np.swapaxes(b, -1, -2), left_side=True, lower=lower,
                                                transpose_a=not transpose_a, unit_diagonal=False), -1, -2)
    try:
        from scipy.linalg import solve_triangular
    except ImportError:
        solve_triangular = None
    with np.errstate(all="ignore"):
        if solve_triangular is None or a.ndim > 2 or n == 0:
            op = np.swapaxes(tri, -1, -2) if transpose_a else tri
            return np.linalg.solve(op, b).astype(b.dtype)
        return solve_triangular(tri, b, trans=1 if transpose_a else 0, lower=lower,
                                check_finite=False).astype(b.dtype)


def _np_solve(a, b):
    """nan for singular matrices (JAX returns non-finite values there), rather than an error."""
    try:
        return np.linalg.solve(a, b).astype(b.dtype)
    except np.linalg.LinAlgError:
        fa, fb = a.reshape((-1,) + a.shape[-2:]), b.reshape((-1,) + b.shape[-2:])
        out = np.full(fb.shape, np.nan, b.dtype)
        for i in range(fa.shape[0]):
            try:
                out[i] = np.linalg.solve(fa[i], fb[i])
            except np.linalg.LinAlgError:
                pass
        return out.reshape(b.shape)


def _np_slogdet(a):
    sign, logabsdet = np.linalg.slogdet(a)
    return [np.asarray(sign, a.dtype), np.asarray(logabsdet, a.dtype)]


def _column_signs(v):
    """+1/-1 per column: the sign of the column's entry of largest magnitude (the first of ties).
    Eigen- and singular vectors are defined up to sign; flipping by this rule makes the NumPy
    and torch backends agree (and is locally constant, so derivatives are unaffected)."""
    if v.shape[-2] == 0:
        return np.ones(v.shape[:-2] + v.shape[-1:], v.dtype)
    idx = np.argmax(np.abs(v), axis=-2)[..., None, :]
    return np.where(np.take_along_axis(v, idx, axis=-2)[..., 0, :] < 0, -1, 1).astype(v.dtype)


def _np_eigh(a, *, lower):
    w, v = np.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v * _column_signs(v)[..., None, :], w]


def _np_svd(a, *, full_matrices):
    u, s, vh = np.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    su = _column_signs(u)
    sv = np.concatenate([su[..., :k], _column_signs(np.swapaxes(vh[..., k:, :], -1, -2))], axis=-1)
    return [s, u * su[..., None, :], vh * sv[..., :, None]]


IMPLS = {
    LD.cholesky_p: _np_cholesky, LD.triangular_solve_p: _np_triangular_solve, LD.solve_p: _np_solve,
    LD.det_p: lambda a: np.asarray(np.linalg.det(a), a.dtype), LD.slogdet_p: _np_slogdet,
    LD.qr_p: lambda a, *, full_matrices: list(np.linalg.qr(a, mode="complete" if full_matrices else "reduced")),
    LD.eigh_p: _np_eigh, LD.svd_p: _np_svd,
}


def _lu(a: np.ndarray) -> list:
    """LU with partial pivoting, as LAPACK's getrf: at step j the row of largest magnitude in
    column j (the first of ties) is swapped up; a zero pivot leaves its column undivided.
    Vectorised over the batch, one step per column."""
    m, n = a.shape[-2:]
    k = min(m, n)
    lead = a.shape[:-2]
    lu = np.array(a, copy=True).reshape((-1, m, n))
    batch = np.arange(lu.shape[0])
    perm = np.tile(np.arange(m, dtype=np.int32), (lu.shape[0], 1))
    pivots = np.zeros((lu.shape[0], k), np.int32)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1)
            pivots[:, j] = p
            lu[batch, j], lu[batch, p] = lu[batch, p].copy(), lu[batch, j].copy()
            perm[batch, j], perm[batch, p] = perm[batch, p].copy(), perm[batch, j].copy()
            pivot = lu[:, j, j][:, None]
            col = lu[:, j + 1:, j]
            lu[:, j + 1:, j] = np.where(pivot != 0, col / np.where(pivot != 0, pivot, 1), col)
            lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j:j + 1] * lu[:, j:j + 1, j + 1:]
    return [lu.reshape(a.shape), pivots.reshape(lead + (k,)), perm.reshape(lead + (m,))]


IMPLS.update({LD.lu_p: _lu})


def _sqrtm(a: np.ndarray) -> np.ndarray:
    """SciPy's Schur-based principal square root, matrix by matrix, always complex (as JAX)."""
    try:
        from scipy.linalg import sqrtm
    except ImportError:
        raise BackendError("the NumPy backend computes sqrtm with SciPy, which is not installed: pip install scipy, "
                           "or use the torch backend") from None
    dt = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
    flat = a.reshape((-1,) + a.shape[-2:])
    out = np.empty(flat.shape, dt)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy warns of singular matrices; their nan/inf result says it
        for i, m in enumerate(flat):
            out[i] = sqrtm(m.astype(np.complex128 if np.iscomplexobj(m) else np.float64))
    return out.reshape(a.shape)


def _eig(a: np.ndarray, *, vectors: bool) -> list:
    """LAPACK's geev; each eigenvector then turned so its largest entry (the first of ties) is
    real and positive, a phase both backends fix alike (LAPACK leaves the sign free)."""
    dt = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
    if not vectors:
        return [np.linalg.eigvals(a).astype(dt)]
    w, v = np.linalg.eig(a)
    v = v.astype(dt)
    if v.shape[-1]:
        big = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
        v = v * (np.conj(big) / np.where(big == 0, 1, np.abs(big)))
    return [w.astype(dt), v.astype(dt)]


IMPLS.update({LD.sqrtm_p: _sqrtm, LD.eig_p: _eig})
