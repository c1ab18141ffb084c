"""Dynamic slicing: slices whose start indices are values (traced scalars), not constants.

``dynamic_slice(x, *starts)`` reads a block of static size ``slice_sizes``;
``dynamic_update_slice(x, update, *starts)`` writes ``update`` into a copy of ``x``. As in
JAX, a negative start counts from the end once (``-1`` is the last position), and then every
start is clamped so that the block lies inside the array: ``dynamic_slice(arange(5), (4,),
(3,))`` reads positions 2, 3, 4. The static helpers ``slice_in_dim`` and ``index_in_dim`` are
here too, as in ``jax.lax``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_int
from functrace.errors import AxisError, DTypeError, ShapeError
from functrace.ops._common import at_front, batch_size, scalar
from functrace.primitives import def_primitive
from functrace.rules import Zero, def_batch_rule, def_jvp_rule, def_transpose_rule, instantiate, is_undefined
from functrace.tracing import bind, get_aval
from functrace.util import normalize_axis

Array = Any


def _check_starts(name: str, x: ShapedArray, starts: Sequence[ShapedArray]) -> None:
    if len(starts) != x.ndim:
        raise ShapeError(f"{name}: {len(starts)} start indices for an operand of shape {x.shape} "
                         f"(one per axis is required)")
    for s in starts:
        if s.shape != () or not is_int(s.dtype):
            raise DTypeError(f"{name}: start indices must be integer scalars, got {s.str_short()}")


def _dynamic_slice_abstract_eval(x: ShapedArray, *starts: ShapedArray, slice_sizes: tuple) -> ShapedArray:
    _check_starts("dynamic_slice", x, starts)
    if len(slice_sizes) != x.ndim or any(not 0 <= k <= n for k, n in zip(slice_sizes, x.shape, strict=True)):
        raise ShapeError(f"dynamic_slice: slice sizes {slice_sizes} must fit inside the operand's shape {x.shape}")
    return ShapedArray(tuple(slice_sizes), x.dtype)


def _dynamic_update_slice_abstract_eval(x: ShapedArray, upd: ShapedArray, *starts: ShapedArray) -> ShapedArray:
    _check_starts("dynamic_update_slice", x, starts)
    if upd.dtype != x.dtype:
        raise DTypeError(f"dynamic_update_slice: the update's dtype {upd.dtype.name} differs from the "
                         f"operand's {x.dtype.name}")
    if upd.ndim != x.ndim or any(k > n for k, n in zip(upd.shape, x.shape, strict=True)):
        raise ShapeError(f"dynamic_update_slice: an update of shape {upd.shape} does not fit in an operand "
                         f"of shape {x.shape}")
    return x


dynamic_slice_p = def_primitive("dynamic_slice", _dynamic_slice_abstract_eval, linear=(0,))
dynamic_update_slice_p = def_primitive("dynamic_update_slice", _dynamic_update_slice_abstract_eval, linear=(0, 1))


def _start_list(start_indices: Any, ndim: int) -> list:
    """Start indices as a list of integer scalars: a sequence of scalars, or a 1-D array."""
    if isinstance(start_indices, (list, tuple)):
        return [s if hasattr(s, "shape") and not isinstance(s, np.generic) else np.asarray(s)[()]
                for s in start_indices]
    a = get_aval(start_indices)
    if a.ndim != 1:
        raise ShapeError(f"start indices must be a sequence of scalars or a 1-D array, got shape {a.shape}")
    return [lax.reshape(lax.slice(start_indices, (i,), (i + 1,)), ()) for i in range(a.shape[0])]


def dynamic_slice(operand: Array, start_indices: Sequence[Array], slice_sizes: Sequence[int]) -> Array:
    """The block of ``slice_sizes`` of ``operand`` starting at ``start_indices`` (traced scalars
    allowed); negative starts count from the end, and starts are clamped so the block fits."""
    nd = get_aval(operand).ndim
    return bind(dynamic_slice_p, operand, *_start_list(start_indices, nd),
                slice_sizes=tuple(int(k) for k in slice_sizes))


def dynamic_update_slice(operand: Array, update: Array, start_indices: Sequence[Array]) -> Array:
    """A copy of ``operand`` with ``update`` written at ``start_indices`` (clamped as in
    ``dynamic_slice``, so the whole update always lands inside)."""
    nd = get_aval(operand).ndim
    return bind(dynamic_update_slice_p, operand, update, *_start_list(start_indices, nd))


def _zeros_but(axis: int, ndim: int, start: Array) -> list:
    dt = get_aval(start).dtype if hasattr(start, "shape") or isinstance(start, np.generic) else np.int64
    return [start if i == axis else scalar(0, dt) for i in range(ndim)]


def dynamic_slice_in_dim(operand: Array, start_index: Array, slice_size: int, axis: int = 0) -> Array:
    """``dynamic_slice`` along one ``axis``: ``slice_size`` elements from ``start_index``."""
    a = get_aval(operand)
    axis = normalize_axis(axis, a.ndim)
    sizes = list(a.shape)
    sizes[axis] = int(slice_size)
    start = start_index if hasattr(start_index, "shape") else np.asarray(start_index)[()]
    return dynamic_slice(operand, _zeros_but(axis, a.ndim, start), sizes)


def dynamic_index_in_dim(operand: Array, index: Array, axis: int = 0, keepdims: bool = True) -> Array:
    """The element at a (traced) ``index`` along ``axis``, with that axis kept at size 1 or removed."""
    a = get_aval(operand)
    axis = normalize_axis(axis, a.ndim)
    out = dynamic_slice_in_dim(operand, index, 1, axis)
    return out if keepdims else lax.reshape(out, a.shape[:axis] + a.shape[axis + 1:])


def dynamic_update_slice_in_dim(operand: Array, update: Array, start_index: Array, axis: int) -> Array:
    """``dynamic_update_slice`` along one ``axis`` (starts at 0 along the others)."""
    a = get_aval(operand)
    axis = normalize_axis(axis, a.ndim)
    start = start_index if hasattr(start_index, "shape") else np.asarray(start_index)[()]
    return dynamic_update_slice(operand, update, _zeros_but(axis, a.ndim, start))


def dynamic_update_index_in_dim(operand: Array, update: Array, index: Array, axis: int) -> Array:
    """Write ``update`` (with or without the size-1 ``axis``) at a (traced) ``index`` along ``axis``."""
    a, u = get_aval(operand), get_aval(update)
    axis = normalize_axis(axis, a.ndim)
    if u.ndim == a.ndim - 1:
        update = lax.reshape(update, u.shape[:axis] + (1,) + u.shape[axis:])
    return dynamic_update_slice_in_dim(operand, update, index, axis)


def slice_in_dim(operand: Array, start_index: int | None, limit_index: int | None, stride: int = 1,
                 axis: int = 0) -> Array:
    """``operand[start:limit:stride]`` along ``axis`` with static bounds (negative ones count
    from the end; None means the start or the end)."""
    a = get_aval(operand)
    axis = normalize_axis(axis, a.ndim)
    n = a.shape[axis]
    start = 0 if start_index is None else int(start_index) + (n if int(start_index) < 0 else 0)
    limit = n if limit_index is None else int(limit_index) + (n if int(limit_index) < 0 else 0)
    if not 0 <= start <= limit <= n:
        raise AxisError(f"slice_in_dim: [{start_index}:{limit_index}] is out of range for axis {axis} of size {n}")
    starts, limits, strides = [0] * a.ndim, list(a.shape), [1] * a.ndim
    starts[axis], limits[axis], strides[axis] = start, limit, int(stride)
    return lax.slice(operand, starts, limits, strides)


def index_in_dim(operand: Array, index: int, axis: int = 0, keepdims: bool = True) -> Array:
    """The element at static ``index`` along ``axis`` (negative counts from the end)."""
    a = get_aval(operand)
    axis = normalize_axis(axis, a.ndim)
    n, i = a.shape[axis], int(index)
    if not -n <= i < n:
        raise AxisError(f"index {i} is out of bounds for axis {axis} with size {n}")
    i = i + n if i < 0 else i
    out = slice_in_dim(operand, i, i + 1, 1, axis)
    return out if keepdims else lax.reshape(out, a.shape[:axis] + a.shape[axis + 1:])


# ---------------------------------------------------------------------------- rules
def _ds_jvp(primals, tangents, *, slice_sizes):
    x, *starts = primals
    ans = bind(dynamic_slice_p, x, *starts, slice_sizes=slice_sizes)
    t = tangents[0]
    return ans, Zero(get_aval(ans)) if isinstance(t, Zero) else bind(dynamic_slice_p, t, *starts,
                                                                     slice_sizes=slice_sizes)


def _ds_transpose(ct, x, *starts, slice_sizes):
    zeros = lax.full(x.aval.shape, 0, x.aval.dtype)
    ct_x = Zero(x.aval) if isinstance(ct, Zero) else bind(dynamic_update_slice_p, zeros, ct, *starts)
    return [ct_x] + [None] * len(starts)


def_jvp_rule(dynamic_slice_p, _ds_jvp)
def_transpose_rule(dynamic_slice_p, _ds_transpose)


def _dus_jvp(primals, tangents, **params):
    x, u, *starts = primals
    tx, tu = tangents[:2]
    ans = bind(dynamic_update_slice_p, x, u, *starts)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return ans, Zero(get_aval(ans))
    return ans, bind(dynamic_update_slice_p, instantiate(tx, get_aval(x)), instantiate(tu, get_aval(u)), *starts)


def _dus_transpose(ct, x, u, *starts):
    u_aval = u.aval if is_undefined(u) else get_aval(u)
    x_aval = x.aval if is_undefined(x) else get_aval(x)
    if isinstance(ct, Zero):
        return [Zero(x_aval) if is_undefined(x) else None, Zero(u_aval) if is_undefined(u) else None] \
            + [None] * len(starts)
    ct_x = (bind(dynamic_update_slice_p, ct, lax.full(u_aval.shape, 0, u_aval.dtype), *starts)
            if is_undefined(x) else None)
    ct_u = bind(dynamic_slice_p, ct, *starts, slice_sizes=u_aval.shape) if is_undefined(u) else None
    return [ct_x, ct_u] + [None] * len(starts)


def_jvp_rule(dynamic_update_slice_p, _dus_jvp)
def_transpose_rule(dynamic_update_slice_p, _dus_transpose)


# ---------------------------------------------------------------------------- batching
def _positions(shape: tuple, starts: list, sizes: tuple, size: int) -> Array:
    """Per example b, the positions in the flattened (batch, *shape) array of the block of
    ``sizes`` at ``starts`` (each a (B,) int64 array), wrapped and clamped as the primitive does."""
    total = int(np.prod(shape, dtype=np.int64))
    grid = (size,) + tuple(sizes)
    pos = lax.mul(lax.iota(np.int64, grid, 0), scalar(total, np.int64))
    stride = total
    for i, (n, k, s) in enumerate(zip(shape, sizes, starts, strict=True)):
        stride //= max(n, 1)
        s = lax.select(lax.lt(s, scalar(0, np.int64)), lax.add(s, scalar(n, np.int64)), s)
        s = lax.min(lax.max(s, scalar(0, np.int64)), scalar(n - k, np.int64))
        s = lax.broadcast_in_dim(s, grid, (0,))
        pos = lax.add(pos, lax.mul(lax.add(s, lax.iota(np.int64, grid, i + 1)), scalar(stride, np.int64)))
    return pos


def _batched_starts(starts, dims, size) -> list:
    return [lax.convert_element_type(at_front(s, d, size), np.int64) for s, d in zip(starts, dims, strict=True)]


def _ds_batch(args, dims, *, slice_sizes):
    (x, *starts), (dx, *ds) = args, dims
    size = batch_size(args, dims)
    x = at_front(x, dx, size)
    if all(d is None for d in ds):
        return bind(dynamic_slice_p, x, scalar(0, np.int64), *starts, slice_sizes=(size,) + slice_sizes), 0
    shape = get_aval(x).shape[1:]
    pos = _positions(shape, _batched_starts(starts, ds, size), slice_sizes, size)
    return lax.gather(lax.reshape(x, (get_aval(x).size,)), pos, 0), 0


def _dus_batch(args, dims):
    (x, u, *starts), (dx, du, *ds) = args, dims
    size = batch_size(args, dims)
    x, u = at_front(x, dx, size), at_front(u, du, size)
    if all(d is None for d in ds):
        return bind(dynamic_update_slice_p, x, u, scalar(0, np.int64), *starts), 0
    from functrace.ops.scatter import scatter

    xa = get_aval(x)
    pos = _positions(xa.shape[1:], _batched_starts(starts, ds, size), get_aval(u).shape[1:], size)
    out = scatter(lax.reshape(x, (xa.size,)), pos, u, 0)  # distinct positions: no update is lost
    return lax.reshape(out, xa.shape), 0


def_batch_rule(dynamic_slice_p, _ds_batch)
def_batch_rule(dynamic_update_slice_p, _dus_batch)
