"""Tracing: the tracer type, the thread-local trace stack, ``bind``, and the jaxpr interpreter.

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

import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from functrace import config as _config
from functrace.avals import ShapedArray, concrete_aval, is_bool, is_float, is_int
from functrace.errors import ConcretizationError, FunctraceError, TracerArrayConversionError, UnexpectedTracerError
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var
from functrace.primitives import Primitive, abstract_eval_rules
from functrace.util import format_frame, user_frame

# Peephole simplifications applied as equations are recorded; filled in by functrace.peephole.
peephole_rules: dict[Primitive, Callable[..., Any]] = {}


class _TraceState(threading.local):
    def __init__(self) -> None:
        self.stack: list[Trace] = []
        self.source: tuple[str, int] | None = None  # set by interpreters re-binding an eqn


_state = _TraceState()

# The backend is chosen by backends/registry.py; the facade installs this resolver so the core
# never imports a backend.
_backend_resolver: Callable[[], Any] | None = None


def set_backend_resolver(fn: Callable[[], Any]) -> None:
    global _backend_resolver
    _backend_resolver = fn


def current_backend():
    if _backend_resolver is None:
        raise RuntimeError("no backend resolver installed; import functrace rather than its submodules")
    return _backend_resolver()


def located(e: FunctraceError) -> FunctraceError:
    e.add_location(format_frame(_state.source or user_frame()))
    return e


class Tracer:
    """A value inside a traced function: an abstract value, its trace, maybe its concrete value.

    Operators and methods (``+``, ``@``, ``x.T``, ``x.sum()``, indexing) are installed by
    ``functrace.numpy``; NumPy functions reach it through ``__array_ufunc__``/``__array_function__``.
    """

    __slots__ = ("aval", "_trace", "val", "_var", "producer", "__weakref__")
    __array_priority__ = 1000

    def __init__(self, trace: "Trace", aval: ShapedArray, var: Var, val: Any = None):
        self._trace = trace
        self.aval = aval
        self._var = var
        self.val = val
        self.producer = None  # (primitive, operands) of the equation that made it, for peepholes

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)

    @property
    def at(self):
        """JAX's indexed updates: ``x.at[idx].set(v)``, ``.add``, ``.get``, ... (see
        ``functrace.numpy._at``); each returns a new array."""
        from functrace.numpy._at import IndexUpdateHelper

        return IndexUpdateHelper(self)

    def __len__(self) -> int:
        if not self.aval.shape:
            raise TypeError("len() of a 0-d traced array")
        return self.aval.shape[0]

    def __iter__(self):
        if not self.aval.shape:
            raise TypeError("iteration over a 0-d traced array")
        return (self[i] for i in range(self.aval.shape[0]))

    def concrete_value(self, what: str) -> Any:
        v = self.val
        if v is None:
            raise located(ConcretizationError(
                f"{what} needs a concrete value, but this traced {self.aval.str_short()} is abstract "
                "(inside jit or make_jaxpr). Mark the argument static with static_argnums, or write "
                "the choice with functrace.numpy.where or functrace.lax.cond instead of Python control flow"
            ))
        return v

    def with_weak_type(self, weak_type: bool) -> "Tracer":
        """This value with its aval's ``weak_type`` set (see ShapedArray): a copy, so that the
        equation's own tracer (which CSE hands out again) keeps its type."""
        if self.aval.weak_type == weak_type:
            return self
        t = object.__new__(type(self))
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                if name != "__weakref__" and hasattr(self, name):
                    object.__setattr__(t, name, getattr(self, name))
        t.aval = self.aval.with_weak_type(weak_type)
        return t

    def _host(self, what: str):
        v = self.concrete_value(what)
        if isinstance(v, Tracer):  # a forward-mode value over an outer trace's
            return v._host(what)
        return v if isinstance(v, (np.ndarray, np.generic)) else current_backend().to_numpy(v)

    def carries_derivative(self) -> bool:
        """Whether a derivative is being taken through this value, so that turning it into a
        Python number would silently drop that derivative.

        Only floating-point values carry one. On the eager tape (``TapeTracer``) a value carries
        one when it has a cotangent slot (``node``); in eager forward mode (``JVPTracer``) when
        its tangent is not a symbolic zero. On a plain trace (eager ``jvp``, and every inner
        level of a nested derivative) the trace's inputs stand for the values being
        differentiated: a value carries one when it depends on them, other than through a
        ``stop_gradient``, a comparison or an integer result.
        """
        if not is_float(self.aval.dtype):
            return False
        node = getattr(self, "node", _NO_SLOT)
        if node is not _NO_SLOT:
            return node is not None
        tangent = getattr(self, "tangent", _NO_SLOT)
        if tangent is not _NO_SLOT:
            from functrace.rules import Zero  # (rules imports this module)

            v = self.val
            return not isinstance(tangent, Zero) or (isinstance(v, Tracer) and v.carries_derivative())
        return self._var is not None and id(self._var) in _dependents(self._trace)

    def _python_scalar(self, what: str, convert: Callable[[Any], Any]) -> Any:
        """``convert`` of the concrete value, refused when it would drop a derivative."""
        if self.val is not None and self.carries_derivative():
            raise located(ConcretizationError(
                f"{what} of this traced {self.aval.str_short()} would return a Python number cut off from the "
                "inputs being differentiated: its derivative would silently be dropped. Keep it an array "
                "(fnp.sin(x) or fnp.exp(x) instead of math.sin(x) or math.exp(x), x instead of float(x), "
                "x > 0 instead of float(x) > 0), or write ft.stop_gradient(x) where dropping the derivative "
                "is meant"))
        return convert(self._host(what))

    def __bool__(self) -> bool:
        # A branch on a value drops no derivative: each side is differentiated as it runs.
        return bool(self._host("Python control flow on a traced value (bool())"))

    def __float__(self) -> float:
        return self._python_scalar("float() (which math.sin, math.exp and the other math functions call)", float)

    def __int__(self) -> int:
        return self._python_scalar("int()", int)

    def __index__(self) -> int:
        what = "using a traced value as an index (operator.index)"
        if not (is_int(self.aval.dtype) or is_bool(self.aval.dtype)):
            self._python_scalar(what, lambda v: v)  # the derivative error first, then NumPy's
            raise TypeError(f"only integer scalar arrays can be converted to a scalar index; this traced value "
                            f"is {self.aval.str_short()}")
        return self._python_scalar(what, int)

    def __complex__(self) -> complex:
        return self._python_scalar("complex()", complex)

    def __array__(self, dtype=None, copy=None):
        # NumPy cannot dispatch np.asarray/np.array, so this is the only hook. Returning the
        # concrete value would make a constant cut off from the trace: derivatives through it
        # would silently be zero. Refuse, and say what to write instead.
        from functrace.scipy._foreign import scipy_conversion_error  # SciPy's code: name its functrace twin

        err = scipy_conversion_error(self.aval.str_short())
        if err is not None:
            raise err
        raise located(TracerArrayConversionError(
            f"numpy.asarray/numpy.array (or another conversion to a NumPy array) was applied to a traced "
            f"{self.aval.str_short()}; the result would be cut off from the trace and its derivative lost. "
            "Use functrace.numpy.asarray (or fnp.stack for a list of traced values) instead, and "
            "ft.stop_gradient(x) first where the derivative is meant to be dropped"))

    def to_host(self, what: str) -> np.ndarray:
        """The concrete value as a NumPy array, for functrace's own value-dependent logic."""
        return np.asarray(self._host(what))

    def item(self):
        return self._python_scalar("item()", lambda v: v.item())

    def tolist(self):
        return self._python_scalar("tolist()", lambda v: np.asarray(v).tolist())

    def __repr__(self) -> str:
        if self.val is not None:
            return f"Tracer<{self.aval.str_short()}>({self.val!r})"
        return f"Tracer<{self.aval.str_short()}>"

    __hash__ = object.__hash__


