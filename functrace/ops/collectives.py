"""Collectives over named axes: ``psum``, ``pmax``, ``pmin`` (and ``pmean``), ``all_gather``,
``psum_scatter``, ``ppermute``, ``axis_index`` and ``axis_size``, with JAX's signatures and rules.

A named axis is bound in one of two ways:

- by ``vmap(f, axis_name="i")``: the batching interpreter pushes an ``AxisFrame`` while it traces
  and runs ``f``, and each collective's batching rule turns a collective over *its own* name into
  ordinary array operations over the batch dimension (``psum`` a ``reduce_sum``); a collective over
  another name passes through to the enclosing vmap, unchanged but for its batch dimension;
- by ``functrace.distributed.initialize(axis_name="batch")``: the name is bound to a process
  group (``process_axes``), and the backends' implementations call ``torch.distributed``.

A collective over a name bound by neither is an ``UnboundAxisError`` at the user's line. The
derivative rules are JAX's: ``psum`` is linear and transposes to ``psum`` (each member's cotangent
is summed, as JAX's per-member view defines it); ``all_gather`` and ``psum_scatter`` transpose to
each other; ``ppermute`` transposes to the inverse permutation; ``pmax``/``pmin`` have no
derivative in JAX either (an error says what to use instead).

A value from outside a vmap (a constant, a tracer of a grad around the vmap) is the same on every
member: the wrappers first make it a value of the vmap's program (``lift``), so the vmap's rule
applies the collective to it. Should a collective over a vmap axis still reach an implementation,
the implementation treats its operand as such a shared value (``psum`` multiplies by the axis
size, ``pmax``/``pmin`` return it, ``all_gather`` repeats it) or refuses where the result would
differ per member.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_bool, is_int
from functrace.errors import AxisError, MissingRuleError, ShapeError
from functrace.ops._axes import (  # noqa: F401 -- the environment's names are the family's too
    AxisFrame,
    _no_groups,
    _one_name,
    _vmap_frame,
    axis_frame,
    axis_size,
    current_frame,
    names_of,
    not_computable_here,
    process_axis,
    split_names,
    vmap_names_only,
)
from functrace.primitives import def_primitive
from functrace.rules import Zero, def_batch_rule, def_jvp_rule, def_transpose_rule, instantiate, is_undefined, moveaxis
from functrace.tracing import Trace, Tracer, bind, get_aval, located, open_traces, user_error
from functrace.tree_util import tree_flatten, tree_unflatten

Array = Any


# ---------------------------------------------------------------------------- values shared by a vmap's members
def lift(x: Any, names: tuple) -> Any:
    """``x`` as a value of the programs of the vmaps named in ``names``.

    A value from outside a vmap (a constant, or a tracer of an enclosing transform such as a grad
    around the vmap) is the same on every member; adding zero times the member's index makes it
    a value of the vmap's own program, so the vmap's batching rule, not some later evaluation
    where the name is no longer bound, applies the collective (psum of it: the size times it)."""
    for n in names:
        frame = _vmap_frame(n)
        if frame is None or (isinstance(x, Tracer) and x._trace.level > frame.level):
            continue
        dt = get_aval(x).dtype
        x = lax.add(x, lax.convert_element_type(lax.mul(axis_index(n), np.int32(0)), dt))
    return x


# ---------------------------------------------------------------------------- psum, pmax, pmin
def _same_avals(*avals: ShapedArray, axes: tuple) -> list[ShapedArray]:
    return list(avals)


psum_p = def_primitive("psum", _same_avals, multiple_results=True, linear=True)
pmax_p = def_primitive("pmax", _same_avals, multiple_results=True)
pmin_p = def_primitive("pmin", _same_avals, multiple_results=True)


def _reduce_collective(prim, x: Any, axis_name: Any, axis_index_groups: Any = None) -> Any:
    _no_groups(prim.name, axis_index_groups)
    names = names_of(axis_name)
    split_names(names)  # every name must be bound, at the user's line
    leaves, tree = tree_flatten(x)
    leaves = [lax.convert_element_type(v, np.int32) if is_bool(get_aval(v).dtype) else v for v in leaves]
    leaves = [lift(v, names) for v in leaves]
    if not leaves:
        return x
    return tree_unflatten(tree, list(bind(prim, *leaves, axes=names)))


def psum(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The sum of ``x`` (a pytree of arrays) over every member of the named axis (a name or a tuple
    of names), as ``jax.lax.psum``: every member gets the total. Booleans sum as int32."""
    return _reduce_collective(psum_p, x, axis_name, axis_index_groups)


