"""``functrace.random``: counter-based random numbers with JAX's keys and JAX's bits.

There is no hidden state. A *key* (two uint32 words) names a stream of random bits; every
sampler takes a key and returns the same numbers for the same key, eagerly, under ``jit``,
under ``vmap`` and inside loops, on every backend. New randomness comes from new keys:
``split`` a key into independent ones, or ``fold_in`` a number (a step, an example index), and
never use one key twice.

The generator is Threefry-2x32 (``functrace.lax.threefry2x32``) with the bit layout of JAX's
current default (``jax_threefry_partitionable=True``): the ``i``-th element of a sample of any
shape is made from the cipher of the counter ``i`` (its 64-bit row-major index), so ``bits``,
``uniform``, ``randint``, ``split``, ``fold_in``, ``bernoulli``, ``permutation`` and ``choice``
give exactly JAX's values, and ``normal`` and the others JAX's values to within rounding.

functrace's default dtypes are NumPy's (float64, int64), so a sampler without ``dtype`` returns
what JAX returns with ``jax_enable_x64``; pass ``dtype=np.float32`` for JAX's 32-bit default.
Seeds are 64-bit, as in JAX's x64 mode.

Keys come in two forms, as in JAX: ``PRNGKey(seed)`` returns the raw key data, a uint32 array
of shape ``(2,)`` (batches of keys: ``(..., 2)``); ``key(seed)`` returns a typed key
(``KeyArray``), which cannot be mistaken for numbers. ``key_data`` and ``wrap_key_data``
convert between them. Every function accepts both and returns keys of the form it was given.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import AxisError, DTypeError, FunctraceError, ShapeError
from functrace.ops.random_bits import sort_indices
from functrace.tracing import Tracer, current_source, get_aval, located
from functrace.tree_util import register_pytree_node
from functrace.util import format_frame

Array = Any
Shape = Sequence[int]

__all__ = [
    "KeyArray", "PRNGKey", "key", "key_data", "wrap_key_data", "split", "fold_in", "bits", "uniform", "normal",
    "truncated_normal", "bernoulli", "categorical", "randint", "choice", "permutation", "gumbel", "exponential",
    "laplace", "logistic", "multivariate_normal", "gamma", "loggamma", "beta", "dirichlet",
]

_U32 = np.dtype(np.uint32)
_I64 = np.dtype(np.int64)
_M32 = 0xFFFFFFFF


def _error(cls: type, msg: str) -> Exception:
    """An error of ``cls`` whose message starts with the user's file and line."""
    if issubclass(cls, FunctraceError):
        return located(cls(msg))
    return cls(f"{format_frame(current_source())}: {msg}")


