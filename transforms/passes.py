"""IR optimisation passes. Each takes a jaxpr and returns a new one (never mutating its input).

``jit`` runs them through ``optimize`` before lowering; after grad or vmap they shrink the
derived programs (zeros added to cotangents, double transposes, casts to the same dtype).

- ``dce`` (in ``rewriting.py``, with the machinery the passes share): drop equations whose
  results are never used.
- ``cse``: merge equations that apply the same primitive to the same operands and params.
- ``fold_constants`` (in ``folding.py``): evaluate (with the NumPy backend) equations whose
  operands are all known (literals and constants); a result that repeats one value (a "uniform" array, e.g. zeros)
  is kept as ``broadcast_in_dim`` of a scalar literal rather than as a big constant.
- ``simplify``: algebraic identities (the table in ``functrace.peephole``, which tracing
  applies too): ``x+(-0.0)``, ``x-0.0``, ``x*1``, ``x/1``, ``x*-1 -> -x``,
  ``--x``, ``x**1``, ``x**0``, ``x*0`` for integers, transposes / reshapes / broadcasts of
  transposes / reshapes / broadcasts, and broadcasts of a scalar absorbed into elementwise
  operations (which accept rank-0 operands).
- ``forward_identities``: operations that return their operand unchanged (a cast to the same
  dtype, a reshape to the same shape, an identity permutation, an empty reduction, a full
  slice, ...), and ``stop_gradient`` once differentiation is over.

What is deliberately *not* simplified, because it would change results (every default rewrite
is exact, bit for bit): ``x * 0`` for floating-point ``x`` (``inf * 0`` and ``nan * 0`` are nan,
``-3 * 0`` is -0.0), ``x - x`` (``inf - inf`` is nan), ``x + 0.0`` (``-0.0 + 0.0`` is ``+0.0``;
``x + (-0.0)`` and ``x - 0.0`` are exact and are simplified), and re-association such as
``3 * (3 * x) -> 9 * x`` (rounding), which is applied only where it is exact (powers of two, see
``peephole.scale_product``). ``max``/``min`` are not commutative for CSE (signed zeros).

Folding computes with NumPy whatever backend runs the program, so a folded value may differ
from the torch backend's own result in the last bit. Sub-jaxprs inside params (control flow)
are left as they are unless ``optimize(sub_jaxprs=True)``. All passes are single linear walks
over the equations (no recursion), so long chains stay cheap; ``optimize`` runs DCE once per
round rather than after each pass.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import ops as P
from functrace.avals import is_bool, is_int
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from functrace.peephole import unit_identity
from functrace.tracing import equation_key, literal_key
from functrace.transforms.folding import (  # noqa: F401  (FOLD_LIMIT, foldable: re-exported)
    FOLD_LIMIT,
    _numpy_impls,
    fold_constants,
    fold_eqn,
    foldable,
    known_constants,
    place_folded,
    uniform_value,
)
from functrace.transforms.rewriting import (  # noqa: F401  (dce, prune_consts: re-exported)
    Atom,
    Rule,
    _finish,
    _is,
    _literal_value,
    _out_avals,
    _read,
    _renamed,
    _rewrite,
    _scalar_literal,
    _uniform_eqn,
    _well_typed,
    dce,
    prune_consts,
)


# ---------------------------------------------------------------------------- CSE
def cse(jaxpr: Jaxpr, tidy: bool = True) -> Jaxpr:
    """Merge equations with the same primitive, operands (in any order for commutative ones)
    and params (all primitives are pure).

    Equations with unhashable params are kept as they are. ``tidy``: see ``_finish``.
    """
    subst: dict[int, Atom] = {}
    seen: dict[Any, JaxprEqn] = {}
    eqns: list[JaxprEqn] = []
    changed = False
    for eqn in jaxpr.eqns:
        eqn, renamed = _renamed(eqn, subst)
        changed = changed or renamed
        if _merged(eqn, seen, subst):
            changed = True
        else:
            eqns.append(eqn)
    return _finish(jaxpr, eqns, subst, changed, tidy)


def _merged(eqn: JaxprEqn, seen: dict[Any, JaxprEqn], subst: dict[int, Atom]) -> bool:
    """Whether ``eqn`` computes what an equation in ``seen`` computes; then its results are
    renamed to that one's in ``subst``, else it is entered in ``seen``. Effects are never merged
    (two prints of one value are two prints), nor equations with unhashable params."""
    if eqn.primitive.effectful:
        return False
    key = equation_key(eqn.primitive, eqn.invars, eqn.params)
    try:
        hit = seen.get(key)
    except TypeError:  # unhashable params
        return False
    if hit is None:
        seen[key] = eqn
        return False
    for old, new in zip(eqn.outvars, hit.outvars, strict=True):
        subst[id(old)] = new
    return True


# ---------------------------------------------------------------------------- forwarding
def _full_slice(p: dict, x: Atom) -> bool:
    return (all(s == 0 for s in p["start_indices"]) and tuple(p["limit_indices"]) == x.aval.shape
            and all(s == 1 for s in p["strides"]))


# primitive -> (params, operands) -> the operand the equation returns unchanged, or None. A table,
# so that the common case (a primitive with no such identity) costs one lookup.
_FORWARDS: dict[Any, Any] = {
    P.convert_element_type_p: lambda p, xs: xs[0] if xs[0].aval.dtype == np.dtype(p["new_dtype"]) else None,
    P.reshape_p: lambda p, xs: xs[0] if tuple(p["new_sizes"]) == xs[0].aval.shape else None,
    P.transpose_p: lambda p, xs: xs[0] if tuple(p["permutation"]) == tuple(range(xs[0].aval.ndim)) else None,
    P.broadcast_in_dim_p: lambda p, xs: xs[0] if tuple(p["shape"]) == xs[0].aval.shape else None,
    **dict.fromkeys((P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p, P.reduce_min_p, P.reduce_and_p, P.reduce_or_p),
                    lambda p, xs: xs[0] if not p["axes"] else None),
    P.slice_p: lambda p, xs: xs[0] if _full_slice(p, xs[0]) else None,
    P.rev_p: lambda p, xs: xs[0] if all(xs[0].aval.shape[d] <= 1 for d in p["dimensions"]) else None,
    P.pad_p: lambda p, xs: xs[0] if all(tuple(c) == (0, 0, 0) for c in p["padding_config"]) else None,
    P.concatenate_p: lambda p, xs: xs[0] if len(xs) == 1 else None,
    P.select_p: lambda p, xs: xs[1] if _same_atom(xs[1], xs[2]) else None,
}


def _forward_rule(drop_stop_gradient: bool) -> Rule:
    def rule(eqn: JaxprEqn, defs: dict[int, JaxprEqn]) -> Atom | None:
        forward = _FORWARDS.get(eqn.primitive)
        if forward is not None:
            return forward(eqn.params, eqn.invars)
        if eqn.primitive is P.stop_gradient_p and drop_stop_gradient:
            return eqn.invars[0]
        return None

    return rule


def _same_atom(a: Atom, b: Atom) -> bool:
    if isinstance(a, Literal) and isinstance(b, Literal):
        return literal_key(a) == literal_key(b)
    return a is b


def forward_identities(jaxpr: Jaxpr, drop_stop_gradient: bool = False, tidy: bool = True) -> Jaxpr:
    """Replace operations that return their operand unchanged by the operand itself.

    ``drop_stop_gradient`` also forwards ``stop_gradient``: only for a jaxpr that will be run,
    never differentiated again (``jit`` lowers such a copy; it keeps the original for outer
    transforms).
    """
    return _rewrite(jaxpr, _forward_rule(drop_stop_gradient), tidy)


# ---------------------------------------------------------------------------- simplify
def _absorb_scalars(eqn: JaxprEqn, defs: dict[int, JaxprEqn]) -> JaxprEqn | None:
    """``add x (broadcast_in_dim 2.0)`` -> ``add x 2.0``: elementwise ops take rank-0 operands.

    One operand at a time, each kept only if the result type is unchanged (a full-shape
    operand must remain to carry the shape).
    """
    invars = list(eqn.invars)
    changed = False
    for i, x in enumerate(invars):
        if isinstance(x, Literal):
            continue
        val = _literal_value(x, defs)
        if val is None:
            continue
        trial = invars[:i] + [_scalar_literal(val, x.aval.dtype)] + invars[i + 1:]
        if _out_avals(eqn.primitive, trial, eqn.params) == [eqn.outvars[0].aval]:
            invars, changed = trial, True
    return eqn.replace(invars=invars) if changed else None


def _compose(eqn: JaxprEqn, defs: dict[int, JaxprEqn]) -> JaxprEqn | Atom | None:
    """Two stacked shape operations of one kind become one."""
    prim, p, x = eqn.primitive, eqn.params, eqn.invars[0]
    inner = defs.get(id(x)) if isinstance(x, Var) else None
    if inner is None or inner.primitive is not prim:
        return None
    src = inner.invars[0]
    if prim is P.neg_p:
        return src
    if prim is P.transpose_p:
        p1, p2 = inner.params["permutation"], p["permutation"]
        perm = tuple(p1[j] for j in p2)
        return src if perm == tuple(range(len(perm))) else eqn.replace(invars=[src], params={"permutation": perm})
    if prim is P.reshape_p:
        return src if src.aval.shape == tuple(p["new_sizes"]) else eqn.replace(invars=[src])
    if prim is P.broadcast_in_dim_p:
        d1, d2 = inner.params["broadcast_dimensions"], p["broadcast_dimensions"]
        new = eqn.replace(invars=[src], params={"shape": p["shape"],
                                                "broadcast_dimensions": tuple(d2[d] for d in d1)})
        return new if _well_typed(new) else None
    return None


def _zeros_or_ones(eqn: JaxprEqn, value: int) -> JaxprEqn:
    out = eqn.outvars[0]
    return _uniform_eqn(out, value, eqn.source_info)


def _simplify_rule(eqn: JaxprEqn, defs: dict[int, JaxprEqn]) -> JaxprEqn | Atom | None:
    prim, xs = eqn.primitive, eqn.invars
    out = eqn.outvars[0]
    if prim.elementwise and len(xs) > 1:
        absorbed = _absorb_scalars(eqn, defs)
        if absorbed is not None:
            return absorbed
    if prim in (P.neg_p, P.transpose_p, P.reshape_p, P.broadcast_in_dim_p):
        return _compose(eqn, defs)
    if prim is P.select_p:  # a known predicate picks a branch
        vp = _literal_value(xs[0], defs)
        return None if vp is None else xs[1] if bool(vp) else xs[2]
    if prim is P.integer_pow_p:
        y = eqn.params["y"]
        if y == 1:
            return xs[0]
        if y == 0:  # x ** 0 is 1 for every x, nan and inf included (IEEE pow)
            return _scalar_literal(1, out.aval.dtype) if out.aval.shape == () else _zeros_or_ones(eqn, 1)
        return None
    if prim not in (P.add_p, P.sub_p, P.mul_p, P.div_p):
        return None
    a, b = xs
    va, vb = _literal_value(a, defs), _literal_value(b, defs)
    ident = unit_identity(prim, va, vb)  # x + 0, x * -1, ...: the same table as the trace-time peepholes
    if ident is not None:
        i, negate = ident
        if not negate:
            return xs[i]  # _rewrite keeps it only when it has the result's type
        if xs[i].aval == out.aval:
            return JaxprEqn(P.neg_p, [xs[i]], [out], {}, eqn.source_info)
    if prim is not P.mul_p:
        return None
    for lit in (va, vb):
        if _is(lit, 0) and (is_int(out.aval.dtype) or is_bool(out.aval.dtype)):
            # Safe for integers only: for floats, inf * 0 and nan * 0 are nan.
            return _scalar_literal(0, out.aval.dtype) if out.aval.shape == () else _zeros_or_ones(eqn, 0)
    return None


def simplify(jaxpr: Jaxpr, tidy: bool = True) -> Jaxpr:
    """Algebraic simplification (see the module docstring for the identities, and the ones
    deliberately left out)."""
    return _rewrite(jaxpr, _simplify_rule, tidy)


# ---------------------------------------------------------------------------- sub-jaxprs
def _optimize_value(v: Any, drop_stop_gradient: bool) -> Any:
    if isinstance(v, ClosedJaxpr):
        return optimize(v, drop_stop_gradient, sub_jaxprs=True)
    if type(v) is tuple and any(isinstance(x, ClosedJaxpr) for x in v):
        items = tuple(_optimize_value(x, drop_stop_gradient) for x in v)
        return v if all(a is b for a, b in zip(items, v, strict=True)) else items
    return v


def optimize_sub_jaxprs(jaxpr: Jaxpr, drop_stop_gradient: bool = False) -> Jaxpr:
    """``optimize`` the closed jaxprs held in params (branches of ``cond``, bodies of ``while``
    and ``scan``). Their inputs and outputs stay as they are, so the equations stay well typed.

    Meant for a program that will only run: the rules of transforms may expect the sub-jaxprs
    their own tracing produced, so ``jit`` applies this to the copy it lowers.
    """
    eqns, changed = [], False
    for eqn in jaxpr.eqns:
        params = {k: _optimize_value(v, drop_stop_gradient) for k, v in eqn.params.items()}
        if any(params[k] is not v for k, v in eqn.params.items()):
            eqn, changed = eqn.replace(params=params), True
        eqns.append(eqn)
    return Jaxpr(jaxpr.constvars, jaxpr.invars, jaxpr.outvars, eqns) if changed else jaxpr


def has_sub_jaxprs(jaxpr: Jaxpr) -> bool:
    """Whether some equation's primitive holds sub-jaxprs in its params (the ``subjaxprs`` trait)."""
    return any(eqn.primitive.subjaxprs for eqn in jaxpr.eqns)


