"""Peephole simplifications applied while equations are recorded.

Derivative rules multiply by literal ones, negate negations and scale by constants; folding
these as they are traced keeps every level of a nested derivative small before the next level
differentiates it (the n-th derivative of tanh stays polynomial in size). Each rule returns an
equivalent tracer, or None to record the equation as written. Only rewrites that are exact in
floating point for every input are made, except constant re-association (c1 * (c2 * x) ->
(c1 * c2) * x), which may differ in the last bit. ``x * 0`` is *not* rewritten: it is nan for
x = inf or nan.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import ops as P
from functrace.ir import Literal
from functrace.tracing import Trace, Tracer, peephole_rules


def unit_identity(prim: Any, a: Any, b: Any) -> tuple[int, bool] | None:
    """``prim(a, b)`` as one of its operands, or its negation, where the other operand is a
    known scalar that makes it so: x + 0, 0 + x, x - 0, 0 - x, x * 1, 1 * x, x * -1, -1 * x,
    x / 1. ``a`` and ``b`` are the operands' known scalar values (None where unknown). Returns
    (index of the operand that remains, whether to negate it), or None.

    The one table of these identities: the peepholes below apply it while tracing, and
    ``transforms.passes.simplify`` to a finished jaxpr; each caller checks the shapes.
    """
    if prim is P.add_p:
        return (1, False) if _equals(a, 0) else (0, False) if _equals(b, 0) else None
    if prim is P.sub_p:
        return (0, False) if _equals(b, 0) else (1, True) if _equals(a, 0) else None
    if prim is P.mul_p:
        for i, v in ((1, a), (0, b)):
            if _equals(v, 1) or _equals(v, -1):
                return i, bool(v == -1)
        return None
    if prim is P.div_p:
        return (0, False) if _equals(b, 1) else None
    return None


def _equals(value: Any, target: int) -> bool:
    return value is not None and bool(value == target)


def _literal_value(x: Any) -> Any:
    """The value of a numeric scalar literal, else None."""
    return x.val if type(x) is Literal and x.aval.dtype.kind in "fiuc" and x.aval.shape == () else None


def _unit(trace: Trace, prim: Any, a: Any, b: Any) -> Tracer | None:
    """``unit_identity`` applied while tracing, where the remaining operand has the result's shape."""
    ident = unit_identity(prim, _literal_value(a), _literal_value(b))
    if ident is None:
        return None
    i, negate = ident
    x, other = (a, b) if i == 0 else (b, a)
    if not _same_shape_as_result(x, other):
        return None
    return trace.process(P.neg_p, (x,), {}) if negate else x


def _same_shape_as_result(x: Any, other: Any) -> bool:
    """``x`` can stand for ``op(x, other)``: the other operand does not broadcast it."""
    return type(x) is Tracer and (other.aval.shape == () or other.aval.shape == x.aval.shape)


def _scaled(x: Any) -> tuple[Any, Any] | None:
    """(c, y) when the tracer ``x`` was recorded as ``c * y`` or ``y * c`` with a literal c."""
    prod = getattr(x, "producer", None) if type(x) is Tracer else None
    if prod is None:
        return None
    prim, ins = prod
    if prim is P.mul_p:
        a, b = ins
        if type(a) is Literal and type(b) is Tracer and b.aval == x.aval:
            return a.val, b
        if type(b) is Literal and type(a) is Tracer and a.aval == x.aval:
            return b.val, a
    if prim is P.neg_p and type(ins[0]) is Tracer:
        return np.asarray(-1, dtype=x.aval.dtype)[()], ins[0]
    return None


def _mul(trace: Trace, c: Any, y: Tracer) -> Tracer:
    c = np.asarray(c, dtype=y.aval.dtype)[()]
    if c == 1:
        return y
    if c == -1:
        return trace.process(P.neg_p, (y,), {})
    return trace.process(P.mul_p, (c, y), {})


