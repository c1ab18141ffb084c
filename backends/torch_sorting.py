"""torch implementation of the sorting family (``functrace/ops/sorting.py``)."""

from __future__ import annotations

from typing import Any

import torch

from functrace.ops import sorting as SO


def _sortable(k):
    """torch sorts no bools: as uint8 they order the same."""
    return k.to(torch.uint8) if k.dtype == torch.bool else k


def _sort(*operands, dimension, is_stable, num_keys):
    """Stable sorts from the last key to the first (NaN last; -0.0 and 0.0 tie, as in NumPy)."""
    perm = None
    for k in reversed(operands[:num_keys]):
        k = _sortable(k if perm is None else torch.take_along_dim(k, perm, dimension))
        _, p = torch.sort(k, dim=dimension, stable=True)
        perm = p if perm is None else torch.take_along_dim(perm, p, dimension)
    return [torch.take_along_dim(o, perm, dimension) for o in operands]


def impls(device: Any) -> dict:
    return {SO.sort_p: _sort}
