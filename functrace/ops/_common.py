"""Small pieces shared by the sorting, scatter, dynamic-slicing and cumulative families."""

from __future__ import annotations

from typing import Any, Sequence

from functrace import lax
from functrace.tracing import get_aval

Array = Any


def at_front(x: Array, d: int | None, size: int) -> Array:
    """``x`` with its batch axis first; an unbatched ``x`` is broadcast to ``size`` examples."""
    a = get_aval(x)
    if d is None:
        return lax.broadcast_in_dim(x, (size,) + a.shape, tuple(range(1, a.ndim + 1)))
    if d == 0:
        return x
    perm = [d] + [i for i in range(a.ndim) if i != d]
    return lax.transpose(x, perm)


def batch_size(args: Sequence[Array], dims: Sequence[int | None]) -> int:
    """The number of examples: the size of the first batched operand's batch axis."""
    for x, d in zip(args, dims, strict=True):
        if d is not None:
            return get_aval(x).shape[d]
    raise ValueError("no batched operand")


def scalar(value: Any, dtype: Any) -> Any:
    """A NumPy scalar of ``dtype`` (a literal in the IR)."""
    import numpy as np

    return np.asarray(value, dtype=dtype)[()]
