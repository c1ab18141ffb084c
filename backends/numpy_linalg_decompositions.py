"""NumPy implementations of the newer ``linalg_decompositions`` primitives (``lu``), beside the
older ones in numpy_backend.py. Pure NumPy: no SciPy needed."""

from __future__ import annotations

import numpy as np

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
