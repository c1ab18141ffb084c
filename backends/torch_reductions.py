"""torch implementations of the reductions family (``functrace/ops/reductions.py``)."""

from __future__ import annotations

from typing import Any, Callable

import torch

from functrace import ops as P
from functrace.backends.torch_backend import torch_dtype


def _reduction(fn: Callable) -> Callable:
    """Wrap a torch reduction taking ``dim``: an empty axis list is the identity.

    torch reads ``dim=()`` as "every axis", NumPy as "no axis".
    """

    def impl(x, *, axes):
        if not axes:
            return x.clone()  # a new tensor, as from every reduction (see fresh_results)
        return fn(x, axes)

    return impl


def via_int64(fn: Callable) -> Callable:
    """Run an integer reduction of a uint64 tensor in int64: torch has no uint64 sum, prod or
    cumsum kernels on the CPU, and two's-complement wrapping gives the same bits as NumPy's
    modular uint64 arithmetic."""

    def impl(x, *args, **kw):
        if x.dtype == torch.uint64:
            return fn(x.view(torch.int64), *args, **kw).view(torch.uint64)
        return fn(x, *args, **kw)

    return impl


@via_int64
def _sum(x, axes):
    """Sum in x's own dtype: torch would widen int32 (and bool) to int64."""
    return torch.sum(x, dim=axes, dtype=x.dtype)


@via_int64
def _prod(x, axes):
    """torch.prod reduces one axis at a time: move ``axes`` last and flatten them into one."""
    keep = [i for i in range(x.ndim) if i not in axes]
    kept_shape = [x.shape[i] for i in keep]
    n = 1
    for a in axes:
        n *= x.shape[a]
    flat = x.permute(keep + list(axes)).reshape(kept_shape + [n])
    return torch.prod(flat, dim=-1, dtype=x.dtype)


def _amax(x, axes):
    """torch.amax propagates nan like np.max, and reduces bools too."""
    return torch.amax(x, dim=axes)


def _amin(x, axes):
    return torch.amin(x, dim=axes)


def _all(x, axes):
    return torch.all(x, dim=axes)


def _any(x, axes):
    return torch.any(x, dim=axes)


def _arg_reduction(fn: Callable) -> Callable:
    """torch.argmax/argmin give the first of tied (and the first nan) like NumPy, but refuse
    bools; the index is cast to the requested ``index_dtype``."""

    def impl(x, *, axis, index_dtype):
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        return fn(x, dim=axis).to(torch_dtype(index_dtype))

    return impl


@via_int64
def _cumsum(x, *, axis, reverse):
    """Inclusive cumulative sum in x's dtype (torch would widen ints to int64)."""
    if x.dtype == torch.bool:  # NumPy's bool sum is a logical or; torch has no bool cumsum kernel
        return _cumsum(x.to(torch.int64), axis=axis, reverse=reverse) > 0
    if reverse:
        return torch.flip(torch.cumsum(torch.flip(x, (axis,)), dim=axis, dtype=x.dtype), (axis,))
    return torch.cumsum(x, dim=axis, dtype=x.dtype)


def impls(device: Any) -> dict:
    return {
        P.reduce_sum_p: _reduction(_sum), P.reduce_prod_p: _reduction(_prod),
        P.reduce_max_p: _reduction(_amax), P.reduce_min_p: _reduction(_amin),
        P.reduce_and_p: _reduction(_all), P.reduce_or_p: _reduction(_any),
        P.argmax_p: _arg_reduction(torch.argmax), P.argmin_p: _arg_reduction(torch.argmin),
        P.cumsum_p: _cumsum,
    }
