"""``functrace.lax``: one thin wrapper per primitive. No promotion, no broadcasting.

Operands must already have one dtype and equal shapes (a rank-0 operand may stand for all
positions); ``functrace.numpy`` does the NumPy-style promotion and broadcasting on top.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import primitives as P
from functrace.tracing import bind, get_aval

Array = Any


def _unary(p: P.Primitive, doc: str):
    def f(x: Array) -> Array:
        return bind(p, x)

    f.__name__ = p.name
    f.__doc__ = doc
    return f


neg = _unary(P.neg_p, "Elementwise -x.")
sign = _unary(P.sign_p, "Elementwise sign: -1, 0 or 1.")
abs = _unary(P.abs_p, "Elementwise |x|.")  # noqa: A001
floor = _unary(P.floor_p, "Elementwise floor.")
ceil = _unary(P.ceil_p, "Elementwise ceiling.")
round = _unary(P.round_p, "Elementwise round half to even (as NumPy).")  # noqa: A001
sin = _unary(P.sin_p, "Elementwise sine.")
cos = _unary(P.cos_p, "Elementwise cosine.")
tan = _unary(P.tan_p, "Elementwise tangent.")
asin = _unary(P.asin_p, "Elementwise arcsine.")
acos = _unary(P.acos_p, "Elementwise arccosine.")
atan = _unary(P.atan_p, "Elementwise arctangent.")
sinh = _unary(P.sinh_p, "Elementwise hyperbolic sine.")
cosh = _unary(P.cosh_p, "Elementwise hyperbolic cosine.")
tanh = _unary(P.tanh_p, "Elementwise hyperbolic tangent.")
asinh = _unary(P.asinh_p, "Elementwise inverse hyperbolic sine.")
acosh = _unary(P.acosh_p, "Elementwise inverse hyperbolic cosine.")
atanh = _unary(P.atanh_p, "Elementwise inverse hyperbolic tangent.")
exp = _unary(P.exp_p, "Elementwise e**x.")
exp2 = _unary(P.exp2_p, "Elementwise 2**x.")
expm1 = _unary(P.expm1_p, "Elementwise e**x - 1, accurate near 0.")
log = _unary(P.log_p, "Elementwise natural logarithm.")
log1p = _unary(P.log1p_p, "Elementwise log(1 + x), accurate near 0.")
sqrt = _unary(P.sqrt_p, "Elementwise square root.")
logistic = _unary(P.logistic_p, "Elementwise 1 / (1 + exp(-x)).")
erf = _unary(P.erf_p, "Elementwise error function 2/sqrt(pi) * integral from 0 to x of exp(-t**2) dt.")
bitwise_not = _unary(P.not_p, "Elementwise logical (bool) or bitwise (int) not.")
is_finite = _unary(P.is_finite_p, "Elementwise test for finite values.")
stop_gradient_p_bind = _unary(P.stop_gradient_p, "Identity whose derivative is zero.")


def _binary(p: P.Primitive, doc: str):
    def f(x: Array, y: Array) -> Array:
        return bind(p, x, y)

    f.__name__ = p.name
    f.__doc__ = doc
    return f


add = _binary(P.add_p, "Elementwise x + y.")
sub = _binary(P.sub_p, "Elementwise x - y.")
mul = _binary(P.mul_p, "Elementwise x * y.")
div = _binary(P.div_p, "Elementwise x / y (integer division truncates toward zero).")
rem = _binary(P.rem_p, "Elementwise remainder with the sign of x (C fmod).")
pow = _binary(P.pow_p, "Elementwise x ** y for floating x and y.")  # noqa: A001
max = _binary(P.max_p, "Elementwise maximum.")  # noqa: A001
min = _binary(P.min_p, "Elementwise minimum.")  # noqa: A001
atan2 = _binary(P.atan2_p, "Elementwise arctan(x / y) in the right quadrant.")
bitwise_and = _binary(P.and_p, "Elementwise and.")
bitwise_or = _binary(P.or_p, "Elementwise or.")
bitwise_xor = _binary(P.xor_p, "Elementwise exclusive or.")
eq = _binary(P.eq_p, "Elementwise x == y.")
ne = _binary(P.ne_p, "Elementwise x != y.")
lt = _binary(P.lt_p, "Elementwise x < y.")
le = _binary(P.le_p, "Elementwise x <= y.")
gt = _binary(P.gt_p, "Elementwise x > y.")
ge = _binary(P.ge_p, "Elementwise x >= y.")


def integer_pow(x: Array, y: int) -> Array:
    """Elementwise x ** y for a Python int exponent y."""
    return bind(P.integer_pow_p, x, y=int(y))


def select(pred: Array, on_true: Array, on_false: Array) -> Array:
    """Elementwise ``on_true if pred else on_false``."""
    return bind(P.select_p, pred, on_true, on_false)


def convert_element_type(x: Array, new_dtype: Any) -> Array:
    """Cast to ``new_dtype``; a no-op (no equation) when the dtype already matches."""
    new_dtype = np.dtype(new_dtype)
    if get_aval(x).dtype == new_dtype:
        return x
    return bind(P.convert_element_type_p, x, new_dtype=new_dtype)


def stop_gradient(x: Array) -> Array:
    """The identity, but derivatives do not flow through it."""
    return bind(P.stop_gradient_p, x)


def reduce_sum(x: Array, axes: Sequence[int]) -> Array:
    """Sum over ``axes`` (non-negative, no keepdims)."""
    return bind(P.reduce_sum_p, x, axes=tuple(axes))


def reduce_prod(x: Array, axes: Sequence[int]) -> Array:
    """Product over ``axes``."""
    return bind(P.reduce_prod_p, x, axes=tuple(axes))


def reduce_max(x: Array, axes: Sequence[int]) -> Array:
    """Maximum over ``axes``."""
    return bind(P.reduce_max_p, x, axes=tuple(axes))


def reduce_min(x: Array, axes: Sequence[int]) -> Array:
    """Minimum over ``axes``."""
    return bind(P.reduce_min_p, x, axes=tuple(axes))


def reduce_and(x: Array, axes: Sequence[int]) -> Array:
    """Logical and over ``axes`` of a boolean array."""
    return bind(P.reduce_and_p, x, axes=tuple(axes))


def reduce_or(x: Array, axes: Sequence[int]) -> Array:
    """Logical or over ``axes`` of a boolean array."""
    return bind(P.reduce_or_p, x, axes=tuple(axes))


def argmax(x: Array, axis: int, index_dtype: Any = np.int64) -> Array:
    """Index of the first maximum along ``axis``."""
    return bind(P.argmax_p, x, axis=axis, index_dtype=np.dtype(index_dtype))


def argmin(x: Array, axis: int, index_dtype: Any = np.int64) -> Array:
    """Index of the first minimum along ``axis``."""
    return bind(P.argmin_p, x, axis=axis, index_dtype=np.dtype(index_dtype))


def cumsum(x: Array, axis: int, reverse: bool = False) -> Array:
    """Inclusive cumulative sum along ``axis`` (from the end when ``reverse``)."""
    return bind(P.cumsum_p, x, axis=axis, reverse=bool(reverse))


def broadcast_in_dim(x: Array, shape: Sequence[int], broadcast_dimensions: Sequence[int]) -> Array:
    """Place the axes of ``x`` at ``broadcast_dimensions`` of ``shape``, repeating size-1 axes."""
    shape, dims = tuple(shape), tuple(broadcast_dimensions)
    if get_aval(x).shape == shape and dims == tuple(range(len(shape))):
        return x
    return bind(P.broadcast_in_dim_p, x, shape=shape, broadcast_dimensions=dims)


def reshape(x: Array, new_sizes: Sequence[int]) -> Array:
    """Reshape in row-major order; a no-op when the shape already matches."""
    new_sizes = tuple(int(d) for d in new_sizes)
    if get_aval(x).shape == new_sizes:
        return x
    return bind(P.reshape_p, x, new_sizes=new_sizes)


def transpose(x: Array, permutation: Sequence[int]) -> Array:
    """Permute the axes; a no-op for the identity permutation."""
    permutation = tuple(int(p) for p in permutation)
    if permutation == tuple(range(len(permutation))):
        return x
    return bind(P.transpose_p, x, permutation=permutation)


def slice(x: Array, start_indices: Sequence[int], limit_indices: Sequence[int],  # noqa: A001
          strides: Sequence[int] | None = None) -> Array:
    """``x[start:limit:stride]`` along every axis, with static non-negative bounds."""
    aval = get_aval(x)
    strides = tuple(strides) if strides is not None else (1,) * aval.ndim
    start, limit = tuple(map(int, start_indices)), tuple(map(int, limit_indices))
    if start == (0,) * aval.ndim and limit == aval.shape and strides == (1,) * aval.ndim:
        return x
    return bind(P.slice_p, x, start_indices=start, limit_indices=limit, strides=tuple(map(int, strides)))


def rev(x: Array, dimensions: Sequence[int]) -> Array:
    """Reverse the order of elements along ``dimensions``."""
    if not dimensions:
        return x
    return bind(P.rev_p, x, dimensions=tuple(dimensions))


def pad(x: Array, padding_value: Array, padding_config: Sequence[tuple[int, int, int]]) -> Array:
    """Pad with (low, high, interior) elements of ``padding_value`` per axis."""
    cfg = tuple((int(lo), int(hi), int(i)) for lo, hi, i in padding_config)
    return bind(P.pad_p, x, padding_value, padding_config=cfg)


def concatenate(xs: Sequence[Array], dimension: int) -> Array:
    """Join arrays along ``dimension``."""
    if len(xs) == 1:
        return xs[0]
    return bind(P.concatenate_p, *xs, dimension=int(dimension))


def gather(x: Array, indices: Array, axis: int) -> Array:
    """``numpy.take(x, indices, axis)`` for in-range non-negative integer indices."""
    return bind(P.gather_p, x, indices, axis=int(axis))


def scatter_add(x: Array, indices: Array, updates: Array, axis: int) -> Array:
    """A copy of ``x`` with ``updates`` added at ``indices`` along ``axis`` (repeats accumulate)."""
    return bind(P.scatter_add_p, x, indices, updates, axis=int(axis))


def dot_general(lhs: Array, rhs: Array, dimension_numbers) -> Array:
    """Contract ``((lhs_contract, rhs_contract), (lhs_batch, rhs_batch))``.

    The result's axes are the batch axes, then lhs's free axes, then rhs's free axes.
    """
    (lc, rc), (lb, rb) = dimension_numbers
    dn = ((tuple(lc), tuple(rc)), (tuple(lb), tuple(rb)))
    return bind(P.dot_general_p, lhs, rhs, dimension_numbers=dn)


def iota(dtype: Any, shape: Sequence[int], dimension: int = 0) -> Array:
    """An array of ``shape`` counting 0, 1, ... along ``dimension``."""
    return bind(P.iota_p, dtype=np.dtype(dtype), shape=tuple(shape), dimension=int(dimension))


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


from functrace.control_flow import cond, fori_loop, scan, switch, while_loop  # noqa: E402, F401
from functrace.ops.convolution import (  # noqa: E402,F401
    ConvDimensionNumbers,
    conv,
    conv_dimension_numbers,
    conv_general_dilated,
    conv_general_dilated_patches,
    conv_transpose,
    conv_with_general_padding,
    padtype_to_pads,
    reduce_window,
    reduce_window_max,
    reduce_window_min,
    reduce_window_sum,
)
