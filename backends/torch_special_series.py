"""torch implementations of ``regularized_incomplete_beta`` and ``igamma_grad_a``, which torch
lacks: the algorithms of numpy_special.py over torch's operations, in float64 (the iterations
need its range; results are cast back), for a fixed number of steps (no host reads)."""

from __future__ import annotations

import torch

from functrace.backends.numpy_special_series import _Ops, betainc, igamma_grad_a
from functrace.ops import special as SP


def _where(cond, x, y):
    ref = cond if isinstance(cond, torch.Tensor) else None
    if not isinstance(x, torch.Tensor):
        x = torch.tensor(x, dtype=torch.float64, device=ref.device)
    if not isinstance(y, torch.Tensor):
        y = torch.tensor(y, dtype=torch.float64, device=x.device)
    return torch.where(cond, x, y)


_STEPS = 600  # enough for shapes up to about 10^4 (the steps grow like their square root)

_OPS = _Ops(where=_where, log=torch.log, log1p=torch.log1p, exp=torch.exp, abs=torch.abs, lgamma=torch.lgamma,
            digamma=torch.digamma, any=lambda m: True,  # no early stop: that would read the mask on the host
            eps=lambda v: float(torch.finfo(v.dtype).eps), full_like=torch.full_like, max_iter=_STEPS)


def _in_float64(fn):
    def impl(*args):
        dt = args[0].dtype
        wide = torch.broadcast_tensors(*[a.to(torch.float64) for a in args])
        return fn(*wide, _OPS).to(dt)
    return impl


def impls(device) -> dict:
    del device
    return {SP.igamma_grad_a_p: _in_float64(igamma_grad_a), SP.betainc_p: _in_float64(betainc)}
