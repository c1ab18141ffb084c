"""The long tail of ``jax.numpy``: stacking, splitting, inserting, deleting and diagonals
(re-exported by ``_tail_shape``)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.numpy._core import (
    _as_operand,
    asarray,
    astype,
    multiply,
    not_equal,
    user_error,
)
from functrace.numpy._shape import (
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    moveaxis,
    ravel,
    reshape,
    split,
    transpose,
)
from functrace.tracing import Tracer, get_aval

Array = Any


def _at(x: Array) -> Any:
    from functrace.numpy._at import at

    return at(x)


def _arr(x: Any) -> Array:
    return asarray(_as_operand(x))


def _host(x: Any, what: str) -> np.ndarray:
    """The concrete value of ``x``; a specific error when it is abstract (inside ``jit``)."""
    from functrace.errors import ConcretizationError
    from functrace.numpy._sorting import _host as host
    from functrace.tracing import located

    if isinstance(x, Tracer):
        if x.val is None:
            raise located(ConcretizationError(f"{what} has a result whose shape depends on the values of its "
                                              "input, which are abstract here (inside jit); as in JAX, it needs "
                                              "concrete values"))
        return host(x.to_host(what))
    return host(x)


# ---------------------------------------------------------------------------- stacking and splitting
def atleast_2d(*arys: Any) -> Any:
    """Each array with at least two dimensions (1-D arrays become rows)."""
    out = [reshape(a, (1,) * (2 - get_aval(a).ndim) + get_aval(a).shape) if get_aval(a).ndim < 2 else a
           for a in map(_arr, arys)]
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Each array with at least three dimensions: (N,) -> (1, N, 1), (M, N) -> (M, N, 1)."""
    out = []
    for a in map(_arr, arys):
        s = get_aval(a).shape
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, s + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def column_stack(tup: Sequence[Array]) -> Array:
    """Stack 1-D arrays as columns (2-D arrays as they are)."""
    cols = [reshape(a, (-1, 1)) if get_aval(a).ndim < 2 else a for a in map(_arr, tup)]
    return concatenate(cols, axis=1)


def dstack(tup: Sequence[Array], dtype: Any = None) -> Array:
    """Stack along the third axis."""
    out = concatenate(atleast_3d(*tup) if len(tup) > 1 else [atleast_3d(*tup)], axis=2)
    return astype(out, dtype) if dtype is not None else out


def block(arrays: Any) -> Array:
    """Assemble an array from nested lists of blocks (the innermost lists join along the last axis)."""
    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)

    d = depth(arrays)
    leaves = []

    def collect(x):
        if isinstance(x, list):
            for y in x:
                collect(y)
        else:
            leaves.append(_arr(x))

    collect(arrays)
    nd = max([d] + [get_aval(a).ndim for a in leaves])

    def rec(x, level):
        if not isinstance(x, list):
            a = _arr(x)
            return reshape(a, (1,) * (nd - get_aval(a).ndim) + get_aval(a).shape)
        return concatenate([rec(y, level + 1) for y in x], axis=-(d - level))

    return rec(arrays, 0)


def hsplit(ary: Array, indices_or_sections: Any) -> list:
    """Split along axis 1 (axis 0 for 1-D arrays)."""
    a = _arr(ary)
    return split(a, indices_or_sections, axis=1 if get_aval(a).ndim > 1 else 0)


def vsplit(ary: Array, indices_or_sections: Any) -> list:
    """Split along axis 0 (arrays of at least 2 dimensions)."""
    a = _arr(ary)
    if get_aval(a).ndim < 2:
        raise user_error(ValueError("vsplit only works on arrays of 2 or more dimensions"))
    return split(a, indices_or_sections, axis=0)


def dsplit(ary: Array, indices_or_sections: Any) -> list:
    """Split along axis 2 (arrays of at least 3 dimensions)."""
    a = _arr(ary)
    if get_aval(a).ndim < 3:
        raise user_error(ValueError("dsplit only works on arrays of 3 or more dimensions"))
    return split(a, indices_or_sections, axis=2)


def unstack(x: Array, /, *, axis: int = 0) -> tuple:
    """The slices of ``x`` along ``axis``."""
    x = _arr(x)
    x = moveaxis(x, axis, 0)
    return tuple(x[i] for i in range(get_aval(x).shape[0]))


def rollaxis(a: Array, axis: int, start: int = 0) -> Array:
    """Move ``axis`` to position ``start`` (NumPy's older spelling of ``moveaxis``)."""
    a = _arr(a)
    n = get_aval(a).ndim
    axis %= n
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


def rot90(m: Array, k: int = 1, axes: tuple = (0, 1)) -> Array:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    m = _arr(m)
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(get_aval(m).ndim))
    perm[a0 % len(perm)], perm[a1 % len(perm)] = perm[a1 % len(perm)], perm[a0 % len(perm)]
    return transpose(flip(m, a1), perm) if k == 1 else flip(transpose(m, perm), a1)


def append(arr: Array, values: Array, axis: int | None = None) -> Array:
    """``values`` appended to ``arr`` (both flattened without ``axis``)."""
    if axis is None:
        return concatenate([ravel(_arr(arr)), ravel(_arr(values))])
    return concatenate([_arr(arr), _arr(values)], axis=axis)


def _static_indices(obj: Any, n: int, what: str) -> np.ndarray:
    if isinstance(obj, slice):
        return np.arange(n)[obj]
    return np.asarray(_host(obj, what) if isinstance(obj, Tracer) else obj)


