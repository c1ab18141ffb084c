"""Scatter: write ``updates`` into a copy of ``operand`` at integer ``indices`` along one axis.

functrace's scatters index one axis, as ``numpy.take`` (and the core's ``gather`` and
``scatter_add``) do: ``updates`` has the shape ``operand.shape[:axis] + indices.shape +
operand.shape[axis + 1:]`` and the indices are in range and non-negative. This covers every
``x.at[...]`` update (``functrace.numpy`` turns any index into positions of the flattened
array); JAX's general ``ScatterDimensionNumbers`` are not supported.

Repeated indices: ``scatter`` keeps the last update written to a position (JAX leaves the
choice unspecified; functrace fixes it, on every backend), ``scatter_mul`` multiplies them all
in, ``scatter_min``/``scatter_max`` take the extremum of all of them and the operand
(``scatter_add``, in the core, adds them all).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_int
from functrace.errors import AxisError, DTypeError, ShapeError
from functrace.ops._common import at_front, batch_size, scalar
from functrace.primitives import def_primitive
from functrace.rules import Zero, def_batch_rule, def_jvp_rule, def_transpose_rule, instantiate, is_undefined
from functrace.tracing import Tracer, bind, get_aval

Array = Any


def _scatter_abstract_eval(name: str):
    def rule(x: ShapedArray, idx: ShapedArray, upd: ShapedArray, *, axis: int, **_: Any) -> ShapedArray:
        if not is_int(idx.dtype):
            raise DTypeError(f"{name}: indices must be integers, got {idx.dtype.name}")
        if not 0 <= axis < x.ndim:
            raise AxisError(f"{name}: axis {axis} is out of bounds for an operand of shape {x.shape}")
        want = x.shape[:axis] + idx.shape + x.shape[axis + 1:]
        if upd.shape != want or upd.dtype != x.dtype:
            raise ShapeError(f"{name}: updates must be {ShapedArray(want, x.dtype).str_short()}, "
                             f"got {upd.str_short()}")
        return x

    return rule


scatter_p = def_primitive("scatter", _scatter_abstract_eval("scatter"), linear=(0, 2))
scatter_mul_p = def_primitive("scatter_mul", _scatter_abstract_eval("scatter_mul"), linear=(0,))
scatter_min_p = def_primitive("scatter_min", _scatter_abstract_eval("scatter_min"))
scatter_max_p = def_primitive("scatter_max", _scatter_abstract_eval("scatter_max"))


def scatter(operand: Array, indices: Array, updates: Array, axis: int = 0) -> Array:
    """A copy of ``operand`` with ``updates`` written at ``indices`` along ``axis``; of repeated
    indices the last update wins."""
    return bind(scatter_p, operand, indices, updates, axis=int(axis))


def scatter_mul(operand: Array, indices: Array, updates: Array, axis: int = 0,
                unique_indices: bool = False) -> Array:
    """A copy of ``operand`` multiplied by ``updates`` at ``indices`` along ``axis`` (repeats multiply).

    The derivative with respect to ``updates`` needs indices known to be unique, as in JAX:
    concrete indices are checked here; for traced ones pass ``unique_indices=True``.
    """
    unique = bool(unique_indices) or _known_unique(indices)
    return bind(scatter_mul_p, operand, indices, updates, axis=int(axis), unique_indices=unique)


def _known_unique(idx: Array) -> bool:
    """Whether ``idx`` is a concrete array without repeated entries."""
    if isinstance(idx, Tracer):
        if idx.val is None:
            return False
        v = idx.to_host("scatter_mul's indices")
    else:
        v = np.asarray(idx.detach().cpu().numpy() if hasattr(idx, "detach") else idx)
    return len(np.unique(v)) == v.size


def scatter_min(operand: Array, indices: Array, updates: Array, axis: int = 0) -> Array:
    """A copy of ``operand`` with the minimum of it and ``updates`` at ``indices`` along ``axis``."""
    return bind(scatter_min_p, operand, indices, updates, axis=int(axis))


def scatter_max(operand: Array, indices: Array, updates: Array, axis: int = 0) -> Array:
    """A copy of ``operand`` with the maximum of it and ``updates`` at ``indices`` along ``axis``."""
    return bind(scatter_max_p, operand, indices, updates, axis=int(axis))


def _updates_dims(x_aval: ShapedArray, idx_aval: ShapedArray, axis: int) -> tuple[int, ...]:
    """Where the index axes sit in ``updates``: after the operand's leading ``axis`` axes."""
    return tuple(range(axis, axis + idx_aval.ndim))


