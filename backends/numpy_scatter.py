"""NumPy implementations of the scatter family (``functrace/ops/scatter.py``)."""

from __future__ import annotations

import numpy as np

from functrace.backends.numpy_util import quiet
from functrace.ops import scatter as SC


def _scatter_view(x, idx, upd, axis):
    """A fresh copy of x seen with the indexed axis first, the flat indices, and the updates
    arranged to match (one row per index)."""
    out = np.array(x, copy=True)
    flat = np.asarray(idx).reshape(-1)
    moved = np.moveaxis(out, axis, 0)
    k = flat.shape[0]
    u = np.asarray(upd).reshape(x.shape[:axis] + (k,) + x.shape[axis + 1:])
    return out, moved, flat, np.moveaxis(u, axis, 0)


def _scatter(x, idx, upd, *, axis):
    """Write the updates; of repeated indices only the last one is written (so the choice is
    the same as the transpose rule's, on every backend)."""
    out, moved, flat, u = _scatter_view(x, idx, upd, axis)
    k = flat.shape[0]
    _, first_from_end = np.unique(flat[::-1], return_index=True)
    if first_from_end.shape[0] == k:  # no repeats
        moved[flat] = u
    else:
        keep = k - 1 - first_from_end  # the last occurrence of each index
        moved[flat[keep]] = u[keep]
    return out


def _scatter_ufunc(ufunc):
    def impl(x, idx, upd, *, axis, **_):
        out, moved, flat, u = _scatter_view(x, idx, upd, axis)
        ufunc.at(moved, flat, u)
        return out

    return impl


IMPLS = {SC.scatter_p: _scatter, SC.scatter_mul_p: quiet(_scatter_ufunc(np.multiply)),
         SC.scatter_min_p: _scatter_ufunc(np.minimum), SC.scatter_max_p: _scatter_ufunc(np.maximum)}