# ---------------------------------------------------------------------------- keys
class KeyArray:
    """Typed PRNG keys (what ``key`` returns): an array of keys of shape ``shape``, holding
    uint32 key data of shape ``shape + (2,)``. A pytree with that data as its one leaf, so keys
    pass through ``jit``, ``vmap``, ``scan`` and ``grad`` (as data without a derivative).

    Keys are not numbers: arithmetic, comparisons and conversion to NumPy raise an error;
    ``key_data(k)`` gives the raw uint32 words when they are really wanted.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Array):
        self._data = data

    @property
    def shape(self) -> tuple[int, ...]:
        return get_aval(self._data).shape[:-1]

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        return math.prod(self.shape)

    @property
    def dtype(self) -> str:
        return "key<fry>"

    def __len__(self) -> int:
        if not self.shape:
            raise _error(ShapeError, "len() of a single key (shape ()); split it into several first")
        return self.shape[0]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    def __getitem__(self, idx: Any) -> "KeyArray":
        if not self.shape:
            raise _error(ShapeError, "a single key (shape ()) cannot be indexed; split it into several first")
        idx = idx if isinstance(idx, tuple) else (idx,)
        if any(i is Ellipsis for i in idx):
            raise _error(ShapeError, "keys cannot be indexed with ...; index the key axes explicitly")
        return KeyArray(self._data[idx + (slice(None),)])

    def __repr__(self) -> str:
        return f"KeyArray(shape={self.shape}, data={self._data!r})"

    def _not_a_number(self, *args: Any, **kwargs: Any) -> Any:
        raise _error(DTypeError, "a PRNG key was used as a number; keys only go into functrace.random "
                                 "functions (use random.key_data(key) for its raw uint32 words)")

    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _not_a_number
    __floordiv__ = __mod__ = __pow__ = __matmul__ = __rmatmul__ = __neg__ = __abs__ = _not_a_number
    __lt__ = __le__ = __gt__ = __ge__ = __float__ = __int__ = __index__ = __bool__ = _not_a_number
    __array__ = _not_a_number

    def __eq__(self, other: Any) -> Any:  # noqa: D105 -- equal keys are equal data, as in JAX
        if not isinstance(other, KeyArray):
            return self._not_a_number()
        return fnp.all(fnp.equal(self._data, other._data), axis=-1)

    __hash__ = None  # type: ignore[assignment]


register_pytree_node(KeyArray, lambda k: ((k._data,), None), lambda _, children: KeyArray(children[0]))


def _key_data(name: str, k: Any) -> tuple[Array, bool]:
    """The uint32 ``(..., 2)`` data of a key argument, and whether it was a typed key."""
    if isinstance(k, KeyArray):
        return k._data, True
    if not isinstance(k, Tracer) and not hasattr(k, "dtype"):
        k = np.asarray(k)
    aval = get_aval(k)
    if aval.dtype != _U32 or aval.shape[-1:] != (2,):
        raise _error(DTypeError, f"random.{name} needs a PRNG key as its key argument (from random.key, "
                                 f"random.PRNGKey, split or fold_in: uint32 data of shape (..., 2)), got an "
                                 f"array {aval.str_short()}; make one with random.PRNGKey(seed)")
    return k, False


def _single_key(name: str, k: Any) -> tuple[Array, bool]:
    data, typed = _key_data(name, k)
    shape = get_aval(data).shape[:-1]
    if shape:
        raise _error(ShapeError, f"random.{name} takes one key, got a batch of keys of shape {shape}; "
                                 f"use functrace.vmap over the keys to sample with each")
    return data, typed


def _wrap(data: Array, typed: bool) -> Array:
    return KeyArray(data) if typed else data


def _seed_data(seed: Any) -> Array:
    """The key data of a seed: its 64 bits as (high word, low word); a seed of 32 bits or fewer
    has high word 0 (as JAX's threefry_seed)."""
    if isinstance(seed, (bool, np.bool_)) or isinstance(seed, float):
        raise _error(DTypeError, f"a PRNG seed must be an integer, got {seed!r}")
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, np.ndarray):
        s = int(seed)
        if not -(2**63) <= s < 2**63:
            raise _error(DTypeError, f"a PRNG seed must fit in a signed 64-bit integer, got {s}")
        if isinstance(seed, np.integer) and seed.dtype.itemsize <= 4:
            words = [0, s % 2**32]  # 32-bit seeds: high word 0
        else:
            s %= 2**64
            words = [s >> 32, s & _M32]
        return fnp.asarray(np.array(words, dtype=np.uint32))  # the backend's array
    aval = get_aval(seed)
    if aval.shape != () or aval.dtype.kind not in "iu":
        raise _error(DTypeError, f"a PRNG seed must be an integer scalar, got {aval.str_short()}")
    s64 = lax.convert_element_type(seed, _I64)
    lo = lax.convert_element_type(lax.bitwise_and(s64, np.int64(_M32)), _U32)
    if aval.dtype.itemsize <= 4:
        hi = np.uint32(0)
    else:
        hi = lax.convert_element_type(lax.shift_right_logical(s64, np.int64(32)), _U32)
    return lax.concatenate([lax.reshape(hi, (1,)), lax.reshape(lo, (1,))], 0)


def PRNGKey(seed: int | Array) -> Array:  # noqa: N802 -- JAX's name
    """A raw key, uint32 data of shape ``(2,)``, from an integer seed (as ``jax.random.PRNGKey``)."""
    return _seed_data(seed)


def key(seed: int | Array) -> KeyArray:
    """A typed key (``KeyArray`` of shape ``()``) from an integer seed (as ``jax.random.key``)."""
    return KeyArray(_seed_data(seed))


