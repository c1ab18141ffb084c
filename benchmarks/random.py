"""Random numbers: ``jit(lambda k: random.normal(k, (1_000_000,)))`` and the same for
``random.uniform`` (float32), against ``jax.random`` under ``jax.jit`` and NumPy's ``Generator``.

functrace and JAX draw the same numbers from the same key (Threefry-2x32, JAX's bit layout),
so their results are checked against each other; NumPy's Generator (PCG64, ziggurat normals)
draws other numbers and is checked by shape and moments only. The "× jax jit" column is the
issue's target: within 3× of JAX jit on the NumPy backend.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrace as ft
from benchmarks import frameworks as fw
from benchmarks.cases import functrace_cases, jax_cases
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, value

NAME = "random"
SIZE = 1_000_000
TITLE = f"random numbers: jit(normal) and jit(uniform) of {SIZE:,} float32 from one key"
SEED = 0


def _key() -> np.ndarray:
    return np.asarray(ft.device_get(ft.random.PRNGKey(SEED)))


def _sampler(module: Any, kind: str) -> Any:
    draw = getattr(module, kind)
    return lambda k: draw(k, (SIZE,), np.float32)


def _numpy_step(kind: str) -> Any:
    gen = np.random.default_rng(SEED)
    if kind == "normal":
        return lambda: gen.standard_normal(SIZE, dtype=np.float32)
    return lambda: gen.random(SIZE, dtype=np.float32)


def _moments_check(kind: str) -> Any:
    mean, std = (0.0, 1.0) if kind == "normal" else (0.5, 12 ** -0.5)

    def check(out: Any) -> None:
        x = np.asarray(fw.to_numpy(out), dtype=np.float64)
        if x.shape != (SIZE,):
            raise AssertionError(f"shape {x.shape} != ({SIZE},)")
        if abs(x.mean() - mean) > 0.01 or abs(x.std() - std) > 0.01:
            raise AssertionError(f"mean {x.mean():.4f}, std {x.std():.4f}: not {kind}")

    return check


def cases(kind: str) -> list[Case]:
    key = _key()
    return [
        Case(fw.NUMPY, "numpy", lambda: _numpy_step(kind), check=_moments_check(kind)),
        *functrace_cases(lambda: _sampler(ft.random, kind), (key,)),
        *jax_cases(lambda jax: _sampler(jax.random, kind), (key,)),
    ]


def _table(ctx: Ctx, kind: str) -> dict[str, Any]:
    reference = np.asarray(ft.device_get(_sampler(ft.random, kind)(_key())))
    rows = run_cases(ctx, cases(kind), lambda out: assert_allclose_tree(out, reference, rtol=2e-5, atol=1e-6))
    jax_jit = value(rows, fw.JAX_JIT)
    for r in rows:
        if jax_jit and r.get("median_s") is not None:
            r["ratio_vs_jax_jit"] = r["median_s"] / jax_jit
    return {"title": f"jit({kind}) of {SIZE:,} float32",
            "columns": [("impl", "implementation", "text"), ("median_s", "median", "time"), ("best_s", "best", "time"),
                        ("ratio_vs_jax_jit", "× jax jit", "ratio"), ("ratio_vs_numpy", "× numpy Generator", "ratio"),
                        ("cores", "CPU cores", "float"), ("status", "check", "status")],
            "rows": rows}


def run(ctx: Ctx) -> dict[str, Any]:
    tables = [_table(ctx, "normal"), _table(ctx, "uniform")]
    summary = [{"label": f"random: jit({kind}) of 1M float32",
                "cells": {r["impl"]: value(t["rows"], r["impl"]) for r in t["rows"]}}
               for kind, t in zip(("normal", "uniform"), tables, strict=True)]
    notes = ["numpy (hand-written) is NumPy's Generator (PCG64; ziggurat normals): other numbers, same sizes.",
             "functrace and jax draw identical bits from the same key; the normals agree to float32 rounding."]
    return {"name": NAME, "title": TITLE, "tables": tables, "summary": summary, "notes": notes}
