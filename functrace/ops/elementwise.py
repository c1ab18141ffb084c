"""The elementwise primitives: math, arithmetic, comparisons, ``select``, casts.

Operands have one dtype and equal shapes, except that a rank-0 operand stands for itself at
every position; ``functrace.numpy`` promotes and broadcasts on top. Being ``elementwise``, they
need no batching rule (vmap applies the generic one). Each primitive is declared with its traits,
then its ``lax`` wrapper and its derivative rules follow; the Taylor rules (jet) are in
``_elementwise_jet``, imported at the end.
"""

from __future__ import annotations

import enum
from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_bool, is_float
from functrace.errors import DTypeError
from functrace.ops.complex_parts import real_dtype
from functrace.primitives import (
    Primitive,
    binop,
    check_kind,
    def_primitive,
    elementwise_shape,
    same_dtype,
    unop,
)
from functrace.rules import (
    Zero,
    aval_of,
    const_like,
    def_jvp_rule,
    def_transpose_rule,
    defjvp,
    deflinear,
    instantiate,
    is_undefined,
    unbroadcast,
)
from functrace.tracing import bind, get_aval

Array = Any


# ---------------------------------------------------------------------------- declarations
neg_p = unop("neg", "fci", linear=(0,))
sign_p = unop("sign", "fci", zero_derivative=True)
def _abs_rule(x: ShapedArray) -> ShapedArray:
    check_kind("abs", x.dtype, "fci")
    return x.update(dtype=real_dtype(x.dtype))  # |complex| is real, as in NumPy and JAX


abs_p = def_primitive("abs", _abs_rule, elementwise=True)
floor_p = unop("floor", zero_derivative=True)
ceil_p = unop("ceil", zero_derivative=True)
round_p = unop("round", zero_derivative=True)
sin_p = unop("sin", "fc")
cos_p = unop("cos", "fc")
tan_p = unop("tan", "fc")
asin_p = unop("asin", "fc")
acos_p = unop("acos", "fc")
atan_p = unop("atan", "fc")
sinh_p = unop("sinh", "fc")
cosh_p = unop("cosh", "fc")
tanh_p = unop("tanh", "fc")
asinh_p = unop("asinh", "fc")
acosh_p = unop("acosh", "fc")
atanh_p = unop("atanh", "fc")
exp_p = unop("exp", "fc")
exp2_p = unop("exp2", "fc")
expm1_p = unop("expm1", "fc")
log_p = unop("log", "fc")
log1p_p = unop("log1p", "fc")
sqrt_p = unop("sqrt", "fc")
logistic_p = unop("logistic")
erf_p = unop("erf")
not_p = unop("not", "ib", zero_derivative=True)
is_finite_p = def_primitive("is_finite", lambda x: (check_kind("is_finite", x.dtype, "f"), x.update(dtype=bool))[1],
                            elementwise=True, zero_derivative=True)


def _integer_pow_rule(x: ShapedArray, *, y: int) -> ShapedArray:
    check_kind("integer_pow", x.dtype, "fci")
    if not isinstance(y, int):
        raise DTypeError(f"integer_pow needs an int exponent, got {y!r}")
    return x


integer_pow_p = def_primitive("integer_pow", _integer_pow_rule, elementwise=True)

add_p = binop("add", "fci", commutative=True, linear=(0, 1))
sub_p = binop("sub", "fci", linear=(0, 1))
mul_p = binop("mul", "fci", commutative=True, linear=(0, 1))
div_p = binop("div", "fci", linear=(0,))
rem_p = binop("rem")
pow_p = binop("pow", "fc")
# Not commutative bit for bit: max(-0.0, 0.0) is -0.0 and max(0.0, -0.0) is 0.0 (NumPy returns
# the first of equal operands), so CSE must not merge max(x, y) with max(y, x).
max_p = binop("max", "fib")
min_p = binop("min", "fib")
atan2_p = binop("atan2", "f")
and_p = binop("and", "ib", commutative=True, zero_derivative=True)
or_p = binop("or", "ib", commutative=True, zero_derivative=True)
xor_p = binop("xor", "ib", commutative=True, zero_derivative=True)
eq_p = binop("eq", "fcib", np.dtype(bool), commutative=True, zero_derivative=True)
ne_p = binop("ne", "fcib", np.dtype(bool), commutative=True, zero_derivative=True)
lt_p = binop("lt", "fib", np.dtype(bool), zero_derivative=True)
le_p = binop("le", "fib", np.dtype(bool), zero_derivative=True)
gt_p = binop("gt", "fib", np.dtype(bool), zero_derivative=True)
ge_p = binop("ge", "fib", np.dtype(bool), zero_derivative=True)


