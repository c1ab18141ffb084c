"""torch implementations of the newer ``linalg_decompositions`` primitives (``lu``): LAPACK's
getrf through ``torch.linalg.lu_factor_ex``, its 1-based pivots made 0-based and turned into
the permutation."""

from __future__ import annotations

import torch

from functrace.ops import linalg_decompositions as LD


def _lu(a: torch.Tensor) -> list:
    m, n = a.shape[-2:]
    k = min(m, n)
    if a.numel() == 0:
        lead = a.shape[:-2]
        return [a.clone(), torch.zeros(lead + (k,), dtype=torch.int32, device=a.device),
                torch.arange(m, dtype=torch.int32, device=a.device).expand(lead + (m,)).clone()]
    lu, pivots, _ = torch.linalg.lu_factor_ex(a)
    pivots = (pivots - 1).to(torch.int32)
    flat = pivots.reshape(-1, k)
    perm = torch.arange(m, dtype=torch.int32, device=a.device).repeat(flat.shape[0], 1)
    rows = torch.arange(flat.shape[0], device=a.device)
    for j in range(k):  # apply the row swaps in order
        p = flat[:, j].long()
        pj, pp = perm[rows, j].clone(), perm[rows, p].clone()
        perm[rows, j], perm[rows, p] = pp, pj
    return [lu, pivots, perm.reshape(a.shape[:-2] + (m,))]


def impls(device) -> dict:
    del device
    return {LD.lu_p: _lu}