def key_data(keys: Array) -> Array:
    """The uint32 data of keys, shape ``keys.shape + (2,)`` (raw keys are returned as they are)."""
    data, _ = _key_data("key_data", keys)
    return data


def wrap_key_data(key_bits_array: Array) -> KeyArray:
    """Typed keys from uint32 key data of shape ``(..., 2)`` (the inverse of ``key_data``)."""
    data, _ = _key_data("wrap_key_data", key_bits_array)
    return KeyArray(data)


# ---------------------------------------------------------------------------- the cipher
def _words(k: Array) -> tuple[Array, Array]:
    return lax.reshape(lax.slice(k, (0,), (1,)), ()), lax.reshape(lax.slice(k, (1,), (2,)), ())


def _counters(shape: tuple[int, ...]) -> tuple[Array, Array]:
    """The 64-bit row-major index of each element of ``shape``, as (high, low) uint32 words.
    A constant: under ``jit`` it is computed once, at trace time."""
    n = math.prod(shape)
    if n > 2**32:
        idx = lax.iota(_I64, (n,))
        hi = lax.convert_element_type(lax.shift_right_logical(idx, np.int64(32)), _U32)
        lo = lax.convert_element_type(lax.bitwise_and(idx, np.int64(_M32)), _U32)
        return lax.reshape(hi, shape), lax.reshape(lo, shape)
    lo = lax.convert_element_type(lax.iota(_I64, (n,)), _U32)
    return np.uint32(0), lax.reshape(lo, shape)


def _hash_pairs(k: Array, shape: tuple[int, ...]) -> tuple[Array, Array]:
    """Threefry of every element's counter under key ``k``: two uint32 arrays of ``shape``."""
    k1, k2 = _words(k)
    hi, lo = _counters(shape)
    if not shape:
        lo = lax.reshape(lo, ())
    return lax.threefry2x32(k1, k2, hi, lo)


def _split(k: Array, shape: tuple[int, ...]) -> Array:
    b1, b2 = _hash_pairs(k, shape)
    one = shape + (1,)
    return lax.concatenate([lax.reshape(b1, one), lax.reshape(b2, one)], len(shape))


def _split_n(k: Array, n: int) -> list[Array]:
    keys = _split(k, (n,))
    return [lax.reshape(lax.slice(keys, (i, 0), (i + 1, 2)), (2,)) for i in range(n)]


def _bits32(k: Array, shape: tuple[int, ...]) -> Array:
    b1, b2 = _hash_pairs(k, shape)
    return lax.bitwise_xor(b1, b2)


def _bits64_as_int64(k: Array, shape: tuple[int, ...]) -> Array:
    """64 random bits per element, as the bit pattern of an int64 (high word from the first
    cipher output, as JAX)."""
    b1, b2 = _hash_pairs(k, shape)
    hi = lax.convert_element_type(b1, _I64)
    lo = lax.convert_element_type(b2, _I64)
    return lax.bitwise_or(lax.shift_left(hi, np.int64(32)), lo)


def _random_bits(k: Array, width: int, shape: tuple[int, ...]) -> Array:
    """Bits as JAX's ``_random_bits``, in the unsigned dtype of ``width`` bits."""
    if width == 64:
        return lax.bitcast_convert_type(_bits64_as_int64(k, shape), np.uint64)
    b = _bits32(k, shape)
    if width == 32:
        return b
    return lax.convert_element_type(lax.bitwise_and(b, np.uint32((1 << width) - 1)), np.dtype(f"u{width // 8}"))


def split(key: Array, num: int | tuple[int, ...] = 2) -> Array:
    """``num`` new keys (a shape, for a tuple) from one: a new leading axis (or axes)."""
    k, typed = _single_key("split", key)
    shape = tuple(int(n) for n in num) if isinstance(num, (tuple, list)) else (int(num),)
    return _wrap(_split(k, shape), typed)


