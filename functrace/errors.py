"""The exceptions functrace raises. Each message names the user's line and what to do."""

from __future__ import annotations


class FunctraceError(Exception):
    """Base class; ``add_location`` prefixes the message with the user's file:line once."""

    located = False

    def add_location(self, where: str) -> None:
        if not self.located and self.args:
            self.args = (f"{where}: {self.args[0]}",) + tuple(self.args[1:])
            self.located = True


class ShapeError(FunctraceError, ValueError):
    """Operands whose shapes do not fit the operation."""


class AxisError(FunctraceError, ValueError, IndexError):
    """An axis out of range for the array (also an IndexError, as in NumPy)."""


class DTypeError(FunctraceError, TypeError):
    """Operands whose dtypes do not fit the operation."""


class ConcretizationError(FunctraceError, TypeError):
    """A traced value was used where Python needs a concrete one: an abstract value (under ``jit``)
    in ``if``/``float()``, or a value that carries a derivative turned into a Python number
    (``float()``, ``int()``, ``.item()``, ``math.sin``), which would silently drop the derivative."""


class TracerArrayConversionError(FunctraceError, TypeError):
    """``numpy.asarray``/``numpy.array`` applied to a traced value (it would drop out of the trace)."""


class UnexpectedTracerError(FunctraceError, RuntimeError):
    """A traced value escaped the function being transformed and was used afterwards."""


class UnsupportedNumpyFunctionError(FunctraceError, NotImplementedError):
    """A NumPy function was called on a traced value but has no traced equivalent."""


class MissingRuleError(FunctraceError, NotImplementedError):
    """A transform met a primitive that has no rule for it (a JVP, transpose or batching rule, or a
    backend implementation). Raised by ``functrace.rules.missing_rule``, which names the primitive,
    the transform and the user's line."""


class BackendError(FunctraceError, ValueError):
    """An unknown or unavailable backend."""


class GradError(FunctraceError, TypeError):
    """Misuse of grad / vjp: non-scalar output, integer input, bad argnums, bad cotangent."""


class UnboundAxisError(FunctraceError, NameError):
    """A collective over an axis name that no enclosing vmap and no process group binds."""


class DistributedError(FunctraceError, RuntimeError):
    """A process group that cannot start, a process that failed or never joined, or processes
    that disagree on a collective (shapes, dtypes, order)."""
