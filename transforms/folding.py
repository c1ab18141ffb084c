"""Constant folding, the IR pass that evaluates once, with NumPy, every equation whose operands
are all known (literals and constants). A result that repeats one value (a "uniform" array,
e.g. zeros) is kept as ``broadcast_in_dim`` of a scalar literal rather than as a big constant.

Folding computes with NumPy whatever backend runs the program, so the IR a transform produces
does not depend on the backend. Split out of ``functrace.transforms.passes``, which runs it in
``optimize`` and re-exports ``fold_constants`` and ``uniform_value``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace import ops as P
from functrace.avals import ShapedArray, is_float
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal
from functrace.primitives import Primitive
from functrace.tracing import Tracer
from functrace.transforms.rewriting import Atom, _read, _renamed, _scalar_literal, _uniform_eqn, prune_consts

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


def known_constants(jaxpr: Jaxpr, values: list, known: dict, constvars: list, consts: list, eqns: list,
                    subst: dict) -> bool:
    """Enter ``jaxpr``'s constants into ``known``: each stays a constant (appended to
    ``constvars``/``consts``), or, when uniform, becomes a literal (in ``subst``) or a broadcast
    of one (appended to ``eqns``). True when some constant was replaced."""
    changed = False
    for v, c in zip(jaxpr.constvars, values, strict=True):
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
    return changed


def fold_eqn(eqn: JaxprEqn, known: dict[int, _Known], impls: dict) -> _Known | None:
    """What folding knows of ``eqn``'s result, recorded in ``known``; None (and nothing recorded)
    when the equation stays as it is. A broadcast of a literal is recorded as known but stays:
    it is already the compact form of a uniform array (None is returned for it too)."""
    invars = eqn.invars
    prim = eqn.primitive
    for x in invars:  # the common case, an operand not known, decided before building anything
        if type(x) is not Literal and id(x) not in known:
            return None
    ks = [_Known(scalar=np.asarray(x.val, dtype=x.aval.dtype)[()]) if type(x) is Literal else known[id(x)]
          for x in invars]
    if prim is P.broadcast_in_dim_p and type(invars[0]) is Literal:
        known[id(eqn.outvars[0])] = ks[0]
        return None
    if not foldable(prim) or prim not in impls:
        return None
    try:
        res = _fold_eqn(eqn, ks, impls[prim])
    except Exception:  # e.g. integer ** negative: leave it to fail at run time, as without folding
        return None
    if res is not None:
        known[id(eqn.outvars[0])] = res
    return res


def place_folded(eqn: JaxprEqn, res: _Known, constvars: list, consts: list, subst: dict) -> JaxprEqn | None:
    """Put a folded result where it belongs: a new constant, a literal (rank 0, in ``subst``),
    or the returned ``broadcast_in_dim`` of a literal that replaces ``eqn``."""
    out = eqn.outvars[0]
    if res.array is not None:
        constvars.append(out)
        consts.append(res.array)
        return None
    if out.aval.shape == ():
        subst[id(out)] = _scalar_literal(res.scalar, out.aval.dtype)
        return None
    return _uniform_eqn(out, res.scalar, eqn.source_info)


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
    changed = known_constants(jaxpr, closed.consts, known, constvars, consts, eqns, subst)

    with np.errstate(all="ignore"):
        for eqn in jaxpr.eqns:
            eqn, renamed = _renamed(eqn, subst)
            changed = changed or renamed
            res = fold_eqn(eqn, known, impls)
            if res is None:
                eqns.append(eqn)
                continue
            changed = True
            replacement = place_folded(eqn, res, constvars, consts, subst)
            if replacement is not None:
                eqns.append(replacement)
    if not changed:
        return closed
    outvars = [_read(subst, x) for x in jaxpr.outvars]
    new = ClosedJaxpr(Jaxpr(constvars, jaxpr.invars, outvars, eqns), consts, closed.in_tree, closed.out_tree)
    return prune_consts(new)


