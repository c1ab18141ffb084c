"""NumPy implementations of the dynamic-slicing family (``functrace/ops/dynamic_slicing.py``)."""

from __future__ import annotations

import numpy as np

from functrace.ops import dynamic_slicing as DS


def _block(shape, starts, sizes) -> tuple:
    """The slices of the block: each start wrapped once if negative, then clamped inside."""
    out = []
    for n, s, k in zip(shape, starts, sizes, strict=True):
        s = int(s)
        s = s + n if s < 0 else s
        s = min(max(s, 0), n - k)
        out.append(slice(s, s + k))
    return tuple(out)


def _dynamic_update_slice(x, upd, *starts):
    out = np.array(x, copy=True)
    out[_block(x.shape, starts, upd.shape)] = upd
    return out


IMPLS = {
    DS.dynamic_slice_p: lambda x, *starts, slice_sizes: x[_block(x.shape, starts, slice_sizes)],
    DS.dynamic_update_slice_p: _dynamic_update_slice,
}
