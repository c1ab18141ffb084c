"""Reverse mode inside ``jit``, as a tape of cached forward/backward jaxprs.

``ft.jit(ft.grad(f))`` differentiates ``f`` while ``jit`` traces it. The general route
(``transforms.autodiff``) traces ``f`` to a jaxpr, splits it (``linearize_at``) and transposes
the linear part, binding every derived operation through the tracing machinery: about four
``bind``s per operation of ``f``, most of the cost of jit's first call on a long program. Here,
as on the eager tape (``transforms.vjp_tape``), ``f`` runs once on ``SymbolicTracer`` values,
and each primitive applied to one looks up the forward and backward jaxprs derived for its
signature (primitive, input types, params, which inputs are differentiated) by the same one
split and transpose interpreter (``vjp_tape.derive_pair``). The forward jaxpr's equations are
copied into jit's trace at once, renamed, with the user's line, without tracing them again; the
backward pass copies the backward jaxprs in reverse order, through the trace's simplifications
for a short tape (``COMPACT_BELOW``), as they are for a long one. The values are the general
route's: the same operations in the same order (``tests/test_symbolic_tape.py`` compares them
bit for bit).

A function that takes a derivative itself (``grad`` of ``grad``) is traced again on the general
route, whose nested levels differentiate whole simplified programs (the 8th derivative of tanh
is 279 equations that way, 422 from per-primitive jaxprs). Used only where the differentiated
inputs are abstract values of the innermost open trace and
that trace is jit's own (``Trace.optimized_later``): ``make_jaxpr``, the bodies of control flow
and the inner levels of other transforms keep the general route, whose programs are simplified
as they are traced. Primitives with sub-jaxprs (control flow, custom rules) and those without a
transpose rule take the general split for their one equation. A cotangent that is a tracer of
another transform (``vmap`` of the pullback) runs the backward jaxprs through ``bind``.
"""

from __future__ import annotations

import functools
import threading
from typing import Any, Callable, Sequence

import numpy as np

from functrace import config as _config
from functrace import ops as P
from functrace.avals import ShapedArray
from functrace.ir import ClosedJaxpr, JaxprEqn, Literal, Var
from functrace.primitives import Primitive
from functrace.rules import RuleTable, Zero, add_tangents, instantiate, is_differentiable
from functrace.tracing import (
    Trace,
    Tracer,
    current_source,
    eval_jaxpr,
    get_aval,
    leaked_tracer_error,
    literal_key,
    new_trace,
    open_traces,
)
from functrace.transforms.vjp_tape import _stage, derive_pair, one_equation_at
from functrace.util import user_frame

# The switch for tests that compare this route with the general one.
ENABLED = True
# A tape of fewer records than this copies its backward jaxprs through ``Trace.process``, whose
# simplifications (negations moved outward, like terms collected, ``a + (-b)`` as ``a - b``)
# give the general route's program: a short program is run many times, so its size matters more
# than the time to trace it. A longer tape copies them as they are (its backward pass then takes
# about half the time) into a program that can be a tenth longer (a chain of sin/cos: 544
# equations against 495).
COMPACT_BELOW = 2000


class _NestedDerivative(BaseException):
    """Raised when ``f`` itself takes a derivative while the symbolic tape runs it (``grad`` of
    ``grad``, ``jacrev``, ``jvp`` inside the loss, ...). Such a program is smaller when the inner
    derivative is differentiated as a whole, simplified program, so the run is abandoned and
    ``f`` is traced again on the general route. A BaseException: a user's ``except Exception``
    around the inner derivative must not catch it."""


_running = threading.local()  # .depth: symbolic tapes running f on this thread; .nested: f took a derivative


def no_nested_derivative() -> None:
    """Called on entry by every derivative transform: inside a symbolic tape's run, abandon it."""
    if getattr(_running, "depth", 0):
        _running.nested = True  # (also seen if the user's code swallows the exception)
        raise _NestedDerivative


_CACHE_LIMIT = 4096
# inexact_rewrites -> {signature: (out_avals, forward, backward, differentiable outputs), or _GENERAL}
_templates: dict[bool, dict] = {}
_templates_version = [RuleTable.version]


class SymbolicTracer(Tracer):
    """A value on the symbolic tape: ``primal`` is the jit trace's tracer (or a constant) that
    holds it, ``node`` numbers its cotangent slot (None: not differentiated)."""

    __slots__ = ("primal", "node")

    def __init__(self, trace: "SymbolicTape", aval: Any, primal: Any, node: int | None):
        # (Tracer.__init__'s assignments written out: one of these is made per operation.)
        self._trace = trace
        self.aval = aval
        self._var = None
        self.val = None
        self.producer = None
        self.primal = primal
        self.node = node


