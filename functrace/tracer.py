"""The traced value, ``Tracer``: an abstract value, the trace it belongs to and, on eager
traces, its concrete value. Split out of ``functrace.tracing``, which re-exports it; its
conversions to Python numbers and NumPy arrays refuse what would silently drop a derivative.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

import numpy as np

from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.errors import ConcretizationError, TracerArrayConversionError
from functrace.ir import Var
from functrace.trace_state import current_backend, located

if TYPE_CHECKING:
    from functrace.tracing import Trace


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
            where = self._trace.purpose or "being traced into a program (jit, make_jaxpr, eval_shape, a lax body)"
            static = " Mark the argument static with static_argnums, or write" if self._trace.purpose != "under vmap" \
                else " Each example is traced at once, so write"
            raise located(ConcretizationError(
                f"{what} needs a concrete value, but this traced {self.aval.str_short()} is abstract "
                f"({where}).{static} the choice with functrace.numpy.where or functrace.lax.cond instead of "
                "Python control flow"
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
