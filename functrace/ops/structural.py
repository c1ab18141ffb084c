"""The structural primitives: broadcasting, reshaping, transposing, slicing, reversing, padding,
concatenating, gathering and scattering along an axis, and ``iota``.

They move or select elements without arithmetic, so all but ``iota`` are linear, and their
transposes are each other (slice <-> pad, gather <-> scatter_add, broadcast <-> sum). Each
primitive is declared with its traits, then its ``lax`` wrapper and derivative rules; the
batching rules are in ``_structural_batching``, imported at the end.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_int
from functrace.errors import AxisError, DTypeError, ShapeError
from functrace.primitives import (
    check_axes,
    def_primitive,
    same_dtype,
)
from functrace.rules import (
    Zero,
    aval_of,
    def_jvp_rule,
    def_transpose_rule,
    deflinear,
    instantiate,
    is_undefined,
)
from functrace.tracing import bind, get_aval

Array = Any


# ---------------------------------------------------------------------------- declarations
def _broadcast_in_dim_abstract_eval(x: ShapedArray, *, shape: tuple[int, ...], broadcast_dimensions: tuple[int, ...]):
    if len(broadcast_dimensions) != x.ndim:
        raise ShapeError(f"broadcast_in_dim: {x.ndim} operand dims but dimensions {broadcast_dimensions}")
    for d, od in zip(x.shape, broadcast_dimensions, strict=True):
        if not 0 <= od < len(shape) or d not in (1, shape[od]):
            raise ShapeError(f"broadcast_in_dim: cannot broadcast shape {x.shape} to {shape} "
                             f"along dimensions {broadcast_dimensions}")
    if list(broadcast_dimensions) != sorted(broadcast_dimensions):
        raise ShapeError(f"broadcast_in_dim: dimensions {broadcast_dimensions} must increase")
    return ShapedArray(shape, x.dtype)


broadcast_in_dim_p = def_primitive("broadcast_in_dim", _broadcast_in_dim_abstract_eval, linear=(0,))


def _reshape_abstract_eval(x: ShapedArray, *, new_sizes: tuple[int, ...]) -> ShapedArray:
    if int(np.prod(new_sizes, dtype=np.int64)) != x.size or any(d < 0 for d in new_sizes):
        raise ShapeError(f"cannot reshape an array of shape {x.shape} (size {x.size}) into shape {new_sizes}")
    return ShapedArray(new_sizes, x.dtype)


reshape_p = def_primitive("reshape", _reshape_abstract_eval, linear=(0,))


def _transpose_abstract_eval(x: ShapedArray, *, permutation: tuple[int, ...]) -> ShapedArray:
    if sorted(permutation) != list(range(x.ndim)):
        raise AxisError(f"transpose: {permutation} is not a permutation of the axes of shape {x.shape}")
    return ShapedArray(tuple(x.shape[p] for p in permutation), x.dtype)


transpose_p = def_primitive("transpose", _transpose_abstract_eval, linear=(0,))


def _slice_abstract_eval(x: ShapedArray, *, start_indices, limit_indices, strides) -> ShapedArray:
    if not (len(start_indices) == len(limit_indices) == len(strides) == x.ndim):
        raise ShapeError(f"slice: index lists must have one entry per axis of shape {x.shape}")
    shape = []
    for d, s, e, st in zip(x.shape, start_indices, limit_indices, strides, strict=True):
        if not (0 <= s <= e <= d) or st < 1:
            raise ShapeError(f"slice [{start_indices}:{limit_indices}:{strides}] is out of range for shape {x.shape}")
        shape.append(max(0, -(-(e - s) // st)))
    return ShapedArray(tuple(shape), x.dtype)


slice_p = def_primitive("slice", _slice_abstract_eval, linear=(0,))


def _rev_abstract_eval(x: ShapedArray, *, dimensions: tuple[int, ...]) -> ShapedArray:
    check_axes("rev", x, dimensions)
    return x


rev_p = def_primitive("rev", _rev_abstract_eval, linear=(0,))


def _pad_abstract_eval(x: ShapedArray, padval: ShapedArray, *, padding_config) -> ShapedArray:
    same_dtype("pad", x, padval)
    if padval.shape != ():
        raise ShapeError("pad: the padding value must be a scalar")
    if len(padding_config) != x.ndim:
        raise ShapeError(f"pad: one (low, high, interior) per axis of shape {x.shape} is required")
    shape = []
    for d, (lo, hi, interior) in zip(x.shape, padding_config, strict=True):
        if interior < 0:
            raise ShapeError("pad: interior padding must be non-negative")
        n = lo + hi + d + max(0, d - 1) * interior
        if n < 0:
            raise ShapeError(f"pad: negative padding {padding_config} removes more than shape {x.shape} has")
        shape.append(n)
    return ShapedArray(tuple(shape), x.dtype)


pad_p = def_primitive("pad", _pad_abstract_eval, linear=(0, 1))


def _concatenate_abstract_eval(*xs: ShapedArray, dimension: int) -> ShapedArray:
    if not xs:
        raise ShapeError("concatenate needs at least one array")
    dt = same_dtype("concatenate", *xs)
    nd = xs[0].ndim
    if not 0 <= dimension < nd:
        raise AxisError(f"concatenate: axis {dimension} is out of bounds for arrays of dimension {nd}")
    for x in xs:
        pairs = enumerate(zip(x.shape, xs[0].shape, strict=True)) if x.ndim == nd else ()
        if x.ndim != nd or any(a != b for i, (a, b) in pairs if i != dimension):
            raise ShapeError("concatenate: all shapes must agree except along the axis, got "
                             + ", ".join(str(x.shape) for x in xs))
    shape = list(xs[0].shape)
    shape[dimension] = sum(x.shape[dimension] for x in xs)
    return ShapedArray(tuple(shape), dt)


concatenate_p = def_primitive("concatenate", _concatenate_abstract_eval, linear=True)


def _gather_abstract_eval(x: ShapedArray, idx: ShapedArray, *, axis: int) -> ShapedArray:
    if not is_int(idx.dtype):
        raise DTypeError(f"gather: indices must be integers, got {idx.dtype.name}")
    check_axes("gather", x, (axis,))
    return ShapedArray(x.shape[:axis] + idx.shape + x.shape[axis + 1:], x.dtype)


gather_p = def_primitive("gather", _gather_abstract_eval, linear=(0,))


def _scatter_add_abstract_eval(x: ShapedArray, idx: ShapedArray, upd: ShapedArray, *, axis: int) -> ShapedArray:
    want = _gather_abstract_eval(x, idx, axis=axis)
    if upd.shape != want.shape or upd.dtype != x.dtype:
        raise ShapeError(f"scatter_add: updates must be {want.str_short()}, got {upd.str_short()}")
    return x


scatter_add_p = def_primitive("scatter_add", _scatter_add_abstract_eval, linear=(0, 2))


def _iota_abstract_eval(*, dtype, shape: tuple[int, ...], dimension: int) -> ShapedArray:
    return ShapedArray(shape, dtype)


iota_p = def_primitive("iota", _iota_abstract_eval, zero_derivative=True)


# ---------------------------------------------------------------------------- lax wrappers
def broadcast_in_dim(x: Array, shape: Sequence[int], broadcast_dimensions: Sequence[int]) -> Array:
    """Place the axes of ``x`` at ``broadcast_dimensions`` of ``shape``, repeating size-1 axes."""
    shape, dims = tuple(shape), tuple(broadcast_dimensions)
    if get_aval(x).shape == shape and dims == tuple(range(len(shape))):
        return x
    return bind(broadcast_in_dim_p, x, shape=shape, broadcast_dimensions=dims)


def reshape(x: Array, new_sizes: Sequence[int]) -> Array:
    """Reshape in row-major order; a no-op when the shape already matches."""
    new_sizes = tuple(int(d) for d in new_sizes)
    if get_aval(x).shape == new_sizes:
        return x
    return bind(reshape_p, x, new_sizes=new_sizes)


def transpose(x: Array, permutation: Sequence[int]) -> Array:
    """Permute the axes; a no-op for the identity permutation."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return bind(transpose_p, x, permutation=permutation)