def pmax(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The elementwise maximum of ``x`` (a pytree) over the members of the named axis (``jax.lax.pmax``)."""
    return _reduce_collective(pmax_p, x, axis_name, axis_index_groups)


def pmin(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The elementwise minimum of ``x`` (a pytree) over the members of the named axis (``jax.lax.pmin``)."""
    return _reduce_collective(pmin_p, x, axis_name, axis_index_groups)


def pmean(x: Any, axis_name: Any, *, axis_index_groups: Any = None) -> Any:
    """The mean of ``x`` (a pytree) over the members of the named axis: ``psum(x) / axis_size``, as
    ``jax.lax.pmean`` (integer leaves give floating results)."""
    _no_groups("pmean", axis_index_groups)
    n = axis_size(axis_name)
    summed = psum(x, axis_name)
    leaves, tree = tree_flatten(summed)
    out = []
    for v in leaves:
        dt = get_aval(v).dtype
        if is_int(dt) or is_bool(dt):
            v = lax.convert_element_type(v, np.float32)
            dt = np.dtype(np.float32)
        out.append(lax.div(v, np.asarray(n, dtype=dt)[()]))
    return tree_unflatten(tree, out)


def _psum_jvp(primals, tangents, *, axes):
    out = bind(psum_p, *primals, axes=axes)
    live = [i for i, t in enumerate(tangents) if not isinstance(t, Zero)]
    t_out: list = [Zero(get_aval(o)) for o in out]
    if live:
        summed = bind(psum_p, *[tangents[i] for i in live], axes=axes)
        for i, s in zip(live, summed, strict=True):
            t_out[i] = s
    return out, t_out


def _psum_transpose(cts, *args, axes):
    """JAX's rule: the cotangent of each member's operand is the psum of the members' cotangents."""
    avals = [a.aval if is_undefined(a) else get_aval(a) for a in args]
    live = [i for i, c in enumerate(cts) if not isinstance(c, Zero)]
    res: list = [Zero(a) for a in avals]
    if live:
        summed = bind(psum_p, *[cts[i] for i in live], axes=axes)
        for i, s in zip(live, summed, strict=True):
            res[i] = s
    return [r if is_undefined(a) else None for r, a in zip(res, args, strict=True)]


def _no_derivative(name: str):
    def rule(primals, tangents, **params):
        raise located(MissingRuleError(
            f"{name} has no derivative (JAX defines none either); to differentiate a maximum over members, "
            f"all_gather the values and use functrace.numpy.max on the gathered axis"))

    return rule


def_jvp_rule(psum_p, _psum_jvp)
def_transpose_rule(psum_p, _psum_transpose)
def_jvp_rule(pmax_p, _no_derivative("pmax"))
def_jvp_rule(pmin_p, _no_derivative("pmin"))


def _reduce_batch_rule(prim, reducer):
    """Own axis: reduce over the batch dimension (the result is the same for every member, so
    unbatched); other names: bind again on the batched operands (pass through)."""

    def rule(args, dims, *, axes):
        frame = current_frame()
        if frame is None or frame.name not in axes:
            return list(bind(prim, *args, axes=axes)), list(dims)
        rest = tuple(n for n in axes if n != frame.name)
        outs = []
        for x, d in zip(args, dims, strict=True):
            if d is None:  # the same value on every member
                outs.append(lax.mul(x, np.asarray(frame.size, dtype=get_aval(x).dtype)[()]) if prim is psum_p else x)
            else:
                outs.append(reducer(x, (d,)))
        if rest:
            outs = list(bind(prim, *outs, axes=rest))
        return outs, [None] * len(outs)

    def_batch_rule(prim, rule)


_reduce_batch_rule(psum_p, lambda x, axes: lax.reduce_sum(x, axes))
_reduce_batch_rule(pmax_p, lambda x, axes: lax.reduce_max(x, axes))
_reduce_batch_rule(pmin_p, lambda x, axes: lax.reduce_min(x, axes))


# ---------------------------------------------------------------------------- all_gather
def _gathered_shape(shape: tuple, axis: int, tiled: bool, size: int) -> tuple:
    if tiled:
        return shape[:axis] + (shape[axis] * size,) + shape[axis + 1:]
    return shape[:axis] + (size,) + shape[axis:]


def _all_gather_abstract_eval(x: ShapedArray, *, axis_name: tuple, all_gather_dimension: int, axis_size: int,
                              tiled: bool) -> ShapedArray:
    limit = x.ndim if tiled else x.ndim + 1
    if not 0 <= all_gather_dimension < max(limit, 1):
        raise AxisError(f"all_gather: axis {all_gather_dimension} is out of bounds for an operand of shape {x.shape}"
                        + (" (tiled)" if tiled else ""))
    return ShapedArray(_gathered_shape(x.shape, all_gather_dimension, tiled, axis_size), x.dtype)


all_gather_p = def_primitive("all_gather", _all_gather_abstract_eval, linear=(0,))


def all_gather(x: Any, axis_name: Any, *, axis_index_groups: Any = None, axis: int = 0, tiled: bool = False) -> Any:
    """Every member's ``x`` (a pytree of arrays), stacked along a new axis ``axis`` in member order
    (``tiled``: concatenated along the existing axis ``axis``), as ``jax.lax.all_gather``."""
    _no_groups("all_gather", axis_index_groups)
    names = _one_name("all_gather", axis_name)
    size = axis_size(names)
    leaves, tree = tree_flatten(x)
    out = []
    for v in leaves:
        nd = get_aval(v).ndim
        limit = nd if tiled else nd + 1
        if not -limit <= axis < limit:
            raise located(AxisError(f"all_gather: axis {axis} is out of bounds for an operand of shape "
                                    f"{get_aval(v).shape}" + (" (tiled)" if tiled else "")))
        out.append(bind(all_gather_p, lift(v, names), axis_name=names, all_gather_dimension=axis % limit,
                        axis_size=size, tiled=bool(tiled)))
    return tree_unflatten(tree, out)


def _all_gather_transpose(ct, x, *, axis_name, all_gather_dimension, axis_size, tiled):
    ct = instantiate(ct)
    return [bind(psum_scatter_p, ct, axis_name=axis_name, scatter_dimension=all_gather_dimension,
                 axis_size=axis_size, tiled=tiled)]


def _all_gather_batch(args, dims, *, axis_name, all_gather_dimension, axis_size, tiled):
    (x,), (d,) = args, dims
    frame = current_frame()
    ax = all_gather_dimension
    if frame is None or frame.name not in axis_name:  # another axis: the batch axis goes first
        x = moveaxis(x, d, 0)
        return bind(all_gather_p, x, axis_name=axis_name, all_gather_dimension=ax + 1, axis_size=axis_size,
                    tiled=tiled), 0
    a = get_aval(x)
    if d is None:
        x = lax.broadcast_in_dim(x, (frame.size,) + a.shape, tuple(range(1, a.ndim + 1)))
        d = 0
    x = moveaxis(x, d, ax)  # the members, in order, at the gathered axis: the same for everyone
    if tiled:
        s = get_aval(x).shape
        x = lax.reshape(x, s[:ax] + (s[ax] * s[ax + 1],) + s[ax + 2:])
    return x, None


def_jvp_rule(all_gather_p, lambda primals, tangents, **p: (
    bind(all_gather_p, *primals, **p),
    Zero(_all_gather_abstract_eval(get_aval(primals[0]), **p)) if isinstance(tangents[0], Zero)
    else bind(all_gather_p, tangents[0], **p)))
def_transpose_rule(all_gather_p, _all_gather_transpose)
def_batch_rule(all_gather_p, _all_gather_batch)


# ---------------------------------------------------------------------------- psum_scatter
def _psum_scatter_abstract_eval(x: ShapedArray, *, axis_name: tuple, scatter_dimension: int, axis_size: int,
                                tiled: bool) -> ShapedArray:
    sd = scatter_dimension
    if not 0 <= sd < x.ndim:
        raise AxisError(f"psum_scatter: scatter_dimension {sd} is out of bounds for an operand of shape {x.shape}")
    n = x.shape[sd]
    if tiled:
        if n % axis_size:
            raise ShapeError(f"psum_scatter: dimension {sd} of the operand (size {n}) must be a multiple of the "
                             f"axis size {axis_size} (tiled=True)")
        return ShapedArray(x.shape[:sd] + (n // axis_size,) + x.shape[sd + 1:], x.dtype)
    if n != axis_size:
        raise ShapeError(f"psum_scatter: dimension {sd} of the operand (size {n}) must equal the axis size "
                         f"{axis_size} (or pass tiled=True to split it in {axis_size} blocks)")
    return ShapedArray(x.shape[:sd] + x.shape[sd + 1:], x.dtype)


psum_scatter_p = def_primitive("psum_scatter", _psum_scatter_abstract_eval, linear=(0,))


def psum_scatter(x: Any, axis_name: Any, *, scatter_dimension: int = 0, axis_index_groups: Any = None,
                 tiled: bool = False) -> Any:
    """The sum of ``x`` over the members of the named axis, of which member ``k`` keeps only block
    ``k`` along ``scatter_dimension`` (``jax.lax.psum_scatter``): without ``tiled`` that dimension's
    size is the axis size and is removed; with ``tiled`` it is split into equal blocks."""
    _no_groups("psum_scatter", axis_index_groups)
    names = _one_name("psum_scatter", axis_name)
    size = axis_size(names)
    leaves, tree = tree_flatten(x)
    out = []
    for v in leaves:
        a = get_aval(v)
        params = dict(axis_name=names, scatter_dimension=scatter_dimension % max(a.ndim, 1), axis_size=size,
                      tiled=bool(tiled))
        try:
            _psum_scatter_abstract_eval(a, **params)
        except (ShapeError, AxisError) as e:
            raise located(e) from None
        out.append(bind(psum_scatter_p, lift(v, names), **params))
    return tree_unflatten(tree, out)


def _psum_scatter_transpose(ct, x, *, axis_name, scatter_dimension, axis_size, tiled):
    ct = instantiate(ct)
    return [bind(all_gather_p, ct, axis_name=axis_name, all_gather_dimension=scatter_dimension,
                 axis_size=axis_size, tiled=tiled)]


def _psum_scatter_batch(args, dims, *, axis_name, scatter_dimension, axis_size, tiled):
    (x,), (d,) = args, dims
    frame = current_frame()
    sd = scatter_dimension
    if frame is None or frame.name not in axis_name:
        x = moveaxis(x, d, 0)
        return bind(psum_scatter_p, x, axis_name=axis_name, scatter_dimension=sd + 1, axis_size=axis_size,
                    tiled=tiled), 0
    if d is None:
        total = lax.mul(x, np.asarray(frame.size, dtype=get_aval(x).dtype)[()])
    else:
        total = lax.reduce_sum(x, (d,))
    if tiled:  # member k keeps block k: split the dimension into (members, block)
        s = get_aval(total).shape
        total = lax.reshape(total, s[:sd] + (frame.size, s[sd] // frame.size) + s[sd + 1:])
    return total, sd


def_jvp_rule(psum_scatter_p, lambda primals, tangents, **p: (
    bind(psum_scatter_p, *primals, **p),
    Zero(_psum_scatter_abstract_eval(get_aval(primals[0]), **p)) if isinstance(tangents[0], Zero)
    else bind(psum_scatter_p, tangents[0], **p)))
def_transpose_rule(psum_scatter_p, _psum_scatter_transpose)
def_batch_rule(psum_scatter_p, _psum_scatter_batch)


# ---------------------------------------------------------------------------- ppermute
def _ppermute_abstract_eval(x: ShapedArray, *, axis_name: tuple, perm: tuple) -> ShapedArray:
    return x


ppermute_p = def_primitive("ppermute", _ppermute_abstract_eval, linear=(0,))


def _check_perm(perm: Any, size: int) -> tuple:
    try:
        pairs = tuple((int(s), int(t)) for s, t in perm)
    except (TypeError, ValueError):
        raise user_error(ValueError(
            f"ppermute: perm must be a sequence of (source, destination) pairs, got {perm!r}")) from None
    srcs, dsts = [s for s, _ in pairs], [t for _, t in pairs]
    if len(set(srcs)) != len(srcs) or len(set(dsts)) != len(dsts):
        raise user_error(ValueError(f"ppermute: perm {pairs} sends from or to one member twice; each source and each "
                                 "destination may appear once"))
    bad = [i for i in srcs + dsts if not 0 <= i < size]
    if bad:
        raise located(AxisError(f"ppermute: perm {pairs} names members {sorted(set(bad))} outside the axis of size "
                                f"{size}"))
    return pairs


def ppermute(x: Any, axis_name: Any, perm: Sequence[tuple[int, int]]) -> Any:
    """Send each member's ``x`` (a pytree) to another: for each pair ``(source, destination)`` of
    ``perm``, member ``destination`` gets ``source``'s value; members that are no destination get
    zeros (``jax.lax.ppermute``)."""
    names = _one_name("ppermute", axis_name)
    pairs = _check_perm(perm, axis_size(names))
    leaves, tree = tree_flatten(x)
    return tree_unflatten(tree, [bind(ppermute_p, lift(v, names), axis_name=names, perm=pairs) for v in leaves])


def _ppermute_transpose(ct, x, *, axis_name, perm):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    return [bind(ppermute_p, ct, axis_name=axis_name, perm=tuple((t, s) for s, t in perm))]


def _ppermute_batch(args, dims, *, axis_name, perm):
    (x,), (d,) = args, dims
    frame = current_frame()
    if frame is None or frame.name not in axis_name:
        return bind(ppermute_p, x, axis_name=axis_name, perm=perm), d
    a = get_aval(x)
    if d is None:
        x = lax.broadcast_in_dim(x, (frame.size,) + a.shape, tuple(range(1, a.ndim + 1)))
        d = 0
    x = moveaxis(x, d, 0)
    one = get_aval(x).shape[1:]
    source = {t: s for s, t in perm}
    zero = lax.full((1,) + one, 0, get_aval(x).dtype)
    rows = []
    for k in range(frame.size):
        if k in source:
            s = source[k]
            rows.append(lax.slice(x, (s,) + (0,) * len(one), (s + 1,) + one))
        else:
            rows.append(zero)
    return lax.concatenate(rows, 0), 0


def_jvp_rule(ppermute_p, lambda primals, tangents, **p: (
    bind(ppermute_p, *primals, **p),
    tangents[0] if isinstance(tangents[0], Zero) else bind(ppermute_p, tangents[0], **p)))
def_transpose_rule(ppermute_p, _ppermute_transpose)
def_batch_rule(ppermute_p, _ppermute_batch)


# ---------------------------------------------------------------------------- axis_index
def _axis_index_abstract_eval(*, axis_name: tuple) -> ShapedArray:
    return ShapedArray((), np.dtype(np.int32))


# effectful: it has no operands, and must be recorded in the program being traced (an operand-free
# primitive is otherwise computed on the spot), where the vmap interpreter finds it.
axis_index_p = def_primitive("axis_index", _axis_index_abstract_eval, zero_derivative=True, effectful=True)


def axis_index(axis_name: Any) -> Array:
    """This member's position along the named axis, an int32 scalar (``jax.lax.axis_index``):
    the example's index under vmap, the process rank across processes."""
    names = _one_name("axis_index", axis_name)
    if _vmap_frame(names[0]) is not None:
        # Record it in the program the vmap is tracing (the innermost plain trace: an eager
        # forward-mode trace above it would compute it on the spot, where no member is known).
        for trace in reversed(open_traces()):
            if type(trace) is Trace:
                return trace.process(axis_index_p, (), dict(axis_name=names))
    return bind(axis_index_p, axis_name=names)


def _axis_index_batch(args, dims, *, axis_name):
    frame = current_frame()
    if frame is None or frame.name not in axis_name:
        return bind(axis_index_p, axis_name=axis_name), None
    return lax.iota(np.int32, (frame.size,), 0), 0


def_batch_rule(axis_index_p, _axis_index_batch)


_NAMED = (psum_p, pmax_p, pmin_p, all_gather_p, psum_scatter_p, ppermute_p, axis_index_p)


def uses_current_axis(prim: Any, params: dict) -> bool:
    """Whether an equation is a collective over the axis of the vmap now running: its batching rule
    must run even when no operand is batched (``axis_index``, a ``psum`` of a shared value)."""
    frame = current_frame()
    if frame is None or frame.name is None or prim not in _NAMED:
        return False
    return frame.name in params.get("axes", params.get("axis_name", ()))
