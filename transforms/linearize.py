"""Linearization of a jaxpr: the one partial-evaluation split of functrace.

``linearize_jaxpr`` splits a jaxpr in two by running the JVP interpreter with primal values in
one fresh trace and tangents in a second one nested inside it:

- a *primal* jaxpr: the original outputs plus the residuals, the intermediate values the
  tangent computation reads (``cos x`` for ``sin x``, ...);
- a *tangent* jaxpr: linear in the tangents, taking the residuals as inputs.

The tangent trace lifts the primal values it reads as constants, and those are the residuals.
Reverse mode transposes the tangent jaxpr (``transforms.transpose.backward_pass``).
"""

from __future__ import annotations

from typing import Sequence

from functrace.ir import ClosedJaxpr, Jaxpr
from functrace.rules import Zero, instantiate
from functrace.tracing import Tracer, new_trace
from functrace.transforms.jvp import jvp_jaxpr


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


__all__ = ["Linearized", "linearize_jaxpr"]