def slice(x: Array, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None) -> Array:
    """``x[start:limit:stride]`` along every axis, with static non-negative bounds."""
    aval = get_aval(x)
    strides = tuple(strides) if strides is not None else (1,) * aval.ndim
    start, limit = tuple(map(int, start_indices)), tuple(map(int, limit_indices))
    if start == (0,) * aval.ndim and limit == aval.shape and strides == (1,) * aval.ndim:
        return x
    return bind(slice_p, x, start_indices=start, limit_indices=limit, strides=tuple(map(int, strides)))


def rev(x: Array, dimensions: Sequence[int]) -> Array:
    """Reverse the order of elements along ``dimensions``."""
    if not dimensions:
        return x
    return bind(rev_p, x, dimensions=tuple(dimensions))


def pad(x: Array, padding_value: Array, padding_config: Sequence[tuple[int, int, int]]) -> Array:
    """Pad with (low, high, interior) elements of ``padding_value`` per axis."""
    cfg = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
    return bind(pad_p, x, padding_value, padding_config=cfg)


def concatenate(xs: Sequence[Array], dimension: int) -> Array:
    """Join arrays along ``dimension``."""
    if len(xs) == 1:
        return xs[0]
    return bind(concatenate_p, *xs, dimension=int(dimension))


def gather(x: Array, indices: Array, axis: int) -> Array:
    """``numpy.take(x, indices, axis)`` for in-range non-negative integer indices."""
    return bind(gather_p, x, indices, axis=int(axis))