def fold_in(key: Array, data: int | Array) -> Array:
    """A new key from a key and a 32-bit integer (a step number, an example index)."""
    k, typed = _single_key("fold_in", key)
    if np.ndim(data) if not isinstance(data, Tracer) else get_aval(data).ndim:
        raise _error(ShapeError, "random.fold_in folds in one integer; use functrace.vmap for several")
    if isinstance(data, (int, np.integer)):
        d = np.uint32(int(data) % 2**32)
    else:
        aval = get_aval(data)
        if aval.dtype.kind not in "iub":
            raise _error(DTypeError, f"random.fold_in needs integer data, got {aval.str_short()}")
        d = lax.convert_element_type(lax.bitwise_and(lax.convert_element_type(data, _I64), np.int64(_M32)), _U32)
    k1, k2 = _words(k)
    y1, y2 = lax.threefry2x32(k1, k2, np.uint32(0), d)
    return _wrap(lax.concatenate([lax.reshape(y1, (1,)), lax.reshape(y2, (1,))], 0), typed)


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
    scaled = _fused_multiply_add(floats, fnp.subtract(hi, lo), lo)
    return fnp.maximum(lo, scaled)


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
    if shape is None:
        shape = tuple(np.broadcast_shapes(lshape, ushape))
    else:
        shape = _shape("truncated_normal", shape)
        _check_shape("truncated_normal", shape, lshape, ushape)
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


# ---------------------------------------------------------------------------- permutations
def _take_along(x: Array, idx: Array, axis: int) -> Array:
    if get_aval(x).ndim == 1:
        return lax.gather(x, idx, 0)
    return fnp.take_along_axis(x, idx, axis)


def _shuffle(k: Array, x: Array, axis: int) -> Array:
    """Sort ``x`` along ``axis`` by fresh random 32-bit keys, as many rounds as JAX makes
    (enough that ties of the keys hardly ever matter)."""
    size = get_aval(x).size
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        k, sub = _split_n(k, 2)
        sort_keys = _bits32(sub, get_aval(x).shape)
        x = _take_along(x, sort_indices(sort_keys, axis), axis)
    return x


def permutation(key: Array, x: int | Array, axis: int = 0, independent: bool = False) -> Array:
    """A random permutation of ``arange(x)`` (an int), or of ``x`` along ``axis`` (all slices
    moved together, or each shuffled on its own with ``independent=True``)."""
    k, _ = _single_key("permutation", key)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return _shuffle(k, fnp.arange(int(x)), 0)
    x = fnp.asarray(x)
    aval = get_aval(x)
    if aval.ndim == 0:
        if aval.dtype.kind not in "iu":
            raise _error(DTypeError, "random.permutation: x must be an integer or an array of at least one axis")
        raise _error(DTypeError, "random.permutation of a traced integer: the length must be a Python int")
    axis = _axis("permutation", axis, aval.ndim)
    if independent or aval.ndim == 1:
        return _shuffle(k, x, axis)
    ind = _shuffle(k, fnp.arange(aval.shape[axis]), 0)
    return lax.gather(x, ind, axis)


def _axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise _error(AxisError, f"random.{name}: axis {axis} is out of range for {ndim} axes")
    return axis % ndim