def _templates_for_now() -> dict:
    if _templates_version[0] != RuleTable.version:  # a rule changed since the jaxprs were derived
        _templates.clear()
        _templates_version[0] = RuleTable.version
    return _templates.setdefault(_config.INEXACT_REWRITES, {})


# What the cache holds for a signature that takes the general split (no transpose rule, or
# operands the primitive refuses: the general route raises that error at the user's line).
_GENERAL = "general"


def _derive(prim: Primitive, params: dict, avals: list, diff_in: tuple) -> Any:
    """``(out_avals, forward, backward, which outputs are differentiable)`` for one signature
    (see ``vjp_tape.derive_pair``), the jaxprs as ``_Copyable``, or ``_GENERAL``."""
    try:
        closed = one_equation_at(prim, params, avals)
        out_avals = [v.aval for v in closed.jaxpr.outvars]
        out_diff = [is_differentiable(a) for a in out_avals]
        forward, backward = derive_pair(closed, [i in diff_in for i in range(len(avals))], out_diff)
    except Exception:  # operands the rule refuses, no transpose rule, or a rule that needs the
        # operands' values: the general split on the actual operands does what the general route
        # does (raising its error at the user's line)
        return _GENERAL
    return out_avals, _Copyable(forward), _Copyable(backward), out_diff


class SymbolicTape(Trace):
    """Copies each primitive's forward jaxpr into ``outer`` (jit's trace) and records it."""

    def __init__(self, level: int, outer: Trace):
        super().__init__(level)
        self.outer = outer
        self.purpose = outer.purpose  # errors about abstract values name jit
        self.templates = _templates_for_now()
        # (backward jaxpr or pullback, residual values, input nodes, output nodes, output avals,
        #  source line)
        self.records: list[tuple] = []
        self.n_nodes = 0

    def new_input(self, primal: Any, aval: Any) -> SymbolicTracer:
        node = None
        if is_differentiable(aval):
            node = self.n_nodes
            self.n_nodes += 1
        return SymbolicTracer(self, aval, primal, node)

    def _new_node(self) -> int:
        self.n_nodes += 1
        return self.n_nodes - 1

    def process(self, prim: Primitive, args: tuple, params: dict):
        primals, avals, in_nodes = [], [], []
        diff_in: tuple = ()
        for i, a in enumerate(args):
            if type(a) is SymbolicTracer and a._trace is self:
                primals.append(a.primal)
                avals.append(a.aval)
                if a.node is not None:
                    diff_in += (i,)
                    in_nodes.append(a.node)
            else:
                if isinstance(a, Tracer) and not a._trace.active:
                    raise leaked_tracer_error(a)
                primals.append(a)
                avals.append(get_aval(a))
        outer = self.outer
        if not diff_in or prim is P.stop_gradient_p or prim.zero_derivative or prim.effectful:
            # Nothing to differentiate: the jit trace computes it (with its simplifications).
            out = outer.process(prim, tuple(primals), params)
            if prim.multiple_results:
                return [SymbolicTracer(self, get_aval(o), o, None) for o in out]
            return SymbolicTracer(self, get_aval(out), out, None)
        source = current_source() or user_frame()
        if prim.subjaxprs:
            return self._general(prim, params, primals, avals, diff_in, in_nodes, source)
        key = (prim, tuple(avals), diff_in, tuple(params.items()) if params else ())
        try:
            staged = self.templates.get(key)
        except TypeError:  # unhashable params
            key, staged = None, None
        if staged is None:
            staged = _derive(prim, params, avals, diff_in)
            if key is not None:
                if len(self.templates) >= _CACHE_LIMIT:
                    self.templates.clear()
                self.templates[key] = staged
        if staged is _GENERAL:
            return self._general(prim, params, primals, avals, diff_in, in_nodes, source)
        out_avals, forward, backward, differentiable = staged
        # The operands as the jit trace's own tracers (with what produced them, for its peepholes).
        operands = [p if type(p) is Tracer and p._trace is outer else outer._atom(p) for p in primals]
        in_atoms = [x._var if type(x) is Tracer else x for x in operands]
        # The same operation on the same values is recorded once, as tracing records it once
        # (CSE): its uses then share one cotangent, summed before its backward half runs.
        same = None
        if key is not None:  # (the signature by its jaxprs, which the entry keeps alive: one per key)
            same = (id(staged), tuple([id(x) if type(x) is Var else literal_key(x) for x in in_atoms]),
                    tuple(in_nodes))
            hit = self._cse.get(same)
            if hit is not None:
                return hit[0]
        values = _inline_traced(outer, forward, operands, source)
        n_out = len(out_avals)
        out_nodes = [self._new_node() if d else None for d in differentiable]
        self.records.append((backward, values[n_out:], in_nodes, out_nodes, out_avals, source))
        outs = [SymbolicTracer(self, a, x, nd) for a, x, nd in zip(out_avals, values[:n_out], out_nodes, strict=True)]
        result = outs if prim.multiple_results else outs[0]
        if same is not None:
            self._cse[same] = (result, in_atoms, staged)  # (kept alive: their ids are in the key)
        return result

    def _general(self, prim: Primitive, params: dict, primals: list, avals: list, diff_in: tuple,
                 in_nodes: list, source: Any) -> Any:
        """One equation split by ``linearize_at`` on the jit trace's values (control flow, custom
        rules, primitives without a transpose rule), as the eager tape splits it on concrete ones
        (``vjp_tape._stage``): its backward pass runs ``backward_pass``."""
        staged = _stage(prim, params, avals, list(diff_in), None, primals)
        out_nodes = [self._new_node() if i in staged.diff_outs else None for i in range(staged.n_out)]
        self.records.append((staged.bwd, (), in_nodes, out_nodes, staged.out_avals, source))
        outs = [SymbolicTracer(self, a, o, nd)
                for a, o, nd in zip(staged.out_avals, staged.fwd(), out_nodes, strict=True)]
        return outs if prim.multiple_results else outs[0]

    def backward(self, seeds: Sequence[tuple[int | None, Any]], wanted: Sequence[int | None]) -> list:
        """Cotangents of the ``wanted`` nodes (None where nothing flowed), from ``seeds``."""
        outer = self.outer
        if not outer.active:  # the pullback outlived jit's trace, as the general route's would
            raise leaked_tracer_error(next((v for rec in self.records for v in rec[1] if isinstance(v, Tracer)),
                                           Tracer(outer, ShapedArray((), np.float64), None)))
        traced = any(isinstance(ct, Tracer) and ct._trace is not outer for _, ct in seeds)
        compact = len(self.records) < COMPACT_BELOW
        cts: dict[int, Any] = {}
        for node, ct in seeds:
            if node is None or ct is None or isinstance(ct, Zero):
                continue
            prev = cts.get(node)
            cts[node] = ct if prev is None else add_tangents(prev, ct)
        for backward, res, in_nodes, out_nodes, out_avals, source in reversed(self.records):
            outs_ct = [cts.pop(n, None) if n is not None else None for n in out_nodes]
            for c in outs_ct:
                if c is not None:
                    break
            else:  # no cotangent reached it
                continue
            # One cotangent per differentiated output, zeros where none flowed.
            outs_ct = [instantiate(Zero(a)) if c is None else c
                       for c, a, n in zip(outs_ct, out_avals, out_nodes, strict=True) if n is not None]
            if callable(backward):  # the general split of one equation
                in_cts = backward(*outs_ct)
            elif traced or compact:  # through the tracing machinery (bind): the general route's program
                in_cts = eval_jaxpr(backward.closed.jaxpr, backward.closed.consts, [*res, *outs_ct], source)
            else:
                in_cts = _inline_traced(outer, backward, [x if type(x) is Tracer and x._trace is outer
                                                          else _operand(outer, x) for x in (*res, *outs_ct)], source)
            for node, c in zip(in_nodes, in_cts, strict=True):
                if c is None or isinstance(c, Zero):
                    continue
                prev = cts.get(node)
                cts[node] = c if prev is None else add_tangents(prev, c)
        return [None if n is None else cts.get(n) for n in wanted]


