"""``functrace.numpy`` (imported as ``fnp``): NumPy's names, traceable and differentiable.

Every function follows NumPy's semantics (broadcasting, ``axis``/``keepdims``, NEP 50 dtype
promotion) and is composed from the primitives of ``functrace.lax``; none has derivative rules
of its own. On concrete inputs they compute eagerly on the active backend.
"""

# ruff: noqa: I001 -- the names are imported in a compact grid, like the __all__ below
from numpy import (  # noqa: F401 -- dtypes and constants, re-exported as in NumPy
    bool_, complex64, complex128, dtype, e, float16, float32, float64, inf, int8, int16, int32, int64,
    nan, newaxis, pi, uint8, uint16, uint32, uint64,
)

from functrace.numpy import linalg
from functrace.numpy._core import (
    abs, absolute, add, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh, around, array, asarray,
    astype, bitwise_and, bitwise_or, bitwise_xor, ceil, clip, copy, cos, cosh, divide, divmod, equal, exp, exp2,
    expm1, float_power, floor, floor_divide, fmod, greater, greater_equal, invert, isfinite, isinf, isnan,
    less, less_equal, log, log1p, log2, log10, logaddexp, logical_and, logical_not, logical_or, logical_xor,
    maximum, minimum, mod, multiply, ndim, negative, not_equal, positive, power, reciprocal, remainder,
    result_type, rint, round, shape, sign, sin, sinh, size, sqrt, square, subtract, tan, tanh, true_divide,
    trunc, where,
)
from functrace.numpy._convolution import convolve, correlate
from functrace.numpy._creation import (
    arange, empty, eye, full, full_like, identity, linspace, ones, ones_like, tri, tril, triu, zeros,
    zeros_like,
)
from functrace.numpy._indexing import take, take_along_axis
from functrace.numpy._linalg_ops import dot, einsum, inner, matmul, outer, tensordot, vdot
from functrace.numpy._reductions import (
    all, amax, amin, any, argmax, argmin, cumsum, max, mean, min, prod, std, sum, var,
)
from functrace.numpy._shape import (
    array_split, atleast_1d, broadcast_arrays, broadcast_to, concatenate, diag, expand_dims, flip, fliplr,
    flipud, hstack, moveaxis, pad, ravel, repeat, reshape, roll, split, squeeze, stack, swapaxes, tile,
    trace, transpose, vstack,
)

__all__ = [
    # elementwise
    "abs", "absolute", "add", "arccos", "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh",
    "around", "bitwise_and", "bitwise_or", "bitwise_xor", "ceil", "clip", "cos", "cosh", "divide", "divmod",
    "equal", "exp", "exp2", "expm1", "float_power", "floor", "floor_divide", "fmod", "greater",
    "greater_equal", "invert", "isfinite", "isinf", "isnan", "less", "less_equal", "log", "log1p",
    "log2", "log10", "logaddexp", "logical_and", "logical_not", "logical_or", "logical_xor", "maximum",
    "minimum", "mod", "multiply", "negative", "not_equal", "positive", "power", "reciprocal",
    "remainder", "rint", "round", "sign", "sin", "sinh", "sqrt", "square", "subtract", "tan", "tanh",
    "true_divide", "trunc", "where",
    # reductions
    "all", "amax", "amin", "any", "argmax", "argmin", "cumsum", "max", "mean", "min", "prod", "std",
    "sum", "var",
    # linear algebra
    "dot", "einsum", "inner", "matmul", "outer", "tensordot", "vdot", "transpose", "trace", "diag",
    "convolve", "correlate",
    # shapes
    "array_split", "atleast_1d", "broadcast_arrays", "broadcast_to", "concatenate", "expand_dims",
    "flip", "fliplr", "flipud", "hstack", "moveaxis", "pad", "ravel", "repeat", "reshape", "roll",
    "split", "squeeze", "stack", "swapaxes", "tile", "vstack", "take", "take_along_axis",
    # creation
    "arange", "array", "asarray", "empty", "eye", "full", "full_like", "identity", "linspace", "ones",
    "ones_like", "tri", "tril", "triu", "zeros", "zeros_like",
    # misc
    "astype", "copy", "ndim", "result_type", "shape", "size", "linalg", "fft",
]

from functrace.numpy._at import at  # noqa: E402,F401
from functrace.numpy._sorting import *  # noqa: E402,F401,F403
from functrace.numpy._cumulative import *  # noqa: E402,F401,F403
from functrace.numpy._complex import *  # noqa: E402,F401,F403
from functrace.numpy import _complex, _cumulative, _sorting  # noqa: E402
from functrace.numpy import fft  # noqa: E402,F401

__all__ += [n for n in _sorting.__all__ + _cumulative.__all__ + _complex.__all__ + ["at"] if n not in __all__]

from functrace.numpy._tail_math import *  # noqa: E402,F401,F403
from functrace.numpy._tail_shape import *  # noqa: E402,F401,F403
from functrace.numpy import _tail_math, _tail_shape  # noqa: E402

__all__ += [n for n in _tail_math.__all__ + _tail_shape.__all__ if n not in __all__]

from functrace.numpy import _interop  # noqa: E402

_interop.install(__import__("functrace.numpy", fromlist=["*"]))
