"""Trace + transform time of grad of the MLP loss, and the cold start of jit(value_and_grad).

This is the fixed cost a user pays before the first step runs: ``make_jaxpr(grad(loss))``
(tracing plus the JVP and transpose transforms, no execution) and a fresh
``jit(value_and_grad(loss))`` called once (trace, transform, optimise, lower, run). Every call
builds a fresh loss closure, so no framework cache keyed on the function can answer it.
"""

from __future__ import annotations

from typing import Any

import functrace as ft
from benchmarks import baselines, mlp
from benchmarks import frameworks as fw
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, value

NAME = "trace"
TITLE = "trace + transform time of grad of the MLP loss (float32, batch 256)"


def _count_eqns(closed: Any) -> int:
    return len(closed.jaxpr.eqns)


def _ft_make_jaxpr() -> Any:
    params, x, onehot = mlp.data()

    def step():
        with ft.use_backend("numpy"):
            return ft.make_jaxpr(ft.grad(mlp.functrace_loss()))(params, x, onehot)

    return step


def _jax_make_jaxpr() -> Any:
    jax = fw.jax()
    params, x, onehot = mlp.data()
    return lambda: jax.make_jaxpr(jax.grad(mlp.jax_loss(jax)))(params, x, onehot)


def _ft_jit_first_call(backend: str) -> Any:
    jit = fw.ft_jit()
    if backend == "torch":
        fw.ft_torch_backend()
    with ft.use_backend(backend) as b:
        args = ft.tree_util.tree_map(b.asarray, mlp.data())

    def step():
        with ft.use_backend(backend):
            return jit(ft.value_and_grad(mlp.functrace_loss()))(*args)

    return step


def _jax_jit_first_call() -> Any:
    jax = fw.jax()
    args = jax.tree_util.tree_map(jax.device_put, mlp.data())
    return lambda: jax.block_until_ready(jax.jit(jax.value_and_grad(mlp.jax_loss(jax)))(*args))


def run(ctx: Ctx) -> dict[str, Any]:
    tracers = {fw.FT: _ft_make_jaxpr, fw.JAX: _jax_make_jaxpr}
    trace_rows = run_cases(ctx, [Case(fw.FT, "functrace", _ft_make_jaxpr), Case(fw.JAX, "jax", _jax_make_jaxpr)],
                           _count_eqns)
    for row in trace_rows:
        if row["status"] == "ok":
            row["eqns"] = _count_eqns(tracers[row["impl"]]()())

    reference = baselines.mlp_value_and_grad(*mlp.data())
    jit_cases = [Case(fw.FT_JIT, "functrace", lambda: _ft_jit_first_call("numpy")),
                 Case(fw.FT_TORCH_JIT, "functrace-torch", lambda: _ft_jit_first_call("torch")),
                 Case(fw.JAX_JIT, "jax", _jax_jit_first_call)]
    jit_rows = run_cases(ctx, jit_cases, lambda out: assert_allclose_tree(out, reference, rtol=1e-4, atol=1e-6))
    time_cols = [("impl", "implementation", "text"), ("median_s", "median", "time"), ("best_s", "best", "time")]
    tables = [
        {"title": "make_jaxpr(grad(loss)): trace + JVP + transpose, nothing executed",
         "columns": [*time_cols, ("eqns", "equations", "int"), ("status", "check", "status")], "rows": trace_rows},
        {"title": "jit(value_and_grad(loss)) of a fresh function, first call: trace + transform + lower + run",
         "columns": [*time_cols, ("status", "check", "status")], "rows": jit_rows},
    ]
    return {"name": NAME, "title": TITLE, "tables": tables,
            "summary": [{"label": "trace: make_jaxpr(grad(MLP loss))",
                         "cells": {r["impl"]: value(trace_rows, r["impl"]) for r in trace_rows}},
                        {"label": "trace: jit(value_and_grad(MLP loss)), first call",
                         "cells": {r["impl"]: value(jit_rows, r["impl"]) for r in jit_rows}}],
            "notes": ["In the summary, make_jaxpr times sit in the eager columns and first-call times in the jit "
                      "columns."]}