def delete(arr: Array, obj: Any, axis: int | None = None, *, assume_unique_indices: bool = False) -> Array:
    """``arr`` without the entries at ``obj`` (static indices, a slice or a boolean mask) along ``axis``."""
    a = _arr(arr)
    if axis is None:
        a, axis = ravel(a), 0
    n = get_aval(a).shape[axis]
    idx = _static_indices(obj, n, "delete")
    keep = np.ones(n, bool)
    if idx.dtype == bool:
        keep = ~idx
    else:
        keep[idx.astype(np.int64) % max(n, 1)] = False
    return lax.gather(a, np.nonzero(keep)[0], axis % get_aval(a).ndim) if keep.sum() != n else a


def insert(arr: Array, obj: Any, values: Array, axis: int | None = None) -> Array:
    """``values`` inserted before the static indices ``obj`` along ``axis`` (NumPy's rules)."""
    a = _arr(arr)
    if axis is None:
        a, axis = ravel(a), 0
    nd = get_aval(a).ndim
    axis %= nd
    n = get_aval(a).shape[axis]
    idx = _static_indices(obj, n, "insert")
    scalar_index = idx.ndim == 0
    idx = np.atleast_1d(idx).astype(np.int64)
    idx = np.where(idx < 0, idx + n, idx)
    v = _arr(values)
    if get_aval(v).dtype != get_aval(a).dtype:
        v = astype(v, get_aval(a).dtype)
    shape = list(get_aval(a).shape)
    if scalar_index:
        vshape = shape.copy()
        vshape[axis] = 1 if get_aval(v).ndim < nd else get_aval(v).shape[axis]
        v = broadcast_to(v if get_aval(v).ndim == nd else expand_dims(v, axis) if get_aval(v).ndim == nd - 1
                         else v, tuple(vshape))
        idx = np.full(vshape[axis], idx[0])
    else:
        vshape = shape.copy()
        vshape[axis] = len(idx)
        v = broadcast_to(v, tuple(vshape))
    order = np.argsort(idx, kind="stable")
    m = len(idx)
    # positions of the new entries in the result, and of the old ones
    new_pos = idx[order] + np.arange(m)
    old_pos = np.setdiff1d(np.arange(n + m), new_pos)
    combined = concatenate([a, lax.gather(v, order, axis)], axis=axis)
    src = np.empty(n + m, np.int64)
    src[old_pos] = np.arange(n)
    src[new_pos] = n + np.arange(m)
    return lax.gather(combined, src, axis)


def resize(a: Array, new_shape: Any) -> Array:
    """``a`` flattened, repeated cyclically (or cut) to fill ``new_shape``."""
    a = ravel(_arr(a))
    shape = (new_shape,) if isinstance(new_shape, int) else tuple(new_shape)
    total = int(np.prod(shape, dtype=np.int64))
    n = get_aval(a).shape[0]
    if n == 0 or total == 0:
        return multiply(reshape(concatenate([a, a])[:0], (0,)), 0) if total == 0 else \
            reshape(lax.full((total,), 0, get_aval(a).dtype), shape)
    return reshape(lax.gather(a, np.arange(total) % n, 0), shape)


def trim_zeros(filt: Array, trim: str = "fb") -> Array:
    """``filt`` (1-D) without its leading (``f``) and/or trailing (``b``) zeros; needs concrete values."""
    a = _arr(filt)
    nz = np.nonzero(_host(not_equal(a, 0), "trim_zeros"))[0]
    if nz.size == 0:
        return a[:0]
    lo = nz[0] if "f" in trim.lower() else 0
    hi = nz[-1] + 1 if "b" in trim.lower() else get_aval(a).shape[0]
    return a[int(lo):int(hi)]


def diagonal(a: Array, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The ``offset`` diagonal of the plane (``axis1``, ``axis2``), as the last axis of the result."""
    a = _arr(a)
    nd = get_aval(a).ndim
    a = moveaxis(a, (axis1 % nd, axis2 % nd), (-2, -1))
    r, c = get_aval(a).shape[-2:]
    rows = np.arange(max(0, -offset), min(r, c - offset)) if min(r, c - offset) > max(0, -offset) else np.arange(0)
    lead = get_aval(a).shape[:-2]
    flat = reshape(a, lead + (r * c,))
    return lax.gather(flat, (rows * c + rows + offset).astype(np.int64), len(lead))


def diagflat(v: Array, k: int = 0) -> Array:
    """A 2-D array with the flattened ``v`` on its ``k``-th diagonal."""
    from functrace.numpy._shape import diag

    return diag(ravel(_arr(v)), k)


def fill_diagonal(a: Array, val: Any, wrap: bool = False, *, inplace: bool = True) -> Array:
    """A copy of ``a`` with ``val`` on its main diagonal (JAX requires ``inplace=False``)."""
    if inplace:
        raise user_error(NotImplementedError("fill_diagonal: functrace arrays are immutable; pass inplace=False "
                                             "and use the result (as in JAX)"))
    a = _arr(a)
    s = get_aval(a).shape
    n = min(s) if len(s) > 2 or not wrap else s[1]
    if len(s) == 2:
        step = s[1] + 1
        end = s[1] * s[1] if not wrap else s[0] * s[1]
        pos = np.arange(0, min(end, s[0] * s[1]), step)
    else:
        pos = np.ravel_multi_index((np.arange(n),) * len(s), s)
    flat = ravel(a)
    vals = ravel(astype(_arr(val), get_aval(a).dtype))
    vals = lax.gather(broadcast_to(vals, (max(get_aval(vals).shape[0], 1),)), np.arange(len(pos)) %
                      max(get_aval(vals).shape[0], 1), 0)
    return reshape(_at(flat)[pos].set(vals), s)