def winners(x: Array, idx: Array, upd_aval: ShapedArray, axis: int) -> Array:
    """A boolean mask of ``upd_aval``'s shape: True for the updates that ``scatter`` keeps (the
    last of each repeated index), found by scattering their ordinal numbers."""
    ia = get_aval(idx)
    n = get_aval(x).shape[axis]
    dt = np.int64 if ia.size >= 2**31 else np.int32
    ids = lax.reshape(lax.iota(dt, (ia.size,), 0), ia.shape)
    board = scatter(lax.full((n,), -1, dt), idx, ids, 0)
    won = lax.eq(lax.gather(board, idx, 0), ids)
    return lax.broadcast_in_dim(won, upd_aval.shape, _updates_dims(get_aval(x), ia, axis))


# ---------------------------------------------------------------------------- scatter (set)
def _scatter_jvp(primals, tangents, *, axis):
    x, idx, u = primals
    tx, _, tu = tangents
    ans = scatter(x, idx, u, axis)
    if isinstance(tx, Zero) and isinstance(tu, Zero):
        return ans, Zero(get_aval(ans))
    return ans, scatter(instantiate(tx, get_aval(x)), idx, instantiate(tu, get_aval(u)), axis)


def _scatter_transpose(ct, x, idx, u, *, axis):
    u_aval = u.aval if is_undefined(u) else get_aval(u)
    if isinstance(ct, Zero):
        return [Zero(x.aval) if is_undefined(x) else None, None, Zero(u_aval) if is_undefined(u) else None]
    ct_x = scatter(ct, idx, lax.full(u_aval.shape, 0, u_aval.dtype), axis) if is_undefined(x) else None
    ct_u = None
    if is_undefined(u):
        ct_u = lax.select(winners(ct, idx, u_aval, axis), lax.gather(ct, idx, axis),
                          lax.full(u_aval.shape, 0, u_aval.dtype))
    return [ct_x, None, ct_u]


def_jvp_rule(scatter_p, _scatter_jvp)
def_transpose_rule(scatter_p, _scatter_transpose)


# ---------------------------------------------------------------------------- scatter_mul
def _scatter_mul_jvp(primals, tangents, *, axis, unique_indices):
    x, idx, u = primals
    tx, _, tu = tangents
    ans = bind(scatter_mul_p, x, idx, u, axis=axis, unique_indices=unique_indices)
    out = Zero(get_aval(ans))
    if not isinstance(tx, Zero):
        out = bind(scatter_mul_p, tx, idx, u, axis=axis, unique_indices=unique_indices)
    if not isinstance(tu, Zero):
        if not unique_indices:
            raise NotImplementedError(
                "the derivative of scatter_mul (x.at[i].multiply(v), .divide, .power) with respect to the "
                "updates needs indices known to be unique, as in JAX: pass unique_indices=True (traced indices "
                "that are unique), or write the product with functrace.numpy operations")
        # Unique indices: out[p] = x[p] * u[k], so d out[p] = ... + x[p] * du[k].
        zeros = lax.full(get_aval(x).shape, 0, get_aval(x).dtype)
        du = scatter(zeros, idx, lax.mul(lax.gather(x, idx, axis), tu), axis)
        out = du if isinstance(out, Zero) else lax.add(out, du)
    return ans, out


def _scatter_mul_transpose(ct, x, idx, u, *, axis, unique_indices):
    """Linear in the operand alone: each position is scaled by its updates' product, a diagonal
    map, which is its own transpose."""
    if isinstance(ct, Zero):
        return [Zero(x.aval), None, None]
    return [bind(scatter_mul_p, ct, idx, u, axis=axis, unique_indices=unique_indices), None, None]


