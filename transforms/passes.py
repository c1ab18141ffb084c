"""IR optimisation passes. Each takes a jaxpr and returns a new one (never mutating its input).

``jit`` runs them through ``optimize`` before lowering; after grad or vmap they shrink the
derived programs (zeros added to cotangents, double transposes, casts to the same dtype).

- ``dce``: drop equations whose results are never used.
- ``cse``: merge equations that apply the same primitive to the same operands and params.
- ``fold_constants``: evaluate (with the NumPy backend) equations whose operands are all known
  (literals and constants); a result that repeats one value (a "uniform" array, e.g. zeros)
  is kept as ``broadcast_in_dim`` of a scalar literal rather than as a big constant.
- ``simplify``: algebraic identities: ``x+0``, ``x-0``, ``x*1``, ``x/1``, ``x*-1 -> -x``,
  ``--x``, ``x**1``, ``x**0``, ``x*0`` for integers, transposes / reshapes / broadcasts of
  transposes / reshapes / broadcasts, and broadcasts of a scalar absorbed into elementwise
  operations (which accept rank-0 operands).
- ``forward_identities``: operations that return their operand unchanged (a cast to the same
  dtype, a reshape to the same shape, an identity permutation, an empty reduction, a full
  slice, ...), and ``stop_gradient`` once differentiation is over.

What is deliberately *not* simplified, because it would change results:
``x * 0`` for floating-point ``x`` (``inf * 0`` and ``nan * 0`` are nan, ``-3 * 0`` is -0.0),
``x - x`` (``inf - inf`` is nan), and re-association such as ``2 * (3 * x) -> 6 * x``
(rounding). One liberty is taken, as XLA takes it: ``x + 0.0 -> x`` although
``-0.0 + 0.0`` is ``+0.0``; only the sign of a zero result can differ.

Folding computes with NumPy whatever backend runs the program, so a folded value may differ
from the torch backend's own result in the last bit. Sub-jaxprs inside params (control flow)
are left as they are. All passes are single linear
walks over the equations (no recursion), so long chains stay cheap.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace import ops as P
from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.dce import dce_jaxpr
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from functrace.peephole import unit_identity
from functrace.primitives import Primitive, abstract_eval_rules
from functrace.tracing import Tracer, equation_key, literal_key

# Folding never materialises an array larger than this (elements); bigger results stay equations.
FOLD_LIMIT = 1 << 20
# Constants larger than this are checked for being uniform only when that is free (a broadcast view).
_SCAN_LIMIT = 1 << 16

# Operations that only move or replicate elements: a uniform operand gives a uniform result.
_UNIFORM_PRESERVING = frozenset({
    P.broadcast_in_dim_p, P.reshape_p, P.transpose_p, P.rev_p, P.slice_p, P.reduce_max_p, P.reduce_min_p,
})


def foldable(prim: Primitive) -> bool:
    """Folding evaluates primitives without sub-jaxprs (a loop is not run at compile time) and
    without effects (an effect must happen when the program runs)."""
    return not (prim.subjaxprs or prim.effectful or prim.multiple_results)

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
    return Literal(np.asarray(value, dtype=dtype)[()], ShapedArray((), dtype))


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
        if eqn.primitive.effectful:  # two prints of one value are two prints
            eqns.append(eqn)
            continue
        key = equation_key(eqn.primitive, eqn.invars, eqn.params)
        try:
            hit = seen.get(key)
        except TypeError:  # unhashable params
            eqns.append(eqn)
            continue
        if hit is not None:
            for old, new in zip(eqn.outvars, hit.outvars, strict=True):
                subst[id(old)] = new
            changed = True
            continue
        seen[key] = eqn
        eqns.append(eqn)
    return _finish(jaxpr, eqns, subst, changed, tidy)


# ---------------------------------------------------------------------------- forwarding
def _forward_rule(drop_stop_gradient: bool) -> Rule:
    def rule(eqn: JaxprEqn, defs: dict[int, JaxprEqn]) -> Atom | None:
        prim, p, xs = eqn.primitive, eqn.params, eqn.invars
        x = xs[0] if xs else None
        if prim is P.convert_element_type_p:
            return x if x.aval.dtype == np.dtype(p["new_dtype"]) else None
        if prim is P.reshape_p:
            return x if tuple(p["new_sizes"]) == x.aval.shape else None
        if prim is P.transpose_p:
            return x if tuple(p["permutation"]) == tuple(range(x.aval.ndim)) else None
        if prim is P.broadcast_in_dim_p:
            return x if tuple(p["shape"]) == x.aval.shape else None
        if prim in (P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p, P.reduce_min_p, P.reduce_and_p,
                    P.reduce_or_p):
            return x if not p["axes"] else None
        if prim is P.slice_p:
            full = (all(s == 0 for s in p["start_indices"]) and tuple(p["limit_indices"]) == x.aval.shape
                    and all(s == 1 for s in p["strides"]))
            return x if full else None
        if prim is P.rev_p:
            return x if all(x.aval.shape[d] <= 1 for d in p["dimensions"]) else None
        if prim is P.pad_p:
            return x if all(tuple(c) == (0, 0, 0) for c in p["padding_config"]) else None
        if prim is P.concatenate_p:
            return x if len(xs) == 1 else None
        if prim is P.select_p:
            return xs[1] if _same_atom(xs[1], xs[2]) else None
        if prim is P.stop_gradient_p and drop_stop_gradient:
            return x
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


# ---------------------------------------------------------------------------- constant folding
def _host_value(c: Any) -> np.ndarray | None:
    """A constant as a NumPy array on the host, or None when it is not known (a tracer)."""
    if isinstance(c, Tracer):
        return None
    if isinstance(c, (np.ndarray, np.generic)):
        return np.asarray(c)
    if hasattr(c, "detach"):  # a torch tensor
        return c.detach().cpu().numpy()
    return np.asarray(c)


def uniform_value(a: np.ndarray, max_scan: int | None = None) -> Any:
    """The one value every element of ``a`` holds (bit for bit, so -0.0 is not 0.0), or None.

    A broadcast view (all strides 0) is recognised at once; otherwise the elements are
    compared, unless there are more than ``max_scan`` of them.
    """
    if a.size == 0:
        return None
    first = a.flat[0]
    if all(s == 0 for s in a.strides):
        return first
    if max_scan is not None and a.size > max_scan:
        return None
    if is_float(a.dtype) and a.dtype.kind == "f":
        if np.isnan(first):
            return None
        same = np.all(a == first) and np.all(np.signbit(a) == np.signbit(first))
    else:
        same = np.all(a == first)
    return first if same else None


def _const_uniform_value(c: Any) -> Any:
    """``uniform_value`` of a constant of any backend, without copying big ones to the host."""
    if isinstance(c, Tracer):
        return None
    if isinstance(c, (np.ndarray, np.generic)):
        return uniform_value(np.asarray(c), _SCAN_LIMIT)
    stride = getattr(c, "stride", None)  # torch: an expanded tensor has zero strides
    if callable(stride) and c.numel() > 0 and all(s == 0 for s in stride()):
        return _host_value(c[(0,) * c.ndim])[()]
    host = _host_value(c) if getattr(c, "numel", lambda: 0)() <= _SCAN_LIMIT else None
    return None if host is None else uniform_value(host)


def _numpy_impls() -> dict:
    from functrace.backends.registry import load_backend  # the pass computes with NumPy whatever runs the code

    return load_backend("numpy").impls


class _Known:
    """What folding knows about a value: an array (a constant of any backend, copied to the
    host only when an equation reads it), or one scalar repeated (uniform)."""

    __slots__ = ("array", "scalar")

    def __init__(self, array: Any = None, scalar: Any = None):
        self.array = array
        self.scalar = scalar

    def full(self, aval: ShapedArray) -> np.ndarray | None:
        if self.array is not None:
            return _host_value(self.array)
        if aval.size > FOLD_LIMIT:
            return None
        return np.full(aval.shape, self.scalar, dtype=aval.dtype)


def _fold_eqn(eqn: JaxprEqn, known: list[_Known], impl: Callable) -> _Known | None:
    """Evaluate one equation whose operands are all known; None when it should stay."""
    prim, out = eqn.primitive, eqn.outvars[0].aval
    if all(k.scalar is not None for k in known):
        if prim.elementwise:
            r = np.asarray(impl(*[k.scalar for k in known], **eqn.params))
            return _Known(scalar=r.astype(out.dtype)[()]) if r.shape == () and r.dtype == out.dtype else None
        if prim in _UNIFORM_PRESERVING and out.size > 0:
            return _Known(scalar=known[0].scalar)
    vals = [k.full(x.aval) for k, x in zip(known, eqn.invars, strict=True)]
    if any(v is None for v in vals):
        return None
    r = np.asarray(impl(*vals, **eqn.params))
    if r.shape != out.shape or r.dtype != out.dtype:
        return None
    u = uniform_value(r)
    if u is not None:
        return _Known(scalar=u)
    return _Known(array=r) if r.size <= FOLD_LIMIT else None


def fold_constants(closed: ClosedJaxpr) -> ClosedJaxpr:
    """Evaluate, once and with NumPy, every equation whose operands are all known.

    Known values are literals, constants, and folded results. A rank-0 result becomes a
    literal; a uniform result (zeros, ones, ...) becomes ``broadcast_in_dim`` of a literal,
    which ``simplify`` can then absorb into elementwise consumers; any other result becomes a
    new constant (up to ``FOLD_LIMIT`` elements). Uniform constants of the input are turned into
    broadcasts the same way. Equations whose evaluation fails are kept, so the error happens
    when the program runs, as it would without folding.
    """
    jaxpr = closed.jaxpr
    impls = _numpy_impls()
    known: dict[int, _Known] = {}
    subst: dict[int, Atom] = {}
    constvars, consts, eqns = [], [], []
    changed = False
    for v, c in zip(jaxpr.constvars, closed.consts, strict=True):
        u = _const_uniform_value(c)
        if u is None:
            constvars.append(v)
            consts.append(c)
            if not isinstance(c, Tracer):
                known[id(v)] = _Known(array=c)
            continue
        changed = True
        known[id(v)] = _Known(scalar=u)
        if v.aval.shape == ():
            subst[id(v)] = _scalar_literal(u, v.aval.dtype)
        else:
            eqns.append(_uniform_eqn(v, u, None))

    def lookup(x: Atom) -> _Known | None:
        if isinstance(x, Literal):
            return _Known(scalar=np.asarray(x.val, dtype=x.aval.dtype)[()])
        return known.get(id(x))

    with np.errstate(all="ignore"):
        for eqn in jaxpr.eqns:
            eqn, renamed = _renamed(eqn, subst)
            changed = changed or renamed
            invars = eqn.invars
            ks = [lookup(x) for x in invars]
            prim = eqn.primitive
            if prim is P.broadcast_in_dim_p and isinstance(invars[0], Literal):
                known[id(eqn.outvars[0])] = ks[0]  # already the compact form of a uniform array
                eqns.append(eqn)
                continue
            if not foldable(prim) or any(k is None for k in ks) or prim not in impls:
                eqns.append(eqn)
                continue
            try:
                res = _fold_eqn(eqn, ks, impls[prim])
            except Exception:  # e.g. integer ** negative: leave it to fail at run time, as without folding
                res = None
            if res is None:
                eqns.append(eqn)
                continue
            changed = True
            out = eqn.outvars[0]
            known[id(out)] = res
            if res.array is not None:
                constvars.append(out)
                consts.append(res.array)
            elif out.aval.shape == ():
                subst[id(out)] = _scalar_literal(res.scalar, out.aval.dtype)
            else:
                eqns.append(_uniform_eqn(out, res.scalar, eqn.source_info))
    if not changed:
        return closed
    outvars = [_read(subst, x) for x in jaxpr.outvars]
    new = ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, outvars, eqns), consts, closed.in_tree, closed.out_tree)
    return prune_consts(new)


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
def optimize(closed: ClosedJaxpr, drop_stop_gradient: bool = False, max_rounds: int = 10,
             sub_jaxprs: bool = False) -> ClosedJaxpr:
    """All passes, repeated until nothing changes (or ``max_rounds``): fold, forward, simplify,
    CSE, DCE. Constants nothing reads any more are dropped. With ``sub_jaxprs``, the jaxprs in
    params are optimised too (see ``optimize_sub_jaxprs``)."""
    if sub_jaxprs:
        j = optimize_sub_jaxprs(closed.jaxpr, drop_stop_gradient)
        if j is not closed.jaxpr:
            closed = ClosedJaxpr(j, closed.consts, closed.in_tree, closed.out_tree)
    for _ in range(max_rounds):
        before = closed
        closed = fold_constants(closed)
        j = closed.jaxpr
        j = forward_identities(j, drop_stop_gradient, tidy=False)
        j = simplify(j, tidy=False)
        j = cse(j, tidy=False)
        if j is not closed.jaxpr:
            closed = ClosedJaxpr(j, closed.consts, closed.in_tree, closed.out_tree)
        closed = prune_consts(closed)  # one DCE per round, which also drops unread constants
        if closed is before:
            break
    return closed


__all__ = ["dce", "cse", "fold_constants", "simplify", "forward_identities", "optimize", "optimize_sub_jaxprs",
           "has_sub_jaxprs", "prune_consts", "uniform_value"]
