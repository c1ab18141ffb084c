"""Peephole simplifications applied while equations are recorded.

Derivative rules multiply by literal ones, negate negations and scale by constants; folding
these as they are traced keeps every level of a nested derivative small before the next level
differentiates it (the n-th derivative of tanh stays polynomial in size). Each rule returns an
equivalent tracer, or None to record the equation as written. Only rewrites that are exact in
floating point for every input -- signed zeros, inf, nan, overflow, underflow and integer
wrap-around included -- are made:

- ``x * 1``, ``x / 1``, ``x * -1 = -x``, ``-(-x) = x``, ``a + (-y) = a - y``, ``a - (-y) = a + y``;
- ``x + (-0.0)`` and ``x - (+0.0)`` are ``x``, ``(-0.0) - x`` is ``-x`` (``x + 0.0`` is not: it
  turns -0.0 into +0.0; integers take any zero);
- like terms ``c1 * y + c2 * y = (c1 + c2) * y`` when both terms are exact and of one sign
  (``c1``, ``c2`` powers of two of magnitude >= 1, as in ``x + x = 2 * x``): one rounding of the
  same sum either way; for integers, always;
- ``c1 * (c2 * x) = (c1 * c2) * x`` only when no rounding, overflow or underflow can tell them
  apart (``scale_product``): one of the constants is +-1, or a power of two of magnitude >= 1
  applied outside (or inside, with the other of magnitude >= 1), and the product is exact;
  negations move outward through products (``(-x) * y = -(x * y)``).

``x * 0`` is *not* rewritten: it is nan for x = inf or nan, and -0.0 for negative x.

Opt-in, ``ft.config.update("inexact_rewrites", True)`` (or ``FUNCTRACE_INEXACT_REWRITES=1``) also
allows the algebra that is not exact for every input: constants re-associate whatever their
values (``c1 * (c2 * x)``, ``(c1 * x) * (c2 * y) = (c1 * c2) * (x * y)``) and like terms collect
whatever their constants (``x - x = 0 * x``). Results may then differ from the program as written
in the last bits, in the sign of a zero, or by overflowing where it does not (``x - x`` at -3
gives -0.0, NumPy +0.0; ``(x * 1e200) * 1e-200`` at 1e200 gives 1e200, NumPy inf); the n-th
derivatives are smaller (192 equations instead of 279 for the 8th derivative of tanh, as before
exactness was required). ``jit`` and the eager tape keep apart what they derived with and
without it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import config as _config
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
    if prim is P.add_p:  # x + (-0.0) is x for every x; x + (+0.0) is not (at x = -0.0)
        return (1, False) if _zero(a, negative=True) else (0, False) if _zero(b, negative=True) else None
    if prim is P.sub_p:  # x - (+0.0) is x; (-0.0) - x is -x
        return (0, False) if _zero(b, negative=False) else (1, True) if _zero(a, negative=True) else None
    if prim is P.mul_p:
        for i, v in ((1, a), (0, b)):
            if _equals(v, 1) or _equals(v, -1):
                return i, bool(v == -1)
        return None
    if prim is P.div_p:
        return (0, False) if _equals(b, 1) else None
    return None


_REAL_SCALARS = (float, int, np.float64, np.float32)  # the common literals, decided without np.asarray


def _equals(value: Any, target: int) -> bool:
    if value is None:
        return False
    if type(value) in _REAL_SCALARS:
        return bool(value == target)
    return np.asarray(value).dtype.kind != "c" and bool(value == target)


def _zero(value: Any, negative: bool) -> bool:
    """``value`` is an additive identity on the side it stands: any integer zero; a floating zero
    of the given sign (x + (-0.0) = x, x - (+0.0) = x, exactly; the other signs are not)."""
    if value is None or not _equals(value, 0):
        return False
    kind = np.asarray(value).dtype.kind
    if kind == "f" and _config.INEXACT_REWRITES:  # opt-in: either zero (x + 0.0 = x but for x = -0.0)
        return True
    return kind in "iub" or (kind == "f" and bool(np.signbit(value)) == negative)


def scale_product(outer: Any, inner: Any, dtype: Any) -> Any:
    """``outer * inner`` when ``outer * (inner * x) == (outer * inner) * x`` bitwise for every x
    of ``dtype``, else None.

    Integers wrap around, so their products always re-associate. For floats: a factor of +-1
    only flips signs; a power of two ``p`` with ``|p| >= 1`` scales the floating-point grid
    without rounding, so ``p * round(c * x) == round(p * c * x)`` (overflowing together), and
    ``c * (p * x) == (c * p) * x`` when also ``|c| >= 1`` (``p * x`` can then only overflow
    where the product does). Zero, inf and nan constants never combine (``0 * inf`` is nan).
    """
    dtype = np.dtype(dtype)
    o, i = np.asarray(outer, dtype=dtype), np.asarray(inner, dtype=dtype)
    if dtype.kind in "iub":
        with np.errstate(all="ignore"):
            return np.multiply(o, i, dtype=dtype)[()]
    if dtype.kind != "f" or not (np.isfinite(o) and np.isfinite(i)) or o == 0 or i == 0:
        return None
    if _config.INEXACT_REWRITES:  # opt-in: any finite product
        with np.errstate(all="ignore"):
            prod = np.multiply(o, i, dtype=dtype)
        return prod[()] if np.isfinite(prod) and prod != 0 else None
    if not (abs(o) == 1 or abs(i) == 1 or (_power_of_two(o) and abs(o) >= 1)
            or (_power_of_two(i) and abs(i) >= 1 and abs(o) >= 1)):
        return None
    with np.errstate(all="ignore"):
        prod = np.multiply(o, i, dtype=dtype)
    exact = np.isfinite(prod) and prod != 0 and np.float64(o) * np.float64(i) == np.float64(prod)
    return prod[()] if exact else None


def _power_of_two(v: np.ndarray) -> bool:
    mantissa, _ = np.frexp(abs(v))
    return bool(mantissa == 0.5)


def _literal_value(x: Any) -> Any:
    """The value of a numeric scalar literal, else None."""
    return x.val if type(x) is Literal and x.aval.dtype.kind in "fiuc" and x.aval.shape == () else None


def _unit(trace: Trace, prim: Any, a: Any, b: Any) -> Tracer | None:
    """``unit_identity`` applied while tracing, where the remaining operand has the result's shape."""
    va, vb = _literal_value(a), _literal_value(b)
    if va is None and vb is None:  # no known scalar: no identity applies (the common case)
        return None
    ident = unit_identity(prim, va, vb)
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
    if prim is P.neg_p and type(ins[0]) is Tracer and x.aval.dtype.kind != "b":
        return _minus_one(x.aval.dtype), ins[0]
    return None


