"""``ravel_pytree``: a pytree of arrays as one flat vector, and the function that undoes it.

As ``jax.flatten_util``: the leaves are raveled in ``tree_leaves`` order and concatenated in
their promoted dtype; ``unravel`` splits a vector of that length and dtype back into the
tree, casting each piece back to its leaf's dtype. Both are traceable (they work on traced
values, under ``grad``/``jit``/``vmap``), so an optimiser or solver written for one vector can
run on any parameter tree.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import functrace.numpy as fnp
from functrace.tracing import get_aval
from functrace.tree_util import PyTreeDef, tree_flatten, tree_unflatten


def ravel_pytree(pytree: Any) -> tuple[Any, Callable[[Any], Any]]:
    """``(flat, unravel)``: the leaves as one 1-D array, and ``unravel(flat) -> pytree``.

    ``flat`` has the leaves' promoted dtype (Python scalars count as their default dtypes,
    int64 / float64, as JAX's ``dtypes.dtype`` does); a tree with no leaves gives an empty
    float32 vector. When all leaves share one dtype, ``unravel`` keeps the dtype of the vector
    it is given; otherwise it requires the promoted dtype and casts each piece back.
    """
    leaves, treedef = tree_flatten(pytree)
    if not leaves:
        return fnp.zeros((0,), dtype=np.float32), _Unravel(treedef, (), (), None, None)
    avals = [get_aval(x) for x in leaves]
    from_dtypes = tuple(a.dtype for a in avals)
    to_dtype = np.result_type(*from_dtypes)
    sizes = tuple(a.size for a in avals)
    shapes = tuple(a.shape for a in avals)
    if all(dt == to_dtype for dt in from_dtypes):
        flat = fnp.concatenate([fnp.ravel(fnp.asarray(x, dtype=to_dtype)) for x in leaves])
        # One leaf concatenates to a view of the user's array: the vector must be a copy of its own.
        return (fnp.copy(flat) if len(leaves) == 1 else flat), _Unravel(treedef, sizes, shapes, None, None)
    flat = fnp.concatenate([fnp.ravel(fnp.astype(x, to_dtype)) for x in leaves])
    return flat, _Unravel(treedef, sizes, shapes, from_dtypes, to_dtype)


class _Unravel:
    """The inverse of one ``ravel_pytree`` call: a vector of the right length back into the tree."""

    def __init__(self, treedef: PyTreeDef, sizes: tuple, shapes: tuple, from_dtypes: tuple | None,
                 to_dtype: np.dtype | None):
        self.treedef, self.sizes, self.shapes = treedef, sizes, shapes
        self.from_dtypes, self.to_dtype = from_dtypes, to_dtype
        self.total = sum(sizes)

    def __call__(self, flat: Any) -> Any:
        aval = get_aval(flat)
        if aval.shape != (self.total,):
            raise ValueError(f"unravel: expected a 1-D array of length {self.total} (the raveled tree "
                             f"{self.treedef}), got shape {aval.shape}")
        if self.to_dtype is not None and aval.dtype != self.to_dtype:
            raise TypeError(f"unravel: the raveled tree has dtype {self.to_dtype.name}, got an array of dtype "
                            f"{aval.dtype.name}; cast it with fnp.astype(flat, {self.to_dtype.name!r}) first")
        pieces = []
        start = 0
        for i, (size, shape) in enumerate(zip(self.sizes, self.shapes, strict=True)):
            piece = fnp.reshape(flat[start:start + size], shape)
            # A cast copies; a plain slice of a concrete vector is a view of it, so copy that.
            if self.from_dtypes is None or self.from_dtypes[i] == aval.dtype:
                piece = fnp.copy(piece)
            else:
                piece = fnp.astype(piece, self.from_dtypes[i])
            pieces.append(piece)
            start += size
        return tree_unflatten(self.treedef, pieces)

    def __repr__(self) -> str:
        return f"<unravel for {self.treedef}>"


__all__ = ["ravel_pytree"]
