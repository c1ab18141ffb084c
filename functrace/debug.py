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


# ---------------------------------------------------------------------------- debug_nans / debug_infs
def _bad(x: Any, nans: bool, infs: bool) -> bool:
    """Whether the concrete array ``x`` holds a NaN (``nans``) or an infinity (``infs``)."""
    import numpy as np

    from functrace.api import device_get

    a = np.asarray(device_get(x))
    if a.dtype.kind not in "fc":
        return False
    return bool((nans and np.isnan(a).any()) or (infs and np.isinf(a).any()))


def check_floats(prim: Any, vals: list, params: dict, out: Any, where: Any) -> None:
    """Raise ``FloatingPointError`` if ``prim`` made a NaN (an Inf) that none of its operands had:
    called after every primitive evaluation while ``debug_nans`` (``debug_infs``) is on.

    ``where`` is the (file, line) the equation came from: the user's line, and for an equation a
    transform created (a derivative), the line of the forward computation it differentiates.
    """
    from functrace import config
    from functrace.tracing import Tracer
    from functrace.util import format_frame

    nans, infs = config.DEBUG_NANS, config.DEBUG_INFS
    outs = out if isinstance(out, (list, tuple)) else [out]
    if any(isinstance(o, Tracer) for o in outs) or not any(_bad(o, nans, infs) for o in outs):
        return
    if any(_bad(v, nans, infs) for v in vals if not isinstance(v, Tracer)):
        return  # it came in: the equation that made it was reported (or the input had it)
    what = "NaN" if nans and any(_bad(o, True, False) for o in outs) else "Inf"
    from functrace.api import device_get
    from functrace.avals import concrete_aval

    def aval(x: Any) -> str:
        try:
            return concrete_aval(device_get(x)).str_short()
        except TypeError:
            return type(x).__name__

    params_text = ", ".join(f"{k}={v}" for k, v in params.items() if not hasattr(v, "jaxpr"))
    eqn = (f"{', '.join(aval(o) for o in outs)} = {prim.name}"
           f"{'[' + params_text + ']' if params_text else ''} {' '.join(aval(v) for v in vals)}")
    place = (f"in the derivative of the computation at {format_frame(where)}" if _in_derivative()
             else f"at {format_frame(where)}")
    raise FloatingPointError(
        f"the primitive '{prim.name}' produced a {what} that none of its operands had, {place}, in the "
        f"equation `{eqn}`. Turn the check off with ft.config.update('debug_nans', False)")


def _in_derivative() -> bool:
    """Whether the equation being evaluated was made by differentiation: the call stack passes
    through the backward pass or a JVP rule's tangent computation (not its primal ``prim_bind``)."""
    import sys

    f = sys._getframe(2)
    while f is not None:
        name = f.f_code.co_name
        if name == "prim_bind":
            return False
        if name == "backward_pass" or "jvp" in name or (name == "rule" and f.f_code.co_filename.endswith("rules.py")):
            return True
        f = f.f_back
    return False


def checked_jit_call(jitted: Any, fun: Any, args: tuple, kwargs: dict) -> Any:
    """Run the compiled ``jitted``; if a result holds a NaN (Inf), run ``fun`` again eagerly, one
    primitive at a time, so that the equation that made it is found and named (as JAX does)."""
    from functrace import config
    from functrace.tracing import Tracer
    from functrace.tree_util import tree_leaves

    config._IN_CHECKED_CALL = True
    try:
        out = jitted(*args, **kwargs)
    finally:
        config._IN_CHECKED_CALL = False
    leaves = tree_leaves(out)
    if any(isinstance(x, Tracer) for x in leaves):
        return out
    if any(_bad(x, config.DEBUG_NANS, config.DEBUG_INFS) for x in leaves):
        with config.disable_jit():
            fun(*args, **kwargs)  # raises FloatingPointError at the equation
    return out


__all__ = ["print"]