def _minus_one(dtype: Any) -> Any:
    """-1 in ``dtype``; for unsigned integers, its wrap-around (255 for uint8), as ``neg`` gives."""
    return np.negative(np.ones((), dtype=dtype))[()]


def _mul(trace: Trace, c: Any, y: Tracer) -> Tracer:
    c = np.asarray(c, dtype=y.aval.dtype)[()]
    if c == 1:
        return y
    if c == _minus_one(y.aval.dtype):
        return trace.process(P.neg_p, (y,), {})
    if y.aval.dtype.kind == "f" and not _config.INEXACT_REWRITES:
        # -(c * y) is (-c) * y exactly: reuse the opposite multiple if there is one (with the
        # opt-in algebra, constants move outward instead, and a fresh multiple is smaller)
        opposite = trace.recorded(P.mul_p, (-c, y), {})
        if opposite is not None:
            return trace.process(P.neg_p, (opposite,), {}, simplify=False)
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
            combined = scale_product(a.val, c, y.aval.dtype)
            if combined is not None:
                return _mul(trace, combined, y)
        return None
    if type(a) is Tracer and type(b) is Tracer and a.producer is not None and b.producer is not None:
        if _config.INEXACT_REWRITES:
            return _constants_outward(trace, a, b)
        # (-x) * y = -(x * y), exactly: negations move outward, so the products of the same
        # factors meet in CSE. Only between computed values: a tangent times a residual gains
        # nothing and would cost a second equation. Other constants stay where they are: (c1 x)
        # (c2 y) may overflow where c1 c2 (x y) does not.
        na, nb = _negated(a), _negated(b)
        if (na is not None and na.aval == a.aval) or (nb is not None and nb.aval == b.aval):
            xa = na if na is not None and na.aval == a.aval else a
            xb = nb if nb is not None and nb.aval == b.aval else b
            flips = (xa is not a) != (xb is not b)
            prod = trace.process(P.mul_p, (xa, xb), {})
            return trace.process(P.neg_p, (prod,), {}) if flips else prod
    return None


