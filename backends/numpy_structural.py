"""NumPy implementations of the structural family (``functrace/ops/structural.py``): shapes,
slices, padding, gather and scatter-add, iota."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from functrace import ops as P
from functrace.ir import Literal


def _broadcast_in_dim(x, *, shape, broadcast_dimensions):
    if x.size == math.prod(shape) and list(broadcast_dimensions) == sorted(broadcast_dimensions):
        return x.reshape(shape)  # only axes of length 1 are added: a view, and much cheaper
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = np.shape(x)[i]
    return np.broadcast_to(np.reshape(x, expanded), shape)


def _slice(x, *, start_indices, limit_indices, strides):
    return x[_slices(start_indices, limit_indices, strides)]


@functools.lru_cache(maxsize=1024)
def _slices(start_indices: tuple, limit_indices: tuple, strides: tuple) -> tuple:
    return tuple(slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides, strict=True))


def _pad(x, padval, *, padding_config):
    return _padded(x, padding_config, padval)


def _pad_with_zeros(x, padval, *, padding_config):
    """``_pad`` for a padding value known to be 0 when lowered (the transpose of a slice):
    np.zeros is twice as fast as np.full."""
    return _padded(x, padding_config, None)


def _padded(x, padding_config, padval):
    """``x`` placed in a new array filled with ``padval`` (zeros for None)."""
    x = np.asarray(x)
    shape, place, crop = _pad_layout(x.shape, padding_config)
    out = np.zeros(shape, dtype=x.dtype) if padval is None else np.full(shape, padval, dtype=x.dtype)
    out[place] = x
    return out if crop is None else out[crop]


@functools.lru_cache(maxsize=1024)
def _pad_layout(in_shape: tuple, padding_config: tuple) -> tuple:
    """(padded shape, where the input goes, crop or None) for one shape and config (cached:
    jitted code pads the same shapes on every call)."""
    lows = [max(lo, 0) for lo, _, _ in padding_config]
    highs = [max(hi, 0) for _, hi, _ in padding_config]
    shape = tuple(lo + hi + d + max(0, d - 1) * i for (lo, hi), d, (_, _, i)
                  in zip(zip(lows, highs, strict=True), in_shape, padding_config, strict=True))
    place = tuple(slice(lo, lo + (d - 1) * (i + 1) + 1 if d else lo, i + 1)
                  for lo, d, (_, _, i) in zip(lows, in_shape, padding_config, strict=True))
    # Negative low/high padding crops.
    if all(lo >= 0 and hi >= 0 for lo, hi, _ in padding_config):
        return shape, place, None
    crop = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi, _), n in zip(padding_config, shape, strict=True))
    return shape, place, crop


def _scatter_add(x, idx, upd, *, axis):
    out = np.array(x, copy=True)
    np.add.at(out, (slice(None),) * axis + (idx,), upd)
    return out



def _iota(*, dtype, shape, dimension):
    r = np.arange(shape[dimension], dtype=dtype)
    return np.broadcast_to(r.reshape([-1 if i == dimension else 1 for i in range(len(shape))]), shape)


IMPLS = {
    P.broadcast_in_dim_p: _broadcast_in_dim,
    P.reshape_p: lambda x, *, new_sizes: x.reshape(new_sizes),  # the methods skip NumPy's dispatch
    P.transpose_p: lambda x, *, permutation: x.transpose(permutation),
    P.slice_p: _slice,
    P.rev_p: lambda x, *, dimensions: np.flip(x, dimensions),
    P.pad_p: _pad,
    P.concatenate_p: lambda *xs, dimension: np.concatenate(xs, axis=dimension),
    P.gather_p: lambda x, idx, *, axis: np.take(x, idx, axis=axis),
    P.scatter_add_p: _scatter_add,
    P.iota_p: _iota,
}


def _specialize_pad(eqn: Any) -> Any:
    padval = eqn.invars[1]
    zero = (isinstance(padval, Literal) and padval.aval.dtype.kind in "biuf" and padval.val == 0
            and not np.signbit(padval.val))  # -0.0 pads with -0.0
    return _pad_with_zeros if zero else None


# Implementations chosen when a program is lowered, for an equation's params.
SPECIALIZE = {P.pad_p: _specialize_pad}
