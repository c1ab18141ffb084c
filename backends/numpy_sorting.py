"""NumPy implementation of the sorting family (``functrace/ops/sorting.py``)."""

from __future__ import annotations

import numpy as np

from functrace.ops import sorting as SO


def _sort(*operands, dimension, is_stable, num_keys):
    """A stable sort (NaN last, -0.0 equal to 0.0, as np.argsort and JAX order them)."""
    if len(operands) == 1:
        return [np.sort(operands[0], axis=dimension, kind="stable")]
    if num_keys == 1:
        perm = np.argsort(operands[0], axis=dimension, kind="stable")
    else:
        keys = [np.moveaxis(k, dimension, -1) for k in reversed(operands[:num_keys])]
        perm = np.moveaxis(np.lexsort(keys, axis=-1), -1, dimension)
    return [np.take_along_axis(o, perm, axis=dimension) for o in operands]


IMPLS = {SO.sort_p: _sort}
