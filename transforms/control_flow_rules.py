"""JVP, transpose and batching rules of the control-flow primitives: cond, scan, while.

Reverse mode. ``grad`` linearizes (primal work binds to the outer trace, tangent work to a
linear trace) and then transposes the linear trace. A loop whose body mixed both kinds of work
would land whole in the linear trace and could not be transposed, so the JVP rules of ``cond``
and ``scan`` first split each body in two with ``linearize_jaxpr``:

- a *primal body*: the original outputs plus the residuals, the intermediate values the
  tangent computation reads (``cos x`` for ``sin x``, ...);
- a *tangent body*: linear in the tangents, taking the residuals as inputs.

The JVP of a ``scan`` is then a primal scan that also stacks the per-iteration residuals as
extra ``ys`` (residuals that are the scan's constants or its ``xs`` are passed through rather
than copied), followed by a tangent scan over the tangents and the stacked residuals. The JVP
of a ``cond`` is a primal cond whose branches each emit their own residuals (and zeros for the
other branches'), followed by a tangent cond. Only the tangent scan/cond reach the linear
trace, and they have transpose rules: for ``cond``, a cond of the transposed branches; for
``scan``, a scan running the other way whose carry holds the cotangents of the carry and the
accumulated cotangents of the linear constants, and whose ``ys`` are the cotangents of the
linear ``xs``. Each transposed body is ``backward_pass`` of the tangent body, traced into a
jaxpr. Everything produced is again plain cond/scan equations, so higher orders (grad of
grad, jvp of grad, hessian) apply the same rules again.

``while``: the trip count is unknown until the loop runs, so no residuals can be stacked. Its
JVP is a separate primal loop (so primal values stay concrete where they were) and one loop
over primal and tangent carries together; reverse mode raises an error that points to ``scan``
and ``fori_loop`` with concrete bounds, as JAX does.

Batching. A batched cond predicate computes every branch and selects per example; a batched
while predicate runs until no example wants another step, freezing finished examples with a
select; scans keep the scanned axis first and the batch axis second for ``xs`` and ``ys``.
Which loop carries are batched (or have nonzero tangents) is found by iterating a dependence
walk of the body to a fixed point.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_float
from functrace.control_flow import cond_p, scan_p, while_p
from functrace.ir import ClosedJaxpr, Jaxpr, Var
from functrace.rules import (
    Zero,
    def_jvp_rule,
    def_transpose_rule,
    instantiate,
    is_differentiable,
    is_undefined,
)
from functrace.tracing import Tracer, bind, eval_jaxpr, get_aval, new_trace
from functrace.transforms.batching import (
    axis_size,
    batch_eval_jaxpr,
    batch_jaxpr,
    bdim_at_front,
    def_batch_rule,
    dependent_outputs,
    moveaxis,
    trace_at,
)
from functrace.transforms.jvp import jvp_jaxpr
from functrace.transforms.transpose import backward_pass


# ---------------------------------------------------------------------------- shared pieces
class Linearized:
    """A jaxpr split into a primal part and a linear tangent part (see the module docstring).

    ``primal``: inputs -> outputs + residuals. ``tangent``: residuals + the tangent of each input
    flagged nonzero -> the tangent of each output in ``out_nonzero``. ``res_src[k]`` is the index
    of the input that residual ``k`` is, unchanged, or None when it is computed.
    """

    __slots__ = ("primal", "tangent", "out_nonzero", "res_src", "n_res")

    def __init__(self, primal: ClosedJaxpr, tangent: ClosedJaxpr, out_nonzero: list[bool], res_src: list):
        self.primal = primal
        self.tangent = tangent
        self.out_nonzero = out_nonzero
        self.res_src = res_src
        self.n_res = len(res_src)


def linearize_jaxpr(closed: ClosedJaxpr, nonzero_in: Sequence[bool], instantiate_out: Sequence[bool]) -> Linearized:
    """Split ``closed`` into primal and tangent jaxprs by running the JVP interpreter with primal
    values in one fresh trace and tangents in a second one nested inside it: the tangent trace
    lifts the primal values it reads as constants, and those are the residuals."""
    avals = closed.in_avals
    with new_trace() as ptrace:
        pargs = [ptrace.new_arg(a) for a in avals]
        with new_trace() as ltrace:
            targs = [ltrace.new_arg(a) if nz else Zero(a) for a, nz in zip(avals, nonzero_in, strict=True)]
            outs, touts = jvp_jaxpr(closed.jaxpr, closed.consts, pargs, targs)
            out_nz = [(not isinstance(t, Zero)) or bool(i) for t, i in zip(touts, instantiate_out, strict=True)]
            kept = [instantiate(t, a) for t, a, nz in zip(touts, closed.out_avals, out_nz, strict=True) if nz]
            tj, tconsts = ltrace.to_jaxpr(kept)
        res_vars, res_tracers, keep_vars, keep_vals = [], [], [], []
        for v, c in zip(tj.constvars, tconsts, strict=True):
            if isinstance(c, Tracer):
                if c._trace is not ptrace:
                    raise RuntimeError("linearize_jaxpr: the tangent body reads a value of an enclosing trace")
                res_vars.append(v)
                res_tracers.append(c)
            else:
                keep_vars.append(v)
                keep_vals.append(c)
        pj, pconsts = ptrace.to_jaxpr(list(outs) + res_tracers)
    pos = {id(t): i for i, t in enumerate(pargs)}
    tangent = ClosedJaxpr(Jaxpr(keep_vars, res_vars + list(tj.invars), tj.outvars, tj.eqns), keep_vals)
    return Linearized(ClosedJaxpr(pj, pconsts), tangent, out_nz, [pos.get(id(t)) for t in res_tracers])


def _fixpoint(closed: ClosedJaxpr, before: list[bool], carry: list[bool], after: list[bool],
              allowed: Sequence[bool]) -> list[bool]:
    """Flags of the loop carries (a carry is flagged when its initial value is, or the body makes
    it depend on a flagged input), restricted to ``allowed``; the carry outputs come first."""
    carry = [c and a for c, a in zip(carry, allowed, strict=True)]
    n = len(carry)
    while True:
        out = dependent_outputs(closed, before + carry + after)[:n]
        new = [(c or o) and a for c, o, a in zip(carry, out, allowed, strict=True)]
        if new == carry:
            return carry
        carry = new


def _split(seq: Sequence, *sizes: int) -> list[list]:
    out, i = [], 0
    for n in sizes:
        out.append(list(seq[i:i + n]))
        i += n
    out.append(list(seq[i:]))
    return out


def _zeros(a: ShapedArray) -> Any:
    return lax.full(a.shape, 0, a.dtype)


def _nonzero(tangents: Sequence[Any], avals: Sequence[ShapedArray]) -> list[bool]:
    return [not isinstance(t, Zero) and is_differentiable(a) for t, a in zip(tangents, avals, strict=True)]


def _restructured(closed: ClosedJaxpr, linear: Sequence[bool]) -> tuple[Jaxpr, list[int]]:
    """``closed`` as a jaxpr whose invars are the linear inputs; the non-linear inputs become
    constvars after the jaxpr's own constants (the form ``backward_pass`` takes). Also returns
    the positions of the non-linear inputs."""
    j = closed.jaxpr
    lin_vars = [v for v, lin in zip(j.invars, linear, strict=True) if lin]
    nonlin = [i for i, lin in enumerate(linear) if not lin]
    return Jaxpr(list(j.constvars) + [j.invars[i] for i in nonlin], lin_vars, j.outvars, j.eqns), nonlin


# ---------------------------------------------------------------------------- cond
def _cond_jvp(primals, tangents, *, branches):
    index, ops = primals[0], list(primals[1:])
    avals = branches[0].in_avals
    nz = _nonzero(tangents[1:], avals)
    n_out = len(branches[0].out_avals)
    out_nz = [False] * n_out
    for br in branches:  # a tangent output is nonzero when it is in any branch
        part = linearize_jaxpr(br, nz, [False] * n_out)
        out_nz = [a or b for a, b in zip(out_nz, part.out_nonzero, strict=True)]
    parts = [linearize_jaxpr(br, nz, out_nz) for br in branches]
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
            got = backward_pass(lin_j, list(br.consts) + r, c)
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
        new = tuple(batch_jaxpr(br, in_b, size, out_b)[0] for br in branches)
        return bind(cond_p, index, *ops, branches=new), [0 if b else None for b in out_b]
    # A predicate per example: compute every branch, then select each example's result.
    index = moveaxis(index, di, 0)
    results = []
    for br in branches:
        outs, odims = batch_eval_jaxpr(br.jaxpr, br.consts, ops, dops)
        results.append([bdim_at_front(o, d, size) for o, d in zip(outs, odims, strict=True)])
    chosen = results[-1]
    for i in range(len(branches) - 2, -1, -1):
        pick = lax.eq(index, np.asarray(i, get_aval(index).dtype)[()])
        chosen = [lax.select(lax.broadcast_in_dim(pick, get_aval(a).shape, (0,)), a, b)
                  for a, b in zip(results[i], chosen, strict=True)]
    return chosen, [0] * len(chosen)


def_batch_rule(cond_p, _cond_batch)


# ---------------------------------------------------------------------------- scan
def _scan_jvp(primals, tangents, *, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    avals = jaxpr.in_avals
    n_out = len(jaxpr.out_avals)
    c_nz, carry_nz, x_nz = _split(_nonzero(tangents, avals), nc, ncar)
    carry_nz = _fixpoint(jaxpr, c_nz, carry_nz, x_nz, [is_differentiable(a) for a in avals[nc:nc + ncar]])
    lin = linearize_jaxpr(jaxpr, c_nz + carry_nz + x_nz, carry_nz + [False] * (n_out - ncar))
    # Residuals that are constants or xs of the scan are passed through; the rest are stacked.
    kinds = ["const" if s is not None and s < nc else "xs" if s is not None and s >= nc + ncar else "stack"
             for s in lin.res_src]
    stacked = [k for k, kind in enumerate(kinds) if kind == "stack"]
    pj = lin.primal.jaxpr
    p_body = ClosedJaxpr(Jaxpr(pj.constvars, pj.invars, pj.outvars[:n_out] + [pj.outvars[n_out + k] for k in stacked],
                               pj.eqns), lin.primal.consts)
    outs = bind(scan_p, *primals, jaxpr=p_body, length=length, reverse=reverse, num_consts=nc, num_carry=ncar)
    stacked_vals = iter(outs[n_out:])
    res_consts = [primals[s] for s, kind in zip(lin.res_src, kinds, strict=True) if kind == "const"]
    res_xs = [primals[s] if kind == "xs" else next(stacked_vals) for s, kind in zip(lin.res_src, kinds, strict=True)
              if kind != "const"]

    tj = lin.tangent.jaxpr
    res_vars, t_vars = tj.invars[:lin.n_res], tj.invars[lin.n_res:]
    ntc, ntcar = sum(c_nz), sum(carry_nz)
    invars = ([v for v, kind in zip(res_vars, kinds, strict=True) if kind == "const"] + t_vars[:ntc + ntcar]
              + [v for v, kind in zip(res_vars, kinds, strict=True) if kind != "const"] + t_vars[ntc + ntcar:])
    t_body = ClosedJaxpr(Jaxpr(tj.constvars, invars, tj.outvars, tj.eqns), lin.tangent.consts)
    t_consts, t_init, t_xs = _split(tangents, nc, ncar)
    t_consts = [t for t, z in zip(t_consts, c_nz, strict=True) if z]
    t_init = [instantiate(t, a) for t, a, z in zip(t_init, avals[nc:nc + ncar], carry_nz, strict=True) if z]
    t_xs = [t for t, z in zip(t_xs, x_nz, strict=True) if z]
    t_out = bind(scan_p, *res_consts, *t_consts, *t_init, *res_xs, *t_xs, jaxpr=t_body, length=length,
                 reverse=reverse, num_consts=len(res_consts) + ntc, num_carry=ntcar)
    it = iter(t_out)
    out_avals = [get_aval(o) for o in outs[:n_out]]
    t_final = [next(it) if z else Zero(a) for z, a in zip(lin.out_nonzero, out_avals, strict=True)]
    return outs[:n_out], t_final


def_jvp_rule(scan_p, _scan_jvp)


def _scan_transpose(cts, *args, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    consts, init, xs = _split(args, nc, ncar)
    c_lin = [is_undefined(x) for x in consts]
    x_lin = [is_undefined(x) for x in xs]
    carry_avals = jaxpr.in_avals[nc:nc + ncar]
    if not all(is_float(a.dtype) for a in carry_avals):
        raise NotImplementedError("scan transpose: a linear scan carries only floating-point values; this one "
                                  f"carries {[a.str_short() for a in carry_avals]}")
    # Every (floating) carry is linear; a defined initial value is an affine offset, which
    # does not change the cotangents of the linear inputs.
    linear = c_lin + [True] * ncar + x_lin
    lin_j, _ = _restructured(jaxpr, linear)
    res_c = [x for x, lin in zip(consts, c_lin, strict=True) if not lin]
    res_x = [x for x, lin in zip(xs, x_lin, strict=True) if not lin]
    lin_c_avals = [x.aval for x, lin in zip(consts, c_lin, strict=True) if lin]
    lin_x_avals = [ShapedArray(x.aval.shape[1:], x.aval.dtype) for x, lin in zip(xs, x_lin, strict=True) if lin]
    y_avals = jaxpr.out_avals[ncar:]
    cts = [instantiate(c) for c in cts]
    ct_carry, ct_ys = cts[:ncar], cts[ncar:]
    n_lc = len(lin_c_avals)

    def body(args):
        rc, acc, ctc, rx, cty = _split(args, len(res_c), n_lc, ncar, len(res_x))
        got = backward_pass(lin_j, list(jaxpr.consts) + rc + rx, ctc + cty)
        g_c, g_carry, g_x = _split(got, n_lc, ncar)
        return ([lax.add(a, instantiate(g, av)) for a, g, av in zip(acc, g_c, lin_c_avals, strict=True)]
                + [instantiate(g, av) for g, av in zip(g_carry, carry_avals, strict=True)]
                + [instantiate(g, av) for g, av in zip(g_x, lin_x_avals, strict=True)])

    body_avals = ([get_aval(r) for r in res_c] + lin_c_avals + list(carry_avals)
                  + [ShapedArray(get_aval(r).shape[1:], get_aval(r).dtype) for r in res_x] + list(y_avals))
    t_body = trace_at(body, body_avals)
    out = bind(scan_p, *res_c, *[_zeros(a) for a in lin_c_avals], *ct_carry, *res_x, *ct_ys, jaxpr=t_body,
               length=length, reverse=not reverse, num_consts=len(res_c), num_carry=n_lc + ncar)
    ct_c, ct_init, ct_x = _split(out, n_lc, ncar)
    it_c, it_x = iter(ct_c), iter(ct_x)
    return ([next(it_c) if lin else None for lin in c_lin] + [c if is_undefined(x) else None
                                                              for c, x in zip(ct_init, init, strict=True)]
            + [next(it_x) if lin else None for lin in x_lin])


def_transpose_rule(scan_p, _scan_transpose)


def _scan_batch(args, dims, *, jaxpr, length, reverse, num_consts, num_carry):
    nc, ncar = num_consts, num_carry
    size = axis_size(args, dims)
    consts, init, xs = _split(args, nc, ncar)
    dc, dinit, dxs = _split(dims, nc, ncar)
    c_b = [d is not None for d in dc]
    x_b = [d is not None for d in dxs]
    carry_b = _fixpoint(jaxpr, c_b, [d is not None for d in dinit], x_b, [True] * ncar)
    consts = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(consts, dc, strict=True)]
    init = [bdim_at_front(c, d, size) if b else c for c, d, b in zip(init, dinit, carry_b, strict=True)]
    # the scanned axis stays first, the batch axis second
    xs = [moveaxis(x, d, 1) if d is not None else x for x, d in zip(xs, dxs, strict=True)]
    n_ys = len(jaxpr.out_avals) - ncar
    y_b = dependent_outputs(jaxpr, c_b + carry_b + x_b)[ncar:]
    body, _ = batch_jaxpr(jaxpr, c_b + carry_b + x_b, size, carry_b + y_b)
    outs = bind(scan_p, *consts, *init, *xs, jaxpr=body, length=length, reverse=reverse, num_consts=nc,
                num_carry=ncar)
    assert len(outs) == ncar + n_ys
    return outs, [0 if b else None for b in carry_b] + [1 if b else None for b in y_b]


def_batch_rule(scan_p, _scan_batch)


# ---------------------------------------------------------------------------- while
def _while_jvp(primals, tangents, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    cc, bc, init = _split(primals, ncc, nbc)
    _, t_bc, t_init = _split(tangents, ncc, nbc)
    b_avals = body_jaxpr.in_avals
    bc_nz = _nonzero(t_bc, b_avals[:nbc])
    carry_nz = _fixpoint(body_jaxpr, bc_nz, _nonzero(t_init, b_avals[nbc:]), [],
                         [is_differentiable(a) for a in b_avals[nbc:]])
    params = dict(cond_jaxpr=cond_jaxpr, body_jaxpr=body_jaxpr, cond_nconsts=ncc, body_nconsts=nbc)
    primal_out = bind(while_p, *primals, **params)
    if not any(carry_nz):
        return primal_out, [Zero(get_aval(o)) for o in primal_out]
    ncar = len(init)
    bc_t_avals = [a for a, z in zip(b_avals[:nbc], bc_nz, strict=True) if z]
    carry_avals = b_avals[nbc:]
    ct_avals = [a for a, z in zip(carry_avals, carry_nz, strict=True) if z]

    def joint_body(args):
        p_bc, t_bc_, carry, t_carry = _split(args, nbc, len(bc_t_avals), ncar)
        it_b, it_c = iter(t_bc_), iter(t_carry)
        ts = ([next(it_b) if z else Zero(a) for z, a in zip(bc_nz, b_avals[:nbc], strict=True)]
              + [next(it_c) if z else Zero(a) for z, a in zip(carry_nz, carry_avals, strict=True)])
        outs, touts = jvp_jaxpr(body_jaxpr.jaxpr, body_jaxpr.consts, p_bc + carry, ts)
        return list(outs) + [instantiate(t, a) for t, a, z in zip(touts, carry_avals, carry_nz, strict=True) if z]

    body = trace_at(joint_body, list(b_avals[:nbc]) + bc_t_avals + list(carry_avals) + ct_avals)
    cj = cond_jaxpr.jaxpr
    joint_cond = ClosedJaxpr(Jaxpr(cj.constvars, list(cj.invars) + [Var(a) for a in ct_avals], cj.outvars, cj.eqns),
                             cond_jaxpr.consts)
    t_in = [t for t, z in zip(t_bc, bc_nz, strict=True) if z]
    t0 = [instantiate(t, a) for t, a, z in zip(t_init, carry_avals, carry_nz, strict=True) if z]
    outs = bind(while_p, *cc, *bc, *t_in, *init, *t0, cond_jaxpr=joint_cond, body_jaxpr=body, cond_nconsts=ncc,
                body_nconsts=nbc + len(t_in))
    it = iter(outs[ncar:])
    return primal_out, [next(it) if z else Zero(a) for z, a in zip(carry_nz, carry_avals, strict=True)]


def_jvp_rule(while_p, _while_jvp)


def _while_transpose(cts, *args, **params):
    raise NotImplementedError(
        "reverse-mode differentiation (grad, vjp, jacrev) does not work for ft.lax.while_loop, whose trip count "
        "is only known when it runs: use ft.lax.scan, or ft.lax.fori_loop with concrete (Python int) bounds, "
        "which is a scan; forward mode (jvp, jacfwd) works with while_loop")


def_transpose_rule(while_p, _while_transpose)


def _while_batch(args, dims, *, cond_jaxpr, body_jaxpr, cond_nconsts, body_nconsts):
    ncc, nbc = cond_nconsts, body_nconsts
    size = axis_size(args, dims)
    cc, bc, init = _split(args, ncc, nbc)
    dcc, dbc, dinit = _split(dims, ncc, nbc)
    cc_b = [d is not None for d in dcc]
    bc_b = [d is not None for d in dbc]
    ncar = len(init)
    carry_b = _fixpoint(body_jaxpr, bc_b, [d is not None for d in dinit], [], [True] * ncar)
    pred_b = dependent_outputs(cond_jaxpr, cc_b + carry_b)[0]
    if pred_b:  # examples stop at different steps: every carry is per example
        carry_b = [True] * ncar
    cc = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(cc, dcc, strict=True)]
    bc = [moveaxis(c, d, 0) if d is not None else c for c, d in zip(bc, dbc, strict=True)]
    init = [bdim_at_front(c, d, size) if b else c for c, d, b in zip(init, dinit, carry_b, strict=True)]
    body, _ = batch_jaxpr(body_jaxpr, bc_b + carry_b, size, carry_b)
    cond, _ = batch_jaxpr(cond_jaxpr, cc_b + carry_b, size, [pred_b])
    out_dims = [0 if b else None for b in carry_b]
    if not pred_b:
        outs = bind(while_p, *cc, *bc, *init, cond_jaxpr=cond, body_jaxpr=body, cond_nconsts=ncc, body_nconsts=nbc)
        return outs, out_dims
    cc_avals, bc_avals, carry_avals = cond.in_avals[:ncc], body.in_avals[:nbc], body.in_avals[nbc:]

    def any_cond(a):
        (pred,) = eval_jaxpr(cond.jaxpr, cond.consts, a)
        return [lax.reduce_or(pred, (0,))]

    def select_body(a):
        c_c, b_c, carry = _split(a, ncc, nbc)
        (pred,) = eval_jaxpr(cond.jaxpr, cond.consts, c_c + carry)
        new = eval_jaxpr(body.jaxpr, body.consts, b_c + carry)
        return [lax.select(lax.broadcast_in_dim(pred, get_aval(n).shape, (0,)), n, o)
                for n, o in zip(new, carry, strict=True)]

    any_closed = trace_at(any_cond, list(cc_avals) + list(carry_avals))
    sel_closed = trace_at(select_body, list(cc_avals) + list(bc_avals) + list(carry_avals))
    outs = bind(while_p, *cc, *cc, *bc, *init, cond_jaxpr=any_closed, body_jaxpr=sel_closed, cond_nconsts=ncc,
                body_nconsts=ncc + nbc)
    return outs, out_dims


def_batch_rule(while_p, _while_batch)


__all__ = ["linearize_jaxpr", "Linearized"]
