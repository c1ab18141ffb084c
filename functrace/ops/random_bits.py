"""The bit-level primitives random numbers are made of.

``functrace.random`` derives every sample from the Threefry-2x32 block cipher, as JAX does:
a key and a counter go in, 64 pseudo-random bits come out. The family holds the cipher and the
bit operations that turn its output into numbers:

- ``threefry2x32(k1, k2, x1, x2) -> (y1, y2)``: the 20-round cipher, elementwise over uint32
  operands (rank-0 operands stand for every position). Its bits carry no derivative.
- ``shift_left``, ``shift_right_logical``, ``shift_right_arithmetic``: integer shifts with
  ``lax``'s semantics (a shift by the bit width or more gives 0, or the sign for the arithmetic
  right shift, where C would be undefined).
- ``bitcast_convert_type``: reinterpret the bits of each element as another dtype of the same
  width (uint32 <-> float32, uint64 <-> float64); this is how uniform floats are made from bits.
- ``erf_inv``: the inverse error function (``normal`` maps uniforms through it), differentiable.
- ``sort_indices``: the stable argsort along one axis that ``permutation`` and ``choice`` sort
  random keys with (``lax.sort_key_val`` in JAX; kept here until a sorting family replaces it).

Each backend implements them bit for bit alike: NumPy in place on uint32 arrays, torch (whose
uint32 tensors lack arithmetic) in int64 with masks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_float, is_int
from functrace.errors import DTypeError, ShapeError
from functrace.primitives import def_primitive, elementwise_shape
from functrace.rules import def_batch_rule, defjvp
from functrace.tracing import bind, get_aval

Array = Any

_U32 = np.dtype(np.uint32)


# ---------------------------------------------------------------------------- threefry2x32
def _threefry_abstract_eval(k1: ShapedArray, k2: ShapedArray, x1: ShapedArray, x2: ShapedArray):
    avals = (k1, k2, x1, x2)
    if any(a.dtype != _U32 for a in avals):
        raise DTypeError("threefry2x32 needs four uint32 operands, got "
                         + ", ".join(a.dtype.name for a in avals))
    shape = elementwise_shape("threefry2x32", *avals)
    return [ShapedArray(shape, _U32), ShapedArray(shape, _U32)]


threefry2x32_p = def_primitive("threefry2x32", _threefry_abstract_eval, multiple_results=True,
                               zero_derivative=True)


def threefry2x32(k1: Array, k2: Array, x1: Array, x2: Array) -> tuple[Array, Array]:
    """The Threefry-2x32 block cipher (20 rounds) of the counters ``(x1, x2)`` under the key
    ``(k1, k2)``, elementwise over uint32 arrays of one shape (or rank 0)."""
    y1, y2 = bind(threefry2x32_p, k1, k2, x1, x2)
    return y1, y2


def _threefry_batch(args, dims, **params):
    """Move every batch axis to the front and give every operand the full batched shape."""
    size = next(get_aval(a).shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
    shapes = [get_aval(a).shape for a in args]
    ex_shape: tuple[int, ...] = ()
    for s, d in zip(shapes, dims, strict=True):
        rest = s if d is None else s[:d] + s[d + 1:]
        if rest:
            ex_shape = rest
    full = (size,) + ex_shape
    ops = []
    for a, s, d in zip(args, shapes, dims, strict=True):
        if d is None:
            ops.append(a if not s else lax.broadcast_in_dim(a, full, tuple(range(1, len(s) + 1))))
            continue
        if d != 0:
            perm = (d,) + tuple(i for i in range(len(s)) if i != d)
            a = lax.transpose(a, perm)
        ops.append(a if len(s) == len(full) else lax.broadcast_in_dim(a, full, (0,)))
    return list(bind(threefry2x32_p, *ops)), [0, 0]


def_batch_rule(threefry2x32_p, _threefry_batch)


# ---------------------------------------------------------------------------- shifts
def _shift_rule(name: str):
    def rule(x: ShapedArray, y: ShapedArray) -> ShapedArray:
        if x.dtype != y.dtype or not is_int(x.dtype):
            raise DTypeError(f"{name} needs two integer operands of one dtype, got {x.dtype.name} and {y.dtype.name}")
        return ShapedArray(elementwise_shape(name, x, y), x.dtype)

    return rule


shift_left_p = def_primitive("shift_left", _shift_rule("shift_left"), elementwise=True, zero_derivative=True)
shift_right_logical_p = def_primitive("shift_right_logical", _shift_rule("shift_right_logical"),
                                      elementwise=True, zero_derivative=True)
shift_right_arithmetic_p = def_primitive("shift_right_arithmetic", _shift_rule("shift_right_arithmetic"),
                                         elementwise=True, zero_derivative=True)


def shift_left(x: Array, y: Array) -> Array:
    """Elementwise ``x << y``; 0 where ``y`` is negative or at least the bit width (as ``lax``)."""
    return bind(shift_left_p, x, y)


def shift_right_logical(x: Array, y: Array) -> Array:
    """Elementwise ``x >> y`` filling with zeros (signed integers too); 0 where ``y`` is negative
    or at least the bit width."""
    return bind(shift_right_logical_p, x, y)


def shift_right_arithmetic(x: Array, y: Array) -> Array:
    """Elementwise ``x >> y`` filling with the sign bit; a shift by the bit width or more gives
    0 or -1 (the sign), as ``lax``."""
    return bind(shift_right_arithmetic_p, x, y)


# ---------------------------------------------------------------------------- bitcast
def _bitcast_rule(x: ShapedArray, *, new_dtype: np.dtype) -> ShapedArray:
    if x.dtype.itemsize != new_dtype.itemsize or x.dtype == np.dtype(bool) or new_dtype == np.dtype(bool):
        raise DTypeError(f"bitcast_convert_type reinterprets bits between numeric dtypes of one width; "
                         f"{x.dtype.name} ({8 * x.dtype.itemsize} bits) -> {new_dtype.name} "
                         f"({8 * new_dtype.itemsize} bits) is not one")
    return ShapedArray(x.shape, new_dtype)


bitcast_convert_type_p = def_primitive("bitcast_convert_type", _bitcast_rule, elementwise=True,
                                       zero_derivative=True)


def bitcast_convert_type(operand: Array, new_dtype: Any) -> Array:
    """Reinterpret each element's bits as ``new_dtype`` (of the same width; uint32 <-> float32)."""
    new_dtype = np.dtype(new_dtype)
    if get_aval(operand).dtype == new_dtype:
        return operand
    return bind(bitcast_convert_type_p, operand, new_dtype=new_dtype)