def _select_rule(pred: ShapedArray, on_true: ShapedArray, on_false: ShapedArray) -> ShapedArray:
    if not is_bool(pred.dtype):
        raise DTypeError(f"select needs a boolean predicate, got {pred.dtype.name}")
    dt = same_dtype("select", on_true, on_false)
    return ShapedArray(elementwise_shape("select", pred, on_true, on_false), dt)


select_p = def_primitive("select", _select_rule, elementwise=True, linear=(1, 2))


def _convert_rule(x: ShapedArray, *, new_dtype) -> ShapedArray:
    return x.update(dtype=new_dtype)


convert_element_type_p = def_primitive("convert_element_type", _convert_rule, elementwise=True, linear=(0,))
stop_gradient_p = def_primitive("stop_gradient", lambda x: x, elementwise=True, zero_derivative=True)


# ---------------------------------------------------------------------------- lax wrappers
def _unary(p: Primitive, doc: str):
    def f(x: Array) -> Array:
        return bind(p, x)

    f.__name__ = p.name
    f.__doc__ = doc
    return f


neg = _unary(neg_p, "Elementwise -x.")
sign = _unary(sign_p, "Elementwise sign: -1, 0 or 1.")
abs = _unary(abs_p, "Elementwise |x|.")  # noqa: A001
floor = _unary(floor_p, "Elementwise floor.")
ceil = _unary(ceil_p, "Elementwise ceiling.")
_round_half_even = _unary(round_p, "Elementwise round half to even (as NumPy).")
sin = _unary(sin_p, "Elementwise sine.")
cos = _unary(cos_p, "Elementwise cosine.")
tan = _unary(tan_p, "Elementwise tangent.")
asin = _unary(asin_p, "Elementwise arcsine.")
acos = _unary(acos_p, "Elementwise arccosine.")
atan = _unary(atan_p, "Elementwise arctangent.")
sinh = _unary(sinh_p, "Elementwise hyperbolic sine.")
cosh = _unary(cosh_p, "Elementwise hyperbolic cosine.")
tanh = _unary(tanh_p, "Elementwise hyperbolic tangent.")
asinh = _unary(asinh_p, "Elementwise inverse hyperbolic sine.")
acosh = _unary(acosh_p, "Elementwise inverse hyperbolic cosine.")
atanh = _unary(atanh_p, "Elementwise inverse hyperbolic tangent.")
exp = _unary(exp_p, "Elementwise e**x.")
exp2 = _unary(exp2_p, "Elementwise 2**x.")
expm1 = _unary(expm1_p, "Elementwise e**x - 1, accurate near 0.")
log = _unary(log_p, "Elementwise natural logarithm.")
log1p = _unary(log1p_p, "Elementwise log(1 + x), accurate near 0.")
sqrt = _unary(sqrt_p, "Elementwise square root.")
logistic = _unary(logistic_p, "Elementwise 1 / (1 + exp(-x)).")
erf = _unary(erf_p, "Elementwise error function 2/sqrt(pi) * integral from 0 to x of exp(-t**2) dt.")
bitwise_not = _unary(not_p, "Elementwise logical (bool) or bitwise (int) not.")
is_finite = _unary(is_finite_p, "Elementwise test for finite values.")


def _binary(p: Primitive, doc: str):
    def f(x: Array, y: Array) -> Array:
        return bind(p, x, y)

    f.__name__ = p.name
    f.__doc__ = doc
    return f


add = _binary(add_p, "Elementwise x + y.")
sub = _binary(sub_p, "Elementwise x - y.")
mul = _binary(mul_p, "Elementwise x * y.")
div = _binary(div_p, "Elementwise x / y (integer division truncates toward zero).")
rem = _binary(rem_p, "Elementwise remainder with the sign of x (C fmod).")
pow = _binary(pow_p, "Elementwise x ** y for floating x and y.")  # noqa: A001
max = _binary(max_p, "Elementwise maximum.")  # noqa: A001
min = _binary(min_p, "Elementwise minimum.")  # noqa: A001
atan2 = _binary(atan2_p, "Elementwise arctan(x / y) in the right quadrant.")
bitwise_and = _binary(and_p, "Elementwise and.")
bitwise_or = _binary(or_p, "Elementwise or.")
bitwise_xor = _binary(xor_p, "Elementwise exclusive or.")
eq = _binary(eq_p, "Elementwise x == y.")
ne = _binary(ne_p, "Elementwise x != y.")
lt = _binary(lt_p, "Elementwise x < y.")
le = _binary(le_p, "Elementwise x <= y.")
gt = _binary(gt_p, "Elementwise x > y.")
ge = _binary(ge_p, "Elementwise x >= y.")


