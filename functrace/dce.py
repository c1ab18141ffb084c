"""Dead-code elimination: the one pass the core itself needs (every traced jaxpr is DCE'd)."""

from __future__ import annotations

from functrace.ir import Jaxpr, Var


def dce_jaxpr(jaxpr: Jaxpr, prune_consts: bool = False) -> tuple[Jaxpr, list[bool]]:
    """Drop equations whose outputs are never used. All primitives are pure, so this is safe.

    Returns the new jaxpr and, per constvar, whether it is still used (unused ones are dropped
    when ``prune_consts``). Walks the equations once, backwards, without recursion.
    """
    live: set[int] = {id(v) for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        if any(id(v) in live for v in eqn.outvars):
            kept.append(eqn)
            for x in eqn.invars:
                if isinstance(x, Var):
                    live.add(id(x))
    kept.reverse()
    used = [id(v) in live for v in jaxpr.constvars]
    constvars = [v for v, u in zip(jaxpr.constvars, used, strict=True) if u] if prune_consts else jaxpr.constvars
    if len(kept) == len(jaxpr.eqns) and len(constvars) == len(jaxpr.constvars):
        return jaxpr, used if prune_consts else [True] * len(used)
    return Jaxpr(constvars, jaxpr.invars, jaxpr.outvars, kept), used if prune_consts else [True] * len(used)
