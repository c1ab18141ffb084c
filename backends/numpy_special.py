"""NumPy implementations of the newer special-function primitives."""

IMPLS: dict = {}
