"""Reverse mode: the backward pass over a linear jaxpr.

It reads each linear primitive's transpose rule from ``functrace.rules`` (registered beside the
primitive in its family module under ``functrace/ops/``). A rule receives the output cotangent
and the equation's inputs, with the linear ones replaced by ``UndefinedPrimal``; it returns one
cotangent per input (None for non-linear inputs).
Broadcasting of rank-0 operands is undone in one place, ``rules.unbroadcast``.

The linear jaxprs it transposes come from the one split (``transforms.linearize``). Most hold
only equations that read a tangent; those of ``checkpoint`` (and of control flow over it) also
recompute primal values inside the linear program, by design. So the pass first evaluates, in
order, the equations that read no linear value, then walks the linear ones in reverse. It splits
nothing: which values are residuals was decided by ``linearize``.
"""

from __future__ import annotations

from typing import Any

from functrace.ir import Jaxpr, Literal, Var
from functrace.rules import (
    UndefinedPrimal,
    Zero,
    add_tangents,
    instantiate,
    missing_rule,
    transpose_rules,
)
from functrace.tracing import bind, interpreting


# ---------------------------------------------------------------------------- the backward pass
def backward_pass(jaxpr: Jaxpr, consts: list, cts_out: list) -> list:
    """Transpose a jaxpr that is linear in its invars (constvars are residuals).

    Returns one cotangent per invar (``Zero`` where nothing flowed). Iterative.
    """
    linear: set[int] = {id(v) for v in jaxpr.invars}
    env: dict[int, Any] = {id(v): c for v, c in zip(jaxpr.constvars, consts, strict=True)}
    linear_eqns = []
    with interpreting() as at:
        # Forward: evaluate any equation that does not touch a linear value; note the linear ones.
        for eqn in jaxpr.eqns:
            for x in eqn.invars:  # a loop, not any(<generator>): this runs once per equation
                if type(x) is Var and id(x) in linear:
                    break
            else:
                x = None
            if x is not None:
                linear_eqns.append(eqn)
                linear.update(id(v) for v in eqn.outvars)
            else:
                at(eqn.source_info)
                vals = [x.val if isinstance(x, Literal) else env[id(x)] for x in eqn.invars]
                out = bind(eqn.primitive, *vals, **eqn.params)
                for v, o in zip(eqn.outvars, out if eqn.primitive.multiple_results else [out], strict=True):
                    env[id(v)] = o
        ct_env: dict[int, Any] = {}

        def add_ct(v, ct):
            if type(v) is Var and id(v) in linear and ct is not None and type(ct) is not Zero:
                prev = ct_env.get(id(v))
                ct_env[id(v)] = ct if prev is None else add_tangents(prev, ct)

        for v, ct in zip(jaxpr.outvars, cts_out, strict=True):
            add_ct(v, ct)
        for eqn in reversed(linear_eqns):
            cts = [ct_env.pop(id(v), None) for v in eqn.outvars]
            if (cts[0] is None if len(cts) == 1 else all(c is None for c in cts)):
                continue
            at(eqn.source_info)
            args = [UndefinedPrimal(x.aval) if type(x) is Var and id(x) in linear
                    else (x.val if isinstance(x, Literal) else env[id(x)]) for x in eqn.invars]
            rule = transpose_rules.get(eqn.primitive)
            if rule is None:
                raise missing_rule(eqn.primitive, "transpose", "reverse-mode differentiation (grad, vjp)")
            if eqn.primitive.multiple_results:
                cts = [instantiate(Zero(v.aval)) if c is None else c for c, v in zip(cts, eqn.outvars, strict=True)]
                ct_in = rule(cts, *args, **eqn.params)
            else:
                ct_in = rule(cts[0], *args, **eqn.params)
            for x, c in zip(eqn.invars, ct_in, strict=True):
                add_ct(x, c)
    return [ct_env.get(id(v), Zero(v.aval)) for v in jaxpr.invars]
