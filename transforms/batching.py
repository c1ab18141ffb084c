"""Batching (vmap): a batching rule per primitive, the interpreter that applies them, and ``vmap``.

``vmap(f)`` traces ``f`` once at the abstract values of one example (a jaxpr), then runs the
batching interpreter over that jaxpr with the real, batched inputs. Every value of the
interpreter is a pair ``(array, bdim)``: ``bdim`` is the axis of ``array`` that indexes the
examples, or ``None`` when the value is the same for every example (closed-over constants,
anything computed only from them). An equation whose inputs are all unbatched is simply bound
again; otherwise its primitive's rule from ``batching_rules`` says how to compute the batched
result, always with ordinary binds (``dot_general`` with one more batch dimension, ``gather``
through a flattened index, a ``select`` for a per-example padding value). So a vmapped function
is again an ordinary program: grad, jvp, jit and vmap itself handle it with their own rules, and
``vmap(grad(f))``, ``grad(vmap(f))`` and ``vmap(vmap(f))`` need nothing special.

A rule is ``rule(args, dims, **params) -> (out, out_dim)`` (lists of both for primitives with
several results). Elementwise primitives accept rank-0 operands that stand for every position,
so an unbatched scalar operand is left as it is; any other unbatched operand is broadcast.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.api import flatten_fun, input_avals, own_results, to_backend
from functrace.avals import ShapedArray
from functrace.ir import ClosedJaxpr, Jaxpr, Literal
from functrace.ops.collectives import axis_frame, uses_current_axis
from functrace.primitives import Primitive
from functrace.rules import BatchRule, axis_size, batching_rules, bdim_at_front, missing_rule, moveaxis
from functrace.tracing import bind, dead_after, get_aval, interpreting, trace_at, tracing_for, user_error
from functrace.tree_util import tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------- the interpreter
def batch_eval_jaxpr(jaxpr: Jaxpr, consts: list, args: list, dims: list) -> tuple[list, list]:
    """Evaluate ``jaxpr`` on batched ``args`` (batch axis per arg in ``dims``, None: unbatched).

    Returns the outputs and their batch axes. Iterative; new operations are attributed to the
    source line of the equation they come from.
    """
    env: dict[int, tuple[Any, int | None]] = {}
    for v, c in zip(jaxpr.constvars, consts, strict=True):
        env[id(v)] = (c, None)
    for v, x, d in zip(jaxpr.invars, args, dims, strict=True):
        env[id(v)] = (x, d)

    dead = dead_after(jaxpr)

    def read(x):
        return (x.val, None) if isinstance(x, Literal) else env[id(x)]

    with interpreting() as at:
        for eqn, gone in zip(jaxpr.eqns, dead, strict=True):
            at(eqn.source_info)
            vals, ds = zip(*[read(x) for x in eqn.invars], strict=True) if eqn.invars else ((), ())
            if all(d is None for d in ds) and not uses_current_axis(eqn.primitive, eqn.params):
                out = bind(eqn.primitive, *vals, **eqn.params)
                od = [None] * len(out) if eqn.primitive.multiple_results else None
            else:
                rule = batching_rule(eqn.primitive)
                if rule is None:
                    raise missing_rule(eqn.primitive, "batching", "vmap")
                out, od = rule(list(vals), list(ds), **eqn.params)
            if eqn.primitive.multiple_results:
                for v, o, d in zip(eqn.outvars, out, od, strict=True):
                    env[id(v)] = (o, d)
            else:
                env[id(eqn.outvars[0])] = (out, od)
            del out, vals
            for vid in gone:  # free each value after its last use
                del env[vid]
    outs = [read(x) for x in jaxpr.outvars]
    return [o for o, _ in outs], [d for _, d in outs]


def _batched_aval(a: ShapedArray, size: int) -> ShapedArray:
    return ShapedArray((size,) + a.shape, a.dtype)


def batch_jaxpr(closed: ClosedJaxpr, in_batched: Sequence[bool], size: int,
                force_out: Sequence[bool] | bool = False) -> tuple[ClosedJaxpr, list[bool]]:
    """The batched version of ``closed``: batched inputs and outputs carry the batch axis first.

    Outputs are batched when they depend on a batched input, or when ``force_out`` asks for it
    (then an unbatched result is broadcast). Returns the new jaxpr and which outputs are batched.
    Control-flow rules use this on their sub-jaxprs.
    """
    n_out = len(closed.jaxpr.outvars)
    force = [force_out] * n_out if isinstance(force_out, bool) else list(force_out)
    out_batched: list[bool] = []

    def fn(args: list) -> list:
        outs, dims = batch_eval_jaxpr(closed.jaxpr, closed.consts, args, [0 if b else None for b in in_batched])
        res = []
        for o, d, f in zip(outs, dims, force, strict=True):
            out_batched.append(d is not None or f)
            res.append(bdim_at_front(o, d, size) if (d is not None or f) else o)
        return res

    avals = [_batched_aval(a, size) if b else a for a, b in zip(closed.in_avals, in_batched, strict=True)]
    return trace_at(fn, avals), out_batched


_KEEP = object()  # vmap_flat_dims' default axis: the one of the vmap already running (rules' own use)


def vmap_flat(fn: Callable[[list], list], args: Sequence[Any], dims: Sequence[int | None], size: int,
              axis_name: Any = _KEEP) -> list:
    """Apply the per-example function ``fn`` (flat lists) to batched ``args``; outputs batched at 0.

    Rules call it to batch a user function along the axis being batched (the default); a new
    vectorisation (jacfwd's basis) passes ``axis_name=None``: an axis of its own, unnamed."""
    return [bdim_at_front(o, d, size) for o, d in vmap_flat_dims(fn, list(args), list(dims), axis_name=axis_name,
                                                                 size=size)]


# ---------------------------------------------------------------------------- elementwise
@functools.lru_cache(maxsize=None)
def _elementwise_rule(prim: Primitive) -> BatchRule:
    """The batching rule of an ``elementwise`` primitive (one per primitive, made on first use)."""
    def rule(args, dims, **params):
        size = axis_size(args, dims)
        ranks = [get_aval(x).ndim - (d is not None) for x, d in zip(args, dims, strict=True)]
        ex_shape: tuple[int, ...] = ()
        for x, d, r in zip(args, dims, ranks, strict=True):
            if r:
                s = get_aval(x).shape
                ex_shape = s if d is None else s[:d] + s[d + 1:]
        bds = {d for d in dims if d is not None}
        full = len(ex_shape)
        if len(bds) == 1 and all(r == full if d is not None else r == 0 for r, d in zip(ranks, dims, strict=True)):
            return bind(prim, *args, **params), bds.pop()
        out_shape = (size,) + ex_shape
        ops = []
        for x, d, r in zip(args, dims, ranks, strict=True):
            if d is None:
                ops.append(x if r == 0 else lax.broadcast_in_dim(x, out_shape, tuple(range(1, r + 1))))
            else:
                x = moveaxis(x, d, 0)
                ops.append(x if r == full else lax.broadcast_in_dim(x, out_shape, (0,)))
        return bind(prim, *ops, **params), 0

    return rule


def batching_rule(prim: Primitive) -> BatchRule | None:
    """``prim``'s registered batching rule, else the one its traits give (elementwise: the generic rule)."""
    rule = batching_rules.get(prim)
    return rule if rule is not None or not prim.elementwise else _elementwise_rule(prim)


# ---------------------------------------------------------------------------- vmap
def _is_axis_leaf(spec: Any) -> bool:
    return spec is None or (isinstance(spec, (int, np.integer)) and not isinstance(spec, bool))


def flatten_axes(what: str, spec: Any, tree: Any) -> list:
    """One axis spec per leaf of ``tree``: ``spec`` is a tree prefix of it, whose leaves (an int
    or None) apply to every leaf below them."""
    out: list = []
    stack = [(spec, tree)]
    while stack:
        s, t = stack.pop()
        if _is_axis_leaf(s):
            out.extend([s] * len(tree_flatten(t)[0]))
            continue
        s_kids, s_def = tree_flatten(s, is_leaf=lambda y, s=s: y is not s)
        t_kids, t_def = tree_flatten(t, is_leaf=lambda y, t=t: y is not t)
        if s_def.node_type is None or s_def != t_def:
            raise user_error(ValueError(
                f"vmap {what} specification must be a tree prefix of the corresponding value: "
                f"got {what}={spec!r} for a value of structure {tree_flatten(tree)[1]}; use an int, None, "
                "or a container of them matching the arguments"))
        stack.extend(reversed(list(zip(s_kids, t_kids, strict=True))))
    return out


def _normalize(axis: int | None, ndim: int, what: str) -> int | None:
    if axis is None:
        return None
    if not -ndim <= axis < ndim:
        raise user_error(ValueError(
            f"vmap: {what} {axis} is out of bounds for a value of rank {ndim - (what == 'out_axes')}"
            + (" (an output gets one more axis)" if what == "out_axes" else "")))
    return int(axis) % ndim


def vmap(fun: Callable, in_axes: Any = 0, out_axes: Any = 0, axis_name: Any = None,
         axis_size: int | None = None) -> Callable:
    """Vectorise ``fun`` over an axis of its arguments: ``vmap(f)(xs)[i] == f(xs[i])``.

    ``in_axes`` (an int, None, or a tuple with one entry per positional argument, each a pytree
    prefix of that argument) says which axis of each input holds the examples; None broadcasts an
    input to every example. ``out_axes`` does the same for the outputs. Negative axes count from
    the end. ``axis_name`` names the mapped axis for the collectives (``lax.psum(x, name)`` sums
    over the examples, as in JAX). ``axis_size`` gives the number of examples when no input is
    mapped. Keyword arguments are mapped along axis 0.

    >>> ft.vmap(fnp.dot, in_axes=(0, None))(xs, w)      # one dot product per row of xs
    >>> ft.vmap(ft.grad(loss), in_axes=(None, 0, 0))(params, xs, ys)   # per-example gradients
    """
    if isinstance(in_axes, list):  # as JAX: a top-level list is read as the tuple of per-argument axes
        in_axes = tuple(in_axes)
    if not (_is_axis_leaf(in_axes) or isinstance(in_axes, tuple)):
        raise user_error(TypeError(f"vmap in_axes must be an int, None, or a tuple of entries, one per positional "
                                f"argument, got {in_axes!r}"))

    @functools.wraps(fun)
    def vmapped(*args: Any, **kwargs: Any) -> Any:
        if isinstance(in_axes, tuple) and len(in_axes) != len(args):
            raise user_error(ValueError(
                f"vmap in_axes has {len(in_axes)} entries but the function was called with {len(args)} "
                "positional arguments; give one entry per argument"))
        flat, in_tree = tree_flatten((args, kwargs))
        axes = flatten_axes("in_axes", (in_axes, 0), (args, kwargs))
        avals = input_avals(flat)
        flat = [to_backend(x) for x in flat]
        dims = [_normalize(a, get_aval(x).ndim, "in_axes") for x, a in zip(flat, axes, strict=True)]
        sizes = {get_aval(x).shape[d] for x, d in zip(flat, dims, strict=True) if d is not None}
        if axis_size is not None:
            sizes.add(int(axis_size))
        if not sizes:
            raise user_error(ValueError("vmap needs at least one mapped input (an in_axes entry that is not None) "
                                     "or axis_size to know how many examples there are"))
        if len(sizes) > 1:
            detail = ", ".join(f"axis {d} of an argument of shape {get_aval(x).shape}"
                               for x, d in zip(flat, dims, strict=True) if d is not None)
            raise user_error(ValueError(
                f"vmap got inconsistent sizes for the mapped axis: {sorted(sizes)} ({detail}"
                + (f", axis_size={axis_size}" if axis_size is not None else "") + "); all mapped axes must have "
                "the same length"))
        size = sizes.pop()

        def f_kw(a, kw):
            return fun(*a, **kw)

        f_flat, out_store = flatten_fun(f_kw, in_tree)
        outs = vmap_flat_dims(f_flat, flat, dims, avals, axis_name=axis_name, size=size)
        out_tree = out_store.val
        results = [o for o, _ in outs]
        odims = flatten_axes("out_axes", out_axes, tree_unflatten(out_tree, results))
        final = []
        for (o, d), od in zip(outs, odims, strict=True):
            a = get_aval(o)
            ex_nd = a.ndim - (d is not None)
            od = _normalize(od, ex_nd + 1, "out_axes")
            if od is None:
                if d is not None:
                    raise user_error(ValueError(
                        "vmap: out_axes is None for an output that differs between examples (it depends on a "
                        "mapped input); give it an axis, or return only values that are the same for all examples"))
                final.append(to_backend(o))
            elif d is None:
                shape = a.shape[:od] + (size,) + a.shape[od:]
                final.append(lax.broadcast_in_dim(o, shape, tuple(i for i in range(ex_nd + 1) if i != od)))
            else:
                final.append(moveaxis(o, d, od))
        return own_results(tree_unflatten(out_tree, final), (args, kwargs))

    vmapped.__name__ = f"vmap({getattr(fun, '__name__', 'f')})"
    return vmapped


def vmap_flat_dims(f_flat: Callable[[list], list], args: list, dims: list,
                   arg_avals: list[ShapedArray] | None = None, axis_name: Any = _KEEP,
                   size: int | None = None) -> list[tuple[Any, int | None]]:
    """Run the per-example ``f_flat`` on batched ``args`` (of abstract values ``arg_avals``,
    when given); outputs keep whatever batch axis the rules gave them (None: the same for every
    example). Unless ``axis_name`` is ``_KEEP``, the axis (of ``size`` examples) is bound to that
    name (None: unnamed) while ``f_flat`` is traced and batched."""
    avals = []
    for i, (x, d) in enumerate(zip(args, dims, strict=True)):
        a = get_aval(x) if arg_avals is None else arg_avals[i]
        avals.append(a if d is None else ShapedArray(a.shape[:d] + a.shape[d + 1:], a.dtype))
    if axis_name is _KEEP:
        with tracing_for("under vmap"):
            closed = trace_at(f_flat, avals)
        outs, odims = batch_eval_jaxpr(closed.jaxpr, closed.consts, list(args), list(dims))
    else:
        with axis_frame(axis_name, size if size is not None else axis_size(args, dims)):
            with tracing_for("under vmap"):
                closed = trace_at(f_flat, avals)
            outs, odims = batch_eval_jaxpr(closed.jaxpr, closed.consts, list(args), list(dims))
    return list(zip(outs, odims, strict=True))


__all__ = ["vmap", "batching_rules", "batching_rule", "batch_jaxpr", "batch_eval_jaxpr", "vmap_flat"]
