"""The reductions: sums, products, extrema, logical reductions, arg-extrema, cumulative sums.

Each reduces static, non-negative ``axes`` (no keepdims; ``functrace.numpy`` adds those). Each
primitive is declared with its traits, then its ``lax`` wrapper, derivative and batching rules.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import ShapeError
from functrace.primitives import (
    Primitive,
    check_axes,
    check_kind,
    def_primitive,
)
from functrace.rules import (
    BatchRule,
    Zero,
    batch_axis,
    const_like,
    def_batch_rule,
    def_jvp_rule,
    deflinear,
    prim_bind,
)
from functrace.tracing import bind, get_aval
from functrace.util import normalize_axis

Array = Any


# ---------------------------------------------------------------------------- declarations
def _reduce_abstract_eval(name: str, kinds: str = "fib", out_dtype=None):
    def rule(x: ShapedArray, *, axes: tuple[int, ...]) -> ShapedArray:
        check_axes(name, x, axes)
        check_kind(name, x.dtype, kinds)
        if name in ("reduce_max", "reduce_min") and any(x.shape[a] == 0 for a in axes):
            raise ShapeError(f"{name} over an empty axis of shape {x.shape} has no identity; "
                             "pass an initial value with functrace.numpy.where, or check the size")
        shape = tuple(d for i, d in enumerate(x.shape) if i not in axes)
        return ShapedArray(shape, x.dtype if out_dtype is None else out_dtype)

    return rule


reduce_sum_p = def_primitive("reduce_sum", _reduce_abstract_eval("reduce_sum", "fci"), linear=(0,))
reduce_prod_p = def_primitive("reduce_prod", _reduce_abstract_eval("reduce_prod", "fci"))
reduce_max_p = def_primitive("reduce_max", _reduce_abstract_eval("reduce_max"))
reduce_min_p = def_primitive("reduce_min", _reduce_abstract_eval("reduce_min"))
reduce_and_p = def_primitive("reduce_and", _reduce_abstract_eval("reduce_and", "b"), zero_derivative=True)
reduce_or_p = def_primitive("reduce_or", _reduce_abstract_eval("reduce_or", "b"), zero_derivative=True)


def _argminmax_abstract_eval(name: str):
    def rule(x: ShapedArray, *, axis: int, index_dtype) -> ShapedArray:
        check_axes(name, x, (axis,))
        if x.shape[axis] == 0:
            raise ShapeError(f"{name} of an empty axis is undefined (shape {x.shape})")
        return ShapedArray(x.shape[:axis] + x.shape[axis + 1:], index_dtype)

    return rule


argmax_p = def_primitive("argmax", _argminmax_abstract_eval("argmax"), zero_derivative=True)
argmin_p = def_primitive("argmin", _argminmax_abstract_eval("argmin"), zero_derivative=True)


def _cumulative_abstract_eval(x: ShapedArray, *, axis: int, reverse: bool) -> ShapedArray:
    check_axes("cumsum", x, (axis,))
    check_kind("cumsum", x.dtype, "fci")
    return x


cumsum_p = def_primitive("cumsum", _cumulative_abstract_eval, linear=(0,))


# ---------------------------------------------------------------------------- lax wrappers
def reduce_sum(x: Array, axes: Sequence[int]) -> Array:
    """Sum over ``axes`` (non-negative, no keepdims)."""
    return bind(reduce_sum_p, x, axes=tuple(axes))


def reduce_prod(x: Array, axes: Sequence[int]) -> Array:
    """Product over ``axes``."""
    return bind(reduce_prod_p, x, axes=tuple(axes))


def reduce_max(x: Array, axes: Sequence[int]) -> Array:
    """Maximum over ``axes``."""
    return bind(reduce_max_p, x, axes=tuple(axes))


def reduce_min(x: Array, axes: Sequence[int]) -> Array:
    """Minimum over ``axes``."""
    return bind(reduce_min_p, x, axes=tuple(axes))


def reduce_and(x: Array, axes: Sequence[int]) -> Array:
    """Logical and over ``axes`` of a boolean array."""
    return bind(reduce_and_p, x, axes=tuple(axes))


def reduce_or(x: Array, axes: Sequence[int]) -> Array:
    """Logical or over ``axes`` of a boolean array."""
    return bind(reduce_or_p, x, axes=tuple(axes))


def argmax(x: Array, axis: int, index_dtype: Any = np.int64) -> Array:
    """Index of the first maximum along ``axis``."""
    return bind(argmax_p, x, axis=axis, index_dtype=np.dtype(index_dtype))


def argmin(x: Array, axis: int, index_dtype: Any = np.int64) -> Array:
    """Index of the first minimum along ``axis``."""
    return bind(argmin_p, x, axis=axis, index_dtype=np.dtype(index_dtype))


def cumsum(x: Array, axis: int = 0, reverse: bool = False) -> Array:
    """Inclusive cumulative sum along ``axis`` (from the end when ``reverse``); JAX's signature,
    as ``cumprod``/``cummax``/... (a negative axis counts from the end)."""
    return bind(cumsum_p, x, axis=normalize_axis(axis, get_aval(x).ndim), reverse=bool(reverse))


# ---------------------------------------------------------------------------- derivatives
def _reduce_chooser_jvp(primals, tangents, *, axes, prim):
    """max/min: the tangent averages over the positions that attain the extremum (JAX's choice)."""
    (x,), (t,) = primals, tangents
    ans = prim_bind(prim, [x], {"axes": axes})
    if isinstance(t, Zero):
        return ans, Zero(get_aval(ans))
    xa = get_aval(x)
    kept = tuple(i for i in range(xa.ndim) if i not in axes)
    location = lax.convert_element_type(lax.eq(x, lax.broadcast_in_dim(ans, xa.shape, kept)), xa.dtype)
    counts = lax.reduce_sum(location, axes)
    return ans, lax.div(lax.reduce_sum(lax.mul(t, location), axes), counts)


def_jvp_rule(reduce_max_p, lambda p, t, *, axes: _reduce_chooser_jvp(p, t, axes=axes, prim=reduce_max_p))
def_jvp_rule(reduce_min_p, lambda p, t, *, axes: _reduce_chooser_jvp(p, t, axes=axes, prim=reduce_min_p))


def _reduce_prod_jvp(primals, tangents, *, axes):
    """The product as a balanced tree of pairwise ``mul``s, differentiated by the product rule.

    Division-free, so exact where some x_j are zero, and built only from differentiable
    primitives, so every higher derivative is exact too (a quotient ``prod / x_i`` is neither).
    """
    (x,), (t,) = primals, tangents
    ans = lax.reduce_prod(x, axes)
    if isinstance(t, Zero):
        return ans, Zero(get_aval(ans))
    xa = get_aval(x)
    kept = tuple(i for i in range(xa.ndim) if i not in axes)
    n = int(np.prod([xa.shape[a] for a in axes], dtype=np.int64))
    m = int(np.prod([xa.shape[a] for a in kept], dtype=np.int64))
    if n == 0:
        return ans, lax.full(get_aval(ans).shape, 0, xa.dtype)

    def rows(v):  # reduced axes first, flattened: shape (n, m)
        return lax.reshape(lax.transpose(v, tuple(axes) + kept), (n, m))

    p, dp = rows(x), rows(t)
    while n > 1:
        if n % 2:  # pad with one factor 1 (tangent 0) to pair every row
            one_more_row = ((0, 1, 0), (0, 0, 0))
            p, dp = lax.pad(p, const_like(1, x), one_more_row), lax.pad(dp, const_like(0, x), one_more_row)
            n += 1
        a, b = lax.slice(p, (0, 0), (n, m), (2, 1)), lax.slice(p, (1, 0), (n, m), (2, 1))
        da, db = lax.slice(dp, (0, 0), (n, m), (2, 1)), lax.slice(dp, (1, 0), (n, m), (2, 1))
        p, dp = lax.mul(a, b), lax.add(lax.mul(da, b), lax.mul(a, db))
        n //= 2
    return ans, lax.reshape(dp, get_aval(ans).shape)


def_jvp_rule(reduce_prod_p, _reduce_prod_jvp)


def _reduce_sum_transpose(ct, x, *, axes):
    kept = tuple(i for i in range(x.aval.ndim) if i not in axes)
    return [lax.broadcast_in_dim(ct, x.aval.shape, kept)]


deflinear(reduce_sum_p, _reduce_sum_transpose)


def _cumsum_transpose(ct, x, *, axis, reverse):
    return [lax.cumsum(ct, axis, reverse=not reverse)]


deflinear(cumsum_p, _cumsum_transpose)


# ---------------------------------------------------------------------------- batching
def _reduce_batch(prim: Primitive) -> BatchRule:
    """Reduce the same axes, counted around the batch axis, which stays in place."""

    def rule(args, dims, *, axes):
        (x,), (d,) = args, dims
        baxes = tuple(batch_axis(a, d) for a in axes)
        return bind(prim, x, axes=baxes), d - sum(1 for a in baxes if a < d)

    return rule


for _p in (reduce_sum_p, reduce_prod_p, reduce_max_p, reduce_min_p, reduce_and_p, reduce_or_p):
    def_batch_rule(_p, _reduce_batch(_p))


def _argminmax_batch(prim: Primitive) -> BatchRule:
    def rule(args, dims, *, axis, index_dtype):
        (x,), (d,) = args, dims
        ba = batch_axis(axis, d)
        return bind(prim, x, axis=ba, index_dtype=index_dtype), d - (ba < d)

    return rule


def_batch_rule(argmax_p, _argminmax_batch(argmax_p))
def_batch_rule(argmin_p, _argminmax_batch(argmin_p))


def _cumsum_batch(args, dims, *, axis, reverse):
    (x,), (d,) = args, dims
    return lax.cumsum(x, batch_axis(axis, d), reverse=reverse), d


def_batch_rule(cumsum_p, _cumsum_batch)


# ---------------------------------------------------------------------------- shapes


# ---------------------------------------------------------------------------- Taylor rules (jet)
# reduce_sum is linear and argmax/argmin, reduce_and/or have zero derivatives: the generic rules
# of transforms/jet.py apply. reduce_max/min follow the series of the element they pick.
from functrace.ops.elementwise import piecewise_jet  # noqa: E402

for _p in (reduce_max_p, reduce_min_p):
    piecewise_jet(_p)
