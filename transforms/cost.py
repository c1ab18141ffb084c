"""``cost_analysis``: a static count of a program's work, as ``Lowered.cost_analysis()`` and
``Compiled.cost_analysis()`` report it (JAX's AOT API). Split out of ``transforms/jit.py``, which
re-exports it."""

from __future__ import annotations

import math

from functrace.ir import Jaxpr

_TRANSCENDENTAL = frozenset(["exp", "exp2", "expm1", "log", "log1p", "sin", "cos", "tan", "asin", "acos", "atan",
                             "atan2", "sinh", "cosh", "tanh", "asinh", "acosh", "atanh", "logistic", "erf", "pow",
                             "sqrt"])


def cost_analysis(jaxpr: Jaxpr) -> dict[str, float]:
    """Count a program's work: ``equations`` (including those of sub-programs, once each),
    ``flops`` (2·m·n·k per batch for ``dot_general``, 2·output·window for a convolution, one per
    output element for elementwise and one per input element for reductions),
    ``transcendentals`` (elementwise exp, log, trigonometric ...), ``bytes accessed`` (inputs
    and outputs of every equation). A loop body counts once per step where the trip count is
    known (``scan``'s length), once otherwise."""
    totals = {"equations": 0.0, "flops": 0.0, "transcendentals": 0.0, "bytes accessed": 0.0}
    stack: list[tuple[Jaxpr, float]] = [(jaxpr, 1.0)]
    while stack:
        jx, times = stack.pop()
        for eqn in jx.eqns:
            totals["equations"] += 1
            prim = eqn.primitive
            in_avals = [x.aval for x in eqn.invars]
            out_avals = [v.aval for v in eqn.outvars]
            out_size = sum(a.size for a in out_avals)
            moved = sum(a.size * a.dtype.itemsize for a in in_avals + out_avals)
            totals["bytes accessed"] += times * moved
            if prim.name == "dot_general":
                (lc, _), (lb, _) = eqn.params["dimension_numbers"]
                k = math.prod(in_avals[0].shape[d] for d in lc)
                totals["flops"] += times * 2 * out_size * k
            elif prim.name.startswith("conv_general") and len(in_avals) > 1:
                # each output element: a multiply-add per kernel element of one output feature
                kernel, features = in_avals[1].shape, out_avals[0].shape[1] if out_avals[0].ndim > 1 else 1
                totals["flops"] += times * 2 * out_size * (math.prod(kernel) // max(features, 1))
            elif prim.elementwise:
                totals["flops"] += times * out_size
                if prim.name in _TRANSCENDENTAL:
                    totals["transcendentals"] += times * out_size
            elif prim.name.startswith(("reduce_", "cumsum", "arg")):
                totals["flops"] += times * sum(a.size for a in in_avals)
            steps = float(eqn.params.get("length", 1) or 1)
            for v in eqn.params.values():
                for sub in (v if isinstance(v, (tuple, list)) else (v,)):
                    inner = getattr(sub, "jaxpr", sub)
                    if isinstance(inner, Jaxpr):
                        stack.append((inner, times * steps))
    return totals