def choice(key: Array, a: int | Array, shape: Shape = (), replace: bool = True, p: Any = None, axis: int = 0,
           mode: str | None = None) -> Array:
    """A random sample of ``shape`` from ``a`` (or ``arange(a)``), along ``axis``; with or
    without replacement, uniform or with probabilities ``p``."""
    k, _ = _single_key("choice", key)
    if not isinstance(shape, (tuple, list)):
        raise _error(ShapeError, f"random.choice: shape must be a sequence, got {shape!r}")
    shape = _shape("choice", shape)
    arr = fnp.asarray(a)
    aval = get_aval(arr)
    if aval.ndim == 0:
        if isinstance(a, Tracer):
            raise _error(DTypeError, "random.choice of a traced integer: the population size must be a Python int")
        n_inputs = int(a)
    else:
        axis = _axis("choice", axis, aval.ndim)
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return fnp.zeros(shape, aval.dtype)
    if n_inputs <= 0:
        raise _error(ValueError, "random.choice: a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise _error(ValueError, f"random.choice: cannot take a larger sample (size {n_draws}) than the "
                                 f"population (size {n_inputs}) when replace=False")
    if p is None:
        if replace:
            ind = randint(k, shape, 0, n_inputs)
            result = ind if aval.ndim == 0 else lax.gather(arr, ind, axis)
        else:
            perm = permutation(k, n_inputs if aval.ndim == 0 else arr, axis)
            pa = get_aval(perm)
            limit = list(pa.shape)
            limit[axis if aval.ndim else 0] = n_draws
            result = lax.slice(perm, (0,) * pa.ndim, tuple(limit))
    else:
        p_arr = fnp.asarray(p)
        if get_aval(p_arr).dtype.kind != "f":
            p_arr = lax.convert_element_type(p_arr, np.float64)
        if get_aval(p_arr).shape != (n_inputs,):
            raise _error(ShapeError, f"random.choice: p must be None or a 1-D vector of the population's size "
                                     f"{n_inputs}, got shape {get_aval(p_arr).shape}")
        pdt = get_aval(p_arr).dtype
        if replace:
            p_cuml = fnp.cumsum(p_arr)
            r = fnp.multiply(p_cuml[-1], fnp.subtract(_const(1.0, pdt), _uniform(k, shape, pdt, 0.0, 1.0)))
            below = fnp.less(p_cuml, fnp.expand_dims(r, -1))  # searchsorted (left): how many are < r
            ind = fnp.sum(lax.convert_element_type(below, _I64), axis=-1)
        else:
            g = fnp.add(_gumbel(k, (n_inputs,), pdt, mode), fnp.log(p_arr))
            ind = lax.slice(sort_indices(fnp.negative(g), 0), (0,), (n_draws,))
        result = ind if aval.ndim == 0 else lax.gather(arr, ind, axis)
    out_shape = shape if aval.ndim == 0 else aval.shape[:axis] + shape + aval.shape[axis + 1:]
    return fnp.reshape(result, out_shape)


# ---------------------------------------------------------------------------- other distributions
def _gumbel(k: Array, shape: tuple[int, ...], dt: np.dtype, mode: str | None) -> Array:
    info = np.finfo(dt)
    if mode in (None, "low"):
        u = _uniform(k, shape, dt, info.tiny, 1.0)
        return fnp.negative(fnp.log(fnp.negative(fnp.log(u))))
    if mode == "high":
        u = _uniform(k, (2,) + shape, dt, 0.0, 1.0)
        high, low = u[0], u[1]
        small = fnp.add(fnp.add(high, fnp.multiply(_const(2.0 ** -info.nmant, dt), low)), _const(info.tiny, dt))
        x = fnp.where(fnp.greater_equal(high, _const(0.5, dt)), high, small)
        return fnp.negative(fnp.log(fnp.negative(fnp.log1p(fnp.negative(x)))))
    raise _error(ValueError, f"random.gumbel: mode must be None, 'low' or 'high', got {mode!r}")


def gumbel(key: Array, shape: Shape = (), dtype: Any = None, mode: str | None = None) -> Array:
    """Standard Gumbel floats, ``-log(-log(u))``."""
    k, _ = _single_key("gumbel", key)
    return _gumbel(k, _shape("gumbel", shape), _float_dtype("gumbel", dtype), mode)


def categorical(key: Array, logits: Any, axis: int = -1, shape: Shape | None = None, replace: bool = True,
                mode: str | None = None) -> Array:
    """Indices drawn with probabilities ``softmax(logits)`` along ``axis`` (the Gumbel-max trick)."""
    k, _ = _single_key("categorical", key)
    logits = fnp.asarray(logits)
    lshape = get_aval(logits).shape
    nd = len(lshape)
    axis = _axis("categorical", axis, nd)
    batch_shape = lshape[:axis] + lshape[axis + 1:]
    if shape is None:
        shape = batch_shape
    else:
        shape = _shape("categorical", shape)
        _check_shape("categorical", shape, batch_shape)
    dt = get_aval(logits).dtype
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        g_shape = list(shape[len(shape) - len(batch_shape):])
        g_shape.insert(axis, lshape[axis])
        g = _gumbel(k, tuple(prefix) + tuple(g_shape), dt, mode)
        z = fnp.add(g, fnp.reshape(logits, (1,) * len(prefix) + lshape))
        return fnp.argmax(z, axis=len(prefix) + axis)
    n = math.prod(prefix)
    if n > lshape[axis]:
        raise _error(ValueError, f"random.categorical: {n} samples without replacement exceed the "
                                 f"{lshape[axis]} categories")
    z = fnp.moveaxis(fnp.add(logits, _gumbel(k, lshape, dt, mode)), axis, -1)
    top = sort_indices(fnp.negative(z), nd - 1)  # top_k: ties to the lower index, int32 as JAX
    top = lax.convert_element_type(lax.slice(top, (0,) * nd, batch_shape + (n,)), np.int32)
    return fnp.reshape(fnp.moveaxis(top, -1, 0), shape)


