"""Taylor mode: the k-th derivative of tanh at 0.5 by one ``ft.derivatives`` (jet) pass, k = 1…8,
16, 32, beside nested ``grad`` (k ≤ 8: beyond, nesting is hopeless) and JAX's
``jax.experimental.jet`` in the same run.

The issue's targets: at k = 8, ``ft.derivatives`` under jit faster than nested grad under jit;
at k = 32, within 10× of its own cost at k = 8. Every result is checked against the closed form
tanh⁽ᵏ⁾ = P_k(tanh) (``baselines.tanh_derivative_poly``) to a relative 1e-9.
Run alone: ``python -m benchmarks --only jet``.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from benchmarks import baselines
from benchmarks.cases import _functrace_build, _jax_build, numpy_case
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, value
from benchmarks.tanh_derivs import nest

NAME = "jet"
TITLE = "k-th derivative of tanh at 0.5 by Taylor mode (jet), k = 1…8, 16, 32 (float64 scalar)"
ORDERS = (1, 2, 3, 4, 5, 6, 7, 8, 16, 32)
X = 0.5
JET, JET_JIT = "functrace jet eager", "functrace jet jit"
JET_TORCH, JET_TORCH_JIT = "functrace jet eager (torch)", "functrace jet jit (torch)"
GRAD_JIT = "functrace nested grad jit"
JAX_JET, JAX_JET_JIT = "jax jet eager", "jax jet jit"
JAX_GRAD_JIT = "jax nested grad jit"


def _ft_derivative(n: int) -> Callable[[], Callable]:
    return lambda: (lambda x: ft.derivatives(fnp.tanh, n)(x)[n])


def _jax_jet(n: int) -> Callable[[Any], Callable]:
    def make(jax: Any) -> Callable:
        from jax.experimental.jet import jet

        def f(x):
            one, zero = jax.numpy.ones_like(x), jax.numpy.zeros_like(x)
            return jet(jax.numpy.tanh, (x,), ([one] + [zero] * (n - 1),))[1][n - 1]

        return f

    return make


def cases(n: int) -> list[Case]:
    coeffs = baselines.tanh_derivative_poly(n)
    args = (np.float64(X),)
    out = [
        numpy_case(lambda: lambda: baselines.tanh_derivative(X, coeffs)),
        Case(JET, "functrace", _functrace_build(_ft_derivative(n), args, "numpy", False)),
        Case(JET_JIT, "functrace", _functrace_build(_ft_derivative(n), args, "numpy", True)),
        Case(JET_TORCH, "functrace-torch", _functrace_build(_ft_derivative(n), args, "torch", False)),
        Case(JET_TORCH_JIT, "functrace-torch", _functrace_build(_ft_derivative(n), args, "torch", True)),
        Case(JAX_JET, "jax", _jax_build(_jax_jet(n), args, False)),
        Case(JAX_JET_JIT, "jax", _jax_build(_jax_jet(n), args, True)),
    ]
    if n <= 8:
        out += [Case(GRAD_JIT, "functrace", _functrace_build(lambda: nest(ft.grad, fnp.tanh, n), args, "numpy", True)),
                Case(JAX_GRAD_JIT, "jax", _jax_build(lambda jax: nest(jax.grad, jax.numpy.tanh, n), args, True))]
    return out


def _merge(per_order: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    merged: dict[str, dict[str, Any]] = {}
    rank = {"ok": 0, "mismatch": 1, "error": 2, "n/a": 3}
    for n, rows in per_order.items():
        for r in rows:
            m = merged.setdefault(r["impl"], {"impl": r["impl"], "family": r["family"], "status": "ok", "note": ""})
            m[f"n{n}"] = r.get("median_s") if r["status"] in ("ok", "mismatch") else None
            if rank[r["status"]] > rank[m["status"]]:
                m["status"], m["note"] = r["status"], f"n={n}: {r['note']}"
    return list(merged.values())


def equation_counts(ctx: Ctx) -> list[dict[str, Any]]:
    """make_jaxpr sizes: ft.derivatives (jet) against nested grad (k ≤ 8)."""
    rows = []
    if ctx.wants("functrace"):
        with ft.use_backend("numpy"):
            jet_row = {"impl": "functrace jet", "family": "functrace", "status": "ok", "note": ""}
            grad_row = {"impl": "functrace nested grad", "family": "functrace", "status": "ok", "note": ""}
            for n in ORDERS:
                jet_row[f"n{n}"] = len(ft.make_jaxpr(_ft_derivative(n)())(X).jaxpr.eqns)
                if n <= 8:
                    grad_row[f"n{n}"] = len(ft.make_jaxpr(nest(ft.grad, fnp.tanh, n))(X).jaxpr.eqns)
        rows += [jet_row, grad_row]
    return rows


def run(ctx: Ctx) -> dict[str, Any]:
    per_order = {}
    for n in ORDERS:
        ref = baselines.tanh_derivative(X, baselines.tanh_derivative_poly(n))
        per_order[n] = run_cases(ctx, cases(n), lambda out, ref=ref: assert_allclose_tree(out, ref, rtol=1e-9,
                                                                                           atol=1e-9 * abs(ref)))
    cols = [(f"n{n}", f"k={n}", "time") for n in ORDERS]
    rows = _merge(per_order)
    tables = [
        {"title": "time per call of the k-th derivative",
         "columns": [("impl", "implementation", "text"), *cols, ("status", "check", "status")], "rows": rows},
        {"title": "equations in make_jaxpr of the k-th derivative",
         "columns": [("impl", "framework", "text"), *[(f"n{n}", f"k={n}", "int") for n in ORDERS],
                     ("status", "check", "status")], "rows": equation_counts(ctx)},
    ]
    return {"name": NAME, "title": TITLE, "tables": tables,
            "per_order": {str(n): r for n, r in per_order.items()},
            "summary": [{"label": "jet: 8th derivative of tanh, per call",
                         "cells": {r["impl"]: value(per_order[8], r["impl"]) for r in per_order[8]}},
                        {"label": "jet: 32nd derivative of tanh, per call",
                         "cells": {r["impl"]: value(per_order[32], r["impl"]) for r in per_order[32]}}],
            "notes": ["ft.derivatives(f, k) pushes the path x + t through f once, carrying k Taylor coefficients; "
                      "nested grad differentiates the program k times (shown for k ≤ 8).",
                      "The NumPy row evaluates the closed form P_k(tanh x): the value check, not a floor."]}


def targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The issue's two targets, as rows for ``benchmarks.targets``."""
    from benchmarks.targets import _div, _row, _versus
    from benchmarks.timing import fmt_time

    w = results.get(NAME)
    per = w["per_order"] if w is not None else {}
    text, r, rb = _versus(per.get("8", []), JET_JIT, GRAD_JIT, "nested grad jit")
    t8, t32 = value(per.get("8", []), JET_JIT), value(per.get("32", []), JET_JIT)
    b8, b32 = value(per.get("8", []), JET_JIT, "best_s"), value(per.get("32", []), JET_JIT, "best_s")
    ratio = _div(t32, t8)
    text2 = f"{fmt_time(t32)} at k=32 vs {fmt_time(t8)} at k=8 ({ratio:.2f}×)" if ratio is not None else ""
    return [_row(NAME, "derivatives under jit faster than nested grad under jit at k=8", text, r, 1.0, strict=True,
                 ratio_best=rb),
            _row(NAME, "derivatives under jit at k=32 within 10× of k=8", text2, ratio, 10.0, ratio_best=_div(b32, b8))]
