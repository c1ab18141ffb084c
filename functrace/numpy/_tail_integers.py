"""The long tail of ``jax.numpy``: integer functions (shifts, ``bitwise_count``, ``gcd``, ``lcm``)
and comparisons (``isclose``, ``array_equal``, ``isin``); re-exported by ``_tail_math``."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.numpy._core import (
    _as_operand,
    abs,
    asarray,
    astype,
    equal,
    floor_divide,
    isfinite,
    isnan,
    less,
    less_equal,
    logical_and,
    logical_not,
    logical_or,
    multiply,
    power,
    remainder,
    subtract,
    user_error,
    where,
)
from functrace.numpy._promotion import promote
from functrace.numpy._reductions import all, any
from functrace.numpy._shape import expand_dims, reshape
from functrace.numpy._tail_elementwise import _like
from functrace.tracing import get_aval

Array = Any


# ---------------------------------------------------------------------------- integers
def _int_operands(name: str, x1: Array, x2: Array) -> tuple:
    """Both operands in their promoted integer dtype (NEP 50, as the arithmetic: a Python int
    takes the array's type, so ``uint8_array >> 1`` stays uint8)."""
    (x1, x2), dt = promote(name, x1, x2)
    dt = np.dtype(dt)
    if dt.kind not in "iub":
        raise user_error(TypeError(f"{name} needs integer operands, got {dt}"))
    return asarray(x1), asarray(x2), dt


def _pow2(y: Array, dt: np.dtype) -> Array:
    """``2**y`` wrapping in ``dt`` (``y`` in [0, bits))."""
    return power(np.asarray(2, dt)[()], y)


def left_shift(x1: Array, x2: Array) -> Array:
    """``x1 << x2``: 0 for shifts of the bit width or more (as JAX)."""
    x1, x2, dt = _int_operands("left_shift", x1, x2)
    if dt == np.bool_:
        x1, x2, dt = astype(x1, np.int8), astype(x2, np.int8), np.dtype(np.int8)
    bits = dt.itemsize * 8
    ok = logical_and(less(x2, bits), logical_not(less(x2, 0)))
    y = where(ok, x2, 0)
    return where(ok, multiply(x1, _pow2(y, dt)), np.asarray(0, dt)[()])


def right_shift(x1: Array, x2: Array) -> Array:
    """``x1 >> x2``: arithmetic for signed integers (floor division by ``2**x2``)."""
    x1, x2, dt = _int_operands("right_shift", x1, x2)
    if dt == np.bool_:
        x1, x2, dt = astype(x1, np.int8), astype(x2, np.int8), np.dtype(np.int8)
    bits = dt.itemsize * 8
    top = bits - 1 if dt.kind == "i" else bits
    ok = logical_and(less(x2, top), logical_not(less(x2, 0)))
    y = where(ok, x2, 0)
    shifted = floor_divide(x1, _pow2(y, dt))
    overflow = where(less(x1, 0), np.asarray(-1, dt)[()], np.asarray(0, dt)[()]) if dt.kind == "i" \
        else np.asarray(0, dt)[()]
    return where(ok, shifted, overflow)


bitwise_left_shift, bitwise_right_shift = left_shift, right_shift


def bitwise_count(x: Array) -> Array:
    """The number of 1 bits in ``|x|`` (as NumPy and JAX), as uint8: ``lax.population_count`` of
    ``|x|``, whose bit-parallel sums take a few operations whatever the width (the minimum of a
    signed type, whose negation wraps to itself, has the one bit NumPy counts)."""
    x = asarray(_as_operand(x))
    dt = get_aval(x).dtype
    if dt == np.bool_:
        return astype(x, np.uint8)
    return astype(lax.population_count(lax.abs(x) if dt.kind == "i" else x), np.uint8)


def gcd(x1: Array, x2: Array) -> Array:
    """Greatest common divisor (non-negative), by Euclid's algorithm in a ``while_loop``."""
    x1, x2, dt = _int_operands("gcd", x1, x2)
    a, b = abs(x1), abs(x2)
    from functrace.numpy._shape import broadcast_arrays

    a, b = broadcast_arrays(a, b)

    def cond(c):
        return any(c[1] != 0)

    def body(c):
        x, y = c
        nz = y != 0
        return where(nz, y, x), where(nz, remainder(x, where(nz, y, 1)), 0)

    return lax.while_loop(cond, body, (a, b))[0]


def lcm(x1: Array, x2: Array) -> Array:
    """Least common multiple (non-negative)."""
    x1, x2, dt = _int_operands("lcm", x1, x2)
    g = gcd(x1, x2)
    zero = equal(g, 0)
    return abs(where(zero, 0, multiply(floor_divide(x1, where(zero, 1, g)), x2)))


# ---------------------------------------------------------------------------- comparisons
def isclose(a: Array, b: Array, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Array:
    """``|a - b| <= atol + rtol * |b|``, infinities equal only to themselves."""
    a, b = asarray(_as_operand(a)), asarray(_as_operand(b))
    dt = np.result_type(get_aval(a).dtype, get_aval(b).dtype)
    if not is_float(dt):
        return equal(a, b)
    a, b = astype(a, dt), astype(b, dt)
    finite = logical_and(isfinite(a), isfinite(b))
    diff = abs(subtract(where(finite, a, 0), where(finite, b, 0)))
    close = less_equal(diff, _like(atol, diff) + multiply(_like(rtol, diff), abs(where(finite, b, 0))))
    out = where(finite, close, equal(a, b))
    if equal_nan:
        out = logical_or(out, logical_and(isnan(a), isnan(b)))
    return out


def allclose(a: Array, b: Array, rtol: float = 1e-05, atol: float = 1e-08, equal_nan: bool = False) -> Array:
    """All of ``isclose``."""
    return all(isclose(a, b, rtol, atol, equal_nan))


def array_equal(a1: Array, a2: Array, equal_nan: bool = False) -> Any:
    """Same shape and equal elements (False for different shapes, as a plain bool)."""
    a1, a2 = asarray(_as_operand(a1)), asarray(_as_operand(a2))
    if get_aval(a1).shape != get_aval(a2).shape:
        return np.bool_(False)
    eq = equal(a1, a2)
    if equal_nan and is_float(np.result_type(get_aval(a1).dtype, get_aval(a2).dtype)):
        eq = logical_or(eq, logical_and(isnan(a1), isnan(a2)))
    return all(eq)


def array_equiv(a1: Array, a2: Array) -> Any:
    """Equal after broadcasting (False when the shapes do not broadcast)."""
    a1, a2 = asarray(_as_operand(a1)), asarray(_as_operand(a2))
    try:
        np.broadcast_shapes(get_aval(a1).shape, get_aval(a2).shape)
    except ValueError:
        return np.bool_(False)
    return all(equal(a1, a2))


def isin(element: Array, test_elements: Array, assume_unique: bool = False, invert: bool = False, *,
         method: str = "auto") -> Array:
    """True where ``element`` occurs in ``test_elements`` (compared all against all)."""
    e = asarray(_as_operand(element))
    t = reshape(asarray(_as_operand(test_elements)), (-1,))
    hit = any(equal(expand_dims(e, -1), t), axis=-1) if get_aval(t).shape[0] else equal(e, e) & False
    return logical_not(hit) if invert else hit
