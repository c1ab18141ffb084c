"""torch implementations of the scatter family (``functrace/ops/scatter.py``)."""

from __future__ import annotations

import warnings
from typing import Any

import torch

from functrace.ops import scatter as SC


def _scatter_rows(x, idx, upd, axis):
    """A contiguous copy of x, the flat int64 indices, and the updates with one slice per index."""
    flat = idx.reshape(-1).to(torch.int64)
    u = upd.reshape(x.shape[:axis] + (flat.shape[0],) + x.shape[axis + 1:])
    return x.clone(memory_format=torch.contiguous_format), flat, u


def _scatter(x, idx, upd, *, axis):
    """Write the updates; of repeated indices the last one: every write to a position carries
    that position's last update (found with scatter_reduce), so the order of writes, which
    index_copy_ leaves to the device, cannot matter. No value is read on the host."""
    out, flat, u = _scatter_rows(x, idx, upd, axis)
    order = torch.arange(flat.shape[0], device=flat.device)
    last = torch.full((x.shape[axis],), -1, dtype=torch.int64, device=flat.device)
    last.scatter_reduce_(0, flat, order, reduce="amax")
    return out.index_copy_(axis, flat, torch.index_select(u, axis, last[flat]))


def _scatter_reduce(reduce: str):
    def impl(x, idx, upd, *, axis, **_):
        out, flat, u = _scatter_rows(x, idx, upd, axis)
        with warnings.catch_warnings():  # "index_reduce() is in beta": its results are tested here
            warnings.simplefilter("ignore", UserWarning)
            if x.dtype == torch.bool:  # and / or / and for prod / amin / amax
                return out.to(torch.uint8).index_reduce_(axis, flat, u.to(torch.uint8), reduce).to(torch.bool)
            return out.index_reduce_(axis, flat, u, reduce)

    return impl


def impls(device: Any) -> dict:
    return {SC.scatter_p: _scatter, SC.scatter_mul_p: _scatter_reduce("prod"),
            SC.scatter_min_p: _scatter_reduce("amin"), SC.scatter_max_p: _scatter_reduce("amax")}