_NO_SLOT = object()


def _dependents(trace: "Trace") -> set[int]:
    """Ids of the variables of a plain ``trace`` that carry a derivative: its floating-point
    inputs, constants that are outer values carrying one, and what is computed from them (not
    through ``stop_gradient`` or a primitive whose outputs carry no derivative). Extended
    incrementally, as equations are recorded; only conversions to Python numbers ask."""
    state = trace.__dict__.get("_dependents")
    if state is None:
        state = trace._dependents = [0, 0, {id(v) for v in trace.invars if is_float(v.aval.dtype)}]
    n_consts, n_eqns, deps = state
    for v, c in zip(trace.constvars[n_consts:], trace.const_vals[n_consts:], strict=True):
        if isinstance(c, Tracer) and c.val is not None and c.carries_derivative():
            deps.add(id(v))
    for eqn in trace.eqns[n_eqns:]:
        prim = eqn.primitive
        if prim.zero_derivative or prim.name == "stop_gradient":
            continue
        if any(type(x) is Var and id(x) in deps for x in eqn.invars):
            deps.update(id(v) for v in eqn.outvars if is_float(v.aval.dtype))
    state[0], state[1] = len(trace.constvars), len(trace.eqns)
    return deps


def _literal_for(x: Any) -> Literal | None:
    """A rank-0 NumPy/Python scalar is written inline as a Literal; anything else is a constant."""
    if type(x) is np.ndarray:  # the common case first: an array constant (a residual, say)
        return Literal(x[()], ShapedArray((), x.dtype)) if x.ndim == 0 else None
    if isinstance(x, np.generic):
        return Literal(x, ShapedArray((), x.dtype))
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return Literal(x[()], ShapedArray((), x.dtype))
    if isinstance(x, (bool, int, float)):
        arr = np.asarray(x)
        return Literal(arr[()], ShapedArray((), arr.dtype))
    if getattr(x, "ndim", None) == 0 and hasattr(x, "detach") and not x.requires_grad:
        # A rank-0 torch tensor (an eager result of the torch backend, say -1 * a cotangent of 1):
        # inline as on NumPy, so the IR does not depend on the backend that computed the value.
        host = x.detach().cpu().numpy()
        return Literal(host[()], ShapedArray((), host.dtype))
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


