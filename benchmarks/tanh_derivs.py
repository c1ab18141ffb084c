"""The n-th derivative of tanh, n = 1…8, by nesting grad: IR size and time per call.

Nested reverse mode is where a tracing framework's IR can blow up (JAX's grows about 2.7× per
order). Three things are measured: the number of equations in ``make_jaxpr`` of the n-th
derivative, the time of one call (eager: trace and transform every time; jit: the cached
program), and the cold start of jit at n = 8 (trace + transform + lower + first call).
Inputs are the float64 scalar 0.3; the reference is the closed form tanh⁽ⁿ⁾ = P_n(tanh), whose
polynomial ``baselines.tanh_derivative_poly`` derives once, ahead of time.
"""

from __future__ import annotations

from typing import Any, Callable

import functrace as ft
import functrace.numpy as fnp
from benchmarks import baselines
from benchmarks import frameworks as fw
from benchmarks.cases import autograd_case, functrace_cases, jax_cases, numpy_case, torch_case
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, short_error, value

NAME = "tanh"
TITLE = "n-th derivative of tanh by nested grad, n = 1…8 (float64 scalar)"
ORDERS = tuple(range(1, 9))
X = 0.3
# make_jaxpr equation counts of jax.grad^n(jnp.tanh), as quoted in the performance issue.
JAX_EQNS_REFERENCE = {1: 5, 2: 15, 3: 34, 4: 75, 5: 172, 6: 417, 7: 1066, 8: 2847}


def nest(grad: Callable, f: Callable, n: int) -> Callable:
    for _ in range(n):
        f = grad(f)
    return f


def _torch_step(n: int) -> Callable[[Any], Any]:
    def build(torch: Any) -> Any:
        x = torch.tensor(X, dtype=torch.float64, requires_grad=True)

        def step():
            y = torch.tanh(x)
            for k in range(n):
                (y,) = torch.autograd.grad(y, x, create_graph=k < n - 1)
            return y.detach()

        return step

    return build


def _autograd_step(n: int) -> Callable[[Any], Any]:
    def build(autograd: Any) -> Any:
        g = nest(autograd.grad, autograd.numpy.tanh, n)
        return lambda: g(X)

    return build


def cases(n: int) -> list[Case]:
    coeffs = baselines.tanh_derivative_poly(n)
    return [
        numpy_case(lambda: lambda: baselines.tanh_derivative(X, coeffs)),
        *functrace_cases(lambda: nest(ft.grad, fnp.tanh, n), (X,)),
        *jax_cases(lambda jax: nest(jax.grad, jax.numpy.tanh, n), (X,)),
        torch_case(_torch_step(n)),
        autograd_case(_autograd_step(n)),
    ]


def equation_counts(ctx: Ctx) -> list[dict[str, Any]]:
    """Rows of make_jaxpr equation counts per order: functrace, JAX measured, JAX as quoted."""
    rows = []
    # The default (exact rewrites only), and the opt-in algebra of ft.config "inexact_rewrites".
    for impl, inexact in (("functrace", False), ("functrace, inexact_rewrites", True)):
        if not ctx.wants("functrace"):
            break
        row: dict[str, Any] = {"impl": impl, "family": "functrace", "status": "ok", "note": ""}
        try:
            with ft.config.option("inexact_rewrites", inexact), ft.use_backend("numpy"):
                for n in ORDERS:
                    row[f"n{n}"] = len(ft.make_jaxpr(nest(ft.grad, fnp.tanh, n))(X).jaxpr.eqns)
        except Exception as e:
            row.update(status="error", note=short_error(e))
        rows.append(row)
    if ctx.wants("jax"):
        row = {"impl": "jax (measured)", "family": "jax", "status": "ok", "note": ""}
        try:
            jax = fw.jax()
            for n in ORDERS:
                row[f"n{n}"] = len(jax.make_jaxpr(nest(jax.grad, jax.numpy.tanh, n))(X).jaxpr.eqns)
        except fw.Unavailable as e:
            row.update(status="n/a", note=str(e))
        rows.append(row)
    rows.append({"impl": "jax (issue's figures)", "family": "reference", "status": "ok", "note": "",
                 **{f"n{n}": c for n, c in JAX_EQNS_REFERENCE.items()}})
    return rows


