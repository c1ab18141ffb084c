"""Runtime debugging inside transformed code (as ``jax.debug``): ``ft.debug.print``.

``print`` inside a ``jit``-ted function runs once, while tracing, and shows tracers;
``ft.debug.print`` is an equation of the program, so it prints the values each time the program
runs: eagerly, under ``jit`` (when the compiled code runs), under ``vmap`` (once per example) and
under ``grad`` (the forward values; derivatives print nothing).
"""

from __future__ import annotations

from typing import Any


def print(fmt: str, *args: Any, **kwargs: Any) -> None:  # noqa: A001 -- the name JAX uses
    """Print ``fmt.format(*args, **kwargs)`` with the runtime values of the array arguments.

    >>> @ft.jit
    ... def f(x):
    ...     ft.debug.print("x = {x}, sum = {}", fnp.sum(x), x=x)
    ...     return x * 2
    >>> _ = f(np.arange(3.0))
    x = [0. 1. 2.], sum = 3.0

    The values are NumPy arrays when formatted (format specs such as ``{x:.3f}`` apply to scalars).
    Arguments must be arrays or scalars; pass the leaves of a pytree as separate values.
    """
    from functrace.ops.debugging import debug_print

    debug_print(fmt, *args, **kwargs)


__all__ = ["print"]