def integer_pow(x: Array, y: int) -> Array:
    """Elementwise x ** y for a Python int exponent y."""
    return bind(integer_pow_p, x, y=int(y))


def select(pred: Array, on_true: Array, on_false: Array) -> Array:
    """Elementwise ``on_true if pred else on_false``."""
    return bind(select_p, pred, on_true, on_false)


class RoundingMethod(enum.IntEnum):
    """How ``round`` breaks ties (JAX's ``lax.RoundingMethod``)."""

    AWAY_FROM_ZERO = 0
    TO_NEAREST_EVEN = 1


def round(x: Array, rounding_method: int = RoundingMethod.AWAY_FROM_ZERO) -> Array:  # noqa: A001
    """Elementwise rounding to the nearest integer, ties away from zero (JAX's default) or to
    even (``RoundingMethod.TO_NEAREST_EVEN``, NumPy's). Away from zero is exact for every
    input: the truncation ``t`` and ``x - t`` are exact, and ``t`` moves one step away from
    zero where ``|x - t| >= 1/2`` (signed zeros, infinities and nan pass through)."""
    if RoundingMethod(rounding_method) == RoundingMethod.TO_NEAREST_EVEN:
        return _round_half_even(x)
    dt = get_aval(x).dtype
    if dt.kind not in "fc":
        return x
    zero, half = np.zeros((), dt)[()], np.asarray(0.5, dt)[()]
    t = select(lt(x, zero), ceil(x), floor(x))
    away = ge(abs(sub(x, t)), half)
    return select(away, add(t, sign(x)), t)


def convert_element_type(x: Array, new_dtype: Any) -> Array:
    """Cast to ``new_dtype``; a no-op (no equation) when the dtype already matches."""
    new_dtype = np.dtype(new_dtype)
    if get_aval(x).dtype == new_dtype:
        return x
    return bind(convert_element_type_p, x, new_dtype=new_dtype)


def stop_gradient(x: Array) -> Array:
    """The identity, but derivatives do not flow through it."""
    return bind(stop_gradient_p, x)


# ---------------------------------------------------------------------------- derivatives
defjvp(sin_p, lambda t, ans, x: lax.mul(t, lax.cos(x)))
defjvp(cos_p, lambda t, ans, x: lax.neg(lax.mul(t, lax.sin(x))))
defjvp(tan_p, lambda t, ans, x: lax.mul(t, lax.add(const_like(1, x), lax.integer_pow(ans, 2))))
defjvp(asin_p, lambda t, ans, x: lax.div(t, lax.sqrt(lax.sub(const_like(1, x), lax.integer_pow(x, 2)))))
defjvp(acos_p, lambda t, ans, x: lax.neg(lax.div(t, lax.sqrt(lax.sub(const_like(1, x), lax.integer_pow(x, 2))))))
defjvp(atan_p, lambda t, ans, x: lax.div(t, lax.add(const_like(1, x), lax.integer_pow(x, 2))))
defjvp(sinh_p, lambda t, ans, x: lax.mul(t, lax.cosh(x)))
defjvp(cosh_p, lambda t, ans, x: lax.mul(t, lax.sinh(x)))
defjvp(tanh_p, lambda t, ans, x: lax.mul(t, lax.sub(const_like(1, x), lax.integer_pow(ans, 2))))
defjvp(asinh_p, lambda t, ans, x: lax.div(t, lax.sqrt(lax.add(lax.integer_pow(x, 2), const_like(1, x)))))
defjvp(acosh_p, lambda t, ans, x: lax.div(t, lax.sqrt(lax.sub(lax.integer_pow(x, 2), const_like(1, x)))))
defjvp(atanh_p, lambda t, ans, x: lax.div(t, lax.sub(const_like(1, x), lax.integer_pow(x, 2))))
defjvp(exp_p, lambda t, ans, x: lax.mul(t, ans))
defjvp(exp2_p, lambda t, ans, x: lax.mul(t, lax.mul(ans, const_like(np.log(2.0), x))))
defjvp(expm1_p, lambda t, ans, x: lax.mul(t, lax.add(ans, const_like(1, x))))
defjvp(log_p, lambda t, ans, x: lax.div(t, x))
defjvp(log1p_p, lambda t, ans, x: lax.div(t, lax.add(x, const_like(1, x))))
defjvp(sqrt_p, lambda t, ans, x: lax.div(t, lax.mul(ans, const_like(2, x))))
defjvp(logistic_p, lambda t, ans, x: lax.mul(t, lax.mul(ans, lax.sub(const_like(1, x), ans))))
defjvp(erf_p, lambda t, ans, x: lax.mul(t, lax.mul(const_like(2 / np.sqrt(np.pi), x),
                                                     lax.exp(lax.neg(lax.integer_pow(x, 2))))))