# ---------------------------------------------------------------------------- the pipeline
# The primitives some rule of the walk looks at whatever their operands are (forwarding,
# composing, a known predicate, x ** 0 and x ** 1). For any other primitive, every rule needs an
# operand that is a literal or a known constant (a broadcast of a literal is one): folding needs
# all of them known, ``_absorb_scalars``, ``unit_identity`` and ``x * 0`` one known scalar.
_RULED = frozenset({*_FORWARDS, P.stop_gradient_p, P.neg_p, P.transpose_p, P.reshape_p, P.broadcast_in_dim_p,
                    P.select_p, P.integer_pow_p})


def _unremarkable(invars: list, known: dict[int, Any]) -> bool:
    """Whether no operand is a literal or a known constant (then no rule applies to an equation
    of a primitive outside ``_RULED``: most equations of a long program)."""
    for x in invars:
        if type(x) is Literal or id(x) in known:
            return False
    return True


def _one_walk(closed: ClosedJaxpr, drop_stop_gradient: bool) -> ClosedJaxpr:
    """Fold, forward, simplify and CSE in one walk over the equations (no DCE).

    Each equation is renamed to the replacements made so far, then, unless no rule can apply to
    it (``_RULED``), offered to folding, the forwarding rule and the simplification rule in turn,
    again after each rewrite (bounded), and
    what remains is merged with an earlier equation that computes the same. Every rule looks
    only at the equation and at the (already final) definitions of its operands, so one walk
    leaves nothing for a second: the passes run one after the other would reach the same
    program in as many rounds as rewrites feed each other, each round a walk per pass.
    """
    jaxpr = closed.jaxpr
    impls = _numpy_impls()
    forward = _forward_rule(drop_stop_gradient)
    known: dict[int, Any] = {}
    subst: dict[int, Atom] = {}
    defs: dict[int, JaxprEqn] = {}
    seen: dict[Any, JaxprEqn] = {}
    constvars: list = []
    consts: list = []
    eqns: list[JaxprEqn] = []
    uniform: list[JaxprEqn] = []  # uniform constants, now broadcasts of literals
    changed = known_constants(jaxpr, closed.consts, known, constvars, consts, uniform, subst)
    with np.errstate(all="ignore"):
        for eqn in [*uniform, *jaxpr.eqns]:
            eqn, renamed = _renamed(eqn, subst)
            changed = changed or renamed
            # Only an equation of a primitive in _RULED, or with a literal or known operand, can be
            # rewritten (see _RULED); any other is left to CSE.
            if eqn.primitive in _RULED or not _unremarkable(eqn.invars, known):
                gone = False  # the result was replaced by an atom or became a constant
                for _ in range(8):  # a rewrite may be rewritten further (bounded, to be safe)
                    folded = fold_eqn(eqn, known, impls)
                    if folded is not None:
                        changed = True
                        eqn = place_folded(eqn, folded, constvars, consts, subst)
                        gone = eqn is None
                        break
                    if eqn.primitive.multiple_results:
                        break
                    res = forward(eqn, defs)
                    if res is None:
                        res = _simplify_rule(eqn, defs)
                    if res is None:
                        break
                    if isinstance(res, JaxprEqn):
                        if not _well_typed(res):  # never expected; refusing keeps the program correct
                            break
                        eqn, changed = res, True
                        continue
                    if res.aval == eqn.outvars[0].aval:  # a forward must keep the result's type
                        subst[id(eqn.outvars[0])] = res
                        changed = gone = True
                    break
                if gone:
                    continue
            if _merged(eqn, seen, subst):
                changed = True
                continue
            eqns.append(eqn)
            for v in eqn.outvars:
                defs[id(v)] = eqn
    if not changed:
        return closed
    outvars = [_read(subst, x) for x in jaxpr.outvars]
    return ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, outvars, eqns), consts, closed.in_tree, closed.out_tree)


def optimize(closed: ClosedJaxpr, drop_stop_gradient: bool = False, sub_jaxprs: bool = False) -> ClosedJaxpr:
    """All passes: fold, forward, simplify and CSE in one walk (``_one_walk``), then DCE, which
    also drops the constants nothing reads any more. With ``sub_jaxprs``, the jaxprs in params
    are optimised too (see ``optimize_sub_jaxprs``)."""
    if sub_jaxprs:
        j = optimize_sub_jaxprs(closed.jaxpr, drop_stop_gradient)
        if j is not closed.jaxpr:
            closed = ClosedJaxpr(j, closed.consts, closed.in_tree, closed.out_tree)
    return prune_consts(_one_walk(closed, drop_stop_gradient))


__all__ = ["dce", "cse", "fold_constants", "simplify", "forward_identities", "optimize", "optimize_sub_jaxprs",
           "has_sub_jaxprs", "prune_consts", "uniform_value"]
