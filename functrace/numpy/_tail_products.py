"""The long tail of ``jax.numpy``: products (``kron``, ``cross``, ``vecdot``, ...), applying
functions along axes, and ``vectorize``; re-exported by ``_tail_shape``."""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace.avals import is_float
from functrace.numpy._core import (
    _as_operand,
    asarray,
    multiply,
    power,
    subtract,
    user_error,
)
from functrace.numpy._linalg_ops import matmul
from functrace.numpy._reductions import sum
from functrace.numpy._shape import (
    broadcast_to,
    expand_dims,
    moveaxis,
    reshape,
    stack,
    swapaxes,
)
from functrace.numpy._tail_stack import _arr
from functrace.tracing import get_aval

Array = Any


# ---------------------------------------------------------------------------- products
def kron(a: Array, b: Array) -> Array:
    """Kronecker product."""
    a, b = _arr(a), _arr(b)
    nd = max(get_aval(a).ndim, get_aval(b).ndim)
    a = reshape(a, (1,) * (nd - get_aval(a).ndim) + get_aval(a).shape)
    b = reshape(b, (1,) * (nd - get_aval(b).ndim) + get_aval(b).shape)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    ea = reshape(a, tuple(x for d in sa for x in (d, 1)))
    eb = reshape(b, tuple(x for d in sb for x in (1, d)))
    return reshape(multiply(ea, eb), tuple(x * y for x, y in zip(sa, sb, strict=True)))


def cross(a: Array, b: Array, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Array:
    """Cross product of 3-vectors (or the z-component for 2-vectors)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_arr(a), axisa, -1), moveaxis(_arr(b), axisb, -1)
    na, nb = get_aval(a).shape[-1], get_aval(b).shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise user_error(ValueError("cross: incompatible dimensions for cross product (dimension must be 2 or 3)"))
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    if na == 2 and nb == 2:
        return subtract(multiply(a0, b1), multiply(a1, b0))
    a2 = multiply(a0, 0) if a2 is None else a2
    b2 = multiply(b0, 0) if b2 is None else b2
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, axisc)


def vander(x: Array, N: int | None = None, increasing: bool = False) -> Array:  # noqa: N803
    """Columns are powers of ``x`` (decreasing unless ``increasing``)."""
    x = _arr(x)
    n = get_aval(x).shape[0] if N is None else N
    p = np.arange(n) if increasing else np.arange(n)[::-1].copy()
    return power(expand_dims(x, 1), p.astype(get_aval(x).dtype if not is_float(get_aval(x).dtype) else np.int32))


def matvec(x1: Array, x2: Array, /) -> Array:
    """Matrix-vector products over broadcast batches."""
    return matmul(_arr(x1), expand_dims(_arr(x2), -1))[..., 0]


def vecmat(x1: Array, x2: Array, /) -> Array:
    """Vector-matrix products over broadcast batches."""
    return matmul(expand_dims(_arr(x1), -2), _arr(x2))[..., 0, :]


def vecdot(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """Dot products along ``axis``."""
    return sum(multiply(_arr(x1), _arr(x2)), axis=axis)


def matrix_transpose(x: Array, /) -> Array:
    """Swap the last two axes."""
    return swapaxes(_arr(x), -1, -2)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple:
    """The shape the given shapes broadcast to."""
    return tuple(np.broadcast_shapes(*shapes))


def einsum_path(subscripts: str, *operands: Any, optimize: Any = "greedy") -> tuple:
    """NumPy's contraction path for ``einsum`` (computed on the shapes alone)."""
    dummies = [np.empty(get_aval(_as_operand(o)).shape, np.float32) for o in operands]
    return np.einsum_path(subscripts, *dummies, optimize=optimize)


def apply_along_axis(func1d: Callable, axis: int, arr: Array, *args: Any, **kwargs: Any) -> Array:
    """``func1d`` applied to 1-D slices along ``axis`` (by ``vmap`` over the other axes)."""
    from functrace import vmap

    a = _arr(arr)
    nd = get_aval(a).ndim
    axis %= nd
    # the kept axis last, then one vmap per other axis
    a2 = moveaxis(a, axis, -1)
    g = lambda v: func1d(v, *args, **kwargs)  # noqa: E731
    for _ in range(nd - 1):
        g = vmap(g)
    out = g(a2)
    out_nd = get_aval(out).ndim - (nd - 1)
    if out_nd == 0:
        return out
    return moveaxis(out, tuple(range(nd - 1, nd - 1 + out_nd)), tuple(range(axis, axis + out_nd)))


def apply_over_axes(func: Callable, a: Array, axes: Sequence[int]) -> Array:
    """``func(a, axis)`` applied repeatedly over ``axes``, keeping dimensions."""
    a = _arr(a)
    for ax in axes if not isinstance(axes, int) else [axes]:
        b = func(a, ax)
        if get_aval(b).ndim == get_aval(a).ndim - 1:
            b = expand_dims(b, ax)
        a = b
    return a


def fromfunction(function: Callable, shape: Sequence[int], *, dtype: Any = float, **kwargs: Any) -> Any:
    """``function`` called on the grid of indices of ``shape``."""
    grids = np.indices(tuple(shape), dtype=dtype)
    return function(*[asarray(g) for g in grids], **kwargs)


# ---------------------------------------------------------------------------- vectorize
class vectorize:  # noqa: N801 -- NumPy's name
    """Turn a function of scalars (or of core arrays, with ``signature``) into one that maps over
    leading axes, by ``vmap`` (as ``jax.numpy.vectorize``)."""

    def __init__(self, pyfunc: Callable, *, excluded: Any = frozenset(), signature: str | None = None) -> None:
        self.pyfunc = pyfunc
        self.excluded = set(excluded)
        self.signature = signature
        functools.update_wrapper(self, pyfunc)

    def _core_dims(self, n: int) -> tuple:
        if self.signature is None:
            return [()] * n, None
        ins, outs = self.signature.replace(" ", "").split("->")

        def parse(s):
            import re

            return [tuple(d for d in g.split(",") if d) for g in re.findall(r"\(([^)]*)\)", s)]

        return parse(ins), parse(outs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from functrace import vmap

        excluded = {i for i in self.excluded if isinstance(i, int)}
        dyn = [i for i in range(len(args)) if i not in excluded]
        core_in, _ = self._core_dims(len(dyn))
        arrs = [_arr(args[i]) for i in dyn]
        ncore = [len(c) for c in core_in]
        batch = np.broadcast_shapes(*[get_aval(a).shape[:get_aval(a).ndim - k] for a, k in zip(arrs, ncore,
                                                                                                  strict=True)])
        arrs = [broadcast_to(a, tuple(batch) + get_aval(a).shape[get_aval(a).ndim - k:]) for a, k in zip(arrs, ncore,
                                                                                                         strict=True)]

        def call(*dargs):
            full = list(args)
            for i, v in zip(dyn, dargs, strict=True):
                full[i] = v
            return self.pyfunc(*full, **kwargs)

        f = call
        for _ in batch:
            f = vmap(f)
        return f(*arrs)