# ---------------------------------------------------------------------------- erf_inv
def _erf_inv_rule(x: ShapedArray) -> ShapedArray:
    if not is_float(x.dtype):
        raise DTypeError(f"erf_inv does not accept dtype {x.dtype.name}; it accepts floating arrays")
    return x


erf_inv_p = def_primitive("erf_inv", _erf_inv_rule, elementwise=True)


def erf_inv(x: Array) -> Array:
    """Elementwise inverse of the error function on (-1, 1) (+-inf at +-1, nan outside)."""
    return bind(erf_inv_p, x)


def _erf_inv_jvp(t, ans, x):
    # d/dx erfinv(x) = sqrt(pi) / 2 * exp(erfinv(x) ** 2)
    dt = get_aval(ans).dtype
    return lax.mul(t, lax.mul(np.asarray(np.sqrt(np.pi) / 2, dt)[()], lax.exp(lax.mul(ans, ans))))


defjvp(erf_inv_p, _erf_inv_jvp)


# ---------------------------------------------------------------------------- sort_indices
def _sort_indices_rule(x: ShapedArray, *, dimension: int) -> ShapedArray:
    if not 0 <= dimension < x.ndim:
        raise ShapeError(f"sort_indices: axis {dimension} is out of range for shape {x.shape}")
    if not (is_int(x.dtype) or is_float(x.dtype)):
        raise DTypeError(f"sort_indices sorts integer or floating keys, got {x.dtype.name}")
    return ShapedArray(x.shape, np.dtype(np.int64))


sort_indices_p = def_primitive("sort_indices", _sort_indices_rule, zero_derivative=True)


def sort_indices(x: Array, dimension: int = -1) -> Array:
    """The indices that sort ``x`` along ``dimension``, ascending and stable (equal keys keep
    their order): ``numpy.argsort(x, axis, kind="stable")`` as int64."""
    nd = get_aval(x).ndim
    return bind(sort_indices_p, x, dimension=int(dimension) % max(nd, 1))


def _sort_indices_batch(args, dims, *, dimension):
    (x,), (d,) = args, dims
    if d != 0:
        nd = get_aval(x).ndim
        x = lax.transpose(x, (d,) + tuple(i for i in range(nd) if i != d))
    return bind(sort_indices_p, x, dimension=dimension + 1), 0


def_batch_rule(sort_indices_p, _sort_indices_batch)
