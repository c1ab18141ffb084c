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

    def __init__(self) -> None:
        self.impls: dict[Primitive, Callable[..., Any]] = {}

    def register(self, prim: Primitive, impl: Callable[..., Any]) -> None:
        if prim in self.impls:
            raise ValueError(f"{self.name} backend: {prim.name} is already implemented")
        self.impls[prim] = impl

    def asarray(self, x: Any) -> Any:
        """Convert a NumPy array, Python scalar or other backend's array to a native array."""
        raise NotImplementedError

    def to_numpy(self, x: Any) -> Any:
        """Copy a native array to a NumPy array on the host."""
        raise NotImplementedError

    def is_native(self, x: Any) -> bool:
        return isinstance(x, self.array_types)
