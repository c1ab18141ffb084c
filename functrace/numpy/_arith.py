"""Division, remainders and powers with NumPy's semantics (floor division and ``remainder``
take the divisor's sign; integer powers by repeated squaring); re-exported by ``_core``."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import broadcast_shapes, is_float, is_int
from functrace.numpy._promotion import (
    _PY_SCALARS,
    Array,
    _broadcast_to_shape,
    _cast,
    _float_dtype,
    _no_bool,
    _weak_arithmetic,
    asarray,
    promote,
    result_type,
    user_error,
)
from functrace.tracing import Tracer, current_backend, get_aval


@_weak_arithmetic
def true_divide(x: Array, y: Array) -> Array:
    """Elementwise x / y; integer inputs give floats, as in NumPy."""
    dt = result_type(x, y)
    (x, y), _ = promote("divide", x, y, dtype=None if is_float(dt) else np.float64)  # NumPy: ints -> float64
    return lax.div(x, y)


divide = true_divide


@_weak_arithmetic
def floor_divide(x: Array, y: Array) -> Array:
    """Elementwise floor(x / y) (``x // y``)."""
    (x, y), dt = promote("floor_divide", x, y, dtype=_no_bool(result_type(x, y)))
    if is_float(dt):
        return _float_floor_divide(x, y, dt)
    q = lax.div(x, y)
    adjust = lax.bitwise_and(lax.ne(lax.rem(x, y), _cast(0, dt)), lax.ne(lax.lt(x, _cast(0, dt)),
                                                                          lax.lt(y, _cast(0, dt))))
    return lax.sub(q, lax.convert_element_type(adjust, dt))


def _float_floor_divide(x: Array, y: Array, dt: np.dtype) -> Array:
    """NumPy's float ``x // y``: ``(x - fmod(x, y)) / y``, corrected to the floor, so that
    ``x // y`` and ``x % y`` agree (``-2.5 // inf`` is -1, ``inf // 1`` is nan). Piecewise
    constant, so its derivative is zero: the result goes through ``stop_gradient``."""
    zero, one = _cast(0, dt), _cast(1, dt)
    mod = lax.rem(x, y)
    div = lax.div(lax.sub(x, mod), y)
    # The remainder must take the sign of y; when it does not, the quotient is one too big.
    wrong_sign = lax.bitwise_and(lax.ne(mod, zero), lax.ne(lax.lt(y, zero), lax.lt(mod, zero)))
    div = lax.select(wrong_sign, lax.sub(div, one), div)
    floored = lax.floor(div)
    floored = lax.select(lax.gt(lax.sub(div, floored), _cast(0.5, dt)), lax.add(floored, one), floored)
    quotient = lax.div(x, y)
    signed_zero = lax.mul(quotient, zero)  # 0 with the sign of x / y
    floored = lax.select(lax.eq(div, zero), signed_zero, floored)
    return lax.stop_gradient(lax.select(lax.eq(y, zero), quotient, floored))


@_weak_arithmetic
def remainder(x: Array, y: Array) -> Array:
    """Elementwise x - floor(x / y) * y, with the sign of y (``x % y``)."""
    (x, y), dt = promote("remainder", x, y, dtype=_no_bool(result_type(x, y)))
    r = lax.rem(x, y)
    zero = _cast(0, dt)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)))
    return lax.select(fix, lax.add(r, y), r)


mod = remainder


def divmod(x: Array, y: Array) -> tuple[Array, Array]:  # noqa: A001
    """``(x // y, x % y)``, as ``numpy.divmod``."""
    return floor_divide(x, y), remainder(x, y)


def fmod(x: Array, y: Array) -> Array:
    """Elementwise C remainder, with the sign of x."""
    (x, y), _ = promote("fmod", x, y, dtype=_no_bool(result_type(x, y)))
    return lax.rem(x, y)


def arctan2(y: Array, x: Array) -> Array:
    """Elementwise angle of the point (x, y)."""
    dt = result_type(y, x)
    (y, x), _ = promote("arctan2", y, x, dtype=_float_dtype(dt))
    return lax.atan2(y, x)


def _is_integral_scalar(y: Any) -> bool:
    if isinstance(y, bool):
        return False
    if isinstance(y, (int, np.integer)):
        return True
    return isinstance(y, float) and y.is_integer() and abs(y) <= 64


@_weak_arithmetic
def power(x: Array, y: Array) -> Array:
    """Elementwise x ** y. Integer exponents known at trace time use ``integer_pow``."""
    if _is_integral_scalar(y):
        (x,), dt = promote("power", x, dtype=result_type(x, y))
        if is_int(dt) and int(y) < 0:
            raise user_error(ValueError("Integers to negative integer powers are not allowed."))
        return lax.integer_pow(x, int(y))
    (x, y), dt = promote("power", x, y, dtype=_no_bool(result_type(x, y)))
    if is_float(dt):
        return lax.pow(x, y)
    return _integer_power(x, y, dt)


def _integer_power(x: Array, y: Array, dt: np.dtype) -> Array:
    """``x ** y`` for integer arrays, by repeated squaring over the bits of ``y`` (NumPy's
    algorithm, so overflow wraps around as NumPy's does). The loop stops when every exponent is
    used up: small exponents take a few steps.

    A negative exponent whose value is known when ``power`` is called (eager code, and eager
    derivatives) raises ValueError, as in NumPy; one that is abstract (under ``jit`` or
    ``vmap``) cannot, and gives ``x ** y`` rounded toward zero: 1 for x = 1, ±1 for x = -1, 0
    otherwise."""
    from functrace.lax import while_loop

    known = y.val if isinstance(y, Tracer) else y
    if known is not None and np.any(np.asarray(current_backend().to_numpy(known)) < 0):
        raise user_error(ValueError("Integers to negative integer powers are not allowed."))
    shape = broadcast_shapes(get_aval(x).shape, get_aval(y).shape)
    x, y = _broadcast_to_shape(x, shape), _broadcast_to_shape(y, shape)
    if get_aval(x).shape != shape:  # rank 0, left unbroadcast by promote
        x = lax.broadcast_in_dim(x, shape, ())
    if get_aval(y).shape != shape:
        y = lax.broadcast_in_dim(y, shape, ())
    zero, one, two = _cast(0, dt), _cast(1, dt), _cast(2, dt)
    axes = tuple(range(len(shape)))

    def more(carry):
        return lax.reduce_or(lax.gt(carry[2], zero), axes)

    def step(carry):
        acc, base, e = carry
        acc = lax.select(lax.ne(lax.rem(e, two), zero), lax.mul(acc, base), acc)
        return acc, lax.mul(base, base), lax.div(e, two)

    acc, _, _ = while_loop(more, step, (lax.full(shape, 1, dt), x, lax.max(y, zero)))
    if dt.kind == "u":
        return acc
    odd = lax.ne(lax.rem(y, two), zero)
    minus_one = _cast(-1, dt)
    inverse = lax.select(lax.eq(x, one), lax.full(shape, 1, dt),
                         lax.select(lax.eq(x, minus_one), lax.select(odd, lax.full(shape, -1, dt),
                                                                     lax.full(shape, 1, dt)),
                                    lax.full(shape, 0, dt)))
    return lax.select(lax.lt(y, zero), inverse, acc)


def float_power(x: Array, y: Array) -> Array:
    """x ** y computed in float64."""
    return power(asarray(x, np.float64) if not isinstance(x, _PY_SCALARS) else float(x),
                 asarray(y, np.float64) if not isinstance(y, _PY_SCALARS) else float(y))
