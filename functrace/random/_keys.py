"""Keys (raw and typed), and the Threefry-2x32 cipher that splits them, folds data into them
and turns them into bits."""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import DTypeError, FunctraceError, ShapeError
from functrace.tracing import Tracer, current_source, get_aval, located
from functrace.tree_util import register_pytree_node
from functrace.util import format_frame

Array = Any
Shape = Sequence[int]

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