def scatter_add(x: Array, indices: Array, updates: Array, axis: int) -> Array:
    """A copy of ``x`` with ``updates`` added at ``indices`` along ``axis`` (repeats accumulate)."""
    return bind(scatter_add_p, x, indices, updates, axis=int(axis))


def iota(dtype: Any, shape: Sequence[int], dimension: int = 0) -> Array:
    """An array of ``shape`` counting 0, 1, ... along ``dimension``."""
    return bind(iota_p, dtype=np.dtype(dtype), shape=tuple(shape), dimension=int(dimension))


def full(shape: Sequence[int], value: Any, dtype: Any) -> Array:
    """A constant array: a scalar literal broadcast to ``shape``."""
    scalar = np.asarray(value, dtype=dtype)[()]
    if tuple(shape) == ():
        return scalar
    return broadcast_in_dim(scalar, tuple(shape), ())


def zeros_like(x: Array) -> Array:
    a = get_aval(x)
    return full(a.shape, 0, a.dtype)


def full_like_aval(aval, value) -> Array:
    return full(aval.shape, value, aval.dtype)


# ---------------------------------------------------------------------------- derivatives
def _gather_jvp(primals, tangents, *, axis):
    x, idx = primals
    ans = lax.gather(x, idx, axis)
    t = tangents[0]
    return ans, Zero(get_aval(ans)) if isinstance(t, Zero) else lax.gather(t, idx, axis)


def_jvp_rule(gather_p, _gather_jvp)


def _scatter_add_jvp(primals, tangents, *, axis):
    x, idx, u = primals
    tx, _, tu = tangents
    ans = lax.scatter_add(x, idx, u, axis)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return ans, Zero(get_aval(ans))
    return ans, lax.scatter_add(instantiate(tx, get_aval(x)), idx, instantiate(tu, get_aval(u)), axis)


def_jvp_rule(scatter_add_p, _scatter_add_jvp)


