"""Batching (vmap) rules of the structural primitives (``functrace.ops.structural``, which
imports this module once its primitives are declared)."""

from __future__ import annotations

from typing import Any

from functrace import lax
from functrace.ops.structural import (
    broadcast_in_dim_p,
    concatenate_p,
    gather_p,
    iota_p,
    pad_p,
    reshape_p,
    rev_p,
    scatter_add_p,
    slice_p,
    transpose_p,
)
from functrace.rules import (
    axis_size,
    batch_axis,
    bdim_at_front,
    def_batch_rule,
    moveaxis,
    scalar,
)
from functrace.tracing import bind, get_aval


def _broadcast_in_dim_batch(args, dims, *, shape, broadcast_dimensions):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    size = get_aval(x).shape[0]
    return lax.broadcast_in_dim(x, (size,) + tuple(shape), (0,) + tuple(b + 1 for b in broadcast_dimensions)), 0


def_batch_rule(broadcast_in_dim_p, _broadcast_in_dim_batch)


def _reshape_batch(args, dims, *, new_sizes):
    (x,), (d,) = args, dims
    x = moveaxis(x, d, 0)
    return lax.reshape(x, (get_aval(x).shape[0],) + tuple(new_sizes)), 0


def_batch_rule(reshape_p, _reshape_batch)


def _transpose_batch(args, dims, *, permutation):
    (x,), (d,) = args, dims
    return lax.transpose(x, (d,) + tuple(batch_axis(p, d) for p in permutation)), 0


def_batch_rule(transpose_p, _transpose_batch)


def _slice_batch(args, dims, *, start_indices, limit_indices, strides):
    (x,), (d,) = args, dims
    size = get_aval(x).shape[d]

    def ins(t, v):
        t = list(t)
        t.insert(d, v)
        return tuple(t)

    return lax.slice(x, ins(start_indices, 0), ins(limit_indices, size), ins(strides, 1)), d


def_batch_rule(slice_p, _slice_batch)


def _rev_batch(args, dims, *, dimensions):
    (x,), (d,) = args, dims
    return lax.rev(x, tuple(batch_axis(a, d) for a in dimensions)), d


def_batch_rule(rev_p, _rev_batch)


def _pad_batch(args, dims, *, padding_config):
    (x, pv), (dx, dp) = args, dims
    if dp is None:
        cfg = list(padding_config)
        cfg.insert(dx, (0, 0, 0))
        return lax.pad(x, pv, cfg), dx
    # A per-example padding value: pad with zeros, then select the padding value where no data is.
    size = axis_size(args, dims)
    x = bdim_at_front(x, dx, size)
    xa = get_aval(x)
    cfg = [(0, 0, 0)] + list(padding_config)
    zero = scalar(0, xa.dtype)
    padded = lax.pad(x, zero, cfg)
    is_data = lax.ne(lax.pad(lax.full(xa.shape, 1, xa.dtype), zero, cfg), zero)
    pad_vals = lax.broadcast_in_dim(moveaxis(pv, dp, 0), get_aval(padded).shape, (0,))
    return lax.select(is_data, padded, pad_vals), 0


def_batch_rule(pad_p, _pad_batch)


def _concatenate_batch(args, dims, *, dimension):
    size = axis_size(args, dims)
    return lax.concatenate([bdim_at_front(x, d, size) for x, d in zip(args, dims, strict=True)], dimension + 1), 0


def_batch_rule(concatenate_p, _concatenate_batch)


def _flat_index(idx: Any, di: int, n: int) -> Any:
    """Per-example indices into an axis of length ``n`` as indices into the flattened (batch * n)
    axis: negative ones wrapped, then example b offset by b * n. Batch axis first."""
    idx = moveaxis(idx, di, 0)
    a = get_aval(idx)
    idx = lax.select(lax.lt(idx, scalar(0, a.dtype)), lax.add(idx, scalar(n, a.dtype)), idx)
    return lax.add(idx, lax.mul(lax.iota(a.dtype, a.shape, 0), scalar(n, a.dtype)))


def _gather_batch(args, dims, *, axis):
    (x, idx), (dx, di) = args, dims
    if di is None:
        return lax.gather(moveaxis(x, dx, 0), idx, axis + 1), 0
    if dx is None:
        return lax.gather(x, idx, axis), axis + di
    # Both batched: gather from the (batch * n)-long flattening of the indexed axis.
    x = moveaxis(moveaxis(x, dx, 0), axis + 1, 1)  # (B, N) + pre + post
    xa = get_aval(x)
    size, n = xa.shape[0], xa.shape[1]
    flat = lax.reshape(x, (size * n,) + xa.shape[2:])
    fidx = _flat_index(idx, di, n)
    g = lax.gather(flat, fidx, 0)  # (B,) + I + pre + post
    ni, npre = get_aval(fidx).ndim - 1, axis
    perm = ((0,) + tuple(range(1 + ni, 1 + ni + npre)) + tuple(range(1, 1 + ni))
            + tuple(range(1 + ni + npre, get_aval(g).ndim)))
    return lax.transpose(g, perm), 0


def_batch_rule(gather_p, _gather_batch)


def _scatter_add_batch(args, dims, *, axis):
    (x, idx, upd), (dx, di, du) = args, dims
    size = axis_size(args, dims)
    x = bdim_at_front(x, dx, size)
    upd = bdim_at_front(upd, du, size)
    if di is None:
        return lax.scatter_add(x, idx, upd, axis + 1), 0
    # Batched indices: scatter into the (batch * n)-long flattening of the indexed axis.
    x = moveaxis(x, axis + 1, 1)  # (B, N) + pre + post
    xa = get_aval(x)
    n = xa.shape[1]
    flat = lax.reshape(x, (size * n,) + xa.shape[2:])
    fidx = _flat_index(idx, di, n)
    ni, npre = get_aval(fidx).ndim - 1, axis
    nd = get_aval(upd).ndim  # (B,) + pre + I + post  ->  (B,) + I + pre + post
    perm = (0,) + tuple(range(1 + npre, 1 + npre + ni)) + tuple(range(1, 1 + npre)) + tuple(range(1 + npre + ni, nd))
    out = lax.scatter_add(flat, fidx, lax.transpose(upd, perm), 0)
    return moveaxis(lax.reshape(out, xa.shape), 1, axis + 1), 0


def_batch_rule(scatter_add_p, _scatter_add_batch)


def _iota_batch(args, dims, **params):
    # iota has no operands, so it is never batched; the interpreter binds it directly.
    return bind(iota_p, **params), None


def_batch_rule(iota_p, _iota_batch)