def _cold_functrace(backend: str) -> Callable[[], Any]:
    jit = fw.ft_jit()
    if backend == "torch":
        fw.ft_torch_backend()

    def run_once():
        g = jit(nest(ft.grad, lambda x: fnp.tanh(x), 8))  # a fresh function: nothing cached
        with ft.use_backend(backend) as b:
            return g(b.asarray(X))

    return run_once


def _cold_jax() -> Callable[[], Any]:
    jax = fw.jax()

    def run_once():
        g = jax.jit(nest(jax.grad, lambda x: jax.numpy.tanh(x), 8))
        return jax.block_until_ready(g(X))

    return run_once


def cold_start(ctx: Ctx) -> list[dict[str, Any]]:
    """jit cold start at n = 8: a fresh function, traced, transformed, lowered and called once."""
    reference = baselines.tanh_derivative(X, baselines.tanh_derivative_poly(8))
    plan = [Case(fw.FT_JIT, "functrace", lambda: _cold_functrace("numpy")),
            Case(fw.FT_TORCH_JIT, "functrace-torch", lambda: _cold_functrace("torch")),
            Case(fw.JAX_JIT, "jax", _cold_jax)]
    return run_cases(ctx, plan, lambda out: assert_allclose_tree(out, reference, rtol=1e-9, atol=1e-9))


def _merge_per_order(per_order: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per implementation with its median at each order (``n1``…), worst status wins."""
    merged: dict[str, dict[str, Any]] = {}
    rank = {"ok": 0, "mismatch": 1, "error": 2, "n/a": 3}
    for n, rows in per_order.items():
        for r in rows:
            m = merged.setdefault(r["impl"], {"impl": r["impl"], "family": r["family"], "status": "ok", "note": ""})
            m[f"n{n}"] = r.get("median_s") if r["status"] in ("ok", "mismatch") else None
            if rank[r["status"]] > rank[m["status"]]:
                m["status"], m["note"] = r["status"], f"n={n}: {r['note']}"
    return list(merged.values())


def run(ctx: Ctx) -> dict[str, Any]:
    per_order = {}
    for n in ORDERS:
        reference = baselines.tanh_derivative(X, baselines.tanh_derivative_poly(n))
        per_order[n] = run_cases(ctx, cases(n),
                                 lambda out, ref=reference: assert_allclose_tree(out, ref, rtol=1e-9, atol=1e-9))
    order_cols = [(f"n{n}", f"n={n}", "time") for n in ORDERS]
    eqn_cols = [(f"n{n}", f"n={n}", "int") for n in ORDERS]
    time_rows = _merge_per_order(per_order)
    cold_rows = cold_start(ctx)
    tables = [
        {"title": "equations in make_jaxpr of the n-th derivative",
         "columns": [("impl", "framework", "text"), *eqn_cols, ("status", "check", "status")],
         "rows": equation_counts(ctx)},
        {"title": "time per call of the n-th derivative (eager: traced and transformed on every call)",
         "columns": [("impl", "implementation", "text"), *order_cols, ("status", "check", "status")],
         "rows": time_rows},
        {"title": "jit cold start at n=8: trace + transform + lower + first call (fresh function each repeat)",
         "columns": [("impl", "implementation", "text"), ("median_s", "median", "time"), ("best_s", "best", "time"),
                     ("status", "check", "status")],
         "rows": cold_rows},
    ]
    rows8 = per_order[8]
    return {"name": NAME, "title": TITLE, "tables": tables,
            "per_order": {str(n): rows for n, rows in per_order.items()},
            "summary": [{"label": "tanh: 8th derivative, per call", "cells": {r["impl"]: value(rows8, r["impl"])
                                                                             for r in rows8}},
                        {"label": "tanh: jit cold start at n=8", "cells": {r["impl"]: value(cold_rows, r["impl"])
                                                                          for r in cold_rows}}],
            "notes": ["The NumPy row evaluates the closed form P_n(tanh x), derived ahead of time: it is the "
                      "value check, not a like-for-like floor.",
                      "float64 everywhere (JAX with jax_enable_x64; the equation counts are the same in float32)."]}
