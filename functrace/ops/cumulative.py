"""Cumulative reductions (``cumprod``, ``cummax``, ``cummin``, ``cumlogsumexp``; ``cumsum`` is in
the core), ``associative_scan`` and ``map``.

Each cumulative primitive runs as one backend call; its JVP is the JVP of the same reduction
written as an ``associative_scan`` (pairs of value and tangent combined), as JAX defines it.
So ``cumprod``'s derivative is exact where some elements are zero (no division), and ties in
``cummax``/``cummin`` split the tangent as JAX's ``max``/``min`` do (half to each side of
every tied pair the scan combines).
"""

from __future__ import annotations

import importlib
from typing import Any, Callable

from functrace import lax
from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.errors import AxisError, DTypeError, ShapeError
from functrace.ops._common import scalar
from functrace.primitives import abstract_eval_rules, def_primitive
from functrace.rules import Zero, def_batch_rule, def_jvp_rule
from functrace.tracing import bind, get_aval
from functrace.tree_util import tree_flatten, tree_leaves, tree_map, tree_unflatten
from functrace.util import normalize_axis

Array = Any


def _cumulative_abstract_eval(name: str, kinds: str):
    def rule(x: ShapedArray, *, axis: int, reverse: bool) -> ShapedArray:
        if not 0 <= axis < x.ndim:
            raise AxisError(f"{name}: axis {axis} is out of bounds for an operand of shape {x.shape}")
        ok = (is_float(x.dtype) or ("i" in kinds and is_int(x.dtype)) or ("b" in kinds and is_bool(x.dtype)))
        if not ok:
            raise DTypeError(f"{name} does not accept dtype {x.dtype.name}")
        return x

    return rule


cumprod_p = def_primitive("cumprod", _cumulative_abstract_eval("cumprod", "i"))
cummax_p = def_primitive("cummax", _cumulative_abstract_eval("cummax", "ib"))
cummin_p = def_primitive("cummin", _cumulative_abstract_eval("cummin", "ib"))
cumlogsumexp_p = def_primitive("cumlogsumexp", _cumulative_abstract_eval("cumlogsumexp", ""))


def _wrapper(prim, doc: str) -> Callable:
    check = abstract_eval_rules[prim]

    def f(operand: Array, axis: int = 0, reverse: bool = False) -> Array:
        a = get_aval(operand)
        params = dict(axis=normalize_axis(axis, a.ndim), reverse=bool(reverse))
        check(a, **params)  # eager calls skip the shape/dtype rule: refuse bad dtypes here too
        return bind(prim, operand, **params)

    f.__name__ = f.__qualname__ = prim.name
    f.__doc__ = doc
    return f


cumprod = _wrapper(cumprod_p, "Inclusive cumulative product along ``axis`` (from the end when ``reverse``).")
cummax = _wrapper(cummax_p, "Inclusive cumulative maximum along ``axis`` (NaN propagates).")
cummin = _wrapper(cummin_p, "Inclusive cumulative minimum along ``axis`` (NaN propagates).")
cumlogsumexp = _wrapper(cumlogsumexp_p, "Inclusive cumulative log(sum(exp(x))) along ``axis``, without overflow.")


# ---------------------------------------------------------------------------- associative_scan
def _slice_axis(x: Array, start: int, limit: int | None, stride: int, axis: int) -> Array:
    a = get_aval(x)
    starts, limits, strides = [0] * a.ndim, list(a.shape), [1] * a.ndim
    n = a.shape[axis]
    limit = n if limit is None else (limit + n if limit < 0 else limit)
    starts[axis], limits[axis], strides[axis] = min(start, limit), limit, stride
    return lax.slice(x, starts, limits, strides)


