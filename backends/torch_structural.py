"""torch implementations of the structural family (``functrace/ops/structural.py``): shapes,
slices, padding, gather and scatter-add, iota."""

from __future__ import annotations

from functools import partial
from typing import Any

import torch

from functrace import ops as P
from functrace.backends.torch_backend import torch_dtype


def _broadcast_in_dim(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return x.reshape(expanded).expand(shape)


def _slice(x, *, start_indices, limit_indices, strides):
    return x[tuple(slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides, strict=True))]


def _pad(x, padval, *, padding_config):
    """Pad with (low, high, interior) per axis; negative low/high crop, as in lax.pad.

    torch.nn.functional.pad knows no interior padding, so: fill a fresh array with the padding
    value (on the device, without reading it on the host), write x at a stride of
    ``interior + 1``, then crop the negative edges.
    """
    lows = [max(lo, 0) for lo, _, _ in padding_config]
    shape = [lo + max(hi, 0) + d + max(0, d - 1) * i
             for lo, (_, hi, i), d in zip(lows, padding_config, x.shape, strict=True)]
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    out.fill_(padval)
    out[tuple(slice(lo, lo + (d - 1) * (i + 1) + 1 if d else lo, i + 1)
              for lo, d, (_, _, i) in zip(lows, x.shape, padding_config, strict=True))] = x
    crop = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi, _), n in zip(padding_config, shape, strict=True))
    return out[crop]


def _index_vector(idx, n: int):
    """Indices as a flat int64 vector with negative ones wrapped (as numpy.take does)."""
    flat = idx.reshape(-1)
    if flat.dtype != torch.int64:
        flat = flat.to(torch.int64)
    return torch.where(flat < 0, flat + n, flat)


def _gather(x, idx, *, axis):
    """numpy.take(x, idx, axis): index_select on the flattened indices, then restore idx's shape."""
    out = torch.index_select(x, axis, _index_vector(idx, x.shape[axis]))
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def _scatter_add(x, idx, upd, *, axis):
    """A copy of x with upd added at idx along axis; repeated indices accumulate (index_add_)."""
    flat = _index_vector(idx, x.shape[axis])
    upd = upd.reshape(x.shape[:axis] + (flat.shape[0],) + x.shape[axis + 1:])
    out = x.clone(memory_format=torch.contiguous_format)
    if x.dtype == torch.bool:  # np.add.at on bools is a logical or
        acc = torch.zeros(out.shape, dtype=torch.int64, device=out.device)
        acc.index_add_(axis, flat, upd.to(torch.int64))
        return out | (acc != 0)
    return out.index_add_(axis, flat, upd)


def _iota(*, dtype, shape, dimension, device):
    """0, 1, ... along ``dimension``, broadcast to ``shape``; bools go through int64
    (torch.arange has no bool kernel)."""
    tdt = torch_dtype(dtype)
    if tdt == torch.bool:
        r = torch.arange(shape[dimension], device=device).to(torch.bool)
    else:
        r = torch.arange(shape[dimension], dtype=tdt, device=device)
    return r.reshape([-1 if i == dimension else 1 for i in range(len(shape))]).expand(shape)


def impls(device: Any) -> dict:
    return {
        P.broadcast_in_dim_p: _broadcast_in_dim,
        P.reshape_p: lambda x, *, new_sizes: torch.reshape(x, new_sizes),
        P.transpose_p: lambda x, *, permutation: torch.permute(x, permutation),
        P.slice_p: _slice,
        P.rev_p: lambda x, *, dimensions: torch.flip(x, dimensions),
        P.pad_p: _pad,
        P.concatenate_p: lambda *xs, dimension: torch.cat(xs, dim=dimension),
        P.gather_p: _gather,
        P.scatter_add_p: _scatter_add,
        P.iota_p: partial(_iota, device=device),
    }
