"""NumPy implementations of the elementwise family (``functrace/ops/elementwise.py``)."""

from __future__ import annotations

import functools
import math
import operator

import numpy as np

from functrace import ops as P
from functrace.backends import select_by_bits
from functrace.backends.numpy_util import quiet


def _int_div(x, y):
    """Integer division truncating toward zero (C semantics, as in lax.div): NumPy's floor
    division, one up where the quotient is negative and not whole. (Through ``|x|`` the most
    negative integer would overflow: INT_MIN / 3 came out positive.) A division by zero gives 0,
    NumPy's; INT_MIN / -1 wraps to INT_MIN."""
    q = np.floor_divide(x, y)
    inexact_negative = (np.remainder(x, y) != 0) & ((x < 0) != (y < 0))
    return (q + inexact_negative).astype(np.result_type(x, y))


def _div(x, y):
    if np.issubdtype(np.result_type(x, y), np.integer):
        return _int_div(x, y)
    return np.true_divide(x, y)


def _logistic(x):
    """1 / (1 + exp(-x)), accurate in both tails: exp is only taken of -|x|, so nothing overflows."""
    e = np.exp(-np.abs(x))
    return _select(x >= 0, 1 / (1 + e), e / (1 + e)).astype(np.result_type(x), copy=False)


def _erf(x):
    """The error function (NumPy has none): SciPy's when SciPy is installed, else the C
    library's, one element at a time (exact, but about a hundred times slower)."""
    return _erf_impl()(x)


@functools.lru_cache(maxsize=None)
def _erf_impl():
    try:
        from scipy.special import erf
    except ImportError:
        return _erf_by_element
    return erf


def _erf_by_element(x):
    x = np.asarray(x)
    return np.asarray(np.frompyfunc(math.erf, 1, 1)(x), dtype=x.dtype)


_BITS = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}


def _sign(x):
    """np.sign, with a zero's own sign kept (-0.0 -> -0.0, as XLA and JAX; NumPy gives +0.0)."""
    s = np.sign(x)
    if s.dtype.kind != "f":
        return s
    return _select(np.equal(x, 0), x, s)


def _select(pred, on_true, on_false):
    """``np.where``, or on large arrays the same bits without a branch per element
    (``backends/select_by_bits.py``): a ReLU's mask costs ``np.where`` 8× more than a sorted one."""
    size = getattr(pred, "size", 0)
    if size < select_by_bits.MIN_SIZE:  # the common small case first: no more checks
        return np.where(pred, on_true, on_false)
    dtype = np.result_type(on_true, on_false)
    if not select_by_bits.worth_it(size, dtype.itemsize) or dtype.kind not in "fiub" or \
            np.shape(pred) != np.broadcast_shapes(np.shape(pred), np.shape(on_true), np.shape(on_false)):
        return np.where(pred, on_true, on_false)
    if dtype.itemsize == 8:
        mask = pred.reshape(-1)
        if not select_by_bits.changes_often(size, 8, int(np.count_nonzero(mask[1:] != mask[:-1]))):
            return np.where(pred, on_true, on_false)
    bits = _BITS[dtype.itemsize]
    f = np.asarray(on_false, dtype).view(bits)
    out = np.bitwise_xor(np.asarray(on_true, dtype).view(bits), f)
    if out.shape != pred.shape:  # both branches broadcast: the result has the mask's shape
        out = np.broadcast_to(out, pred.shape).copy()
    np.multiply(out, pred, out=out)
    np.bitwise_xor(out, f, out=out)
    return out.view(dtype)


def _integer_pow(x, *, y):
    """x ** y for a Python int y: repeated squaring (np.power is several times slower)."""
    if y < 0 and np.issubdtype(np.result_type(x), np.integer):
        raise ValueError("integers cannot be raised to negative integer powers")
    if y == 0:
        return np.ones_like(x)
    base, n, out = x, abs(y), None
    while n:
        if n & 1:
            out = base if out is None else out * base
        n >>= 1
        if n:
            base = base * base
    if out is x:
        out = np.array(x, copy=True)  # a new array, as from any other primitive
    return np.reciprocal(out) if y < 0 else out



def _convert(x, *, new_dtype):
    """A cast; complex -> real keeps the real part (as JAX), without NumPy's ComplexWarning;
    float -> int saturates (``_saturating_int``)."""
    x = np.asarray(x)
    dt = np.dtype(new_dtype)
    if x.dtype.kind == "c" and dt.kind != "c":
        x = x.real
    if x.dtype.kind == "f" and dt.kind in "iu":
        return _saturating_int(x, dt)
    return x.astype(dt)


