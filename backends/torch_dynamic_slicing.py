"""torch implementations of the dynamic-slicing family (``functrace/ops/dynamic_slicing.py``)."""

from __future__ import annotations

from typing import Any

import torch

from functrace.ops import dynamic_slicing as DS


def _block(x, starts, sizes) -> list:
    """Index vectors of the block along each axis, computed on the device (no host read): each
    start wrapped once if negative, then clamped so the block fits."""
    out = []
    for n, s, k in zip(x.shape, starts, sizes, strict=True):
        s = s.to(torch.int64)
        s = torch.clamp(torch.where(s < 0, s + n, s), 0, n - k)
        out.append(s + torch.arange(k, device=x.device))
    return out


def _dynamic_slice(x, *starts, slice_sizes):
    for axis, idx in enumerate(_block(x, starts, slice_sizes)):
        x = torch.index_select(x, axis, idx)
    return x


def _dynamic_update_slice(x, upd, *starts):
    out = x.clone(memory_format=torch.contiguous_format)
    idx = _block(x, starts, upd.shape)
    nd = x.ndim
    out.index_put_(tuple(v.reshape([-1 if j == i else 1 for j in range(nd)]) for i, v in enumerate(idx)), upd)
    return out


def impls(device: Any) -> dict:
    return {DS.dynamic_slice_p: _dynamic_slice, DS.dynamic_update_slice_p: _dynamic_update_slice}
