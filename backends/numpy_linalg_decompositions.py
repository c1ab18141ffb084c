"""NumPy implementations of the newer ``linalg_decompositions`` primitives (``lu``, ``sqrtm``,
``eig``), beside the older ones in numpy_backend.py. ``lu`` and ``eig`` are pure NumPy;
``sqrtm`` is SciPy's (imported on first use; without SciPy it raises ``BackendError``)."""

from __future__ import annotations

import warnings

import numpy as np

from functrace.errors import BackendError
from functrace.ops import linalg_decompositions as LD


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


IMPLS = {LD.lu_p: _lu}


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


def _eig(a: np.ndarray) -> list:
    """LAPACK's geev; each eigenvector then turned so its largest entry (the first of ties) is
    real and positive, a phase both backends fix alike (LAPACK leaves the sign free)."""
    dt = np.complex64 if a.dtype in (np.float32, np.complex64) else np.complex128
    w, v = np.linalg.eig(a)
    v = v.astype(dt)
    if v.shape[-1]:
        big = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
        v = v * (np.conj(big) / np.where(big == 0, 1, np.abs(big)))
    return [w.astype(dt), v.astype(dt)]


IMPLS.update({LD.sqrtm_p: _sqrtm, LD.eig_p: _eig})
