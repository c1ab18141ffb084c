"""Eager forward mode: each primitive applied to a ``JVPTracer`` runs its JVP rule at once.

``ft.jvp`` on concrete arguments (no transform open) uses it: primal and tangent are both
concrete arrays, computed together as the function runs, so every intermediate is freed as soon
as the user's program drops it (the peak memory of eager ``jvp`` is that of the program run
twice side by side, as in JAX) and Python control flow on values works. It splits nothing: the
one partial evaluator (primal values on one side, a linear program over the tangents on the
other) is ``transforms.linearize``, which ``linearize``, ``vjp`` and the tape's pairs use. Under
a transform, ``jvp`` traces the function and runs ``jvp_jaxpr`` on the simplified program
instead. Both routes apply the same JVP rules.
"""

from __future__ import annotations

from typing import Any

from functrace.rules import Zero, jvp_rule, missing_rule
from functrace.tracing import Trace, Tracer, bind, get_aval, leaked_tracer_error


class JVPTracer(Tracer):
    """A concrete primal value carried with its tangent (a concrete array, or Zero).

    Every result of an operation on one is again one, so user code sees the same traced-value
    API (``.astype``, ``.T``, NumPy dispatch) on every backend."""

    __slots__ = ("tangent",)

    def __init__(self, trace: "JVPTrace", primal: Any, tangent: Any, aval: Any = None):
        super().__init__(trace, get_aval(primal) if aval is None else aval, None, primal)
        self.tangent = tangent


class JVPTrace(Trace):
    """Records nothing itself: it pushes tangents through each primitive as it is applied."""

    records_programs = False

    def process(self, prim, args, params):
        primals = []
        tangents = []
        nonzero = False
        for a in args:
            if type(a) is JVPTracer and a._trace is self:
                primals.append(a.val)
                tangents.append(a.tangent)
                nonzero = nonzero or not isinstance(a.tangent, Zero)
            else:
                if isinstance(a, Tracer) and not a._trace.active:
                    raise leaked_tracer_error(a)
                primals.append(a)
                tangents.append(Zero(get_aval(a)))
        if not nonzero:  # nothing to differentiate: compute it, and keep it a tracer for the user
            out = bind(prim, *primals, **params)
            if prim.multiple_results:
                return [JVPTracer(self, o, Zero(get_aval(o))) for o in out]
            return JVPTracer(self, out, Zero(get_aval(out)))
        rule = jvp_rule(prim)
        if rule is None:
            raise missing_rule(prim, "JVP", "forward-mode differentiation (jvp)")
        out, t_out = rule(primals, tangents, **params)
        if prim.multiple_results:
            return [JVPTracer(self, o, t) for o, t in zip(out, t_out, strict=True)]
        return JVPTracer(self, out, t_out)

    def pair(self, primal: Any, tangent: Any, aval: Any = None) -> Any:
        """An input of the function being differentiated: a tracer (tangent may be Zero); ``aval``
        overrides the primal's (a Python scalar's weak one)."""
        return JVPTracer(self, primal, tangent, aval)

    def unpack(self, x: Any) -> tuple[Any, Any]:
        """(primal, tangent or Zero) of an output of the function being differentiated."""
        if type(x) is JVPTracer and x._trace is self:
            return x.val, x.tangent
        if isinstance(x, Tracer) and not x._trace.active:
            raise leaked_tracer_error(x)
        return x, Zero(get_aval(x))

