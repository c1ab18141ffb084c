"""Linearization: the one partial-evaluation split of functrace.

Every reverse-mode route splits a program the same way, here: the JVP interpreter runs with the
primal values where they are (concrete arrays, or tracers of an enclosing trace) and the
tangents in a fresh trace opened inside. Whatever the tangent computation reads from the primal
side is lifted into that trace as a constant: those constants are the *residuals*, and the
trace closes into a jaxpr that is linear in the tangents.

- ``linearize_at``: the split of a jaxpr at given primal values (nested derivatives, and the
  per-call pairs of the eager tape); ``linearize_fun`` the same split of a Python function at
  concrete values, in one pass (eager ``linearize``, ``jacfwd``, ``hessian``).
- ``linearize_jaxpr``: the split of a whole jaxpr at abstract inputs, as two jaxprs: a *primal*
  one (inputs -> outputs + residuals) and a *tangent* one (residuals + tangents -> tangents). The
  eager tape derives each primitive signature's compiled forward/backward pair from it, and the
  rules of control flow and ``checkpoint`` split their bodies with it.

Reverse mode transposes the tangent jaxpr (``transforms.transpose.backward_pass``).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from functrace.ir import ClosedJaxpr, Jaxpr
from functrace.rules import Zero, instantiate
from functrace.tracing import Tracer, get_aval, new_trace
from functrace.transforms.jvp import jvp_jaxpr
from functrace.transforms.jvp_trace import JVPTrace


def _close(lin: Any, touts: list, out_avals: list, instantiate_out: Sequence[bool] | bool) -> tuple:
    """Close the tangent trace ``lin`` over the output tangents: the split's linear jaxpr, the
    residuals it reads, and which outputs it gives a tangent for."""
    inst = [instantiate_out] * len(touts) if isinstance(instantiate_out, bool) else list(instantiate_out)
    out_nz = [not isinstance(t, Zero) or i for t, i in zip(touts, inst, strict=True)]
    kept = [instantiate(t, a) for t, a, nz in zip(touts, out_avals, out_nz, strict=True) if nz]
    tj, residuals = lin.to_jaxpr(kept)
    return tj, residuals, out_nz


def linearize_at(jaxpr: Jaxpr, consts: list, primals: list, nonzero_in: Sequence[bool],
                 instantiate_out: Sequence[bool] | bool = True) -> tuple[list, Jaxpr, list, list[bool]]:
    """Evaluate ``jaxpr`` at ``primals`` and keep its linear part.

    Returns ``(outputs, tangent_jaxpr, residuals, out_nonzero)``: ``tangent_jaxpr`` takes the
    tangent of each input flagged in ``nonzero_in`` and gives the tangent of each output flagged
    in ``out_nonzero`` (those with a nonzero tangent, and those in ``instantiate_out``); its
    constvars are the ``residuals``, values computed on the primal side.
    """
    with new_trace() as lin:
        tangents = [lin.new_arg(get_aval(p)) if nz else Zero(get_aval(p))
                    for p, nz in zip(primals, nonzero_in, strict=True)]
        outs, touts = jvp_jaxpr(jaxpr, consts, primals, tangents)
        del tangents
        tj, residuals, out_nz = _close(lin, touts, [v.aval for v in jaxpr.outvars], instantiate_out)
    return outs, tj, residuals, out_nz


def linearize_fun(f_flat: Callable[[list], list], primals: list, nonzero_in: Sequence[bool],
                  avals: Sequence[Any] | None = None) -> tuple[list, Jaxpr, list, list[bool]]:
    """``linearize_at`` of a Python function at concrete ``primals`` (of abstract values
    ``avals``, when given), in one pass: the function runs on ``JVPTracer`` values, each JVP rule
    computing its primal half at once, and the tangents go to the same split as above (every
    output's tangent is instantiated). The eager route of ``linearize``/``jacfwd``: it does not
    trace the function first and then run it again."""
    with new_trace(JVPTrace) as jt, new_trace() as lin:  # (open traces silence NumPy's warnings)
        ins = [jt.pair(p, lin.new_arg(get_aval(p)) if nz else Zero(get_aval(p)),
                       None if avals is None else avals[i]) for i, (p, nz) in enumerate(zip(primals, nonzero_in,
                                                                                         strict=True))]
        pairs = [jt.unpack(o) for o in f_flat(ins)]
        del ins
        outs = [p for p, _ in pairs]
        tj, residuals, out_nz = _close(lin, [t for _, t in pairs], [get_aval(o) for o in outs], True)
    return outs, tj, residuals, out_nz


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


def linearize_jaxpr(closed: ClosedJaxpr, nonzero_in: Sequence[bool], instantiate_out: Sequence[bool],
                    values: Sequence[Any] | None = None) -> Linearized:
    """``linearize_at`` at abstract inputs (carrying ``values`` where given), staged: the primal
    side is traced too, so the residuals become outputs of a primal jaxpr."""
    avals = closed.in_avals
    vals = [None] * len(avals) if values is None else list(values)
    with new_trace() as ptrace:
        pargs = [ptrace.new_arg(a, v) for a, v in zip(avals, vals, strict=True)]
        outs, tj, tconsts, out_nz = linearize_at(closed.jaxpr, closed.consts, pargs, nonzero_in, instantiate_out)
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


__all__ = ["Linearized", "linearize_at", "linearize_fun", "linearize_jaxpr"]