def _interleave(a: Array, b: Array, axis: int) -> Array:
    """``a[0], b[0], a[1], b[1], ...`` along ``axis`` (``a`` as long as ``b`` or one longer):
    each spread out with interior padding, then the two added (or'ed, for booleans)."""
    aa, ba = get_aval(a), get_aval(b)
    na, nb = aa.shape[axis], ba.shape[axis]
    zero = scalar(0, aa.dtype)
    cfg_a = [(0, 0, 0)] * aa.ndim
    cfg_b = [(0, 0, 0)] * ba.ndim
    cfg_a[axis] = (0, 1 if na == nb else 0, 1)
    cfg_b[axis] = (1, 0 if na == nb else 1, 1)
    pa, pb = lax.pad(a, zero, cfg_a), lax.pad(b, zero, cfg_b)
    return lax.bitwise_or(pa, pb) if is_bool(aa.dtype) else lax.add(pa, pb)


def associative_scan(fn: Callable, elems: Any, reverse: bool = False, axis: int = 0) -> Any:
    """All prefix combinations ``fn(...fn(fn(e0, e1), e2)..., ek)`` of ``elems`` along ``axis``,
    for an associative ``fn`` (as ``jax.lax.associative_scan``): ``elems`` is a pytree of
    arrays of one length along ``axis``, and ``fn`` combines two such pytrees elementwise.
    Work O(n), depth O(log n) (the odd/even recursion of Blelloch's scan)."""
    flat, tree = tree_flatten(elems)
    if not flat:
        return elems
    nd = get_aval(flat[0]).ndim
    axis = normalize_axis(axis, nd)
    n = get_aval(flat[0]).shape[axis]
    if any(get_aval(e).ndim != nd or get_aval(e).shape[axis] != n for e in flat):
        raise ShapeError("associative_scan: every leaf of elems needs the same length along the axis")
    if reverse:
        flat = [lax.rev(e, (axis,)) for e in flat]

    def combine(a: list, b: list) -> list:
        out = tree_leaves(fn(tree_unflatten(tree, a), tree_unflatten(tree, b)))
        if len(out) != len(a):
            raise ShapeError("associative_scan: fn must return a pytree of the structure of its arguments")
        return out

    def scan(es: list) -> list:
        m = get_aval(es[0]).shape[axis]
        if m < 2:
            return es
        reduced = combine([_slice_axis(e, 0, -1, 2, axis) for e in es], [_slice_axis(e, 1, None, 2, axis) for e in es])
        odd = scan(reduced)
        if m % 2 == 0:
            even = combine([_slice_axis(e, 0, -1, 1, axis) for e in odd],
                           [_slice_axis(e, 2, None, 2, axis) for e in es])
        else:
            even = combine(odd, [_slice_axis(e, 2, None, 2, axis) for e in es])
        even = [lax.concatenate([_slice_axis(e, 0, 1, 1, axis), r], axis) for e, r in zip(es, even, strict=True)]
        return [_interleave(e, o, axis) for e, o in zip(even, odd, strict=True)]

    out = scan(flat)
    if reverse:
        out = [lax.rev(e, (axis,)) for e in out]
    return tree_unflatten(tree, out)


# ---------------------------------------------------------------------------- JVPs
def _prod_pair(a, b):
    (x, dx), (y, dy) = a, b
    return lax.mul(x, y), lax.add(lax.mul(dx, y), lax.mul(x, dy))


def _chooser_pair(pick: str):
    """max/min of pairs with JAX's tangent: all of it from the side that is chosen, half from
    each when both sides are equal."""

    def combine(a, b):
        (x, dx), (y, dy) = a, b
        ans = getattr(lax, pick)(x, y)  # looked up when called: lax is still loading when this module is
        dt = get_aval(dx).dtype
        one, half, zero = (lax.full(get_aval(ans).shape, v, dt) for v in (1.0, 0.5, 0.0))
        ex, ey = lax.eq(x, ans), lax.eq(y, ans)
        wx = lax.select(ex, lax.select(ey, half, one), zero)
        wy = lax.select(ey, lax.select(ex, half, one), zero)
        return ans, lax.add(lax.mul(dx, wx), lax.mul(dy, wy))

    return combine


def _finite_or_zero(x):
    a = get_aval(x)
    inf = lax.bitwise_not(lax.is_finite(x))
    return lax.select(lax.bitwise_and(inf, lax.eq(x, x)), lax.full(a.shape, 0, a.dtype), x)