def _atom(outer: Trace, x: Any) -> Any:
    """``x`` as an operand of an equation of ``outer``: a Var or a Literal."""
    a = outer._atom(x)
    return a._var if type(a) is Tracer else a


def _tracer_or_literal(outer: Trace, x: Any) -> Any:
    """An atom of ``outer`` as an operand of ``_inline_traced``: a tracer of it, or the literal."""
    return Tracer(outer, x.aval, x) if type(x) is Var else x


def _operand(outer: Trace, x: Any) -> Any:
    """A value (a tracer of ``outer`` or a constant) as an operand of ``_inline_traced``."""
    return x if type(x) is Tracer and x._trace is outer else _tracer_or_literal(outer, _atom(outer, x))


class _Copyable:
    """A derived jaxpr made ready to be copied into a trace many times (``_inline_traced``): its
    equations as steps over one list of values, operands by position (literals in place), so a
    copy looks nothing up by variable."""

    __slots__ = ("closed", "steps", "outs", "outs_made")

    def __init__(self, closed: ClosedJaxpr):
        jaxpr = closed.jaxpr
        slots: dict[int, int] = {}
        for v in (*jaxpr.constvars, *jaxpr.invars):
            slots[id(v)] = len(slots)
        n_given = len(slots)
        steps = []
        for eqn in jaxpr.eqns:
            ins = tuple([x if type(x) is Literal else slots[id(x)] for x in eqn.invars])
            for v in eqn.outvars:
                slots[id(v)] = len(slots)
            no_literals = not any(type(x) is Literal for x in ins)
            steps.append((eqn.primitive, ins, no_literals, tuple([v.aval for v in eqn.outvars]), eqn.params))
        self.closed = closed
        self.steps = steps
        self.outs = tuple([x if type(x) is Literal else slots[id(x)] for x in jaxpr.outvars])
        # Every output made by an equation (the common case): each is a tracer of the copy.
        self.outs_made = all(type(x) is not Literal and x >= n_given for x in self.outs)


