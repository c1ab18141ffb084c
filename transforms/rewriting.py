"""The machinery the IR passes share: renaming operands, rewriting a jaxpr equation by
equation with a rule (``_rewrite``), and dead-code elimination. Split out of
``functrace.transforms.passes``, which holds the passes themselves and re-exports ``dce`` and
``prune_consts``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace import ops as P
from functrace.avals import ShapedArray, scalar_aval
from functrace.dce import dce_jaxpr
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from functrace.primitives import Primitive, abstract_eval_rules

Atom = Var | Literal


# ---------------------------------------------------------------------------- shared helpers
def _read(subst: dict[int, Atom], x: Atom) -> Atom:
    return x if isinstance(x, Literal) else subst.get(id(x), x)


def _renamed(eqn: JaxprEqn, subst: dict[int, Atom]) -> tuple[JaxprEqn, bool]:
    """``eqn`` reading the replacements in ``subst``; True when any operand changed. (The
    common case, nothing to rename, costs one membership test per operand: the passes walk
    programs of any length, and usually find little to change.)"""
    if not subst or not any(not isinstance(x, Literal) and id(x) in subst for x in eqn.invars):
        return eqn, False
    return eqn.replace(invars=[_read(subst, x) for x in eqn.invars]), True


def _out_avals(prim: Primitive, invars: list, params: dict) -> list[ShapedArray] | None:
    """What ``prim``'s rule says the equation yields, or None when the rule rejects it."""
    try:
        out = abstract_eval_rules[prim](*[x.aval for x in invars], **params)
    except Exception:  # a rewrite the rule refuses is simply not applied
        return None
    return list(out) if prim.multiple_results else [out]


def _well_typed(eqn: JaxprEqn) -> bool:
    return _out_avals(eqn.primitive, eqn.invars, eqn.params) == [v.aval for v in eqn.outvars]


def _scalar_literal(value: Any, dtype: np.dtype) -> Literal:
    return Literal(np.asarray(value, dtype=dtype)[()], scalar_aval(np.dtype(dtype)))


def _uniform_eqn(out: Var, value: Any, source_info: Any) -> JaxprEqn:
    """``out = broadcast_in_dim[shape=out.shape, broadcast_dimensions=()] value``."""
    lit = _scalar_literal(value, out.aval.dtype)
    return JaxprEqn(P.broadcast_in_dim_p, [lit], [out],
                    {"shape": out.aval.shape, "broadcast_dimensions": ()}, source_info)


def _finish(jaxpr: Jaxpr, eqns: list[JaxprEqn], subst: dict[int, Atom], changed: bool, tidy: bool = True) -> Jaxpr:
    """The rewritten jaxpr; ``tidy``: without the equations the rewrite left dead (``optimize``
    runs DCE once per round itself, rather than after each pass)."""
    if not changed:
        return jaxpr
    outvars = [_read(subst, x) for x in jaxpr.outvars]
    new = Jaxpr(jaxpr.constvars, jaxpr.invars, outvars, eqns)
    return dce(new) if tidy else new


Rule = Callable[[JaxprEqn, dict[int, JaxprEqn]], "Atom | JaxprEqn | None"]


def _rewrite(jaxpr: Jaxpr, rule: Rule, tidy: bool = True) -> Jaxpr:
    """Apply ``rule`` to each equation (operands already renamed), front to back.

    The rule sees the equation and ``defs`` (id of a var -> the new equation defining it), and
    returns None (keep it), an atom (the single result *is* that atom: forward it), or a
    replacement equation with the same outvars (which is offered to the rule again).
    A forward whose type differs from the result's is refused, so rules cannot break typing.
    """
    subst: dict[int, Atom] = {}
    defs: dict[int, JaxprEqn] = {}
    eqns: list[JaxprEqn] = []
    changed = False
    for eqn in jaxpr.eqns:
        eqn, renamed = _renamed(eqn, subst)
        changed = changed or renamed
        for _ in range(8):  # a replacement may simplify further (bounded, to be safe)
            res = None if eqn.primitive.multiple_results else rule(eqn, defs)
            if isinstance(res, JaxprEqn):
                if not _well_typed(res):  # never expected; refusing keeps the program correct
                    res = None
                    break
                eqn, changed = res, True
                continue
            break
        if res is not None and not isinstance(res, JaxprEqn) and res.aval == eqn.outvars[0].aval:
            subst[id(eqn.outvars[0])] = res
            changed = True
            continue
        eqns.append(eqn)
        for v in eqn.outvars:
            defs[id(v)] = eqn
    return _finish(jaxpr, eqns, subst, changed, tidy)


def _literal_value(x: Atom, defs: dict[int, JaxprEqn]) -> Any:
    """The scalar every element of ``x`` equals, when ``x`` is a literal or a broadcast of one."""
    if isinstance(x, Literal):
        return x.val
    d = defs.get(id(x))
    if d is not None and d.primitive is P.broadcast_in_dim_p and isinstance(d.invars[0], Literal):
        return d.invars[0].val
    return None


def _is(value: Any, target: float) -> bool:
    return value is not None and bool(value == target)


# ---------------------------------------------------------------------------- DCE
def dce(jaxpr: Jaxpr) -> Jaxpr:
    """Drop equations whose results are never used (all primitives are pure). Constvars stay."""
    return dce_jaxpr(jaxpr)[0]


def prune_consts(closed: ClosedJaxpr) -> ClosedJaxpr:
    """DCE a closed jaxpr, also dropping constants nothing reads any more."""
    jaxpr, used = dce_jaxpr(closed.jaxpr, prune_consts=True)
    if jaxpr is closed.jaxpr:
        return closed
    consts = [c for c, u in zip(closed.consts, used, strict=True) if u]
    return ClosedJaxpr(jaxpr, consts, closed.in_tree, closed.out_tree)


