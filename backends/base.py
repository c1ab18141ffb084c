"""The Backend protocol: an implementation per primitive, array conversion, and lowering."""

from __future__ import annotations

from typing import Any, Callable

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

    def __init__(self) -> None:
        self.impls: dict[Primitive, Callable[..., Any]] = {}

    def register(self, prim: Primitive, impl: Callable[..., Any]) -> None:
        if prim in self.impls:
            raise ValueError(f"{self.name} backend: {prim.name} is already implemented")
        self.impls[prim] = impl

    def specialize(self, eqn: Any) -> Callable[..., Any] | None:
        """An implementation of ``eqn``'s primitive for its particular types and params (chosen
        once, when a program is lowered, instead of dispatching on each call), or None for the
        general one in ``impls``. It takes the same operands and params."""
        return None

    def asarray(self, x: Any) -> Any:
        """Convert a NumPy array, Python scalar or other backend's array to a native array."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        """Copy a native array to a NumPy array on the host."""
        raise NotImplementedError

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self.array_types)