def _mul_rule(trace: Trace, ins: list, params: dict) -> Tracer | None:
    a, b = ins
    unit = _unit(trace, P.mul_p, a, b)
    if unit is not None:
        return unit
    if type(b) is Literal and type(a) is not Literal:
        a, b = b, a  # the literal first
    if type(a) is Literal and type(b) is Tracer and a.aval.shape == ():
        inner = _scaled(b)
        if inner is not None:
            c, y = inner
            return _mul(trace, a.val * c, y)
        return None
    if type(a) is Tracer and type(b) is Tracer and a.producer is not None and b.producer is not None:
        # (c1 * x) * (c2 * y) = (c1 * c2) * (x * y): constants move outward, so the products of
        # the same factors meet in CSE and sums of multiples of them can be collected. Only
        # between computed values: scaling by an input or a constant array (a tangent times a
        # residual, say) gains nothing and would cost a second equation.
        sa, sb = _scaled(a), _scaled(b)
        if sa is not None or sb is not None:
            ca, xa = sa if sa is not None else (1, a)
            cb, xb = sb if sb is not None else (1, b)
            return _mul(trace, ca * cb, trace.process(P.mul_p, (xa, xb), {}))
    return None


def _as_multiple(x: Any) -> tuple[Any, Any]:
    """(c, y) with x = c * y (c = 1 when x is not a recorded scaling)."""
    s = _scaled(x)
    return s if s is not None else (np.asarray(1, dtype=x.aval.dtype)[()], x)


def _collect(trace: Trace, a: Any, b: Any, sign: int) -> Tracer | None:
    """c1 * y + c2 * y = (c1 + c2) * y (and the same for a difference) when both scale one y."""
    if type(a) is not Tracer or type(b) is not Tracer or a.aval != b.aval:
        return None
    (ca, ya), (cb, yb) = _as_multiple(a), _as_multiple(b)
    if ya is yb:
        return _mul(trace, ca + sign * cb, ya)
    return None


def _neg_rule(trace: Trace, ins: list, params: dict) -> Tracer | None:
    inner = _scaled(ins[0])
    if inner is not None:
        c, y = inner
        return _mul(trace, -c, y)
    return None


def _negated(x: Any) -> Tracer | None:
    """y when the tracer ``x`` was recorded as ``neg y``."""
    prod = getattr(x, "producer", None) if type(x) is Tracer else None
    if prod is not None and prod[0] is P.neg_p and type(prod[1][0]) is Tracer:
        return prod[1][0]
    return None


def _add_rule(trace: Trace, ins: list, params: dict) -> Tracer | None:
    a, b = ins
    unit = _unit(trace, P.add_p, a, b)
    if unit is not None:
        return unit
    collected = _collect(trace, a, b, 1)  # also x + x = 2 * x
    if collected is not None:
        return collected
    nb, na = _negated(b), _negated(a)
    if nb is not None and nb.aval == b.aval:  # a + (-y) = a - y
        return trace.process(P.sub_p, (a, nb), {})
    if na is not None and na.aval == a.aval:  # (-y) + b = b - y
        return trace.process(P.sub_p, (b, na), {})
    return None


def _sub_rule(trace: Trace, ins: list, params: dict) -> Tracer | None:
    a, b = ins
    unit = _unit(trace, P.sub_p, a, b)
    if unit is not None:
        return unit
    collected = _collect(trace, a, b, -1)
    if collected is not None:
        return collected
    nb = _negated(b)
    if nb is not None and nb.aval == b.aval:  # a - (-y) = a + y
        return trace.process(P.add_p, (a, nb), {})
    return None


def _div_rule(trace: Trace, ins: list, params: dict) -> Tracer | None:
    return _unit(trace, P.div_p, *ins)


peephole_rules[P.mul_p] = _mul_rule
peephole_rules[P.neg_p] = _neg_rule
peephole_rules[P.add_p] = _add_rule
peephole_rules[P.sub_p] = _sub_rule
peephole_rules[P.div_p] = _div_rule