def _abs_jvp(t, ans, x):
    if get_aval(x).dtype.kind != "c":  # real |x|: derivative +1 at 0, as JAX chooses
        return lax.select(lax.ge(x, const_like(0, x)), t, lax.neg(t))
    # complex |x|: Re(t * conj(x) / |x|), with |x| taken as 1 at 0 (derivative 0 there), as JAX.
    safe = lax.select(lax.eq(ans, const_like(0, ans)), lax.full_like_aval(get_aval(ans), 1), ans)
    return lax.real(lax.mul(t, lax.div(lax.conj(x), lax.convert_element_type(safe, get_aval(x).dtype))))


defjvp(abs_p, _abs_jvp)


def _integer_pow_jvp(t, ans, x, *, y):
    if y == 0:
        return Zero(get_aval(ans))
    d = lax.mul(const_like(y, x), x if y == 2 else const_like(1, x) if y == 1 else lax.integer_pow(x, y - 1))
    return lax.mul(t, d) if y != 1 else t


defjvp(integer_pow_p, _integer_pow_jvp)


def _pow_jvp_x(t, ans, x, y):
    # d/dx x**y = y * x**(y-1). Not masked where y == 0: its derivative in y, x**(y-1), is the mixed
    # second derivative. Only where x == y == 0 is the base replaced by 1, so that 0 * 0**-1 = nan
    # reaches neither mode; the derivative there is 0 (as JAX gives for 0**0).
    both_zero = lax.bitwise_and(lax.eq(x, const_like(0, x)), lax.eq(y, const_like(0, y)))
    safe_x = lax.select(both_zero, lax.full_like_aval(get_aval(x), 1), x)
    return lax.mul(t, lax.mul(y, lax.pow(safe_x, lax.sub(y, const_like(1, y)))))


def _pow_jvp_y(t, ans, x, y):
    # d/dy x**y = log(x) * x**y, taken as 0 where x == 0.
    safe_x = lax.select(lax.eq(x, const_like(0, x)), lax.full_like_aval(get_aval(x), 1), x)
    return lax.mul(t, lax.mul(lax.log(safe_x), ans))


defjvp(pow_p, _pow_jvp_x, _pow_jvp_y)


def _balanced_eq(x, ans, y):
    """1 where x is the max/min alone, 1/2 where x and y tie, 0 elsewhere (JAX's choice)."""
    one = lax.full_like_aval(get_aval(ans), 1)
    half = lax.full_like_aval(get_aval(ans), 0.5)
    zero = lax.full_like_aval(get_aval(ans), 0)
    return lax.select(lax.eq(x, ans), lax.select(lax.eq(y, ans), half, one), zero)


defjvp(max_p, lambda t, ans, x, y: lax.mul(t, _balanced_eq(x, ans, y)),
       lambda t, ans, x, y: lax.mul(t, _balanced_eq(y, ans, x)))
defjvp(min_p, lambda t, ans, x, y: lax.mul(t, _balanced_eq(x, ans, y)),
       lambda t, ans, x, y: lax.mul(t, _balanced_eq(y, ans, x)))


def _atan2_denom(x, y):
    return lax.add(lax.integer_pow(x, 2), lax.integer_pow(y, 2))


defjvp(atan2_p, lambda t, ans, x, y: lax.mul(t, lax.div(y, _atan2_denom(x, y))),
       lambda t, ans, x, y: lax.mul(t, lax.neg(lax.div(x, _atan2_denom(x, y)))))