def _saturating_int(x, dt):
    """float -> int as XLA and JAX convert: truncation toward zero, saturated at the type's
    limits, nan to 0. (NumPy's cast is undefined out of range: INT_MIN on x86 for nan, inf and
    1e30 alike, and uint8(-1.5) wraps to 255.) The limits are compared as powers of two, exact
    in every float type."""
    info = np.iinfo(dt)
    high, low = float(info.max) + 1.0, float(info.min)
    above, below, nan = x >= high, x < low, np.isnan(x)
    out = np.where(above | below | nan, x.dtype.type(0), x).astype(dt)
    if above.any() or below.any():
        out = np.where(above, dt.type(info.max), np.where(below, dt.type(info.min), out))
    return out



def _square(x, *, y):
    return np.square(x)



UNARY = {
    P.neg_p: np.negative, P.sign_p: _sign, P.abs_p: np.abs, P.floor_p: np.floor,
    P.ceil_p: np.ceil, P.round_p: np.round, P.sin_p: quiet(np.sin), P.cos_p: quiet(np.cos), P.tan_p: quiet(np.tan),
    P.asin_p: quiet(np.arcsin), P.acos_p: quiet(np.arccos), P.atan_p: np.arctan,
    P.sinh_p: quiet(np.sinh), P.cosh_p: quiet(np.cosh), P.tanh_p: np.tanh,
    P.asinh_p: np.arcsinh, P.acosh_p: quiet(np.arccosh), P.atanh_p: quiet(np.arctanh),
    P.exp_p: quiet(np.exp), P.exp2_p: quiet(np.exp2), P.expm1_p: quiet(np.expm1),
    P.log_p: quiet(np.log), P.log1p_p: quiet(np.log1p), P.sqrt_p: quiet(np.sqrt),
    P.logistic_p: quiet(_logistic), P.erf_p: _erf, P.not_p: np.invert, P.is_finite_p: np.isfinite,
    P.stop_gradient_p: lambda x: x,
}
BINARY = {
    P.add_p: quiet(np.add), P.sub_p: quiet(np.subtract), P.mul_p: quiet(np.multiply), P.div_p: quiet(_div),
    P.rem_p: quiet(np.fmod), P.pow_p: quiet(np.power), P.max_p: np.maximum, P.min_p: np.minimum,
    P.atan2_p: np.arctan2, P.and_p: np.bitwise_and, P.or_p: np.bitwise_or, P.xor_p: np.bitwise_xor,
    P.eq_p: np.equal, P.ne_p: np.not_equal, P.lt_p: np.less, P.le_p: np.less_equal,
    P.gt_p: np.greater, P.ge_p: np.greater_equal,
}


IMPLS = {
    **UNARY,
    **BINARY,
    P.integer_pow_p: quiet(_integer_pow),
    P.select_p: _select,
    P.convert_element_type_p: quiet(_convert),
}

# Implementations chosen when a program is lowered, for an equation's types and params.
_TRUE_DIVIDE = quiet(np.true_divide)  # floating-point division: no integer check on each call
_SQUARE = quiet(_square)  # x ** 2, the most common power, without the squaring loop

# On real floating-point scalars (shape ()), NumPy's scalar arithmetic behind Python's operators
# gives the ufunc's IEEE result (signed zeros, inf and nan alike) about ten times faster than a
# ufunc call: a program of scalars, such as the n-th derivative of tanh, is mostly these calls.
_SCALAR_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_SCALAR_OPS = {P.add_p: quiet(operator.add), P.sub_p: quiet(operator.sub), P.mul_p: quiet(operator.mul),
               P.div_p: quiet(operator.truediv), P.neg_p: quiet(operator.neg)}


def _on_float_scalars(eqn) -> bool:
    # The result's type decides: these primitives take operands of its dtype, and a rank-0 result
    # has rank-0 operands (broadcasting only widens).
    out = eqn.outvars[0].aval
    return out.shape == () and out.dtype in _SCALAR_DTYPES


def _specialize_arithmetic(eqn):
    if _on_float_scalars(eqn):
        return _SCALAR_OPS[eqn.primitive]
    if eqn.primitive is P.div_p and eqn.outvars[0].aval.dtype.kind in "fc":
        return _TRUE_DIVIDE
    return None


def _specialize_select(eqn):
    out = eqn.outvars[0].aval
    return np.where if not select_by_bits.worth_it(math.prod(out.shape), out.dtype.itemsize) else None


SPECIALIZE = {
    P.select_p: _specialize_select,
    **dict.fromkeys(_SCALAR_OPS, _specialize_arithmetic),
    P.integer_pow_p: lambda eqn: _SQUARE if eqn.params["y"] == 2 else None,
}
