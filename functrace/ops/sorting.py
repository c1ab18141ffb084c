"""Sorting: the ``sort`` primitive (several operands sorted together by their leading keys) and
the ``lax`` wrappers built on it (``sort``, ``sort_key_val``, ``top_k``).

Order is NumPy's and JAX's: ascending, ``-0.0`` equal to ``0.0``, NaN after everything else;
equal keys keep their input order when ``is_stable`` (the backends always sort stably, so the
flag changes nothing but is kept in the IR as JAX keeps it). The JVP sorts an ``iota`` along
with the operands and gathers the tangents with the permutation it produces, as JAX does.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import AxisError, ShapeError
from functrace.ops._common import at_front, batch_size
from functrace.primitives import def_primitive
from functrace.rules import Zero, def_batch_rule, def_jvp_rule
from functrace.tracing import bind, get_aval

Array = Any


def _sort_abstract_eval(*operands: ShapedArray, dimension: int, is_stable: bool, num_keys: int) -> list:
    if not operands:
        raise ShapeError("sort needs at least one operand")
    shape = operands[0].shape
    if any(o.shape != shape for o in operands):
        raise ShapeError("sort: all operands must have one shape, got " + ", ".join(str(o.shape) for o in operands))
    if not 0 <= dimension < max(len(shape), 1) or not shape:
        raise AxisError(f"sort: dimension {dimension} is out of bounds for operands of shape {shape}")
    if not 1 <= num_keys <= len(operands):
        raise ShapeError(f"sort: num_keys={num_keys} must be between 1 and the number of operands ({len(operands)})")
    return [ShapedArray(o.shape, o.dtype) for o in operands]


sort_p = def_primitive("sort", _sort_abstract_eval, multiple_results=True)


def _bind_sort(operands: Sequence[Array], dimension: int, is_stable: bool, num_keys: int) -> list:
    return list(bind(sort_p, *operands, dimension=int(dimension), is_stable=bool(is_stable), num_keys=int(num_keys)))


def sort(operand: Array | Sequence[Array], dimension: int = -1, is_stable: bool = True,
         num_keys: int = 1) -> Array | tuple:
    """Sort ``operand`` along ``dimension`` (as ``jax.lax.sort``).

    Given a sequence of arrays of one shape, sorts them together, ordered lexicographically by
    the first ``num_keys`` of them, and returns a tuple; given one array, returns it sorted.
    NaN sorts last; equal keys keep their order when ``is_stable``.
    """
    single = not isinstance(operand, (tuple, list))
    ops = [operand] if single else list(operand)
    nd = get_aval(ops[0]).ndim
    dim = dimension + nd if dimension < 0 else dimension
    out = _bind_sort(ops, dim, is_stable, num_keys)
    return out[0] if single else tuple(out)


def sort_key_val(keys: Array, values: Array, dimension: int = -1, is_stable: bool = True) -> tuple:
    """Sort ``keys`` along ``dimension`` and ``values`` by the same permutation."""
    k, v = sort((keys, values), dimension, is_stable, num_keys=1)
    return k, v


def top_k(operand: Array, k: int) -> tuple:
    """The ``k`` largest entries along the last axis, in descending order, and their indices
    (int32, as JAX). Of equal values the one with the lower index comes first; NaN counts as
    the largest value (as in a descending NumPy sort)."""
    a = get_aval(operand)
    if not a.shape:
        raise ShapeError("top_k needs an operand with at least one dimension")
    n, k = a.shape[-1], int(k)
    if not 0 <= k <= n:
        raise ShapeError(f"top_k: k={k} must be between 0 and the last dimension's size {n}")
    vals, idx = descending_sort(operand, a.ndim - 1, with_indices=True, index_dtype=np.int32)
    start, limit = (0,) * a.ndim, a.shape[:-1] + (k,)
    return lax.slice(vals, start, limit), lax.slice(idx, start, limit)


def descending_sort(x: Array, dimension: int, with_indices: bool = False, index_dtype: Any = np.int64):
    """A stable descending sort: ``rev``, ascending stable sort, ``rev``. Equal values keep
    their input order (lower index first) and NaN comes first, as JAX's ``descending=True``."""
    a = get_aval(x)
    if not with_indices:
        return lax.rev(sort(lax.rev(x, (dimension,)), dimension), (dimension,))
    iota = lax.rev(lax.iota(index_dtype, a.shape, dimension), (dimension,))
    vals, idx = sort((lax.rev(x, (dimension,)), iota), dimension, num_keys=1)
    return lax.rev(vals, (dimension,)), lax.rev(idx, (dimension,))


def take_along(x: Array, idx: Array, dimension: int) -> Array:
    """``numpy.take_along_axis(x, idx, dimension)`` from one ``gather``: ``idx`` has ``x``'s
    shape except (maybe) along ``dimension``, and holds in-range non-negative indices."""
    xa, ia = get_aval(x), get_aval(idx)
    nd = xa.ndim
    perm = [i for i in range(nd) if i != dimension] + [dimension]
    inv = list(np.argsort(perm))
    xt, it = lax.transpose(x, perm), lax.transpose(idx, perm)
    lead = tuple(xa.shape[i] for i in perm[:-1])
    m, n, k = int(np.prod(lead, dtype=np.int64)), xa.shape[dimension], ia.shape[dimension]
    flat = lax.reshape(xt, (m * n,))
    it = lax.reshape(it, (m, k))
    dt = np.dtype(np.int64) if m * n >= 2**31 else ia.dtype  # flat positions must not overflow
    it = lax.convert_element_type(it, dt)
    offsets = lax.mul(lax.iota(dt, (m, k), 0), np.asarray(n, dt)[()])
    out = lax.gather(flat, lax.add(it, offsets), 0)
    return lax.transpose(lax.reshape(out, lead + (k,)), inv)


# ---------------------------------------------------------------------------- rules
def _sort_jvp(primals, tangents, *, dimension, is_stable, num_keys):
    shape = get_aval(primals[0]).shape
    iota = lax.iota(np.int64 if shape[dimension] >= 2**31 else np.int32, shape, dimension)
    *outs, perm = _bind_sort([*primals, iota], dimension, is_stable, num_keys)
    tans = [t if isinstance(t, Zero) else take_along(t, perm, dimension) for t in tangents]
    return outs, tans


def_jvp_rule(sort_p, _sort_jvp)


def _sort_batch(args, dims, *, dimension, is_stable, num_keys):
    size = batch_size(args, dims)
    ops = [at_front(x, d, size) for x, d in zip(args, dims, strict=True)]
    out = _bind_sort(ops, dimension + 1, is_stable, num_keys)
    return out, [0] * len(out)


def_batch_rule(sort_p, _sort_batch)


# ---------------------------------------------------------------------------- Taylor rules (jet)
# Sorting permutes: each coefficient follows its element to where the primal sort put it.
from functrace.ops.elementwise import piecewise_jet  # noqa: E402

piecewise_jet(sort_p)