defjvp(mul_p, lambda t, ans, x, y: lax.mul(t, y), lambda t, ans, x, y: lax.mul(x, t))
defjvp(div_p, lambda t, ans, x, y: lax.div(t, y),
       lambda t, ans, x, y: lax.neg(lax.mul(t, lax.div(ans, y))))
defjvp(rem_p, lambda t, ans, x, y: t,
       lambda t, ans, x, y: lax.neg(lax.mul(t, lax.mul(lax.sign(lax.div(x, y)), lax.floor(lax.abs(lax.div(x, y)))))))


def _select_jvp(primals, tangents):
    pred, a, b = primals
    _, ta, tb = tangents
    ans = lax.select(pred, a, b)
    if isinstance(ta, Zero) and isinstance(tb, Zero):
        return ans, Zero(get_aval(ans))
    out = get_aval(ans)
    ta = instantiate(ta) if not isinstance(ta, Zero) else lax.full(get_aval(a).shape, 0, out.dtype)
    tb = instantiate(tb) if not isinstance(tb, Zero) else lax.full(get_aval(b).shape, 0, out.dtype)
    return ans, lax.select(pred, ta, tb)


def_jvp_rule(select_p, _select_jvp)


def _convert_jvp(primals, tangents, *, new_dtype):
    (x,), (t,) = primals, tangents
    ans = lax.convert_element_type(x, new_dtype)
    if isinstance(t, Zero) or not is_float(new_dtype) or not is_float(get_aval(x).dtype):
        return ans, Zero(get_aval(ans))
    return ans, _cast_tangent(t, new_dtype)


def _cast_tangent(t, new_dtype):
    """A (co)tangent cast between inexact dtypes; complex -> real keeps the real part (as JAX)."""
    if get_aval(t).dtype.kind == "c" and np.dtype(new_dtype).kind != "c":
        t = lax.real(t)
    return lax.convert_element_type(t, new_dtype)


def_jvp_rule(convert_element_type_p, _convert_jvp)


# ---------------------------------------------------------------------------- transposes
def _neg_transpose(ct, x):
    return [Zero(x.aval) if isinstance(ct, Zero) else lax.neg(ct)]


deflinear(neg_p, _neg_transpose)


def _add_transpose(ct, x, y):
    return [unbroadcast(ct, aval_of(x)) if is_undefined(x) else None,
            unbroadcast(ct, aval_of(y)) if is_undefined(y) else None]


deflinear(add_p, _add_transpose)


def _sub_transpose(ct, x, y):
    neg = Zero(aval_of(y)) if isinstance(ct, Zero) else lax.neg(ct)
    return [unbroadcast(ct, aval_of(x)) if is_undefined(x) else None,
            unbroadcast(neg, aval_of(y)) if is_undefined(y) else None]


deflinear(sub_p, _sub_transpose)


def _mul_transpose(ct, x, y):
    if is_undefined(x) and is_undefined(y):
        raise NotImplementedError("mul of two linear values is not linear; cannot transpose it")
    if is_undefined(x):
        return [unbroadcast(lax.mul(ct, y), x.aval), None]
    return [None, unbroadcast(lax.mul(x, ct), y.aval)]


def_transpose_rule(mul_p, _mul_transpose)


def _div_transpose(ct, x, y):
    if is_undefined(y):
        raise NotImplementedError("div is not linear in its denominator; cannot transpose it")
    return [unbroadcast(lax.div(ct, y), x.aval), None]


def_transpose_rule(div_p, _div_transpose)


def _select_transpose(ct, pred, a, b):
    out_aval = get_aval(ct)
    zeros = lax.full(out_aval.shape, 0, out_aval.dtype)
    return [None,
            unbroadcast(lax.select(pred, ct, zeros), aval_of(a)) if is_undefined(a) else None,
            unbroadcast(lax.select(pred, zeros, ct), aval_of(b)) if is_undefined(b) else None]


def_transpose_rule(select_p, _select_transpose)


def _convert_transpose(ct, x, *, new_dtype):
    # real -> complex transposes to the real part of the cotangent (JAX's convention).
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [_cast_tangent(ct, x.aval.dtype)]


def_transpose_rule(convert_element_type_p, _convert_transpose)


# The Taylor rules (jet) are in their own module; importing it registers them.
from functrace.ops._elementwise_jet import piecewise_jet  # noqa: E402,F401 -- used by other families
