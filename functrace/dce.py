"""Dead-code elimination: the one pass the core itself needs (every traced jaxpr is DCE'd)."""

from __future__ import annotations

from functrace.ir import ClosedJaxpr, Jaxpr, Literal, Var


def has_effect(eqn) -> bool:
    """Whether ``eqn`` must run even if its results are unused: its primitive is ``effectful``
    (printing), or a jaxpr in its params (a loop body, a branch) holds such an equation."""
    prim = eqn.primitive
    if prim.effectful:
        return True
    if not prim.subjaxprs:
        return False
    for v in eqn.params.values():
        for x in (v if isinstance(v, (tuple, list)) else (v,)):
            j = x.jaxpr if isinstance(x, ClosedJaxpr) else x if isinstance(x, Jaxpr) else None
            if j is not None and any(has_effect(e) for e in j.eqns):
                return True
    return False


def dce_jaxpr(jaxpr: Jaxpr, prune_consts: bool = False) -> tuple[Jaxpr, list[bool]]:
    """Drop equations whose outputs are never used, except those with an effect (``has_effect``).

    Returns the new jaxpr and, per constvar, whether it is still used (unused ones are dropped
    when ``prune_consts``). Walks the equations once, backwards, without recursion.
    """
    live: set[int] = {id(v) for v in jaxpr.outvars if isinstance(v, Var)}
    kept = []
    for eqn in reversed(jaxpr.eqns):
        outs = eqn.outvars
        # One output is the common case: test it directly rather than through any(<generator>).
        used = id(outs[0]) in live if len(outs) == 1 else any(id(v) in live for v in outs)
        if used or (eqn.primitive.effectful or eqn.primitive.subjaxprs) and has_effect(eqn):
            kept.append(eqn)
            for x in eqn.invars:
                if type(x) is not Literal:
                    live.add(id(x))
    kept.reverse()
    used = [id(v) in live for v in jaxpr.constvars]
    constvars = [v for v, u in zip(jaxpr.constvars, used, strict=True) if u] if prune_consts else jaxpr.constvars
    if len(kept) == len(jaxpr.eqns) and len(constvars) == len(jaxpr.constvars):
        return jaxpr, used if prune_consts else [True] * len(used)
    return Jaxpr(constvars, jaxpr.invars, jaxpr.outvars, kept), used if prune_consts else [True] * len(used)
