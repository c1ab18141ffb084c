"""torch implementation of the linalg family (``functrace/ops/linalg.py``): ``dot_general``."""

from __future__ import annotations

from typing import Any

import torch

from functrace import ops as P
from functrace.backends.torch_backend import is_int

_INT_MATMUL_BLOCK = 1 << 22  # elements of the (b, m, k, n) product formed at once


def int_matmul(a: Any, b: Any) -> Any:
    """Batched integer matmul (b, m, k) @ (b, k, n) without BLAS.

    CUDA (and some CPU builds) implement no integer matmul; multiply and sum instead, in
    chunks along k so the temporary stays at about ``_INT_MATMUL_BLOCK`` elements. Integer
    overflow wraps, as in NumPy.
    """
    nb, m, k = a.shape
    n = b.shape[2]
    per_k = max(1, nb * m * n)
    step = max(1, _INT_MATMUL_BLOCK // per_k)
    out = torch.zeros((nb, m, n), dtype=a.dtype, device=a.device)
    for s in range(0, k, step):
        e = min(k, s + step)
        prod = a[:, :, s:e, None] * b[:, None, s:e, :]
        out += torch.sum(prod, dim=2, dtype=a.dtype)
    return out


def _dot_general(lhs, rhs, *, dimension_numbers):
    """Transpose to (batch, free, contract) @ (batch, contract, free), one batched matmul."""
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [i for i in range(lhs.ndim) if i not in lc and i not in lb]
    rfree = [i for i in range(rhs.ndim) if i not in rc and i not in rb]
    bshape = [lhs.shape[i] for i in lb]
    mshape = [lhs.shape[i] for i in lfree]
    nshape = [rhs.shape[i] for i in rfree]
    b, m, n, k = (_size(s) for s in (bshape, mshape, nshape, [lhs.shape[i] for i in lc]))
    L = lhs.permute(list(lb) + lfree + list(lc)).reshape(b, m, k)
    R = rhs.permute(list(rb) + list(rc) + rfree).reshape(b, k, n)
    if is_int(lhs) and lhs.device.type != "cpu":
        out = int_matmul(L, R)
    else:
        out = torch.matmul(L, R)
    return out.reshape(bshape + mshape + nshape)


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def impls(device: Any) -> dict:
    return {P.dot_general_p: _dot_general}
