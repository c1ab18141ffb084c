"""Branches: ``cond`` and ``switch``, one primitive whose params hold one sub-jaxpr per branch,
declared with its traits and followed by its rules (JVP, transpose, batching, jet).

Each branch is traced once, at abstract values. The JVP of a ``cond`` is a primal cond whose
branches each emit their own residuals (and zeros for the other branches'), followed by a
tangent cond, linear in the tangents, whose transpose is a cond of the transposed branches (see
``control_flow``'s docstring for the linearize/transpose scheme the loops share). A batched
predicate computes every branch and selects per example.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.api import flatten_fun, to_backend
from functrace.avals import ShapedArray, is_bool, is_int
from functrace.errors import DTypeError, ShapeError
from functrace.ir import ClosedJaxpr, Jaxpr, Var, dependent_outputs
from functrace.ops._series import flat_series, jet_order, unflat_series
from functrace.ops._subjaxprs import (
    _avals_str,
    _error,
    _flat_avals,
    _nonzero,
    _operand,
    _restructured,
    _zeros,
    impls,
    run_jaxpr,
    trace_to_closed,
)
from functrace.primitives import def_primitive
from functrace.rules import (
    Zero,
    axis_size,
    bdim_at_front,
    def_batch_rule,
    def_jet_rule,
    def_jvp_rule,
    def_transpose_rule,
    instantiate,
    interpreters,
    is_undefined,
    moveaxis,
)
from functrace.tracing import (
    Tracer,
    bind,
    eval_jaxpr,
    get_aval,
    trace_at,
)
from functrace.tree_util import tree_flatten, tree_unflatten


# ---------------------------------------------------------------------------- cond / switch
def _cond_abstract_eval(index: ShapedArray, *ops: ShapedArray, branches) -> list[ShapedArray]:
    if index.shape != () or not is_int(index.dtype):
        raise DTypeError(f"cond: the branch index must be an integer scalar, got {index.str_short()}")
    for i, br in enumerate(branches):
        if list(br.in_avals) != list(ops):
            raise ShapeError(f"cond: branch {i} takes {_avals_str(br.in_avals)} but the operands are "
                             f"{_avals_str(ops)}")
        if list(br.out_avals) != list(branches[0].out_avals):
            raise ShapeError(f"cond: branch {i} returns {_avals_str(br.out_avals)} but branch 0 returns "
                             f"{_avals_str(branches[0].out_avals)}")
    return list(branches[0].out_avals)


cond_p = def_primitive("cond", _cond_abstract_eval, multiple_results=True, subjaxprs=True, linear=True)


def _cond_impl(index, *ops, branches):
    i = min(max(int(index), 0), len(branches) - 1)
    br = branches[i]
    return run_jaxpr(br, ops)


impls[cond_p] = _cond_impl


def switch(index: Any, branches: Sequence[Callable], *operands: Any) -> Any:
    """``branches[index](*operands)``, with ``index`` clamped to the valid range (as JAX's switch).

    Every branch is traced (at abstract values) and must return the same structure, shapes and
    dtypes. ``index`` may be traced: the choice is made when the program runs, so ``switch``
    works under ``jit`` and every transform.
    """
    if not branches:
        raise _error(ValueError, "switch needs at least one branch")
    idx_aval = get_aval(to_backend(index) if not isinstance(index, Tracer) else index)
    if idx_aval.shape != () or not (is_int(idx_aval.dtype) or is_bool(idx_aval.dtype)):
        raise _error(TypeError, f"switch: the index must be an integer scalar, got {idx_aval.str_short()}")
    index = lax.convert_element_type(index, np.int32)
    n = len(branches)
    if n > 1:
        index = lax.max(lax.min(index, np.int32(n - 1)), np.int32(0))
    ops_flat, in_tree = tree_flatten(operands)
    ops_flat = [_operand(x) for x in ops_flat]
    # Python-scalar operands enter the branches as strong values, so that every branch sees
    # one dtype for them and the branches' outputs can be compared.
    avals = [a.with_weak_type(False) for a in _flat_avals(ops_flat)]
    traced, out_trees = [], []
    for fun in branches:
        f_flat, out_tree = flatten_fun(fun, in_tree)
        closed, consts = trace_to_closed(f_flat, avals)
        traced.append((closed, consts))
        out_trees.append(out_tree.val)
    for i in range(1, n):
        if out_trees[i] != out_trees[0] or traced[i][0].out_avals != traced[0][0].out_avals:
            raise _error(TypeError, "cond/switch: every branch must return the same structure, shapes and dtypes; "
                         f"branch 0 returns {out_trees[0]} {_avals_str(traced[0][0].out_avals)}, branch {i} returns "
                         f"{out_trees[i]} {_avals_str(traced[i][0].out_avals)}")
    # Every branch takes the closed-over values of all branches, then the operands.
    all_consts = [c for _, cs in traced for c in cs]
    const_avals = [[get_aval(c) for c in cs] for _, cs in traced]
    joined = []
    for i, (closed, consts) in enumerate(traced):
        j = closed.jaxpr
        k = len(consts)
        before = [Var(a) for avs in const_avals[:i] for a in avs]
        after = [Var(a) for avs in const_avals[i + 1:] for a in avs]
        invars = before + list(j.invars[:k]) + after + list(j.invars[k:])
        joined.append(ClosedJaxpr(Jaxpr([], invars, j.outvars, j.eqns), []))
    outs = bind(cond_p, index, *all_consts, *ops_flat, branches=tuple(joined))
    return tree_unflatten(out_trees[0], outs)


def cond(pred: Any, true_fun: Callable, false_fun: Callable, *operands: Any) -> Any:
    """``true_fun(*operands) if pred else false_fun(*operands)``, as one traceable primitive.

    ``pred`` is a scalar (boolean, or a number compared with 0). Both branches are traced and
    must return the same structure, shapes and dtypes. Differentiable in both modes, batchable
    (a batched ``pred`` computes both branches and selects), and usable under ``jit``.

    >>> ft.lax.cond(x > 0, lambda x: x * 2, lambda x: -x, x)
    """
    p = pred if isinstance(pred, Tracer) else to_backend(pred)
    a = get_aval(p)
    if a.shape != ():
        raise _error(TypeError, f"cond: the predicate must be a scalar, got {a.str_short()}; for elementwise "
                     "choices use functrace.numpy.where")
    if not is_bool(a.dtype):
        p = lax.ne(p, np.zeros((), a.dtype)[()])
    return switch(lax.convert_element_type(p, np.int32), (false_fun, true_fun), *operands)


# ---------------------------------------------------------------------------- cond
def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], list(primals[1:])
    avals = branches[0].in_avals
    nz = _nonzero(tangents[1:], avals)
    n_out = len(branches[0].out_avals)
    out_nz = [False] * n_out
    for br in branches:  # a tangent output is nonzero when it is in any branch
        part = interpreters.linearize_jaxpr(br, nz, [False] * n_out)
        out_nz = [a or b for a, b in zip(out_nz, part.out_nonzero, strict=True)]
    parts = [interpreters.linearize_jaxpr(br, nz, out_nz) for br in branches]
    res_avals = [p.primal.out_avals[n_out:] for p in parts]

    def primal_branch(i: int) -> ClosedJaxpr:
        def fn(args):
            res = eval_jaxpr(parts[i].primal.jaxpr, parts[i].primal.consts, args)
            fill = [[_zeros(a) for a in ra] if j != i else res[n_out:] for j, ra in enumerate(res_avals)]
            return res[:n_out] + [r for rs in fill for r in rs]
        return trace_at(fn, avals)

    all_res_avals = [a for ra in res_avals for a in ra]
    t_avals = [a for a, z in zip(avals, nz, strict=True) if z]

    def tangent_branch(i: int) -> ClosedJaxpr:
        def fn(args):
            res, ts = args[:len(all_res_avals)], args[len(all_res_avals):]
            start = sum(len(ra) for ra in res_avals[:i])
            own = res[start:start + len(res_avals[i])]
            return eval_jaxpr(parts[i].tangent.jaxpr, parts[i].tangent.consts, own + ts)
        return trace_at(fn, all_res_avals + t_avals)

    outs = bind(cond_p, index, *ops, branches=tuple(primal_branch(i) for i in range(len(branches))))
    primal_out, res = outs[:n_out], outs[n_out:]
    t_in = [t for t, z in zip(tangents[1:], nz, strict=True) if z]
    t_out = bind(cond_p, index, *res, *t_in, branches=tuple(tangent_branch(i) for i in range(len(branches))))
    it = iter(t_out)
    return primal_out, [next(it) if z else Zero(a) for z, a in zip(out_nz, branches[0].out_avals, strict=True)]


def_jvp_rule(cond_p, _cond_jvp)


def _cond_transpose(cts, index, *ops, branches):
    if is_undefined(index):
        raise NotImplementedError("cond: the branch index cannot be a linear input")
    linear = [is_undefined(o) for o in ops]
    res = [o for o, lin in zip(ops, linear, strict=True) if not lin]
    lin_avals = [o.aval for o, lin in zip(ops, linear, strict=True) if lin]
    cts = [instantiate(c, a) for c, a in zip(cts, branches[0].out_avals, strict=True)]
    res_avals = [get_aval(r) for r in res]
    ct_avals = [get_aval(c) for c in cts]

    def transposed(br: ClosedJaxpr) -> ClosedJaxpr:
        lin_j, _ = _restructured(br, linear)

        def fn(args):
            r, c = args[:len(res)], args[len(res):]
            got = interpreters.backward_pass(lin_j, list(br.consts) + r, c)
            return [instantiate(g, a) for g, a in zip(got, lin_avals, strict=True)]
        return trace_at(fn, res_avals + ct_avals)

    out = bind(cond_p, index, *res, *cts, branches=tuple(transposed(b) for b in branches))
    it = iter(out)
    return [None] + [next(it) if lin else None for lin in linear]


def_transpose_rule(cond_p, _cond_transpose)


def _cond_batch(args, dims, *, branches):
    index, ops = args[0], list(args[1:])
    di, dops = dims[0], list(dims[1:])
    size = axis_size(args, dims)
    if di is None:
        in_b = [d is not None for d in dops]
        ops = [moveaxis(o, d, 0) if d is not None else o for o, d in zip(ops, dops, strict=True)]
        out_b = [False] * len(branches[0].out_avals)
        for br in branches:
            out_b = [a or b for a, b in zip(out_b, dependent_outputs(br, in_b), strict=True)]
        new = tuple(interpreters.batch_jaxpr(br, in_b, size, out_b)[0] for br in branches)
        return bind(cond_p, index, *ops, branches=new), [0 if b else None for b in out_b]
    # A predicate per example: compute every branch, then select each example's result.
    index = moveaxis(index, di, 0)
    results = []
    for br in branches:
        outs, odims = interpreters.batch_eval_jaxpr(br.jaxpr, br.consts, ops, dops)
        results.append([bdim_at_front(o, d, size) for o, d in zip(outs, odims, strict=True)])
    chosen = results[-1]
    for i in range(len(branches) - 2, -1, -1):
        pick = lax.eq(index, np.asarray(i, get_aval(index).dtype)[()])
        chosen = [lax.select(lax.broadcast_in_dim(pick, get_aval(a).shape, (0,)), a, b)
                  for a, b in zip(results[i], chosen, strict=True)]
    return chosen, [0] * len(chosen)


def_batch_rule(cond_p, _cond_batch)


# ---------------------------------------------------------------------------- Taylor rule (jet)
# Each branch is replaced by its jet (``interpreters.jet_closed``): it takes the series as extra
# operands (K per value) and returns the series of every floating output.
def _cond_jet(primals, series, *, branches):
    index, ops, ss = primals[0], list(primals[1:]), list(series[1:])
    order = jet_order(ss)
    has = [s is not None for s in ss]
    new = [interpreters.jet_closed(br, has, order) for br in branches]
    flags = new[0][1]
    outs = bind(cond_p, index, *ops, *flat_series(ss), branches=tuple(j for j, _ in new))
    n = len(flags)
    return outs[:n], unflat_series(outs[n:], flags, order)


def_jet_rule(cond_p, _cond_jet)


