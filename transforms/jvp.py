"""Forward mode: the interpreter that pushes tangents through a jaxpr.

It reads each primitive's JVP rule from ``functrace.rules`` (registered beside the primitive in
its family module under ``functrace/ops/``). Rules are written with ``functrace.lax``; ``bind``
sends each operation to the right place: primal work to the enclosing trace (or eager
evaluation), tangent work to the tangents' trace.
"""

from __future__ import annotations

from typing import Any

from functrace.ir import Jaxpr, Literal
from functrace.rules import (
    Zero,
    jvp_rule,
    missing_rule,
)
from functrace.tracing import Tracer, bind, dead_after, interpreting


def _any_concrete(primals: list, tangents: list) -> bool:
    """Whether an input holds a concrete value (not an abstract tracer, not a symbolic Zero)."""
    for x in (*primals, *tangents):
        if not isinstance(x, Zero) and (not isinstance(x, Tracer) or x.val is not None):
            return True
    return False


# ---------------------------------------------------------------------------- the interpreter
def jvp_jaxpr(jaxpr: Jaxpr, consts: list, primals: list, tangents: list) -> tuple[list, list]:
    """Evaluate ``jaxpr`` on ``primals`` and push ``tangents`` (arrays, tracers or Zero) through it.

    Iterative; each equation's new operations are attributed to its source line, and each
    primal and tangent is dropped after its last use (``dead_after``).
    """
    penv: dict[int, Any] = {}
    tenv: dict[int, Any] = {}
    for v, c in zip(jaxpr.constvars, consts, strict=True):
        penv[id(v)] = c
    for v, p, t in zip(jaxpr.invars, primals, tangents, strict=True):
        penv[id(v)] = p
        if not isinstance(t, Zero):
            tenv[id(v)] = t

    def read_p(x):
        return x.val if isinstance(x, Literal) else penv[id(x)]

    def read_t(x):
        if isinstance(x, Literal):
            return Zero(x.aval)
        t = tenv.get(id(x))
        return Zero(x.aval) if t is None else t

    # Freeing saves memory only where values are concrete arrays (the eager path); when every
    # input is an abstract tracer (make_jaxpr, jit) the trace keeps each value anyway, so the
    # per-equation bookkeeping is skipped.
    gones = dead_after(jaxpr) if _any_concrete(primals, tangents) else [()] * len(jaxpr.eqns)
    with interpreting() as at:
        for eqn, gone in zip(jaxpr.eqns, gones, strict=True):
            at(eqn.source_info)
            ps = [read_p(x) for x in eqn.invars]
            ts = [read_t(x) for x in eqn.invars]
            multiple = eqn.primitive.multiple_results
            if all(isinstance(t, Zero) for t in ts):
                out = bind(eqn.primitive, *ps, **eqn.params)
                po, to = (out if multiple else [out]), None
                del out
            else:
                rule = jvp_rule(eqn.primitive)
                if rule is None:
                    raise missing_rule(eqn.primitive, "JVP", "forward-mode differentiation (jvp)")
                po, to = rule(ps, ts, **eqn.params)
                if not multiple:
                    po, to = [po], [to]
            del ps, ts
            for vid in gone:  # free each primal and tangent after its last use
                penv.pop(vid, None)
                tenv.pop(vid, None)
            for i, v in enumerate(eqn.outvars):
                penv[id(v)] = po[i]
                if to is not None and not isinstance(to[i], Zero):
                    tenv[id(v)] = to[i]
            del po, to
    return [read_p(x) for x in jaxpr.outvars], [read_t(x) for x in jaxpr.outvars]