def exponential(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard exponential floats, ``-log1p(-u)``."""
    k, _ = _single_key("exponential", key)
    return _exponential(k, _shape("exponential", shape), _float_dtype("exponential", dtype))


def _exponential(k: Array, shape: tuple[int, ...], dt: np.dtype) -> Array:
    u = _uniform(k, shape, dt, 0.0, 1.0)
    return lax.neg(lax.log1p(lax.neg(u)))


def laplace(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard Laplace floats."""
    k, _ = _single_key("laplace", key)
    dt = _float_dtype("laplace", dtype)
    u = _uniform(k, _shape("laplace", shape), dt, -1.0 + np.finfo(dt).epsneg, 1.0)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def logistic(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard logistic floats, ``log(u) - log1p(-u)``."""
    k, _ = _single_key("logistic", key)
    dt = _float_dtype("logistic", dtype)
    x = _uniform(k, _shape("logistic", shape), dt, np.finfo(dt).tiny, 1.0)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def _cholesky(a: Array) -> Array:
    """The lower Cholesky factor of the trailing ``n x n`` matrices of ``a``, column by column
    (small ``n``: the covariance of a multivariate normal)."""
    n = get_aval(a).shape[-1]
    cols: list[Array] = []
    for j in range(n):
        col = a[..., :, j]
        for i in range(j):
            col = fnp.subtract(col, fnp.multiply(cols[i], cols[i][..., j:j + 1]))
        pivot = fnp.sqrt(col[..., j:j + 1])
        below = fnp.arange(n) >= j
        cols.append(fnp.where(below, fnp.divide(col, pivot), fnp.zeros_like(col)))
    return fnp.stack(cols, axis=-1)


def multivariate_normal(key: Array, mean: Any, cov: Any, shape: Shape | None = None, dtype: Any = None,
                        method: str = "cholesky") -> Array:
    """Normal vectors with ``mean`` (..., n) and covariance ``cov`` (..., n, n): ``mean + L z``
    with ``L`` the Cholesky factor of ``cov`` (``method="cholesky"``, the only method here)."""
    k, _ = _single_key("multivariate_normal", key)
    dt = _float_dtype("multivariate_normal", dtype)
    if method != "cholesky":
        raise _error(ValueError, f"random.multivariate_normal: method {method!r} is not available; use "
                                 "method='cholesky'")
    mean, cov = _param(mean, dt), _param(cov, dt)
    ms, cs = get_aval(mean).shape, get_aval(cov).shape
    if len(ms) < 1 or len(cs) < 2 or cs[-2:] != (ms[-1], ms[-1]):
        raise _error(ShapeError, f"random.multivariate_normal needs mean (..., n) and cov (..., n, n), got "
                                 f"{ms} and {cs}")
    if shape is None:
        shape = tuple(np.broadcast_shapes(ms[:-1], cs[:-2]))
    else:
        shape = _shape("multivariate_normal", shape)
        _check_shape("multivariate_normal", shape, ms[:-1], cs[:-2])
    factor = _cholesky(cov)
    z = _normal(k, shape + ms[-1:], dt)
    return fnp.add(mean, fnp.einsum("...ij,...j->...i", factor, z))


# ---------------------------------------------------------------------------- gamma family
def _gamma_one(k: Array, alpha: Array, log_space: bool) -> Array:
    """One Gamma(alpha) sample by Marsaglia and Tsang's rejection method, step for step as JAX
    (the same keys for the same draws), so the samples agree to rounding."""
    dt = get_aval(alpha).dtype

    def c(v):
        return _const(v, dt)

    boost_mask = lax.ge(alpha, c(1.0))
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, c(1.0)))
    d = lax.sub(alpha, c(1.0 / 3.0))
    cc = lax.div(c(1.0 / 3.0), lax.sqrt(d))

    def cond_fn(state):
        _, x, v, u = state
        first = lax.ge(u, lax.sub(c(1.0), lax.mul(c(0.0331), lax.mul(x, x))))
        second = lax.ge(lax.log(u), lax.add(lax.mul(x, c(0.5)), lax.mul(d, lax.add(lax.sub(c(1.0), v), lax.log(v)))))
        return lax.bitwise_and(first, second)

    def next_xv(state):
        kk, _, _ = state
        kk, sub = _split_n(kk, 2)
        x = _normal(sub, (), dt)
        return kk, x, lax.add(c(1.0), lax.mul(x, cc))

    def body_fn(state):
        kk = state[0]
        kk, x_key, u_key = _split_n(kk, 3)
        _, x, v = lax.while_loop(lambda s: lax.le(s[2], c(0.0)), next_xv, (x_key, c(0.0), c(-1.0)))
        u = _uniform(u_key, (), dt, 0.0, 1.0)
        return kk, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

    k, sub = _split_n(k, 2)
    _, _, v, _ = lax.while_loop(cond_fn, body_fn, (k, c(0.0), c(1.0), c(2.0)))
    if log_space:
        log_samples = lax.neg(_exponential(sub, (), dt))
        skip = lax.bitwise_or(boost_mask, lax.eq(log_samples, c(0.0)))
        log_boost = lax.select(skip, c(0.0), lax.mul(log_samples, lax.div(c(1.0), alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    samples = lax.sub(c(1.0), _uniform(sub, (), dt, 0.0, 1.0))
    boost = lax.select(boost_mask, c(1.0), lax.pow(samples, lax.div(c(1.0), alpha_orig)))
    return lax.mul(lax.mul(d, v), boost)


def _gamma_samples(k: Array, a: Array, log_space: bool) -> Array:
    import functrace  # the facade: the core does not import the transforms itself

    shape = get_aval(a).shape
    n = math.prod(shape)
    if n == 0:
        return a
    keys = _split(k, (n,))
    flat = fnp.reshape(a, (n,))
    samples = functrace.vmap(lambda kk, aa: _gamma_one(kk, aa, log_space))(keys, flat)
    return fnp.reshape(samples, shape)


def _gamma_grad(sample: Array, a: Array, log_space: bool) -> Array:
    """d sample / d a at fixed uniform rank (implicit differentiation of the CDF):
    ``-(dP/da) / (dP/dx)`` for the regularized incomplete gamma P(a, x), from its series."""
    dt = get_aval(a).dtype
    x = fnp.exp(sample) if log_space else sample
    x = lax.convert_element_type(x, np.float64)
    x = fnp.maximum(x, np.finfo(np.float64).tiny)
    af = lax.convert_element_type(a, np.float64)
    g = _gamma_x_grad(x, af)
    if log_space:
        g = fnp.divide(g, x)
    return lax.convert_element_type(g, dt)


def _digamma(z: Array) -> Array:
    """The digamma function for z > 0: the recurrence psi(z) = psi(z + 1) - 1 / z up to
    z >= 8, then the asymptotic series."""
    steps = fnp.maximum(fnp.ceil(8.0 - z), 0.0)
    acc = fnp.zeros_like(z)
    for i in range(8):
        acc = fnp.add(acc, fnp.where(i < steps, 1.0 / (z + i), 0.0))
    w = z + steps
    w2 = 1.0 / (w * w)
    series = fnp.log(w) - 0.5 / w - w2 * (1 / 12 - w2 * (1 / 120 - w2 * (1 / 252 - w2 * (1 / 240 - w2 / 132))))
    return series - acc


def _gamma_x_grad(x: Array, a: Array) -> Array:
    """dx/da = -(x / a) * sum_n t_n (log x - digamma(a + n + 1)), t_0 = 1, t_n = t_(n-1) x / (a + n):
    the derivative of P(a, x) in a over its density, from P's power series."""
    logx = fnp.log(x)
    psi = _digamma(a + 1.0)

    def cond(state):
        n, t, total, _ = state
        return fnp.any(fnp.logical_and(n < 20000, fnp.logical_or(n < x + 5, fnp.abs(t) > 1e-17 * fnp.abs(total))))

    def body(state):
        n, t, total, psi_n = state
        term = t * (logx - psi_n)
        n1 = n + 1.0
        return n1, t * x / (a + n1), total + term, psi_n + 1.0 / (a + n1)

    init = (fnp.zeros_like(x), fnp.ones_like(x), fnp.zeros_like(x), psi)
    _, _, total, _ = lax.while_loop(cond, body, init)
    return -(x / a) * total


def _gamma_impl(k: Array, a: Array, log_space: bool) -> Array:
    from functrace.ops.custom_jvp import custom_jvp

    @custom_jvp
    def sample(a):
        return _gamma_samples(k, a, log_space)

    @sample.defjvp
    def sample_jvp(primals, tangents):
        (a,), (ta,) = primals, tangents
        out = sample(a)
        return out, fnp.multiply(ta, _gamma_grad(lax.stop_gradient(out), lax.stop_gradient(a), log_space))

    return sample(a)


def _gamma(name: str, key: Array, a: Any, shape: Shape | None, dtype: Any, log_space: bool) -> Array:
    k, _ = _single_key(name, key)
    dt = _float_dtype(name, dtype)
    a = _param(a, dt)
    ashape = get_aval(a).shape
    if shape is None:
        shape = ashape
    else:
        shape = _shape(name, shape)
        _check_shape(name, shape, ashape)
    return _gamma_impl(k, _broadcast(a, shape), log_space)


def gamma(key: Array, a: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Gamma(a, 1) floats; differentiable in ``a`` (implicit reparameterisation, as JAX)."""
    return _gamma("gamma", key, a, shape, dtype, False)


def loggamma(key: Array, a: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """log of Gamma(a, 1) floats, accurate for small ``a`` (where the samples underflow)."""
    return _gamma("loggamma", key, a, shape, dtype, True)


def beta(key: Array, a: Any, b: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Beta(a, b) floats, from two log-gamma samples."""
    k, typed = _single_key("beta", key)
    dt = _float_dtype("beta", dtype)
    a, b = _param(a, dt), _param(b, dt)
    if shape is None:
        shape = tuple(np.broadcast_shapes(get_aval(a).shape, get_aval(b).shape))
    else:
        shape = _shape("beta", shape)
        _check_shape("beta", shape, get_aval(a).shape, get_aval(b).shape)
    ka, kb = _split_n(k, 2)
    log_ga = _gamma_impl(ka, _broadcast(a, shape), True)
    log_gb = _gamma_impl(kb, _broadcast(b, shape), True)
    log_max = fnp.maximum(log_ga, log_gb)
    ga, gb = fnp.exp(fnp.subtract(log_ga, log_max)), fnp.exp(fnp.subtract(log_gb, log_max))
    return fnp.divide(ga, fnp.add(ga, gb))


def dirichlet(key: Array, alpha: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Dirichlet(alpha) vectors along the last axis, from log-gamma samples and a softmax."""
    from functrace.nn import softmax

    k, _ = _single_key("dirichlet", key)
    dt = _float_dtype("dirichlet", dtype)
    alpha = _param(alpha, dt)
    ashape = get_aval(alpha).shape
    if len(ashape) < 1:
        raise _error(ShapeError, "random.dirichlet needs alpha with at least one axis (the categories)")
    if shape is None:
        shape = ashape[:-1]
    else:
        shape = _shape("dirichlet", shape)
        _check_shape("dirichlet", shape, ashape[:-1])
    log_g = _gamma_impl(k, _broadcast(alpha, shape + ashape[-1:]), True)
    return softmax(log_g, -1)
