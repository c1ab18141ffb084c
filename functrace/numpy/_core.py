"""The elementwise functions of ``functrace.numpy``, with NumPy's promotion (NEP 50) and broadcasting.

Promotion, broadcasting and ``asarray`` live in ``_promotion``, division and powers in ``_arith``;
both are re-exported here, where the rest of the package imports them from."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import broadcast_shapes, concrete_aval, is_bool, is_float, is_int
from functrace.errors import DTypeError
from functrace.numpy._arith import (  # noqa: F401 -- re-exported
    arctan2,
    divide,
    divmod,
    float_power,
    floor_divide,
    fmod,
    mod,
    power,
    remainder,
    true_divide,
)
from functrace.numpy._promotion import (  # noqa: F401 -- re-exported
    _PY_SCALARS,
    Array,
    _as_operand,
    _broadcast_to_shape,
    _cast,
    _dtype_key,
    _float_dtype,
    _keep_weak,
    _no_bool,
    _weak_arithmetic,
    array,
    as_dtype,
    asarray,
    check_axis,
    promote,
    result_type,
    user_error,
)
from functrace.ops.custom_jvp import custom_jvp
from functrace.tracing import Tracer, current_backend, get_aval, located


def _unary_float(name: str, op, doc: str):
    def f(x: Array) -> Array:
        if isinstance(x, Tracer) and x.aval.dtype.kind == "f":  # the common case, traced
            return op(x)
        x = _as_operand(x)
        dt = _float_dtype(np.result_type(_dtype_key(x)))
        return op(_cast(x, dt))

    f.__name__ = name
    f.__doc__ = doc
    return f


sin = _unary_float("sin", lax.sin, "Elementwise sine. ``fnp.sin(x)`` as ``np.sin(x)``.")
cos = _unary_float("cos", lax.cos, "Elementwise cosine.")
tan = _unary_float("tan", lax.tan, "Elementwise tangent.")
arcsin = _unary_float("arcsin", lax.asin, "Elementwise inverse sine.")
arccos = _unary_float("arccos", lax.acos, "Elementwise inverse cosine.")
arctan = _unary_float("arctan", lax.atan, "Elementwise inverse tangent.")
sinh = _unary_float("sinh", lax.sinh, "Elementwise hyperbolic sine.")
cosh = _unary_float("cosh", lax.cosh, "Elementwise hyperbolic cosine.")
tanh = _unary_float("tanh", lax.tanh, "Elementwise hyperbolic tangent.")
arcsinh = _unary_float("arcsinh", lax.asinh, "Elementwise inverse hyperbolic sine.")
arccosh = _unary_float("arccosh", lax.acosh, "Elementwise inverse hyperbolic cosine.")
arctanh = _unary_float("arctanh", lax.atanh, "Elementwise inverse hyperbolic tangent.")
exp = _unary_float("exp", lax.exp, "Elementwise e**x.")
exp2 = _unary_float("exp2", lax.exp2, "Elementwise 2**x.")
expm1 = _unary_float("expm1", lax.expm1, "Elementwise e**x - 1, accurate for small x.")
log = _unary_float("log", lax.log, "Elementwise natural logarithm.")
log1p = _unary_float("log1p", lax.log1p, "Elementwise log(1 + x), accurate for small x.")
sqrt = _unary_float("sqrt", lax.sqrt, "Elementwise square root.")
log2 = _unary_float("log2", lambda x: lax.div(lax.log(x), _cast(float(np.log(2)), get_aval(x).dtype)),
                    "Elementwise base-2 logarithm (log(x) / log(2)).")
log10 = _unary_float("log10", lambda x: lax.div(lax.log(x), _cast(float(np.log(10)), get_aval(x).dtype)),
                     "Elementwise base-10 logarithm (log(x) / log(10)).")


def _rounding(name: str, op):
    def f(x: Array) -> Array:
        x = _as_operand(x)
        # (a weakly typed value's key is a Python scalar standing for its kind: np.result_type reads both)
        return op(x) if is_float(np.result_type(_dtype_key(x))) else asarray(x) if not isinstance(x, Tracer) else x

    f.__name__ = name
    f.__doc__ = f"Elementwise {name}; integers are returned unchanged."
    return f


floor = _rounding("floor", lax.floor)
ceil = _rounding("ceil", lax.ceil)
_round_keep_int = _rounding("rint", lambda v: lax.round(v, lax.RoundingMethod.TO_NEAREST_EVEN))


def rint(x: Array) -> Array:
    """Elementwise round half to even; integers give floats, as ``numpy.rint`` does."""
    x = _as_operand(x)
    return lax.round(_cast(x, _float_dtype(np.result_type(_dtype_key(x)))), lax.RoundingMethod.TO_NEAREST_EVEN)


def trunc(x: Array) -> Array:
    """Elementwise rounding toward zero."""
    x = _as_operand(x)
    return where(x < 0, ceil(x), floor(x))


def round(x: Array, decimals: int = 0) -> Array:  # noqa: A001
    """Round half to even, to ``decimals`` places (as ``numpy.round``)."""
    dt = result_type(x)
    if decimals == 0 or (decimals > 0 and not is_float(dt)):
        return _round_keep_int(x)
    if not is_float(dt):  # integers to tens, hundreds, ...: in float64, then back
        return astype(round(astype(x, np.float64), decimals), dt)
    if decimals > 0:
        scale = 10.0 ** decimals
        return true_divide(_round_keep_int(multiply(x, scale)), scale)
    scale = 10.0 ** -decimals  # divide by an exact power of ten, as NumPy does
    return multiply(_round_keep_int(true_divide(x, scale)), scale)


around = round


@_weak_arithmetic
def negative(x: Array) -> Array:
    """Elementwise -x."""
    (x,), dt = promote("negative", x)
    if is_bool(dt):
        raise located(DTypeError("negative is not defined for booleans; use logical_not"))
    return lax.neg(x)


def positive(x: Array) -> Array:
    """Elementwise +x (a copy)."""
    return asarray(_as_operand(x)) if not isinstance(x, Tracer) else x


@_weak_arithmetic
def abs(x: Array) -> Array:  # noqa: A001
    """Elementwise absolute value."""
    (x,), dt = promote("abs", x)
    return x if is_bool(dt) else lax.abs(x)


absolute = abs


def sign(x: Array) -> Array:
    """Elementwise sign: -1, 0 or +1 (nan for nan)."""
    (x,), dt = promote("sign", x)
    if is_bool(dt):
        raise located(DTypeError("sign is not defined for booleans"))
    return lax.sign(x)


def square(x: Array) -> Array:
    """Elementwise x * x."""
    (x,), _ = promote("square", x, dtype=_no_bool(result_type(x)))
    return lax.integer_pow(x, 2)


def reciprocal(x: Array) -> Array:
    """Elementwise 1 / x (integer division for integers, truncating toward zero, as NumPy's)."""
    dt = _no_bool(result_type(x))
    if not is_int(dt):
        return true_divide(1.0, x)
    (x,), _ = promote("reciprocal", x, dtype=dt)
    return lax.div(_cast(1, dt), x)


def _binary(name: str, op, doc: str):
    def f(x: Array, y: Array) -> Array:
        (x, y), _ = promote(name, x, y)
        return op(x, y)

    f.__name__ = name
    f.__doc__ = doc
    return f


def _arith(name: str, op, bool_op, doc: str):
    """A binary arithmetic function; on booleans it is ``bool_op`` (logical or / and), as in NumPy."""
    def f(x: Array, y: Array) -> Array:
        (px, py), dt = promote(name, x, y)
        if is_bool(dt):
            if bool_op is None:
                raise located(DTypeError(f"{name} is not defined for booleans; use logical_xor or cast to int"))
            return _keep_weak(bool_op(px, py), x, y)
        out = op(px, py)
        # Inline test of the common case (a strong traced x) first: this is every +, -, *.
        if x.aval.weak_type if isinstance(x, Tracer) else type(x) in _PY_SCALARS:
            return _keep_weak(out, x, y)
        return out

    f.__name__ = name
    f.__doc__ = doc
    return f


add = _arith("add", lax.add, lax.bitwise_or, "Elementwise x + y with NumPy broadcasting and promotion.")
subtract = _arith("subtract", lax.sub, None, "Elementwise x - y.")
multiply = _arith("multiply", lax.mul, lax.bitwise_and, "Elementwise x * y.")
maximum = _binary("maximum", lax.max, "Elementwise maximum (nan propagates).")
minimum = _binary("minimum", lax.min, "Elementwise minimum (nan propagates).")
equal = _binary("equal", lax.eq, "Elementwise x == y.")
not_equal = _binary("not_equal", lax.ne, "Elementwise x != y.")
less = _binary("less", lax.lt, "Elementwise x < y.")
less_equal = _binary("less_equal", lax.le, "Elementwise x <= y.")
greater = _binary("greater", lax.gt, "Elementwise x > y.")
greater_equal = _binary("greater_equal", lax.ge, "Elementwise x >= y.")


def _bool_or_int_binary(name: str, op):
    def f(x: Array, y: Array) -> Array:
        (x, y), dt = promote(name, x, y)
        if is_float(dt):
            raise located(DTypeError(f"{name} is not defined for floating arrays ({dt.name})"))
        return op(x, y)

    f.__name__ = name
    f.__doc__ = f"Elementwise {name} of boolean or integer arrays."
    return f


bitwise_and = _bool_or_int_binary("bitwise_and", lax.bitwise_and)
bitwise_or = _bool_or_int_binary("bitwise_or", lax.bitwise_or)
bitwise_xor = _bool_or_int_binary("bitwise_xor", lax.bitwise_xor)


def _to_bool(x: Array) -> Array:
    x = _as_operand(x)
    if isinstance(x, _PY_SCALARS):
        return np.bool_(x)
    return x if is_bool(get_aval(x).dtype) else not_equal(x, 0)


def logical_and(x: Array, y: Array) -> Array:
    """Elementwise truth of x and y."""
    return bitwise_and(_to_bool(x), _to_bool(y))


def logical_or(x: Array, y: Array) -> Array:
    """Elementwise truth of x or y."""
    return bitwise_or(_to_bool(x), _to_bool(y))


def logical_xor(x: Array, y: Array) -> Array:
    """Elementwise truth of x xor y."""
    return bitwise_xor(_to_bool(x), _to_bool(y))


def logical_not(x: Array) -> Array:
    """Elementwise not x."""
    return lax.bitwise_not(_to_bool(x))


def invert(x: Array) -> Array:
    """Elementwise bitwise not (logical not for booleans)."""
    (x,), dt = promote("invert", x)
    if is_float(dt):
        raise located(DTypeError(f"invert is not defined for floating arrays ({dt.name})"))
    return lax.bitwise_not(x)


def clip(a: Array, a_min: Array | None = None, a_max: Array | None = None, *, min: Array | None = None,  # noqa: A002
         max: Array | None = None) -> Array:  # noqa: A002
    """Limit values to [a_min, a_max] (either may be None): ``minimum(maximum(a, a_min), a_max)``.

    ``min``/``max`` are NumPy 2's keyword spellings (``x.clip(min=0)``).
    """
    a_min = min if a_min is None else a_min
    a_max = max if a_max is None else a_max
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return a


def where(condition: Array, x: Array | None = None, y: Array | None = None) -> Array:
    """Elementwise ``x if condition else y`` with broadcasting (the three-argument form)."""
    if x is None or y is None:
        raise user_error(TypeError(
            "functrace.numpy.where needs three arguments (condition, x, y); the one-argument form "
            "has a data-dependent shape: use numpy.nonzero on a concrete array instead"))
    c = _to_bool(condition)
    (x, y), dt = promote("where", x, y)
    shape = broadcast_shapes(*(get_aval(a).shape for a in (c, x, y)))
    c, x, y = (_broadcast_to_shape(a, shape) for a in (c, x, y))
    return lax.select(c, x, y)


def isfinite(x: Array) -> Array:
    """Elementwise test for finite values (integers are always finite)."""
    x = _as_operand(x)
    dt = np.result_type(_dtype_key(x))
    if not is_float(dt):
        return equal(x, x)  # all True (traced when x is)
    return lax.is_finite(asarray(x) if isinstance(x, _PY_SCALARS) else x)


def isnan(x: Array) -> Array:
    """Elementwise test for nan."""
    return not_equal(x, x)


def isinf(x: Array) -> Array:
    """Elementwise test for +-inf."""
    return logical_and(logical_not(isfinite(x)), equal(x, x))


def logaddexp(x: Array, y: Array) -> Array:
    """log(exp(x) + exp(y)) without overflow, with derivatives exact to every order.

    The value is ``max(x, y) + log1p(exp(-|x - y|))``, whose max and |x - y| are kinked where
    x == y: differentiated as composed, its second derivative there would be 0 instead of 1/4
    (the Hessian of a logistic loss at zero weights would vanish). So the derivative comes from a
    rule (``custom_jvp``, as in JAX): ``tx * sigmoid(x - y) + ty * sigmoid(y - x)``, smooth
    everywhere. Outside any transform the formula is evaluated directly.
    """
    (x, y), dt = promote("logaddexp", x, y, dtype=_float_dtype(result_type(x, y)))
    if not isinstance(x, Tracer) and not isinstance(y, Tracer):
        return _logaddexp_value(asarray(x), asarray(y))
    return _logaddexp(x, y)


def _logaddexp_value(x: Array, y: Array) -> Array:
    # Where x == y the difference is 0; said explicitly, so that inf - inf gives no nan.
    delta = where(equal(x, y), _cast(0, get_aval(x).dtype), subtract(x, y))
    return add(maximum(x, y), log1p(exp(negative(abs(delta)))))


@custom_jvp
def _logaddexp(x: Array, y: Array) -> Array:
    return _logaddexp_value(x, y)


@_logaddexp.defjvp
def _logaddexp_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (tx, ty) = primals, tangents
    # The weights are exp(x - out) = sigmoid(x - y) and sigmoid(y - x): 1/2 each at a tie, also of
    # equal infinities (where x - y alone would be nan); the select keeps x - y (and so its
    # derivative) at every finite tie.
    delta = where(logical_and(isinf(x), equal(x, y)), _cast(0, get_aval(x).dtype), subtract(x, y))
    tangent = add(multiply(tx, lax.logistic(delta)), multiply(ty, lax.logistic(negative(delta))))
    return _logaddexp(x, y), tangent


def copy(x: Array) -> Array:
    """A copy (traced values are immutable, so this is the identity on them)."""
    return x if isinstance(x, Tracer) else asarray(np.array(current_backend().to_numpy(x)))


def shape(x: Array) -> tuple[int, ...]:
    return get_aval(_as_operand(x)).shape


def ndim(x: Array) -> int:
    return get_aval(_as_operand(x)).ndim


def size(x: Array) -> int:
    return get_aval(_as_operand(x)).size


def astype(x: Array, dtype: Any, copy: bool = True) -> Array:
    """Cast to ``dtype`` (``copy`` is accepted for NumPy compatibility; arrays are immutable)."""
    return lax.convert_element_type(asarray(x) if not isinstance(x, Tracer) else x, as_dtype(dtype))


def concrete_aval_of(x: Any):
    return concrete_aval(x)
