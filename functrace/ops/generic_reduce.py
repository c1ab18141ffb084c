"""``lax.reduce`` (a reduction by any associative ``computation``) and ``lax.reduce_xor``,
composed of functrace's primitives.

A computation that is one of lax's own monoids (``lax.add``, ``mul``, ``max``, ``min``) runs as
the matching reduction primitive, then meets the initial value once: ``reduce(x, 10.0, lax.add,
(1,))`` is ``10 + sum(x, 1)``, as in JAX. Any other computation (a function of scalars built from
elementwise operations, or of tuples of them for several operands) is applied to whole slices:
each reduced axis is halved until one element is left (the first half combined with the
second, an odd element carried), so a length-n axis takes about log2(n) applications. XLA asks
the computation to be associative and commutative and does not fix the order either. An axis
of length zero leaves the initial value.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.errors import DTypeError
from functrace.tracing import Tracer, current_backend, get_aval, located
from functrace.util import normalize_axis

Array = Any


def _halved(operands: list, axis: int, combine: Callable[[list, list], list]) -> list:
    """The operands reduced along ``axis`` (of length >= 1) by ``combine``, the axis kept (length 1)."""
    n = get_aval(operands[0]).shape[axis]
    while n > 1:
        half = n // 2
        first = [lax.slice_in_dim(x, 0, half, axis=axis) for x in operands]
        second = [lax.slice_in_dim(x, half, 2 * half, axis=axis) for x in operands]
        combined = combine(first, second)
        if n % 2:
            combined = [lax.concatenate([c, lax.slice_in_dim(x, 2 * half, n, axis=axis)], axis)
                        for c, x in zip(combined, operands, strict=True)]
        operands, n = combined, half + n % 2
    return operands


def _reduced(operands: list, axes: Sequence[int], combine: Callable[[list, list], list]) -> list:
    """The operands reduced along ``axes`` (non-negative, each once) by ``combine``."""
    for axis in axes:
        operands = _halved(operands, axis, combine)
    return [lax.squeeze(x, axes) for x in operands] if axes else operands


def reduce_xor(operand: Array, axes: Sequence[int]) -> Array:
    """The exclusive or of the elements along ``axes`` (booleans or integers), as JAX's
    ``lax.reduce_xor``; 0 (False) over an empty axis."""
    dtype = get_aval(operand).dtype
    if dtype.kind not in "biu":
        raise located(DTypeError(f"lax.reduce_xor needs a boolean or integer operand, got {dtype}"))
    return reduce(operand, 0, lax.bitwise_xor, axes)


@functools.cache
def _monoids() -> dict:
    """lax's own monoids and their reductions (looked up late: ``functrace.lax`` imports this module)."""
    return {lax.add: lax.reduce_sum, lax.mul: lax.reduce_prod, lax.max: lax.reduce_max, lax.min: lax.reduce_min}


def reduce(operands: Any, init_values: Any, computation: Callable, dimensions: Sequence[int]) -> Any:
    """JAX's ``lax.reduce``: ``operands`` (an array, or a tuple of arrays of one shape) reduced
    along ``dimensions`` by ``computation``, starting from ``init_values`` (a scalar per operand).
    For several operands ``computation`` takes and returns tuples (an argmax carries the value
    and its index)."""
    several = isinstance(operands, (tuple, list))
    backend = current_backend()  # (eagerly, the computation meets the backend's own arrays, as its results are)
    xs = [x if isinstance(x, Tracer) else backend.asarray(x) for x in (operands if several else [operands])]
    inits = list(init_values) if several else [init_values]
    if len(inits) != len(xs):
        raise located(ValueError(f"lax.reduce: {len(xs)} operands but {len(inits)} initial values"))
    inits = [lax.convert_element_type(i, get_aval(x).dtype) if isinstance(i, Tracer)
             else backend.asarray(np.asarray(backend.to_numpy(i), get_aval(x).dtype))
             for i, x in zip(inits, xs, strict=True)]

    def combine(a: list, b: list) -> list:
        out = computation(tuple(a), tuple(b)) if several else computation(a[0], b[0])
        return list(out) if several else [out]

    shape = get_aval(xs[0]).shape
    ndim = len(shape)
    dims = {normalize_axis(d, ndim) for d in dimensions}
    kept = [d for i, d in enumerate(shape) if i not in dims]
    if any(shape[d] == 0 for d in dims):  # nothing to reduce: the initial values
        out = [lax.broadcast_in_dim(i, tuple(kept), ()) for i in inits]
    elif not several and computation in _monoids():
        out = [computation(inits[0], _monoids()[computation](xs[0], tuple(sorted(dims))))]
    else:
        out = combine(inits, _reduced(xs, sorted(dims), combine))
    return tuple(out) if several else out[0]


__all__ = ["reduce", "reduce_xor"]
