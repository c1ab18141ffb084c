"""Tracing: the trace, ``bind``, and the jaxpr interpreter (the tracer type is in
``functrace.tracer``, the shared thread-local state in ``functrace.trace_state``; both are
re-exported here).

Every traced value is a ``Tracer`` of exactly one ``Trace``. A trace records each primitive
applied to its tracers as an equation. Traces nest: each has a level, and ``bind`` records an
operation in the innermost trace among its arguments, lifting values of outer traces in as
constants. So a closure over an outer traced value is an (undifferentiated) constant of the
inner program, which is what rules out perturbation confusion.

When a trace's inputs carry concrete values (the eager path of grad/jvp/vjp), every
operation also computes its value on the active backend, so Python control flow on values
works; under ``make_jaxpr``/``jit`` values are abstract and such a use raises
``ConcretizationError``.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from functrace import config as _config
from functrace.avals import ShapedArray, concrete_aval, scalar_aval
from functrace.errors import FunctraceError, UnexpectedTracerError
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from functrace.primitives import Primitive, abstract_eval_rules
from functrace.trace_state import (  # noqa: F401  (re-exported: the public import path)
    _state,
    current_backend,
    current_source,
    interpreting,
    located,
    set_backend_resolver,
    source_info,
    tracing_for,
    user_error,
)
from functrace.tracer import _NO_SLOT, Tracer, _dependents  # noqa: F401  (re-exported)
from functrace.util import user_frame

# Peephole simplifications applied as equations are recorded; filled in by functrace.peephole.
peephole_rules: dict[Primitive, Callable[..., Any]] = {}


def _literal_for(x: Any) -> Literal | None:
    """A rank-0 NumPy/Python scalar is written inline as a Literal; anything else is a constant."""
    if type(x) is np.ndarray:  # the common case first: an array constant (a residual, say)
        return Literal(x[()], scalar_aval(x.dtype)) if x.ndim == 0 else None
    if isinstance(x, np.generic):
        return Literal(x, scalar_aval(x.dtype))
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return Literal(x[()], scalar_aval(x.dtype))
    if isinstance(x, (bool, int, float)):
        arr = np.asarray(x)
        return Literal(arr[()], scalar_aval(arr.dtype))
    if getattr(x, "ndim", None) == 0 and hasattr(x, "detach") and not x.requires_grad:
        # A rank-0 torch tensor (an eager result of the torch backend, say -1 * a cotangent of 1):
        # inline as on NumPy, so the IR does not depend on the backend that computed the value.
        host = x.detach().cpu().numpy()
        return Literal(host[()], scalar_aval(host.dtype))
    return None


def strong_avals(out_aval: Any) -> Any:
    """A primitive's result is never weak, even where its rule hands back an input's aval."""
    if type(out_aval) is list or type(out_aval) is tuple:
        return [a.with_weak_type(False) for a in out_aval]
    return out_aval.with_weak_type(False)


# Output avals by (primitive, input avals, params): tracing repeats the same shapes many times.
# Rules are pure functions of these, so their results can be reused. Only params made of plain
# values are keys (see ``_plain_params``): a sub-jaxpr is traced afresh on every eager call of
# a control-flow or custom-derivative function, so keying on it would add an entry per call.
# Bounded all the same (emptied when full), so no program can make it grow without end. Shared
# by threads: a lookup or an insertion is one dict operation, and a lost race costs one rule call.
_abstract_eval_cache: dict[Any, Any] = {}
_ABSTRACT_EVAL_CACHE_SIZE = 20_000
_PLAIN_PARAM_TYPES = frozenset([int, bool, float, str, type(None)])
_DTYPE_TYPES = frozenset(type(np.dtype(t)) for t in np.typecodes["All"] if t not in "MmOSUV")


def _plain_params(params: tuple) -> bool:
    """Whether a params key (``((name, value), ...)``) holds only plain values (numbers, strings,
    dtypes, nested tuples of them): values equal from one trace to the next."""
    for _, v in params:  # one flat pass for the common case; nested tuples are walked
        t = type(v)
        if t in _PLAIN_PARAM_TYPES or t in _DTYPE_TYPES:
            continue
        if t is not tuple or not _plain_values(v):
            return False
    return True


def _plain_values(values: tuple) -> bool:
    # Per-trace hot path: a flat tuple of ints (axes, shapes) is checked in one pass; nested
    # tuples go on an explicit stack (no recursion, whatever the nesting).
    stack = None
    for v in values:
        t = type(v)
        if t in _PLAIN_PARAM_TYPES or t in _DTYPE_TYPES:
            continue
        if t is tuple:
            if stack is None:
                stack = []
            stack.extend(v)
        elif not isinstance(v, np.dtype):
            return False
    while stack:
        v = stack.pop()
        t = type(v)
        if t is tuple:
            stack.extend(v)
        elif t not in _PLAIN_PARAM_TYPES and t not in _DTYPE_TYPES and not isinstance(v, np.dtype):
            return False
    return True


def _operand_order(key: Any) -> tuple:
    """A total order on CSE operand keys: variables (ints) first, then literals by their bits."""
    return (0, key, b"") if type(key) is int else (1, 0, key[1])


def literal_key(x: Literal) -> tuple:
    """A literal by its dtype and bits (hashable)."""
    # By bits, not by value: 0.0 and -0.0 stay distinct (and equal NaNs merge).
    v = x.val
    return (x.aval.dtype, v.tobytes() if isinstance(v, np.generic) else np.asarray(v, x.aval.dtype).tobytes())


def equation_key(prim: Primitive, invars: list, params: dict) -> tuple:
    """What makes two equations the same computation (all primitives are pure): primitive,
    operands (in any order for commutative ones) and params. Used by the CSE done while
    tracing and by the ``cse`` pass; hashing it raises TypeError for unhashable params."""
    operand_keys = [id(x) if type(x) is Var else literal_key(x) for x in invars]
    if prim.commutative:  # a * b and b * a are one subexpression
        if len(operand_keys) == 2:  # the common case, without a key function
            a, b = operand_keys
            if type(a) is int:
                if type(b) is int and a > b:  # two variables: by id
                    operand_keys.reverse()
            elif type(b) is int or a[1] > b[1]:  # a variable before a literal; two literals by bits
                operand_keys.reverse()
        else:
            operand_keys.sort(key=_operand_order)
    return (prim, tuple(operand_keys), tuple(params.items()) if params else ())


class Trace:
    """One level of tracing: records equations over its tracers, and lifts outer values in."""

    # Whether what runs under this trace becomes a program (False for the eager traces, which
    # compute values as they go: forward mode's ``JVPTrace``, the tape's ``TapeTrace``).
    records_programs = True

    def __init__(self, level: int):
        self.level = level
        self.active = True
        self.purpose = _state.purpose  # which transform opened it (None: unnamed), for error messages
        # Set by jit on its own trace: the jaxpr is optimised (CSE, simplification) before it
        # runs, so derived equations may be copied into it as they are (transforms.symbolic_tape).
        self.optimized_later = False
        self.invars: list[Var] = []
        self.eqns: list[JaxprEqn] = []
        self.constvars: list[Var] = []
        self.const_vals: list[Any] = []
        self._const_by_id: dict[int, Tracer] = {}
        self._keepalive: list[Any] = []
        self._cse: dict[Any, Any] = {}

    # -- inputs and constants
    def new_arg(self, aval: ShapedArray, val: Any = None) -> Tracer:
        v = Var(aval)
        self.invars.append(v)
        return Tracer(self, aval, v, val)

    def const(self, x: Any) -> Tracer:
        """A constant of this trace: an outer tracer or a concrete array, once per object."""
        t = self._const_by_id.get(id(x))
        if t is not None:
            return t
        if isinstance(x, Tracer):
            aval, val = x.aval, x.val
        else:
            aval = concrete_aval(x)
            backend = current_backend()
            val = x if backend.is_native(x) else backend.asarray(x)
        v = Var(aval)
        self.constvars.append(v)
        self.const_vals.append(x)
        t = Tracer(self, aval, v, val)
        self._const_by_id[id(x)] = t
        self._keepalive.append(x)
        return t

    def _atom(self, x: Any) -> "Tracer | Literal":
        """``x`` as an operand of this trace: its own tracer, a lifted constant, or a Literal."""
        if isinstance(x, Tracer):
            if x._trace is self:
                return x
            if not x._trace.active:
                raise leaked_tracer_error(x)
            return self.const(x)
        if type(x) is Literal:  # already an operand (peephole rewrites pass them on)
            return x
        lit = _literal_for(x)
        return lit if lit is not None else self.const(x)

    def full_raise(self, x: Any) -> Tracer:
        """Make ``x`` a tracer of this trace (used for outputs)."""
        if isinstance(x, Tracer) and x._trace is self:
            return x
        if isinstance(x, Tracer) and not x._trace.active:
            raise leaked_tracer_error(x)
        return self.const(x)

    def recorded(self, prim: Primitive, args: tuple, params: dict) -> "Tracer | None":
        """The result of an equation already recorded in this trace with these operands, if any."""
        ins = [a if type(a) is Tracer and a._trace is self else self._atom(a) for a in args]
        invars = [x._var if type(x) is Tracer else x for x in ins]
        try:
            return self._cse.get(equation_key(prim, invars, params))
        except TypeError:
            return None

    # -- recording
    def process(self, prim: Primitive, args: tuple, params: dict, simplify: bool = True):
        """Record ``prim(*args)`` (or find it already recorded); ``simplify``: first try its
        peephole rule (functrace.peephole), which may return an equivalent tracer instead."""
        ins = [a if type(a) is Tracer and a._trace is self else self._atom(a) for a in args]
        rule = peephole_rules.get(prim) if simplify else None
        if rule is not None:
            simpler = rule(self, ins, params)
            if simpler is not None:
                return simpler
        invars = [x._var if type(x) is Tracer else x for x in ins]
        key = equation_key(prim, invars, params)
        try:
            hit = self._cse.get(key) if not prim.effectful else None
        except TypeError:  # unhashable params: no CSE for this equation
            key, hit = None, None
        if hit is not None:
            return hit
        in_avals = tuple([v.aval for v in invars])
        akey = (prim, in_avals, key[2]) if key is not None and (not key[2] or _plain_params(key[2])) else None
        out_aval = _abstract_eval_cache.get(akey) if akey is not None else None
        if out_aval is None:
            try:
                out_aval = abstract_eval_rules[prim](*in_avals, **params)
            except FunctraceError as e:
                raise located(e) from None
            out_aval = strong_avals(out_aval)
            if akey is not None:
                if len(_abstract_eval_cache) >= _ABSTRACT_EVAL_CACHE_SIZE:
                    _abstract_eval_cache.clear()
                _abstract_eval_cache[akey] = out_aval
        vals = [x.val for x in ins]
        concrete = not prim.effectful
        if concrete:
            for v in vals:  # a loop, not all(<generator>): this runs once per recorded equation
                if v is None:
                    concrete = False
                    break
        out_val = eval_impl(prim, vals, params, raw=True) if concrete else None
        if prim.multiple_results:
            outvars = [Var(a) for a in out_aval]
            vals_out = out_val if concrete else [None] * len(outvars)
            out = [Tracer(self, v.aval, v, ov) for v, ov in zip(outvars, vals_out, strict=True)]
        else:
            outvars = [Var(out_aval)]
            out = Tracer(self, out_aval, outvars[0], out_val)
            out.producer = (prim, ins)
        self.eqns.append(JaxprEqn(prim, invars, outvars, params, _state.source or user_frame()))
        if key is not None:
            self._cse[key] = out
        return out

    def to_jaxpr(self, outs: list[Any], dce: bool = True) -> tuple[Jaxpr, list[Any]]:
        """Close the trace over ``outs``: a dead-code-free Jaxpr and its constant values.
        ``dce=False`` leaves dead code (and unused constants) in, for a caller whose next pass
        removes them anyway (``jit``'s ``optimize``)."""
        outvars: list[Var | Literal] = []
        for x in outs:
            if isinstance(x, Tracer) and x._trace is self:
                outvars.append(x._var)
            else:
                lit = None if isinstance(x, Tracer) else _literal_for(x)
                outvars.append(lit if lit is not None else self.full_raise(x)._var)
        jaxpr = Jaxpr(self.constvars, self.invars, outvars, self.eqns)
        if not dce:
            return jaxpr, list(self.const_vals)
        from functrace.dce import dce_jaxpr

        jaxpr, used_consts = dce_jaxpr(jaxpr, prune_consts=True)
        consts = [c for c, keep in zip(self.const_vals, used_consts, strict=True) if keep]
        return jaxpr, consts


def leaked_tracer_error(x: Tracer) -> UnexpectedTracerError:
    return located(UnexpectedTracerError(
        f"a traced value {x.aval.str_short()} escaped the function that was being transformed "
        "and was used after that transformation finished (for example, stored in a global or a "
        "list). Return it from the function instead, or pass it in as an argument"
    ))


@contextmanager
def new_trace(trace_type: type[Trace] | None = None) -> Iterator[Trace]:
    """Open a trace one level inside every active one; it is closed (and marked dead) on exit.

    ``trace_type``: a subclass of ``Trace`` with its own ``process`` (eager forward mode).
    """
    stack = _state.stack
    trace = (trace_type or Trace)(stack[-1].level + 1 if stack else 1)
    # The outermost trace silences the backend's floating-point warnings (NumPy's) for all that
    # runs inside it, once, so that the values traces compute as they go can use the raw
    # implementations (``eval_impl(..., raw=True)``), as jit's lowered code does.
    silence = None if stack else getattr(current_backend(), "silence_errors", None)
    quiet = silence() if silence is not None else None
    if quiet is not None:
        quiet.__enter__()
    stack.append(trace)
    try:
        yield trace
    finally:
        trace.active = False
        # Its tracers point at it; it must not point back at them (through its CSE table, its
        # lifted constants, or equations whose params hold closures over its tracers, as a
        # custom_jvp's rule does), or each closed trace and all its tracers are a reference cycle
        # that only the cyclic collector frees: for a large program, a second of collection.
        # (The jaxpr made by ``to_jaxpr`` keeps the equations.)
        trace._cse = {}
        trace._const_by_id = {}
        trace.eqns = []
        stack.pop()
        if quiet is not None:
            quiet.__exit__(None, None, None)


def trace_depth() -> int:
    """How many traces are open in this thread (0: plain eager code)."""
    return len(_state.stack)


def open_traces() -> tuple[Trace, ...]:
    """The traces open in this thread, outermost first."""
    return tuple(_state.stack)


def current_level() -> int:
    """The level of the innermost open trace (0 when none is open)."""
    return _state.stack[-1].level if _state.stack else 0


def eval_impl(prim: Primitive, vals: list, params: dict, raw: bool = False):
    """Run ``prim``'s implementation; ``raw``: the form without its own warning silencing, for
    code inside a trace (the outermost trace silences warnings once)."""
    try:
        impl = current_backend().impls[prim]
    except KeyError:
        raise NotImplementedError(
            f"primitive {prim.name!r} has no implementation on the {current_backend().name} backend"
        ) from None
    if raw:
        impl = getattr(impl, "raw", impl)
    out = impl(*vals, **params)
    if _config.CHECK_FLOATS:  # debug_nans / debug_infs (functrace.debug.check_floats)
        from functrace.debug import check_floats

        check_floats(prim, vals, params, out, _state.source or user_frame())
    return out


def _eager(prim: Primitive, args: tuple, params: dict):
    """Compute a primitive on concrete arrays.

    The shape/dtype rule runs only when the backend refuses the inputs, to turn the backend's
    error into functrace's own (which names the user's line); skipping it on the happy path
    keeps eager overhead low. The numpy layer checks shapes before it binds.
    """
    backend = current_backend()
    is_native = backend.is_native
    vals = [a if is_native(a) else backend.asarray(a) for a in args]
    try:
        return eval_impl(prim, vals, params)
    except (FunctraceError, NotImplementedError):
        raise
    except Exception:
        try:
            abstract_eval_rules[prim](*[concrete_aval(a) for a in args], **params)
        except FunctraceError as e:
            raise located(e) from None
        raise


def _records_effects(stack: list) -> bool:
    """Whether an effect on constant operands (``debug.print("here")``) belongs to the innermost
    trace's program rather than happening now: yes for a program being traced (jit, a cond
    branch, the symbolic tape), no for the trace just above an eager forward-mode trace (whose
    ``records_programs`` is False), which collects that trace's tangents while the primal values
    are computed eagerly."""
    return stack[-1].records_programs and (len(stack) < 2 or stack[-2].records_programs)


def bind(prim: Primitive, *args: Any, **params: Any):
    """Apply a primitive: record it in the innermost trace among ``args``, or compute it eagerly."""
    top = None
    for a in args:
        if isinstance(a, Tracer):
            t = a._trace
            if top is None or t.level > top.level:
                top = t
    if top is None:
        if prim.effectful and _state.stack and _records_effects(_state.stack):
            return _state.stack[-1].process(prim, args, params)  # an effect inside a program belongs to it
        return _eager(prim, args, params)
    if not top.active:
        raise leaked_tracer_error(next(a for a in args if isinstance(a, Tracer) and a._trace is top))
    return top.process(prim, args, params)


def get_aval(x: Any) -> ShapedArray:
    return x.aval if isinstance(x, Tracer) else concrete_aval(x)


def concrete_or_none(x: Any) -> Any:
    """The concrete value of ``x`` when it is known (a plain array, or a tracer with a value)."""
    return x.val if isinstance(x, Tracer) else x


def dead_after(jaxpr: Jaxpr) -> list[list[int]]:
    """For each equation, the ids of the variables read there for the last time (never an
    output of the jaxpr): an interpreter drops them from its environment after that equation,
    so an eager transform frees each intermediate as soon as no later equation needs it, as
    jit's generated code does with ``del``."""
    last: dict[int, int] = {}
    for i, eqn in enumerate(jaxpr.eqns):
        for x in eqn.invars:
            if type(x) is not Literal:
                last[id(x)] = i
    for x in jaxpr.outvars:
        last.pop(id(x), None)
    dead: list[list[int]] = [[] for _ in jaxpr.eqns]
    for vid, i in last.items():
        dead[i].append(vid)
    return dead


def eval_jaxpr(jaxpr: Jaxpr, consts: list, args: list, source: tuple[str, int] | None = None) -> list:
    """Run a jaxpr by binding each equation: eagerly on concrete values, or into an outer trace.

    Iterative, so a chain of any length runs without recursion; each value is dropped after
    its last use (``dead_after``). ``source``: the user's line every equation is attributed to,
    instead of each equation's own (a jaxpr derived once and replayed for many operations).
    """
    env: dict[int, Any] = {}
    for v, x in zip(jaxpr.constvars, consts, strict=True):
        env[id(v)] = x
    for v, x in zip(jaxpr.invars, args, strict=True):
        env[id(v)] = x
    dead = dead_after(jaxpr)

    def read(x):
        return x.val if isinstance(x, Literal) else env[id(x)]

    with interpreting() as at:
        for eqn, gone in zip(jaxpr.eqns, dead, strict=True):
            at(eqn.source_info if source is None else source)
            out = bind(eqn.primitive, *[read(x) for x in eqn.invars], **eqn.params)
            if eqn.primitive.multiple_results:
                for v, o in zip(eqn.outvars, out, strict=True):
                    env[id(v)] = o
            else:
                env[id(eqn.outvars[0])] = out
            del out
            for vid in gone:
                del env[vid]
    return [read(x) for x in jaxpr.outvars]


def trace_at(fn: Callable[[list], list], avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """Trace ``fn`` (flat list in, flat list out) at abstract ``avals`` into a ClosedJaxpr."""
    with new_trace() as trace:
        outs = fn([trace.new_arg(a) for a in avals])
        jaxpr, consts = trace.to_jaxpr(outs)
    return ClosedJaxpr(jaxpr, consts)