def _logaddexp_pair(a, b):
    (x, dx), (y, dy) = a, b
    hi = lax.max(x, y)
    ans = lax.add(hi, lax.log1p(lax.exp(lax.neg(lax.abs(lax.sub(x, y))))))
    ans = lax.select(lax.eq(x, y), lax.add(x, lax.log(lax.full(get_aval(x).shape, 2, get_aval(x).dtype))), ans)
    fa = _finite_or_zero(ans)
    wx = lax.exp(lax.sub(_finite_or_zero(x), fa))
    wy = lax.exp(lax.sub(_finite_or_zero(y), fa))
    return ans, lax.add(lax.mul(dx, wx), lax.mul(dy, wy))


_PAIRS = {cumprod_p: _prod_pair, cummax_p: _chooser_pair("max"), cummin_p: _chooser_pair("min"),
          cumlogsumexp_p: _logaddexp_pair}


def _cumulative_jvp(prim):
    def rule(primals, tangents, *, axis, reverse):
        (x,), (t,) = primals, tangents
        ans = bind(prim, x, axis=axis, reverse=reverse)
        if isinstance(t, Zero):
            return ans, Zero(get_aval(ans))
        _, tan = associative_scan(_PAIRS[prim], (x, t), reverse=reverse, axis=axis)
        return ans, tan

    return rule


def _cumulative_batch(prim):
    def rule(args, dims, *, axis, reverse):
        (x,), (d,) = args, dims
        return bind(prim, x, axis=axis + (axis >= d), reverse=reverse), d

    return rule


for _p in _PAIRS:
    def_jvp_rule(_p, _cumulative_jvp(_p))
    def_batch_rule(_p, _cumulative_batch(_p))


# ---------------------------------------------------------------------------- map
def map(f: Callable, xs: Any, *, batch_size: int | None = None) -> Any:  # noqa: A001
    """``f`` applied to each slice of ``xs`` along its leading axis, results stacked (as
    ``jax.lax.map``): a ``scan`` without carry. With ``batch_size``, ``batch_size`` slices at a
    time go through ``vmap(f)``, the remainder through one more ``vmap``."""
    leaves = tree_leaves(xs)
    if not leaves:
        raise ShapeError("lax.map needs at least one array in xs")
    n = get_aval(leaves[0]).shape[0]
    if batch_size is None or n == 0:
        return lax.scan(lambda carry, x: (carry, f(x)), (), xs)[1]
    bs = int(batch_size)
    if bs < 1:
        raise ShapeError(f"lax.map: batch_size must be a positive integer, got {batch_size}")
    # vmap is a transform; the core reaches it at call time so that it never imports one.
    vmap = importlib.import_module("functrace.transforms.batching").vmap
    nb, rem = divmod(n, bs)
    parts = []
    if nb:
        main = tree_map(lambda x: lax.reshape(lax.slice(x, (0,) * get_aval(x).ndim, (nb * bs,) + get_aval(x).shape[1:]),
                                              (nb, bs) + get_aval(x).shape[1:]), xs)
        ys = lax.scan(lambda carry, x: (carry, vmap(f)(x)), (), main)[1]
        parts.append(tree_map(lambda y: lax.reshape(y, (nb * bs,) + get_aval(y).shape[2:]), ys))
    if rem:
        tail = tree_map(lambda x: lax.slice(x, (nb * bs,) + (0,) * (get_aval(x).ndim - 1), get_aval(x).shape), xs)
        parts.append(vmap(f)(tail))
    if len(parts) == 1:
        return parts[0]
    return tree_map(lambda a, b: lax.concatenate([a, b], 0), parts[0], parts[1])


# ---------------------------------------------------------------------------- Taylor rules (jet)
# A running max/min follows the series of the element it holds (cumsum is linear: no rule).
from functrace.ops.elementwise import piecewise_jet  # noqa: E402

for _p in (cummax_p, cummin_p):
    piecewise_jet(_p)
