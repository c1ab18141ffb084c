"""The ahead-of-time stages of ``jit``, as in JAX: ``jitted.trace(*args)`` -> ``Traced``,
``.lower()`` -> ``Lowered`` (``.as_text()``), ``.compile()`` -> ``Compiled``. Split out of
``transforms/jit.py``, which makes them and re-exports them.
"""

from __future__ import annotations

from typing import Any, Callable

from functrace.api import to_backend
from functrace.ir import ClosedJaxpr
from functrace.tracing import current_backend, get_aval
from functrace.transforms.cost import cost_analysis
from functrace.tree_util import PyTreeDef, tree_flatten, tree_unflatten


class Traced:
    """A jitted function traced for one input signature (``jitted.trace(*args)``).

    ``jaxpr`` is the ``ClosedJaxpr`` that ``jit`` runs (optimised); ``lower()`` gives the
    ``Lowered`` form; ``out_tree`` the structure of the result.
    """

    __slots__ = ("_jitted", "_args", "_kwargs", "jaxpr", "out_tree")

    def __init__(self, jitted: Callable, args: tuple, kwargs: dict, jaxpr: ClosedJaxpr, out_tree: PyTreeDef):
        self._jitted, self._args, self._kwargs = jitted, args, kwargs
        self.jaxpr = jaxpr
        self.out_tree = out_tree

    def lower(self) -> "Lowered":
        return self._jitted.lower(*self._args, **self._kwargs)

    def __repr__(self) -> str:
        return f"Traced({len(self.jaxpr.eqns)} equations)"


class Lowered:
    """A jitted function lowered for one input signature on one backend.

    ``as_text()`` is the generated Python source; ``jaxpr`` the optimised jaxpr it was made
    from; ``compile()`` the ``Compiled`` function, called like the jitted one without its static
    arguments; ``flat_fn`` the generated function itself (flat arrays in, tuple of flat outputs out).
    """

    __slots__ = ("jaxpr", "source", "flat_fn", "backend", "in_tree", "in_avals", "out_tree", "static_key")

    def __init__(self, jaxpr: ClosedJaxpr, source: str, flat_fn: Callable[..., tuple], backend: str,
                 in_tree: PyTreeDef | None = None, in_avals: tuple = (), out_tree: PyTreeDef | None = None,
                 static_key: tuple = ()):
        self.jaxpr = jaxpr
        self.source = source
        self.flat_fn = flat_fn
        self.backend = backend
        self.in_tree = in_tree
        self.in_avals = in_avals
        self.out_tree = out_tree
        self.static_key = static_key

    def as_text(self) -> str:
        return self.source

    def compile(self) -> "Compiled":
        """The compiled function (already compiled when lowered: this wraps it)."""
        return Compiled(self)

    def cost_analysis(self) -> dict[str, float]:
        return cost_analysis(self.jaxpr.jaxpr)

    def __repr__(self) -> str:
        return f"Lowered({self.backend}, {len(self.jaxpr.eqns)} equations)"


class Compiled:
    """The compiled form of a ``Lowered`` function: call it with the arguments it was lowered
    for, less the static ones (as in JAX); arrays must have the lowered shapes and dtypes."""

    __slots__ = ("lowered",)

    def __init__(self, lowered: Lowered):
        self.lowered = lowered

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        low = self.lowered
        flat, in_tree = tree_flatten((args, kwargs) if kwargs else args)
        avals = tuple(get_aval(x) for x in flat)
        if in_tree != low.in_tree or avals != low.in_avals:
            got = ", ".join(a.str_short() for a in avals)
            want = ", ".join(a.str_short() for a in low.in_avals)
            raise TypeError(f"Compiled function called with arguments ({got}) of another structure or type than "
                            f"those it was lowered for ({want}); static arguments are left out of the call. "
                            "Lower it again for these arguments, or call the jitted function itself")
        backend = current_backend()
        if backend.name != low.backend:
            raise TypeError(f"Compiled function was lowered for the {low.backend} backend, but the active one "
                            f"is {backend.name}")
        outs = low.flat_fn(*[to_backend(x) for x in flat])
        return tree_unflatten(low.out_tree, outs)

    def as_text(self) -> str:
        return self.lowered.source

    def cost_analysis(self) -> dict[str, float]:
        """An estimate of the work of one call, as JAX's (keys ``flops``, ``transcendentals``,
        ``bytes accessed``, plus ``equations``); see ``cost_analysis``."""
        return cost_analysis(self.lowered.jaxpr.jaxpr)

    def __repr__(self) -> str:
        return f"Compiled({self.lowered.backend}, {len(self.lowered.jaxpr.eqns)} equations)"


__all__ = ["Traced", "Lowered", "Compiled"]