def _constants_outward(trace: Trace, a: Tracer, b: Tracer) -> Tracer | None:
    """Opt-in (``inexact_rewrites``): ``(c1 * x) * (c2 * y) = (c1 * c2) * (x * y)``, so that the
    products of the same factors meet in CSE and their multiples collect as like terms. Not exact:
    ``c1 * x`` may overflow where ``x * y`` does not."""
    if _scaled(a) is None and _scaled(b) is None:
        return None
    (ca, xa), (cb, xb) = _as_multiple(a), _as_multiple(b)
    if xa.aval != a.aval or xb.aval != b.aval:
        return None
    with np.errstate(all="ignore"):
        c = np.multiply(np.asarray(ca, dtype=a.aval.dtype), np.asarray(cb, dtype=a.aval.dtype))
    if not np.isfinite(c):
        return None
    return _mul(trace, c[()], trace.process(P.mul_p, (xa, xb), {}))


def _as_multiple(x: Any) -> tuple[Any, Any]:
    """(c, y) with x = c * y (c = 1 when x is not a recorded scaling)."""
    s = _scaled(x)
    return s if s is not None else (np.asarray(1, dtype=x.aval.dtype)[()], x)


def _collect(trace: Trace, a: Any, b: Any, sign: int) -> Tracer | None:
    """Like terms: ``c1 * y +- c2 * y = (c1 +- c2) * y`` where that is exact. Integers wrap around
    exactly, so always. Floats only when both terms are exact -- ``c1`` and ``c2`` powers of two
    of magnitude >= 1 (1 included: ``x + x = 2x``) -- and of one sign in the sum, so that
    neither term can overflow alone: then each side rounds the same exact sum once. In general
    it is not exact (``3x - 2x`` is nan where ``3x`` overflows, ``x - x`` is +0.0 where
    ``0 * x`` is -0.0)."""
    if type(a) is not Tracer or type(b) is not Tracer or a.aval != b.aval:
        return None
    sa, sb = _scaled(a), _scaled(b)
    if (a if sa is None else sa[1]) is not (b if sb is None else sb[1]):
        return None  # not like terms (the common case: decided before building any constant)
    (ca, ya), (cb, _) = _as_multiple(a), _as_multiple(b)
    dtype = a.aval.dtype
    if dtype.kind in "iu":
        with np.errstate(all="ignore"):
            c = np.add(ca, cb, dtype=dtype) if sign > 0 else np.subtract(ca, cb, dtype=dtype)
        return _mul(trace, c, ya)
    if dtype.kind != "f":
        return None
    ca, cb = np.asarray(ca, dtype=dtype), np.asarray(sign * cb, dtype=dtype)
    if _config.INEXACT_REWRITES:  # opt-in: whatever the constants (x - x = 0 * x)
        with np.errstate(all="ignore"):
            total = ca + cb
        return _mul(trace, total, ya) if np.isfinite(total) else None
    exact_terms = all(np.isfinite(c) and abs(c) >= 1 and _power_of_two(c) for c in (ca, cb))
    if not exact_terms or np.signbit(ca) != np.signbit(cb):
        return None
    return _mul(trace, ca + cb, ya)


def _neg_rule(trace: Trace, ins: list, params: dict) -> Tracer | None:
    inner = _scaled(ins[0])
    if inner is not None and inner[1].aval.dtype.kind != "b":
        c, y = inner
        with np.errstate(all="ignore"):
            return _mul(trace, np.negative(np.asarray(c, dtype=y.aval.dtype))[()], y)
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