def _plain_params(params: tuple) -> bool:
    """Whether a params key (``((name, value), ...)``) holds only plain values (numbers, strings,
    dtypes, nested tuples of them): values equal from one trace to the next."""
    stack = [v for _, v in params]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is tuple:
            stack.extend(v)
        elif t not in _PLAIN_PARAM_TYPES and not isinstance(v, np.dtype):
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
        operand_keys.sort(key=_operand_order)
    return (prim, tuple(operand_keys), tuple(params.items()) if params else ())


class Trace:
    """One level of tracing: records equations over its tracers, and lifts outer values in."""

    def __init__(self, level: int):
        self.level = level
        self.active = True
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
        akey = (prim, in_avals, key[2]) if key is not None and _plain_params(key[2]) else None
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
        concrete = all(v is not None for v in vals) and not prim.effectful
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

    def to_jaxpr(self, outs: list[Any]) -> tuple[Jaxpr, list[Any]]:
        """Close the trace over ``outs``: a dead-code-free Jaxpr and its constant values."""
        outvars: list[Var | Literal] = []
        for x in outs:
            if isinstance(x, Tracer) and x._trace is self:
                outvars.append(x._var)
            else:
                lit = None if isinstance(x, Tracer) else _literal_for(x)
                outvars.append(lit if lit is not None else self.full_raise(x)._var)
        jaxpr = Jaxpr(self.constvars, self.invars, outvars, self.eqns)
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
        stack.pop()
        if quiet is not None:
            quiet.__exit__(None, None, None)


def trace_depth() -> int:
    """How many traces are open in this thread (0: plain eager code)."""
    return len(_state.stack)


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
    branch), no for the trace just above an eager forward-mode trace (a ``Trace`` subclass), which
    collects that trace's tangents while the primal values are computed eagerly."""
    return type(stack[-1]) is Trace and (len(stack) < 2 or type(stack[-2]) is Trace)


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


def eval_jaxpr(jaxpr: Jaxpr, consts: list, args: list) -> list:
    """Run a jaxpr by binding each equation: eagerly on concrete values, or into an outer trace.

    Iterative, so a chain of any length runs without recursion.
    """
    env: dict[int, Any] = {}
    for v, x in zip(jaxpr.constvars, consts, strict=True):
        env[id(v)] = x
    for v, x in zip(jaxpr.invars, args, strict=True):
        env[id(v)] = x

    def read(x):
        return x.val if isinstance(x, Literal) else env[id(x)]

    saved = _state.source
    try:
        for eqn in jaxpr.eqns:
            _state.source = eqn.source_info
            out = bind(eqn.primitive, *[read(x) for x in eqn.invars], **eqn.params)
            if eqn.primitive.multiple_results:
                for v, o in zip(eqn.outvars, out, strict=True):
                    env[id(v)] = o
            else:
                env[id(eqn.outvars[0])] = out
    finally:
        _state.source = saved
    return [read(x) for x in jaxpr.outvars]


@contextmanager
def source_info(info: tuple[str, int] | None) -> Iterator[None]:
    """Attribute equations recorded inside to ``info`` (the user's line that caused them)."""
    saved = _state.source
    _state.source = info
    try:
        yield
    finally:
        _state.source = saved


def current_source() -> tuple[str, int] | None:
    return _state.source or user_frame()


def user_error(e: Exception) -> Exception:
    """``e`` with the user's file:line in front of its message (for built-in exception types too)."""
    if isinstance(e, FunctraceError):
        return located(e)
    if e.args:
        e.args = (f"{format_frame(current_source())}: {e.args[0]}",) + tuple(e.args[1:])
    return e


def trace_at(fn: Callable[[list], list], avals: Sequence[ShapedArray]) -> ClosedJaxpr:
    """Trace ``fn`` (flat list in, flat list out) at abstract ``avals`` into a ClosedJaxpr."""
    with new_trace() as trace:
        outs = fn([trace.new_arg(a) for a in avals])
        jaxpr, consts = trace.to_jaxpr(outs)
    return ClosedJaxpr(jaxpr, consts)
