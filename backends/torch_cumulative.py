"""torch implementations of the cumulative family (``functrace/ops/cumulative.py``)."""

from __future__ import annotations

from typing import Any, Callable

import torch

from functrace.backends.torch_reductions import via_int64
from functrace.ops import cumulative as CU


def _cumulative(fn: Callable) -> Callable:
    def impl(x, *, axis, reverse):
        if reverse:
            return torch.flip(fn(torch.flip(x, (axis,)), axis), (axis,))
        return fn(x, axis)

    return impl


def _cumprod(x, axis):
    return torch.cumprod(x, dim=axis, dtype=x.dtype)


def _cumextremum(fn: Callable) -> Callable:
    def impl(x, axis):
        if x.numel() == 0:
            return x.clone()
        if x.dtype == torch.bool:
            return fn(x.to(torch.uint8), dim=axis).values.to(torch.bool)
        return fn(x, dim=axis).values

    return impl


def impls(device: Any) -> dict:
    return {
        CU.cumprod_p: _cumulative(via_int64(_cumprod)),
        CU.cummax_p: _cumulative(_cumextremum(torch.cummax)),
        CU.cummin_p: _cumulative(_cumextremum(torch.cummin)),
        CU.cumlogsumexp_p: _cumulative(lambda x, axis: torch.logcumsumexp(x, dim=axis)),
    }