def_jvp_rule(scatter_mul_p, _scatter_mul_jvp)
def_transpose_rule(scatter_mul_p, _scatter_mul_transpose)


# ---------------------------------------------------------------------------- scatter_min / max
def _extremal_jvp(prim):
    """The tangent at each position is the mean of the tangents of every value (operand and
    updates) equal to the result there, as in JAX."""
    wrapper = scatter_min if prim is scatter_min_p else scatter_max

    def rule(primals, tangents, *, axis):
        x, idx, u = primals
        tx, _, tu = tangents
        ans = wrapper(x, idx, u, axis)
        xa, ua = get_aval(x), get_aval(u)
        if isinstance(tx, Zero) and isinstance(tu, Zero):
            return ans, Zero(xa)
        x_hit = lax.convert_element_type(lax.eq(x, ans), xa.dtype)
        u_hit = lax.convert_element_type(lax.eq(u, lax.gather(ans, idx, axis)), xa.dtype)
        count = lax.scatter_add(x_hit, idx, u_hit, axis)
        total = lax.scatter_add(lax.mul(instantiate(tx, xa), x_hit), idx, lax.mul(instantiate(tu, ua), u_hit), axis)
        safe = lax.select(lax.eq(count, lax.full(xa.shape, 0, xa.dtype)), lax.full(xa.shape, 1, xa.dtype), count)
        return ans, lax.div(total, safe)

    return rule


def_jvp_rule(scatter_min_p, _extremal_jvp(scatter_min_p))
def_jvp_rule(scatter_max_p, _extremal_jvp(scatter_max_p))


# ---------------------------------------------------------------------------- batching
def _flat_index(idx: Array, di: int, n: int) -> Array:
    """Per-example indices into an axis of length ``n`` as indices into the flattened
    (batch * n) axis: example b is offset by b * n. Batch axis first."""
    idx = at_front(idx, di, 0)
    a = get_aval(idx)
    return lax.add(idx, lax.mul(lax.iota(a.dtype, a.shape, 0), scalar(n, a.dtype)))


def _scatter_batch(prim):
    def wrapper(x, idx, upd, axis, params):
        return bind(prim, x, idx, upd, axis=axis, **params)

    def rule(args, dims, *, axis, **params):
        (x, idx, upd), (dx, di, du) = args, dims
        size = batch_size(args, dims)
        x, upd = at_front(x, dx, size), at_front(upd, du, size)
        if di is None:
            return wrapper(x, idx, upd, axis + 1, params), 0
        # Batched indices: scatter into the (batch * n)-long flattening of the indexed axis.
        x = lax.transpose(x, _move(get_aval(x).ndim, axis + 1, 1))  # (B, N) + pre + post
        xa = get_aval(x)
        n = xa.shape[1]
        flat = lax.reshape(x, (size * n,) + xa.shape[2:])
        fidx = _flat_index(idx, di, n)
        ni, nd = get_aval(fidx).ndim - 1, get_aval(upd).ndim  # (B,) + pre + I + post -> (B,) + I + pre + post
        perm = ((0,) + tuple(range(1 + axis, 1 + axis + ni)) + tuple(range(1, 1 + axis))
                + tuple(range(1 + axis + ni, nd)))
        out = lax.reshape(wrapper(flat, fidx, lax.transpose(upd, perm), 0, params), xa.shape)
        return lax.transpose(out, _move(xa.ndim, 1, axis + 1)), 0

    return rule


def _move(ndim: int, src: int, dst: int) -> list[int]:
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return perm


for _p in (scatter_p, scatter_mul_p, scatter_min_p, scatter_max_p):
    def_batch_rule(_p, _scatter_batch(_p))


# ---------------------------------------------------------------------------- Taylor rules (jet)
# scatter_max/min keep, at each position, the series of the value that wins there.
from functrace.ops.elementwise import piecewise_jet  # noqa: E402

for _p in (scatter_min_p, scatter_max_p):
    piecewise_jet(_p)