def _broadcast_in_dim_transpose(ct, x, *, shape, broadcast_dimensions):
    """Sum over the new axes and over axes that were stretched from size 1."""
    in_shape = x.aval.shape
    summed = tuple(i for i in range(len(shape)) if i not in broadcast_dimensions)
    stretched = tuple(d for i, d in enumerate(broadcast_dimensions) if in_shape[i] == 1 and shape[d] != 1)
    axes = tuple(sorted(summed + stretched))
    out = lax.reduce_sum(ct, axes) if axes else ct
    return [lax.reshape(out, in_shape)]


deflinear(broadcast_in_dim_p, _broadcast_in_dim_transpose)


def _reshape_transpose(ct, x, *, new_sizes):
    return [lax.reshape(ct, x.aval.shape)]


deflinear(reshape_p, _reshape_transpose)


def _transpose_transpose(ct, x, *, permutation):
    return [lax.transpose(ct, tuple(np.argsort(permutation)))]


deflinear(transpose_p, _transpose_transpose)


def _slice_transpose(ct, x, *, start_indices, limit_indices, strides):
    """Scatter the slice back into zeros: pad low by start, high by the rest, interior by stride-1."""
    shape = x.aval.shape
    out_shape = get_aval(ct).shape
    config = []
    for d, s, st, n in zip(shape, start_indices, strides, out_shape, strict=True):
        real_limit = s + (n - 1) * st + 1 if n else s
        config.append((s, d - real_limit, st - 1))
    return [lax.pad(ct, np.zeros((), get_aval(ct).dtype)[()], config)]


deflinear(slice_p, _slice_transpose)


def _rev_transpose(ct, x, *, dimensions):
    return [lax.rev(ct, dimensions)]


deflinear(rev_p, _rev_transpose)


def _pad_transpose(ct, x, padval, *, padding_config):
    ct_dtype = get_aval(ct).dtype
    zero = np.zeros((), ct_dtype)[()]
    unpadded = lax.pad(ct, zero, [(-lo, -hi, 0) for lo, hi, _ in padding_config])
    ua = get_aval(unpadded)
    ct_x = lax.slice(unpadded, (0,) * ua.ndim, ua.shape, tuple(i + 1 for _, _, i in padding_config))
    ct_x = lax.reshape(ct_x, aval_of(x).shape)
    ct_pad = None
    if is_undefined(padval):
        total = lax.reduce_sum(ct, tuple(range(get_aval(ct).ndim)))
        inner = lax.reduce_sum(ct_x, tuple(range(ua.ndim)))
        ct_pad = lax.sub(total, inner)
    return [ct_x if is_undefined(x) else None, ct_pad]


deflinear(pad_p, _pad_transpose)


def _concatenate_transpose(ct, *xs, dimension):
    out, offset = [], 0
    shape = get_aval(ct).shape
    for x in xs:
        n = aval_of(x).shape[dimension]
        if is_undefined(x):
            start = [0] * len(shape)
            limit = list(shape)
            start[dimension], limit[dimension] = offset, offset + n
            out.append(lax.slice(ct, start, limit))
        else:
            out.append(None)
        offset += n
    return out


deflinear(concatenate_p, _concatenate_transpose)


def _gather_transpose(ct, x, idx, *, axis):
    zeros = lax.full(x.aval.shape, 0, x.aval.dtype)
    return [lax.scatter_add(zeros, idx, ct, axis), None]


def_transpose_rule(gather_p, _gather_transpose)


def _scatter_add_transpose(ct, x, idx, u, *, axis):
    return [ct if is_undefined(x) else None, None,
            lax.gather(ct, idx, axis) if is_undefined(u) else None]


def_transpose_rule(scatter_add_p, _scatter_add_transpose)


# The batching rules are in their own module; importing it registers them.
from functrace.ops import _structural_batching  # noqa: E402,F401
