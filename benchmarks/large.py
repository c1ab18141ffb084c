"""A long straight-line program: what ``jit``'s first call costs against running it eagerly.

The program repeats sin, ·1.5, tanh, +0.25 on a float64 vector of 8 elements (so the arithmetic
is negligible and what is measured is the per-equation cost of each stage) and sums the result;
its gradient program is about 2.5 times as long. Each first call uses a fresh Python function,
so no cache keyed on the function answers. Peak memory is ``tracemalloc``'s peak over one call
(NumPy reports its arrays to it), measured apart from the timing.

The size is ``FUNCTRACE_BENCH_LARGE_OPS`` operations (default 2,000, and 400 with ``--quick``,
so that ``python -m benchmarks`` stays quick); issue 21 measures 100,000:
``FUNCTRACE_BENCH_LARGE_OPS=100000 python -m benchmarks --only large --frameworks functrace``.
"""

from __future__ import annotations

import os
import tracemalloc
from typing import Any, Callable

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from benchmarks import frameworks as fw
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, value

NAME = "large"
OPS = int(os.environ.get("FUNCTRACE_BENCH_LARGE_OPS", "2000"))
QUICK_OPS = 400  # --quick (the smoke test), unless FUNCTRACE_BENCH_LARGE_OPS says otherwise
TITLE = "a long program: jit's first call against eager"

EAGER, EAGER_GRAD = "eager f(x)", "eager grad(f)(x)"
JIT, JIT_GRAD = "jit(f)(x), first call", "jit(grad(f))(x), first call"


def program(n_ops: int) -> Callable[[Any], Any]:
    """A fresh function of ``n_ops`` elementwise operations and a sum."""

    def f(x):
        for _ in range(max(n_ops // 4, 1)):
            x = fnp.sin(x)
            x = x * 1.5
            x = fnp.tanh(x)
            x = x + 0.25
        return fnp.sum(x)

    return f


X = np.linspace(-1.0, 1.0, 8)


def steps(n_ops: int) -> dict[str, Callable[[], Any]]:
    return {
        EAGER: lambda: program(n_ops)(X),
        EAGER_GRAD: lambda: ft.grad(program(n_ops))(X),
        JIT: lambda: ft.jit(program(n_ops))(X),
        JIT_GRAD: lambda: ft.jit(ft.grad(program(n_ops)))(X),
    }


_SAME_ORDER = {JIT: EAGER, JIT_GRAD: EAGER_GRAD}  # the eager row each jit row is compared with


def peak_mib(step: Callable[[], Any]) -> float:
    """``tracemalloc``'s peak, in MiB above what was allocated before, over one call of ``step``."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        step()
        return (tracemalloc.get_traced_memory()[1] - before) / 2**20
    finally:
        tracemalloc.stop()


def run(ctx: Ctx) -> dict[str, Any]:
    n = QUICK_OPS if ctx.quick and "FUNCTRACE_BENCH_LARGE_OPS" not in os.environ else OPS
    step = steps(n)
    with ft.use_backend("numpy"):
        want = {EAGER: program(n)(X), EAGER_GRAD: ft.grad(program(n))(X)}
        cases = [Case(impl, "functrace", lambda impl=impl: step[impl],
                      check=lambda out, impl=impl: assert_allclose_tree(out, want[_SAME_ORDER.get(impl, impl)],
                                                                        rtol=1e-9, atol=1e-12))
                 for impl in step]
        rows = run_cases(ctx, cases)
        eqns = {EAGER: len(ft.make_jaxpr(program(n))(X).jaxpr.eqns),
                EAGER_GRAD: len(ft.make_jaxpr(ft.grad(program(n)))(X).jaxpr.eqns)}
        for row in rows:
            if row["status"] != "ok":
                continue
            row["eqns"] = eqns[_SAME_ORDER.get(row["impl"], row["impl"])]
            row["peak_mib"] = peak_mib(step[row["impl"]])
            eager = value(rows, _SAME_ORDER.get(row["impl"], row["impl"]))
            if eager and row.get("median_s"):
                row["ratio_vs_eager"] = row["median_s"] / eager
    table = {"title": f"{n:,} operations on float64[8]: eager calls, and jit's first call of a fresh function",
             "columns": [("impl", "implementation", "text"), ("median_s", "median", "time"), ("best_s", "best", "time"),
                         ("ratio_vs_eager", "× eager", "ratio"), ("eqns", "equations", "int"),
                         ("peak_mib", "peak MiB (tracemalloc)", "float"), ("status", "check", "status")],
             "rows": rows}
    return {"name": NAME, "title": TITLE, "tables": [table],
            "summary": [{"label": f"large: grad of a {n:,}-op program (jit: first call)",
                         "cells": {fw.FT: value(rows, EAGER_GRAD), fw.FT_JIT: value(rows, JIT_GRAD)}}],
            "notes": ["× eager: a jit row's time over the eager row of the same program (f, or grad(f)).",
                      "Set FUNCTRACE_BENCH_LARGE_OPS to change the size (issue 21 measures 100,000)."]}
