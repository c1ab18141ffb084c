"""What the control-flow primitives share: tracing a body into a sub-jaxpr, running one on the
active backend (``run_jaxpr``, the inner loop of every implementation), the backend-neutral
implementations (``impls``, added to every backend by the registry), and small helpers of
their rules.

Sub-jaxprs are ``ClosedJaxpr``s whose own constants are only ever concrete arrays: a body may
close over values of an enclosing trace (say the parameters being differentiated); those become
explicit leading operands of the primitive, so every transform sees them as ordinary inputs.
Tracing records an operation in the innermost trace among its operands, so an operation in a
body whose operands are all values the body closes over is recorded outside the loop or
branch: computed once, before it (loop-invariant code motion for free).
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.api import to_backend
from functrace.avals import ShapedArray
from functrace.ir import ClosedJaxpr, Jaxpr, Literal, dependent_outputs
from functrace.primitives import Primitive
from functrace.rules import (
    Zero,
    is_differentiable,
)
from functrace.tracing import (
    Tracer,
    current_backend,
    get_aval,
    new_trace,
    user_error,
)

# Backend-neutral implementations of the primitives with sub-jaxprs.
impls: dict[Primitive, Callable[..., Any]] = {}

# ---------------------------------------------------------------------------- tracing helpers
def trace_to_closed(fn: Callable[[list], list], avals: Sequence[ShapedArray], vals: Sequence[Any] | None = None
                    ) -> tuple[ClosedJaxpr, list]:
    """Trace ``fn`` (flat list in, flat list out) at abstract ``avals`` (carrying ``vals`` when given).

    Returns a ClosedJaxpr without constants whose leading invars stand for the values ``fn``
    closed over, and those values (tracers of enclosing traces, or arrays), to be passed as
    leading operands.
    """
    vals = [None] * len(avals) if vals is None else vals
    with new_trace() as trace:
        outs = fn([trace.new_arg(a, v) for a, v in zip(avals, vals, strict=True)])
        jaxpr, consts = trace.to_jaxpr(outs)
    closed = Jaxpr([], list(jaxpr.constvars) + list(jaxpr.invars), jaxpr.outvars, jaxpr.eqns)
    return ClosedJaxpr(closed, []), consts


def _promote_weak_carry(init_flat: list, carry_avals: list, out_avals: Sequence[ShapedArray]) -> bool:
    """A loop carry started from a Python scalar takes the dtype the body gives it (JAX's rule):
    ``fori_loop(0, n, lambda i, c: c + x.sum(), 0.0)`` with float32 ``x`` carries float32, as
    the same loop written in Python would. Updates the lists in place; True when the body must
    be traced again."""
    changed = False
    for i, (a, o) in enumerate(zip(carry_avals, out_avals, strict=True)):
        if not a.weak_type or a.dtype == o.dtype or a.shape != o.shape:
            continue
        dt = np.result_type(np.zeros((), a.dtype)[()].item(), o.dtype)  # as a Python scalar meets o
        if dt == a.dtype:
            continue
        x = init_flat[i]
        init_flat[i] = lax.convert_element_type(x, dt) if isinstance(x, Tracer) else np.asarray(x, dtype=dt)[()]
        carry_avals[i] = ShapedArray(a.shape, dt)
        changed = True
    return changed


def _avals_str(avals: Sequence[ShapedArray]) -> str:
    return "(" + ", ".join(a.str_short() for a in avals) + ")"


def _operand(x: Any) -> Any:
    """An operand as given when it is traced or a scalar (which the IR writes inline as a literal);
    otherwise an array of the active backend."""
    if isinstance(x, (Tracer, bool, int, float, np.generic)):
        return x
    return to_backend(x)


def _flat_avals(leaves: Sequence[Any]) -> list[ShapedArray]:
    return [get_aval(x) for x in leaves]


def run_jaxpr(closed: ClosedJaxpr, args: Sequence[Any]) -> list:
    """Run ``closed`` on concrete arrays of the active backend: the inner loop of every
    control-flow implementation. A body run often is compiled by the backend
    (``Backend.compiled_body``); otherwise it is interpreted, one implementation call per
    equation, so this stays small."""
    backend = current_backend()
    impl, native, asarray = backend.impls, backend.array_types, backend.asarray
    compiled_body = getattr(backend, "compiled_body", None)
    compiled = compiled_body(closed) if compiled_body is not None else None
    if compiled is not None:
        return list(compiled(*[x if isinstance(x, native) else asarray(x) for x in args]))
    jaxpr = closed.jaxpr
    env: dict[int, Any] = {}
    for v, c in zip(jaxpr.constvars, closed.consts, strict=True):
        env[id(v)] = c if isinstance(c, native) else asarray(c)
    for v, x in zip(jaxpr.invars, args, strict=True):
        env[id(v)] = x if isinstance(x, native) else asarray(x)

    def read(x: Any) -> Any:
        return asarray(x.val) if type(x) is Literal else env[id(x)]

    for eqn in jaxpr.eqns:
        out = impl[eqn.primitive](*[read(x) for x in eqn.invars], **eqn.params)
        if eqn.primitive.multiple_results:
            for v, o in zip(eqn.outvars, out, strict=True):
                env[id(v)] = o
        else:
            env[id(eqn.outvars[0])] = out
    return [read(x) for x in jaxpr.outvars]


def _native(xs: Sequence[Any]) -> list:
    """Outputs of an implementation as the active backend's arrays (literals come back as scalars)."""
    b = current_backend()
    return [x if b.is_native(x) else b.asarray(x) for x in xs]


def _error(cls: type, msg: str) -> Exception:
    return user_error(cls(msg))


# ---------------------------------------------------------------------------- helpers of the rules
def _fixpoint(closed: ClosedJaxpr, before: list[bool], carry: list[bool], after: list[bool],
              allowed: Sequence[bool]) -> list[bool]:
    """Flags of the loop carries (a carry is flagged when its initial value is, or the body makes
    it depend on a flagged input), restricted to ``allowed``; the carry outputs come first."""
    carry = [c and a for c, a in zip(carry, allowed, strict=True)]
    n = len(carry)
    while True:
        out = dependent_outputs(closed, before + carry + after)[:n]
        new = [(c or o) and a for c, o, a in zip(carry, out, allowed, strict=True)]
        if new == carry:
            return carry
        carry = new


def _split(seq: Sequence, *sizes: int) -> list[list]:
    out, i = [], 0
    for n in sizes:
        out.append(list(seq[i:i + n]))
        i += n
    out.append(list(seq[i:]))
    return out


def _zeros(a: ShapedArray) -> Any:
    return lax.full(a.shape, 0, a.dtype)


def _nonzero(tangents: Sequence[Any], avals: Sequence[ShapedArray]) -> list[bool]:
    return [not isinstance(t, Zero) and is_differentiable(a) for t, a in zip(tangents, avals, strict=True)]


def _restructured(closed: ClosedJaxpr, linear: Sequence[bool]) -> tuple[Jaxpr, list[int]]:
    """``closed`` as a jaxpr whose invars are the linear inputs; the non-linear inputs become
    constvars after the jaxpr's own constants (the form ``backward_pass`` takes). Also returns
    the positions of the non-linear inputs."""
    j = closed.jaxpr
    lin_vars = [v for v, lin in zip(j.invars, linear, strict=True) if lin]
    nonlin = [i for i, lin in enumerate(linear) if not lin]
    return Jaxpr(list(j.constvars) + [j.invars[i] for i in nonlin], lin_vars, j.outvars, j.eqns), nonlin
