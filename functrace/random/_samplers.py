"""Argument checks, raw bits, uniform and normal floats, Bernoulli draws and integers."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import DTypeError, ShapeError
from functrace.random._keys import (
    _I64,
    Array,
    Shape,
    _bits32,
    _bits64_as_int64,
    _error,
    _random_bits,
    _single_key,
    _split_n,
)
from functrace.tracing import get_aval


# ---------------------------------------------------------------------------- checks
def _shape(name: str, shape: Any) -> tuple[int, ...]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),)
    try:
        shape = tuple(int(d) for d in shape)
    except TypeError:
        raise _error(ShapeError, f"random.{name}: shape must be a tuple of ints, got {shape!r}") from None
    if any(d < 0 for d in shape):
        raise _error(ShapeError, f"random.{name}: shape {shape} has a negative dimension")
    return shape


def _check_shape(name: str, shape: tuple[int, ...], *param_shapes: tuple[int, ...]) -> None:
    try:
        ok = np.broadcast_shapes(shape, *param_shapes) == shape
    except ValueError:
        ok = False
    if not ok:
        raise _error(ShapeError, f"random.{name}: the parameter shapes {list(param_shapes)} do not broadcast to "
                                 f"the requested shape {shape}; pass shape=None or a shape they broadcast to")


def _sample_shape(name: str, shape: Any, *param_shapes: tuple[int, ...]) -> tuple[int, ...]:
    """A sampler's shape: ``shape``, which the parameters' shapes must broadcast to, or for None
    their broadcast shape (JAX's convention)."""
    if shape is None:
        try:
            return tuple(np.broadcast_shapes(*param_shapes))
        except ValueError:
            raise _error(ShapeError, f"random.{name}: the parameter shapes {list(param_shapes)} do not "
                                     "broadcast") from None
    shape = _shape(name, shape)
    _check_shape(name, shape, *param_shapes)
    return shape


def _float_dtype(name: str, dtype: Any) -> np.dtype:
    dt = np.dtype(np.float64 if dtype is None else dtype)
    if dt.kind != "f" or dt.itemsize not in (2, 4, 8):
        raise _error(DTypeError, f"random.{name} samples float16, float32 or float64, not {dt.name}")
    return dt


def _param(x: Any, dtype: np.dtype) -> Array:
    return lax.convert_element_type(fnp.asarray(x), dtype)


def _broadcast(x: Array, shape: tuple[int, ...]) -> Array:
    return x if get_aval(x).shape == shape else fnp.broadcast_to(x, shape)


def _const(value: float, dtype: np.dtype) -> Any:
    return np.asarray(value, dtype)[()]


# ---------------------------------------------------------------------------- bits and uniforms
def bits(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Random unsigned integers of ``dtype`` (uint8/16/32/64; default uint64, JAX's x64 default)."""
    k, _ = _single_key("bits", key)
    dt = np.dtype(np.uint64 if dtype is None else dtype)
    if dt.kind != "u":
        raise _error(DTypeError, f"random.bits returns unsigned integers; dtype {dt.name} is not one")
    return _random_bits(k, 8 * dt.itemsize, _shape("bits", shape))


def _unit_floats(k: Array, shape: tuple[int, ...], dt: np.dtype) -> Array:
    """Floats in [0, 1): random mantissa bits under the exponent of 1.0, minus 1 (as JAX)."""
    if dt.itemsize == 8:
        b = _bits64_as_int64(k, shape)
        fb = lax.bitwise_or(lax.shift_right_logical(b, np.int64(12)), np.int64(0x3FF0000000000000))
        return lax.sub(lax.bitcast_convert_type(fb, dt), _const(1.0, dt))
    b = _bits32(k, shape)
    if dt.itemsize == 4:
        fb = lax.bitwise_or(lax.shift_right_logical(b, np.uint32(9)), np.uint32(0x3F800000))
        return lax.sub(lax.bitcast_convert_type(fb, dt), _const(1.0, dt))
    b16 = lax.shift_right_logical(lax.bitwise_and(b, np.uint32(0xFFFF)), np.uint32(6))
    fb = lax.convert_element_type(lax.bitwise_or(b16, np.uint32(0x3C00)), np.uint16)
    return lax.sub(lax.bitcast_convert_type(fb, dt), _const(1.0, dt))


def _is_value(x: Any, v: float) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == v


def _two_product(a: Array, b: Array) -> tuple[Array, Array]:
    """``p, e`` with ``p = fl(a * b)`` and ``p + e == a * b`` exactly (Dekker, Veltkamp's split)."""
    def halves(x):
        c = fnp.multiply(_const(134217729.0, np.float64), x)  # 2**27 + 1
        h = fnp.subtract(c, fnp.subtract(c, x))
        return h, fnp.subtract(x, h)

    p = fnp.multiply(a, b)
    (ah, al), (bh, bl) = halves(a), halves(b)
    e = fnp.add(fnp.add(fnp.add(fnp.subtract(fnp.multiply(ah, bh), p), fnp.multiply(ah, bl)), fnp.multiply(al, bh)),
                fnp.multiply(al, bl))
    return p, e


def _fused_multiply_add(a: Array, b: Array, c: Array) -> Array:
    """``a * b + c`` rounded once, as XLA's fused multiply-add computes it: float32 through
    float64 (where the product is exact), float64 by error-free transformations."""
    dt = get_aval(a).dtype
    if dt.itemsize == 2:  # float16: XLA rounds each operation, as NumPy does
        return fnp.add(fnp.multiply(a, b), c)
    if dt.itemsize == 4:
        wide = [lax.convert_element_type(x, np.float64) for x in (a, b, c)]
        return lax.convert_element_type(fnp.add(fnp.multiply(wide[0], wide[1]), wide[2]), dt)
    p, e = _two_product(a, b)
    s = fnp.add(p, c)
    back = fnp.subtract(s, p)
    t = fnp.add(fnp.subtract(p, fnp.subtract(s, back)), fnp.subtract(c, back))  # p + c == s + t
    return fnp.add(s, fnp.add(t, e))


def _uniform(k: Array, shape: tuple[int, ...], dt: np.dtype, minval: Any, maxval: Any) -> Array:
    lo, hi = _param(minval, dt), _param(maxval, dt)
    _check_shape("uniform", shape, get_aval(lo).shape, get_aval(hi).shape)
    floats = _unit_floats(k, shape, dt)
    if _is_value(minval, 0.0) and _is_value(maxval, 1.0):
        return floats  # floats * (1 - 0) + 0, exactly
    span = fnp.subtract(hi, lo)
    if _power_of_two_at_least_one(span):
        # floats (multiples of 2**-mantissa in [0, 1)) times such a span are exact, so one
        # rounding of the sum is the fused result: normal's (-1, 1) takes this way
        scaled = fnp.add(fnp.multiply(floats, span), lo)
    else:
        scaled = _fused_multiply_add(floats, span, lo)
    return fnp.maximum(lo, scaled)


def _power_of_two_at_least_one(x: Any) -> bool:
    """Whether ``x`` is a known (not traced) scalar +-2**k with k >= 0."""
    if not isinstance(x, (np.ndarray, np.generic)) or np.ndim(x) != 0 or not np.isfinite(x):
        return False
    mantissa, exponent = np.frexp(abs(x))
    return bool(mantissa == 0.5 and exponent >= 1)


def uniform(key: Array, shape: Shape = (), dtype: Any = None, minval: Any = 0.0, maxval: Any = 1.0) -> Array:
    """Uniform floats in ``[minval, maxval)``; differentiable in ``minval`` and ``maxval``."""
    k, _ = _single_key("uniform", key)
    return _uniform(k, _shape("uniform", shape), _float_dtype("uniform", dtype), minval, maxval)


def _normal(k: Array, shape: tuple[int, ...], dt: np.dtype) -> Array:
    lo = np.nextafter(np.array(-1.0, dt), np.array(0.0, dt))
    u = _uniform(k, shape, dt, lo, 1.0)
    return lax.mul(_const(np.sqrt(2), dt), lax.erf_inv(u))


def normal(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard normal floats: ``sqrt(2) * erf_inv(u)`` for ``u`` uniform on (-1, 1), as JAX."""
    k, _ = _single_key("normal", key)
    return _normal(k, _shape("normal", shape), _float_dtype("normal", dtype))


def _nextafter(x: Array, up: bool) -> Array:
    """The next float after ``x`` toward +inf (``up``) or -inf, by stepping its bit pattern."""
    dt = get_aval(x).dtype
    it = np.dtype(f"i{dt.itemsize}")
    b = lax.bitcast_convert_type(x, it)
    one = np.asarray(1, it)[()]
    away = lax.add(b, one)  # one step away from zero
    toward = lax.sub(b, one)
    positive = lax.gt(x, _const(0.0, dt))
    negative = lax.lt(x, _const(0.0, dt))
    stepped = lax.select(positive if up else negative, away, toward)
    zero = lax.eq(x, _const(0.0, dt))
    tiny = np.asarray(1, it)[()] if up else np.asarray(np.array(-0.0, dt).view(it) + 1, it)[()]
    stepped = lax.select(zero, lax.full(get_aval(b).shape, tiny, it), stepped)
    out = lax.bitcast_convert_type(stepped, dt)
    inf = _const(np.inf if up else -np.inf, dt)
    keep = lax.bitwise_or(lax.ne(x, x), lax.eq(x, inf))
    return lax.select(keep, x, out)


def truncated_normal(key: Array, lower: Any, upper: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Normal floats truncated to the open interval ``(lower, upper)`` (inverse-CDF, as JAX)."""
    k, _ = _single_key("truncated_normal", key)
    dt = _float_dtype("truncated_normal", dtype)
    lower, upper = _param(lower, dt), _param(upper, dt)
    lshape, ushape = get_aval(lower).shape, get_aval(upper).shape
    shape = _sample_shape("truncated_normal", shape, lshape, ushape)
    sqrt2 = _const(np.sqrt(2), dt)
    a = fnp.asarray(lax.erf(fnp.divide(lower, sqrt2)))
    b = fnp.asarray(lax.erf(fnp.divide(upper, sqrt2)))
    u = _uniform(k, shape, dt, a, b)
    out = fnp.multiply(sqrt2, lax.erf_inv(u))
    lo = _nextafter(lax.stop_gradient(lower), up=True)
    hi = _nextafter(lax.stop_gradient(upper), up=False)
    return fnp.clip(out, lo, hi)


def bernoulli(key: Array, p: Any = 0.5, shape: Shape | None = None, mode: str = "low") -> Array:
    """Booleans that are True with probability ``p`` (``uniform < p``, as JAX)."""
    k, _ = _single_key("bernoulli", key)
    p = fnp.asarray(p)
    dt = get_aval(p).dtype
    if dt.kind != "f":
        raise _error(DTypeError, f"random.bernoulli: the probability p must be floating, got {dt.name}")
    pshape = get_aval(p).shape
    if shape is None:
        shape = pshape
    else:
        shape = _shape("bernoulli", shape)
        _check_shape("bernoulli", shape, pshape)
    if mode == "high":
        u = _uniform(k, (2,) + shape, dt, 0.0, 1.0)
        u1, u2 = u[0], fnp.multiply(u[1], _const(2.0 ** -np.finfo(dt).nmant, dt))
        return fnp.less(u2, fnp.subtract(p, u1))
    if mode != "low":
        raise _error(ValueError, f"random.bernoulli: mode must be 'low' or 'high', got {mode!r}")
    return fnp.less(_uniform(k, shape, dt, 0.0, 1.0), p)


# ---------------------------------------------------------------------------- integers
def _urem(x: Array, s: Array) -> Array:
    """``x mod s`` for the unsigned 64-bit numbers whose bit patterns the int64 arrays ``x``,
    ``s`` hold; ``s == 0`` gives ``x`` (as XLA's unsigned remainder)."""
    zero, one = np.int64(0), np.int64(1)
    safe = lax.select(lax.eq(s, zero), lax.full_like_aval(get_aval(s), 1), s)
    small = lax.gt(safe, zero)  # s < 2**63
    # s < 2**63: halve x (now non-negative), reduce, then double and add the low bit back.
    r = lax.rem(lax.shift_right_logical(x, one), lax.select(small, safe, lax.full_like_aval(get_aval(s), 1)))
    room = lax.sub(safe, r)
    r2 = lax.select(lax.ge(r, room), lax.sub(r, room), lax.add(r, r))
    v = lax.add(r2, lax.bitwise_and(x, one))
    v = lax.select(lax.ge(v, safe), lax.sub(v, safe), v)
    # s >= 2**63: x mod s is x or x - s.
    flip = np.int64(-(2**63))
    below = lax.lt(lax.bitwise_xor(x, flip), lax.bitwise_xor(safe, flip))
    big = lax.select(below, x, lax.sub(x, safe))
    out = lax.select(small, v, big)
    return lax.select(lax.eq(s, zero), x, out)


def _clip_int(x: Array, dtype: np.dtype) -> Array:
    """``x`` (an integer array) in ``dtype``, clipped to its range rather than wrapped (as JAX)."""
    xd = get_aval(x).dtype
    lo = max(np.iinfo(dtype).min, np.iinfo(xd).min)
    hi = min(np.iinfo(dtype).max, np.iinfo(xd).max)
    if xd.kind == "u" and xd.itemsize <= 4:  # clip in int64 (torch cannot compare uint32)
        x, xd = lax.convert_element_type(x, _I64), _I64
    return lax.convert_element_type(fnp.clip(x, np.asarray(lo, xd)[()], np.asarray(hi, xd)[()]), dtype)


def randint(key: Array, shape: Shape, minval: Any, maxval: Any, dtype: Any = None) -> Array:
    """Integers uniform on ``[minval, maxval)`` (JAX's double-width remainder method, JAX's values)."""
    k, _ = _single_key("randint", key)
    shape = _shape("randint", shape)
    dt = np.dtype(np.int64 if dtype is None else dtype)
    if dt.kind not in "iu" or dt.itemsize not in (1, 2, 4, 8):
        raise _error(DTypeError, f"random.randint returns integers; dtype {dt.name} is not an integer dtype")
    minval, maxval = fnp.asarray(minval), fnp.asarray(maxval)
    if dt.itemsize < 4:  # sampled in 32 bits (less bias), then cast, as JAX
        info = np.iinfo(dt)
        i32 = np.dtype(np.int32)
        lo32 = fnp.clip(lax.convert_element_type(minval, i32), np.int32(info.min), np.int32(info.max))
        hi32 = fnp.clip(lax.convert_element_type(maxval, i32), np.int32(info.min), np.int32(info.max + 1))
        return lax.convert_element_type(randint(key, shape, lo32, hi32, i32), dt)
    if get_aval(minval).dtype.kind not in "iu":
        minval = lax.convert_element_type(minval, _I64)
    if get_aval(maxval).dtype.kind not in "iu":
        maxval = lax.convert_element_type(maxval, _I64)
    _check_shape("randint", shape, get_aval(minval).shape, get_aval(maxval).shape)
    top = _clip_int(fnp.asarray(np.iinfo(dt).max, dt), get_aval(maxval).dtype)
    out_of_range = fnp.greater(maxval, top)
    lo = _broadcast(lax.convert_element_type(_clip_int(minval, dt), _I64), shape)
    hi = _broadcast(lax.convert_element_type(_clip_int(maxval, dt), _I64), shape)
    out_of_range = _broadcast(out_of_range, shape)
    nbits = 8 * dt.itemsize
    k1, k2 = _split_n(k, 2)
    if nbits == 64:
        higher, lower = _bits64_as_int64(k1, shape), _bits64_as_int64(k2, shape)

        def wrap(x):
            return x

        rem = _urem
    else:
        mask = np.int64((1 << nbits) - 1)
        higher = lax.bitwise_and(lax.convert_element_type(_bits32(k1, shape), _I64), mask)
        lower = lax.bitwise_and(lax.convert_element_type(_bits32(k2, shape), _I64), mask)

        def wrap(x):
            return lax.bitwise_and(x, mask)

        def rem(x, s):
            zero = lax.eq(s, np.int64(0))
            return lax.select(zero, x, lax.rem(x, lax.select(zero, lax.full_like_aval(get_aval(s), 1), s)))

    span = wrap(lax.sub(hi, lo))
    ones = lax.full_like_aval(get_aval(span), 1)
    span = lax.select(lax.le(hi, lo), ones, span)
    span = lax.select(lax.bitwise_and(out_of_range, lax.gt(hi, lo)), wrap(lax.add(span, ones)), span)
    multiplier = rem(lax.full_like_aval(get_aval(span), 2 ** (nbits // 2)), span)
    multiplier = rem(wrap(lax.mul(multiplier, multiplier)), span)
    offset = wrap(lax.add(wrap(lax.mul(rem(higher, span), multiplier)), rem(lower, span)))
    offset = rem(offset, span)
    return lax.convert_element_type(lax.add(lo, offset), dt)