def _inline_traced(outer: Trace, copyable: _Copyable, args: list, source: Any) -> list:
    """Append the equations of ``copyable``'s jaxpr to ``outer``, renamed, attributed to
    ``source``, without tracing them again; ``args`` are tracers of ``outer`` or literals. Its
    outputs are tracers that record their producers, as tracing records them, for the
    simplifications of the backward pass."""
    consts = copyable.closed.consts
    vals = [*[_tracer_or_literal(outer, _atom(outer, c)) for c in consts], *args] if consts else list(args)
    eqns = outer.eqns
    for prim, ins, no_literals, avals, params in copyable.steps:
        operands = [vals[x] for x in ins] if no_literals else [x if type(x) is Literal else vals[x] for x in ins]
        invars = [x._var if type(x) is Tracer else x for x in operands]
        if len(avals) == 1 and not prim.multiple_results:
            aval = avals[0]
            new = Var(aval)
            t = Tracer(outer, aval, new)
            t.producer = (prim, operands)
            vals.append(t)
            eqns.append(JaxprEqn(prim, invars, [new], params, source))
        else:
            outvars = [Var(a) for a in avals]
            vals.extend([Tracer(outer, a, v) for a, v in zip(avals, outvars, strict=True)])
            eqns.append(JaxprEqn(prim, invars, outvars, params, source))
    if copyable.outs_made:
        return [vals[x] for x in copyable.outs]
    outs = [x if type(x) is Literal else vals[x] for x in copyable.outs]
    return [x.val if type(x) is Literal else x for x in outs]  # (an output, or an input, may be a literal)


def eligible_outer(p_flat: Sequence[Any]) -> Trace | None:
    """jit's trace, when it is the innermost open trace and every traced input belongs to it
    and is abstract: where ``symbolic_linearize`` applies. None otherwise."""
    stack = open_traces()
    if not ENABLED or not stack or _config.CHECK_FLOATS:
        return None
    outer = stack[-1]
    if type(outer) is not Trace or not outer.optimized_later:
        return None
    for p in p_flat:
        if isinstance(p, Tracer) and (type(p) is not Tracer or p._trace is not outer or p.val is not None):
            return None
    return outer


def symbolic_linearize(f_flat: Callable[[list], list], p_flat: list, outer: Trace,
                       avals: Sequence[Any] | None = None) -> tuple[list, Callable[[list], list]] | None:
    """Run ``f_flat`` at ``p_flat`` (values of ``outer``, jit's trace) on a symbolic tape:
    ``(outputs, pullback)``, as ``vjp_tape.tape_linearize`` for concrete values. None when ``f``
    takes a derivative itself (see ``_NestedDerivative``): what the run added to ``outer`` is
    taken back, and the caller takes the general route."""
    n_eqns, cse = len(outer.eqns), dict(outer._cse)
    _running.depth = getattr(_running, "depth", 0) + 1
    _running.nested = False
    try:
        with new_trace(functools.partial(SymbolicTape, outer=outer)) as tape:
            ins = [tape.new_input(p, get_aval(p) if avals is None else avals[i]) for i, p in enumerate(p_flat)]
            outs = f_flat(ins)
            vals, out_nodes = [], []
            for o in outs:
                if type(o) is SymbolicTracer and o._trace is tape:
                    vals.append(o.primal)
                    out_nodes.append(o.node)
                elif isinstance(o, Tracer) and not o._trace.active:
                    raise leaked_tracer_error(o)
                else:
                    vals.append(o)
                    out_nodes.append(None)
        if _running.nested:
            raise _NestedDerivative
    except _NestedDerivative:
        del outer.eqns[n_eqns:]  # (constants it lifted are dropped with the unused ones)
        outer._cse = cse
        return None
    finally:
        _running.depth -= 1
        _running.nested = False
    in_nodes = [t.node for t in ins]

    def pullback(cts: list) -> list:
        return tape.backward(list(zip(out_nodes, cts, strict=True)), in_nodes)

    return vals, pullback


__all__ = ["SymbolicTracer", "SymbolicTape", "eligible_outer", "symbolic_linearize", "no_nested_derivative"]
