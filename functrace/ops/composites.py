"""``lax`` functions that JAX defines on top of its primitives (or as primitives of XLA that
functrace does not need), composed here from functrace's primitives with JAX's values, shapes and
derivative conventions: shape helpers (``broadcast``, ``expand_dims``, ``squeeze``, ``collapse``,
``tile``, ``split``, ``stack``, ``full_like``, ...), arithmetic (``square``, ``rsqrt``, ``reciprocal``,
``cbrt``, ``clamp``), products (``dot``, ``batch_matmul``), ``select_n``, ``scatter_sub``,
``approx_max_k``/``approx_min_k`` (exact on CPU, as JAX's), ``optimization_barrier``, the bit counts
``population_count`` and ``clz``, ``mulhi``, and the shape computations of convolutions and windowed
reductions.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.errors import DTypeError, ShapeError
from functrace.tracing import get_aval, located
from functrace.util import normalize_axis

Array = Any


# ---------------------------------------------------------------------------- shapes
def broadcast(operand: Array, sizes: Sequence[int]) -> Array:
    """``operand`` with new leading axes of ``sizes``."""
    shape = get_aval(operand).shape
    sizes = tuple(int(s) for s in sizes)
    return lax.broadcast_in_dim(operand, sizes + shape, tuple(range(len(sizes), len(sizes) + len(shape))))


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...]:
    """The shape the given shapes broadcast to (NumPy's rule)."""
    try:
        return tuple(np.broadcast_shapes(*(tuple(s) for s in shapes)))
    except ValueError:
        raise located(ShapeError(f"lax.broadcast_shapes: incompatible shapes {[tuple(s) for s in shapes]}")) from None


def broadcast_to_rank(x: Array, rank: int) -> Array:
    """``x`` with leading axes of size 1 up to ``rank`` dimensions."""
    shape = get_aval(x).shape
    return x if len(shape) >= rank else lax.reshape(x, (1,) * (rank - len(shape)) + shape)


def broadcasted_iota(dtype: Any, shape: Sequence[int], dimension: int) -> Array:
    """Counts 0, 1, ... along ``dimension`` of an array of ``shape``."""
    return lax.iota(dtype, tuple(shape), normalize_axis(dimension, len(tuple(shape))))


def expand_dims(array: Array, dimensions: Sequence[int]) -> Array:
    """``array`` with axes of size 1 inserted at ``dimensions`` (positions in the result)."""
    shape = list(get_aval(array).shape)
    ndim = len(shape) + len(dimensions)
    for d in sorted(normalize_axis(d, ndim) for d in dimensions):
        shape.insert(d, 1)
    return lax.reshape(array, tuple(shape))


def squeeze(array: Array, dimensions: Sequence[int]) -> Array:
    """``array`` without the axes ``dimensions``, which must have size 1."""
    shape = get_aval(array).shape
    dims = {normalize_axis(d, len(shape)) for d in dimensions}
    if any(shape[d] != 1 for d in dims):
        raise located(ShapeError(f"lax.squeeze: dimensions {sorted(dims)} of shape {shape} are not all of size 1"))
    return lax.reshape(array, tuple(s for i, s in enumerate(shape) if i not in dims))


def collapse(operand: Array, start_dimension: int, stop_dimension: int | None = None) -> Array:
    """The axes ``start_dimension:stop_dimension`` merged into one."""
    shape = get_aval(operand).shape
    stop = len(shape) if stop_dimension is None else stop_dimension
    start, stop = slice(start_dimension, stop).indices(len(shape))[:2]
    return lax.reshape(operand, shape[:start] + (math.prod(shape[start:stop]),) + shape[stop:])


def tile(operand: Array, reps: Sequence[int]) -> Array:
    """``operand`` repeated ``reps[i]`` times along axis ``i`` (as ``numpy.tile`` with equal ranks)."""
    shape = get_aval(operand).shape
    reps = tuple(int(r) for r in reps)
    if len(reps) != len(shape):
        raise located(ShapeError(f"lax.tile: {len(reps)} repetitions for an array of rank {len(shape)}"))
    interleaved = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    grown = lax.broadcast_in_dim(operand, interleaved, tuple(range(1, 2 * len(shape), 2)))
    return lax.reshape(grown, tuple(r * s for r, s in zip(reps, shape, strict=True)))


def split(operand: Array, sizes: Sequence[int], axis: int = 0) -> list[Array]:
    """Consecutive pieces of ``sizes`` along ``axis`` (they must add up to its length)."""
    shape = get_aval(operand).shape
    axis = normalize_axis(axis, len(shape))
    if sum(sizes) != shape[axis]:
        raise located(ShapeError(f"lax.split: sizes {list(sizes)} do not add up to axis {axis} of shape {shape}"))
    out, start = [], 0
    for s in sizes:
        out.append(lax.slice_in_dim(operand, start, start + int(s), axis=axis))
        start += int(s)
    return out


def stack(operands: Sequence[Array], axis: int = 0) -> Array:
    """The operands (one shape and dtype) stacked along a new axis."""
    operands = list(operands)
    if not operands:
        raise located(ValueError("lax.stack needs at least one operand"))
    axis = normalize_axis(axis, len(get_aval(operands[0]).shape) + 1)
    return lax.concatenate([expand_dims(x, (axis,)) for x in operands], axis)


def unstack(x: Array, axis: int = 0) -> tuple[Array, ...]:
    """The slices of ``x`` along ``axis``, without that axis."""
    shape = get_aval(x).shape
    axis = normalize_axis(axis, len(shape))
    return tuple(lax.index_in_dim(x, i, axis, keepdims=False) for i in range(shape[axis]))


def full_like(x: Array, fill_value: Any, dtype: Any = None, shape: Sequence[int] | None = None) -> Array:
    """An array of ``x``'s shape and dtype (or the given ones) filled with ``fill_value``."""
    a = get_aval(x)
    return lax.full(a.shape if shape is None else tuple(shape), fill_value, a.dtype if dtype is None else dtype)


def empty(shape: Sequence[int], dtype: Any) -> Array:
    """An array of ``shape`` and ``dtype``: zeros (never uninitialised memory)."""
    return lax.full(tuple(shape), 0, dtype)


# ---------------------------------------------------------------------------- arithmetic
def square(x: Array) -> Array:
    """``x * x``."""
    return lax.integer_pow(x, 2)


def reciprocal(x: Array) -> Array:
    """``1 / x`` (JAX's ``integer_pow(x, -1)``)."""
    return lax.integer_pow(x, -1)


def rsqrt(x: Array, *, accuracy: Any = None) -> Array:
    """``1 / sqrt(x)``."""
    del accuracy  # XLA's accuracy hint: functrace's arithmetic is NumPy's or torch's
    return lax.div(lax.full((), 1, get_aval(x).dtype), lax.sqrt(x))


def cbrt(x: Array, *, accuracy: Any = None) -> Array:
    """The real cube root."""
    import functrace.numpy as fnp

    del accuracy
    return fnp.cbrt(x)


def clamp(min: Array, x: Array, max: Array) -> Array:  # noqa: A002 -- JAX's names
    """``x`` limited to ``[min, max]`` (``min`` and ``max`` may be scalars). JAX's derivatives:
    ``x``'s where ``min < x < max``, ``min``'s where ``x < min < max``, ``max``'s where ``max < x``;
    none at a tie."""
    xa = get_aval(x)
    lo, hi = (v if get_aval(v).shape == xa.shape else lax.broadcast_in_dim(v, xa.shape, ()) for v in (min, max))
    inside = lax.bitwise_and(lax.gt(x, lo), lax.lt(x, hi))
    below = lax.bitwise_and(lax.gt(lo, x), lax.lt(lo, hi))
    above = lax.lt(hi, x)
    tie = lax.stop_gradient(lax.min(lax.max(x, lo), hi))  # ties, an empty range, nan: XLA's value
    return lax.select(inside, x, lax.select(below, lo, lax.select(above, hi, tie)))


def nextafter(x1: Array, x2: Array) -> Array:
    """The next float after ``x1`` toward ``x2``."""
    import functrace.numpy as fnp

    return fnp.nextafter(x1, x2)


# ---------------------------------------------------------------------------- bits
def _integer_dtype(name: str, x: Array) -> np.dtype:
    dt = get_aval(x).dtype
    if dt.kind not in "iu":
        raise located(DTypeError(f"lax.{name} needs an integer operand, got {dt}"))
    return dt


def population_count(x: Array) -> Array:
    """The number of 1 bits of each element's two's-complement pattern, in ``x``'s dtype (JAX's
    ``lax.population_count``: ``int8(-1)`` has 8). Bit-parallel sums (SWAR): pairs, nibbles,
    bytes, then the bytes added by shifts, each step a few integer operations."""
    dt = _integer_dtype("population_count", x)
    bits = dt.itemsize * 8

    def c(v: int) -> Any:  # (every constant here is below 2**(bits - 1): it fits signed types too)
        return np.array(v, dtype=np.uint64).astype(dt)[()]

    def shr(v: Array, s: int) -> Array:
        return lax.shift_right_logical(v, c(s))

    m1, m2, m4 = (int(pattern * (bits // 8), 16) for pattern in ("55", "33", "0f"))
    v = lax.sub(x, lax.bitwise_and(shr(x, 1), c(m1)))  # (wrapping arithmetic: the same bits signed)
    v = lax.add(lax.bitwise_and(v, c(m2)), lax.bitwise_and(shr(v, 2), c(m2)))
    v = lax.bitwise_and(lax.add(v, shr(v, 4)), c(m4))  # each byte: its count
    step = 8
    while step < bits:
        v = lax.add(v, shr(v, step))
        step *= 2
    return lax.bitwise_and(v, c(0x7F)) if bits > 8 else v


def clz(x: Array) -> Array:
    """The number of 0 bits above each element's highest 1 bit (all of them for 0), in ``x``'s
    dtype (JAX's ``lax.clz``): the bits below the highest one set by shifting, then counted."""
    dt = _integer_dtype("clz", x)
    bits = dt.itemsize * 8
    v, step = x, 1
    while step < bits:
        v = lax.bitwise_or(v, lax.shift_right_logical(v, np.array(step, dt)[()]))
        step *= 2
    return lax.sub(np.array(bits, dt)[()], population_count(v))


def mulhi(x: Array, y: Array) -> Array:
    """The high half of each full product ``x * y`` (twice the width), in their dtype (JAX's
    ``lax.mulhi``; signed types take the signed product's). Up to 32 bits the product is exact in
    64; 64-bit operands are multiplied in 32-bit halves, and the signed high half is the unsigned
    one less each negative operand's partner."""
    dt = _integer_dtype("mulhi", x)
    if get_aval(y).dtype != dt:
        raise located(DTypeError(f"lax.mulhi needs operands of one dtype, got {dt} and {get_aval(y).dtype}"))
    bits = dt.itemsize * 8
    signed = dt.kind == "i"
    if bits <= 32:
        wide = np.dtype(np.int64 if signed else np.uint64)
        product = lax.mul(lax.convert_element_type(x, wide), lax.convert_element_type(y, wide))
        shift = lax.shift_right_arithmetic if signed else lax.shift_right_logical
        return lax.convert_element_type(shift(product, np.array(bits, wide)[()]), dt)
    u64 = np.dtype(np.uint64)
    a, b = (lax.bitcast_convert_type(v, u64) if signed else v for v in (x, y))
    mask, k = np.uint64(0xFFFFFFFF), np.uint64(32)
    a_lo, a_hi = lax.bitwise_and(a, mask), lax.shift_right_logical(a, k)
    b_lo, b_hi = lax.bitwise_and(b, mask), lax.shift_right_logical(b, k)
    hi_lo = lax.mul(a_hi, b_lo)
    cross = lax.add(lax.add(lax.shift_right_logical(lax.mul(a_lo, b_lo), k), lax.bitwise_and(hi_lo, mask)),
                    lax.mul(a_lo, b_hi))
    high = lax.add(lax.add(lax.mul(a_hi, b_hi), lax.shift_right_logical(hi_lo, k)), lax.shift_right_logical(cross, k))
    if not signed:
        return high
    zero = np.uint64(0)
    high = lax.sub(high, lax.select(lax.lt(x, np.int64(0)), b, lax.full_like(b, zero)))
    high = lax.sub(high, lax.select(lax.lt(y, np.int64(0)), a, lax.full_like(a, zero)))
    return lax.bitcast_convert_type(high, dt)


# ---------------------------------------------------------------------------- products and selections
def dot(lhs: Array, rhs: Array, *, dimension_numbers: Any = None, precision: Any = None,
        preferred_element_type: Any = None) -> Array:
    """Vector and matrix products (the last axis of ``lhs`` with the first of ``rhs``), or
    ``dot_general`` with ``dimension_numbers``."""
    del precision
    if dimension_numbers is None:
        ln, rn = get_aval(lhs).ndim, get_aval(rhs).ndim
        if not (1 <= ln <= 2 and 1 <= rn <= 2):
            raise located(ShapeError(f"lax.dot takes vectors and matrices, got ranks {ln} and {rn}; use "
                                     "lax.dot_general"))
        dimension_numbers = (((ln - 1,), (0,)), ((), ()))
    out = lax.dot_general(lhs, rhs, dimension_numbers)
    if preferred_element_type is not None:
        out = lax.convert_element_type(out, preferred_element_type)
    return out


def batch_matmul(lhs: Array, rhs: Array, precision: Any = None) -> Array:
    """Matrix products of two stacks of matrices of the same leading (batch) shape."""
    del precision
    nd = get_aval(lhs).ndim
    if nd < 2 or get_aval(rhs).ndim != nd:
        raise located(ShapeError(f"lax.batch_matmul: stacks of matrices of one rank, got shapes "
                                 f"{get_aval(lhs).shape} and {get_aval(rhs).shape}"))
    batch = tuple(range(nd - 2))
    return lax.dot_general(lhs, rhs, (((nd - 1,), (nd - 2,)), (batch, batch)))


def select_n(which: Array, *cases: Array) -> Array:
    """``cases[which]`` elementwise: ``which`` boolean (two cases: False picks the first) or integer."""
    if not cases:
        raise located(ValueError("lax.select_n needs at least one case"))
    if len(cases) == 1:
        return cases[0]
    wa = get_aval(which)
    if wa.dtype == np.bool_:
        if len(cases) != 2:
            raise located(ValueError(f"lax.select_n: a boolean selector picks between 2 cases, got {len(cases)}"))
        return lax.select(which, cases[1], cases[0])
    out = cases[-1]
    for i in range(len(cases) - 2, -1, -1):  # out of range picks the last case, as XLA's select_n does not check
        out = lax.select(lax.eq(which, lax.full((), i, wa.dtype)), cases[i], out)
    return out


def scatter_sub(x: Array, indices: Array, updates: Array, axis: int = 0) -> Array:
    """``x`` with ``updates`` subtracted at ``indices`` along ``axis`` (repeated indices accumulate)."""
    return lax.scatter_add(x, indices, lax.neg(updates), axis)


def optimization_barrier(operand: Any, /) -> Any:
    """The operand unchanged: XLA's barrier only orders a compiler's rewrites."""
    return operand


def _top_k_along(operand: Array, k: int, reduction_dimension: int, largest: bool) -> tuple[Array, Array]:
    nd = get_aval(operand).ndim
    axis = normalize_axis(reduction_dimension, nd)
    perm = tuple(i for i in range(nd) if i != axis) + (axis,)
    moved = lax.transpose(operand, perm) if axis != nd - 1 else operand
    values, idx = lax.top_k(moved if largest else lax.neg(moved), k)
    values = values if largest else lax.neg(values)
    if axis != nd - 1:
        inverse = tuple(int(i) for i in np.argsort(perm))
        values, idx = lax.transpose(values, inverse), lax.transpose(idx, inverse)
    return values, idx


def approx_max_k(operand: Array, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True) -> tuple[Array, Array]:
    """The ``k`` largest values along ``reduction_dimension`` and their indices: exact (JAX's
    result on CPU)."""
    return _top_k_along(operand, k, reduction_dimension, True)


def approx_min_k(operand: Array, k: int, reduction_dimension: int = -1, recall_target: float = 0.95,
                 reduction_input_size_override: int = -1, aggregate_to_topk: bool = True) -> tuple[Array, Array]:
    """The ``k`` smallest values along ``reduction_dimension`` and their indices: exact."""
    return _top_k_along(operand, k, reduction_dimension, False)


# ---------------------------------------------------------------------------- shape computations
def reduce_window_shape_tuple(operand_shape: Sequence[int], window_dimensions: Sequence[int],
                              window_strides: Sequence[int], padding: Sequence[tuple[int, int]],
                              base_dilation: Sequence[int] | None = None,
                              window_dilation: Sequence[int] | None = None) -> tuple[int, ...]:
    """The shape of a windowed reduction's result (the geometry its primitives use)."""
    from functrace.ops._conv_geometry import _window_out

    n = len(operand_shape)
    return tuple(_window_out("lax.reduce_window_shape_tuple", d, lo, hi, b, w, r, s)
                 for d, w, s, (lo, hi), b, r in zip(operand_shape, window_dimensions, window_strides, padding,
                                                    base_dilation or (1,) * n, window_dilation or (1,) * n,
                                                    strict=True))


def conv_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int], strides: Sequence[int],
                     pads: Sequence[tuple[int, int]], batch_group_count: int = 1) -> tuple[int, ...]:
    """The output shape of a convolution in the (N, C, spatial...) / (O, I, spatial...) layout."""
    from functrace.ops._conv_geometry import _window_out

    spatial = tuple(_window_out("lax.conv_shape_tuple", d, lo, hi, 1, k, 1, s)
                    for d, k, s, (lo, hi) in zip(lhs_shape[2:], rhs_shape[2:], strides, pads, strict=True))
    return (lhs_shape[0] // batch_group_count, rhs_shape[0]) + spatial


def conv_general_shape_tuple(lhs_shape: Sequence[int], rhs_shape: Sequence[int], window_strides: Sequence[int],
                             padding: Any, dimension_numbers: Any) -> tuple[int, ...]:
    """The output shape of ``conv_general_dilated`` (no dilations) in its output layout."""
    from functrace.ops.convolution import conv_dimension_numbers, padtype_to_pads

    lspec, rspec, ospec = conv_dimension_numbers(lhs_shape, rhs_shape, dimension_numbers)
    lhs = tuple(lhs_shape[i] for i in lspec)
    rhs = tuple(rhs_shape[i] for i in rspec)
    if isinstance(padding, str):
        padding = padtype_to_pads(lhs[2:], rhs[2:], window_strides, padding)
    canonical = conv_shape_tuple(lhs, rhs, window_strides, padding)
    out = [0] * len(canonical)
    for c, axis in enumerate(ospec):
        out[axis] = canonical[c]
    return tuple(out)
