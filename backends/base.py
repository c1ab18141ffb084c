"""The Backend protocol: an implementation per primitive, array conversion, and lowering."""

from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from functrace.primitives import Primitive


class Backend:
    """A place where a jaxpr runs.

    ``impls[prim](*arrays, **params)`` computes one primitive on the backend's native arrays.
    """

    name: str = "?"
    array_types: tuple[type, ...] = ()
    # Elementwise primitives whose implementations broadcast their operands as NumPy does. The
    # lowering hands them an operand un-broadcast where the jaxpr spelled the broadcast out
    # (``broadcast_in_dim``), which saves materialising it.
    implicit_broadcast: frozenset = frozenset()
    # A context manager factory that silences floating-point warnings (NumPy's ``errstate``), or
    # None. Where given, lowered code binds the ``raw`` form of implementations that have one
    # (those that silence warnings on each call) and enters this once around the whole program.
    silence_errors: Callable[[], Any] | None = None
    # Primitives whose implementation returns, for results of rank 1 or more, a new array that
    # nothing else refers to (not a view of an operand). The lowering lets a later elementwise
    # operation write into such a result where it is dead, of the same shape and dtype, and was
    # never read by an operation that could have made a view of it.
    fresh_results: frozenset = frozenset()

    def writes_into(self, fn: Callable[..., Any]) -> bool:
        """Whether the bound implementation ``fn`` takes ``out=`` (an array to write into)."""
        return False

    # A control-flow body (a scan's step, a loop's body, a branch) is compiled to straight-line
    # code once it has run this many times; until then it is interpreted. Compiling a body of
    # a dozen equations costs about as much as 32 interpreted runs (0.35 ms against 11 µs saved
    # per run), so a body is never more than about twice as slow as either choice alone: eager
    # code traces a new body on every call, while under jit the same body runs call after call.
    COMPILE_BODY_AFTER = 32
    _BODY_CACHE_SIZE = 256

    def __init__(self) -> None:
        self.impls: dict[Primitive, Callable[..., Any]] = {}
        # id(closed jaxpr) -> [the closed jaxpr (kept alive, so the id stays its own), runs, compiled or None]
        self._bodies: dict[int, list] = {}
        # Threads running control flow share the body cache: its updates are made under this lock
        # (compiling is done outside it; two threads may compile one body, and one result is kept).
        self._bodies_lock = threading.Lock()

    def register(self, prim: Primitive, impl: Callable[..., Any]) -> None:
        if prim in self.impls:
            raise ValueError(f"{self.name} backend: {prim.name} is already implemented")
        self.impls[prim] = impl

    def specialize(self, eqn: Any) -> Callable[..., Any] | None:
        """An implementation of ``eqn``'s primitive for its particular types and params (chosen
        once, when a program is lowered, instead of dispatching on each call), or None for the
        general one in ``impls``. It takes the same operands and params."""
        return None

    def compiled_body(self, closed: Any) -> Callable[..., tuple] | None:
        """``closed`` compiled by the jit lowering (flat arrays in, tuple out) once it has been
        asked for ``COMPILE_BODY_AFTER`` times, else None: the control-flow implementations
        interpret a body until then. Under jit a body is the same object on every call, so its
        compiled form is made once; the cache holds the last ``_BODY_CACHE_SIZE`` bodies."""
        with self._bodies_lock:
            entry = self._bodies.get(id(closed))
            if entry is None:
                while len(self._bodies) >= self._BODY_CACHE_SIZE:
                    del self._bodies[next(iter(self._bodies))]  # the oldest
                entry = self._bodies[id(closed)] = [closed, 0, None]
            if entry[2] is not None:
                return entry[2]
            entry[1] += 1
            if entry[1] < self.COMPILE_BODY_AFTER:
                return None
        from functrace.backends.lowering import lower_jaxpr  # lowering imports this module's users

        fn, _ = lower_jaxpr(closed.jaxpr, closed.consts, self, "body")
        entry[2] = fn
        return fn

    def asarray(self, x: Any) -> Any:
        """Convert a NumPy array, Python scalar or other backend's array to a native array."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        """Copy a native array to a NumPy array on the host."""
        raise NotImplementedError

    def copy(self, x: Any) -> Any:
        """A new, writable array with ``x``'s contents that nothing else refers to: a result
        handed to a user that would otherwise be a constant, an input or a view. NumPy scalars
        are immutable and pass as they are; other arrays are copied by their own ``copy``
        (NumPy) or ``clone`` (torch), which also makes a broadcast view dense."""
        if isinstance(x, np.ndarray):
            return np.array(x, copy=True)
        if isinstance(x, np.generic):
            return x
        clone = getattr(x, "clone", None)
        return clone() if clone is not None else x.copy()

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self.array_types)
