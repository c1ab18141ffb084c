"""Peak memory of eager transforms on a long elementwise chain (issue 21, "Memory and threads").

A 50-op elementwise chain (sin, ·1.5, tanh, +0.25, ·0.5, repeated) on a float64 vector, then a
sum: its gradient, its JVP and its vmap over 10 rows, eagerly and under ``ft.jit``, beside the
hand-written NumPy forward pass. Peak memory is measured with ``tracemalloc`` (NumPy reports its
buffers to it) around one call, after a warm-up call on the same shapes has filled every cache
(the tape's compiled pairs, jit's code), and is reported in MiB above the memory in use before
the call, and as a multiple of the input's size. The target of the issue: eager ``grad``, ``jvp``
and ``vmap`` each peak within 2× of their ``jit`` counterpart.

    python -m benchmarks --only memory          # 1e7 elements (76 MiB per array), ~1 minute
    python -m benchmarks.memory --size 1000000  # standalone, any size
"""

from __future__ import annotations

import argparse
import gc
import tracemalloc
from typing import Any, Callable

import numpy as np

import functrace as ft
import functrace.numpy as fnp

NAME = "memory"
TITLE = "peak memory of eager transforms on a 50-op elementwise chain (float64, NumPy backend)"
N_OPS = 50
ROWS = 10  # the vmap workload maps over this many rows of the input
TARGET = 2.0  # eager within this multiple of jit's peak


def chain(x: Any, np_mod: Any = fnp) -> Any:
    """The 50-op chain; ``np_mod`` is functrace.numpy or NumPy (the hand-written reference)."""
    for i in range(N_OPS):
        k = i % 5
        x = np_mod.sin(x) if k == 0 else x * 1.5 if k == 1 else np_mod.tanh(x) if k == 2 else \
            x + 0.25 if k == 3 else x * 0.5
    return x


def _loss(x: Any) -> Any:
    return fnp.sum(chain(x))


def _calls() -> dict[str, tuple[Callable, str]]:
    """name -> (function of the input, the jit row it is compared with)."""
    grad = ft.grad(_loss)
    jvp = lambda x: ft.jvp(chain, (x,), (x,))  # noqa: E731
    vmap = ft.vmap(chain)
    return {
        "numpy forward (hand-written)": (lambda x: chain(x, np), ""),
        "functrace eager grad": (grad, "functrace jit(grad)"),
        "functrace jit(grad)": (ft.jit(grad), ""),
        "functrace eager jvp": (jvp, "functrace jit(jvp)"),
        "functrace jit(jvp)": (ft.jit(jvp), ""),
        "functrace eager vmap": (vmap, "functrace jit(vmap)"),
        "functrace jit(vmap)": (ft.jit(vmap), ""),
        "functrace eager linearize": (lambda x: ft.linearize(chain, x)[1](x), ""),
    }


def peak_bytes(fn: Callable, x: np.ndarray) -> int:
    """Bytes allocated at the peak of one call of ``fn(x)`` above what was in use before it."""
    fn(np.ascontiguousarray(x[..., :8]))  # warm the caches on small inputs of the same dtype...
    fn(x)  # ...and on this shape (jit's code is specialised to it)
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        out = fn(x)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del out
    return peak - before


def measure(size: int) -> list[dict[str, Any]]:
    x = np.linspace(-1.0, 1.0, size).reshape(ROWS, size // ROWS)
    mib = x.nbytes / 2**20
    rows = []
    with ft.use_backend("numpy"):
        for name, (fn, ref) in _calls().items():
            peak = peak_bytes(fn, x) / 2**20
            rows.append({"impl": name, "family": "functrace" if name.startswith("functrace") else "numpy",
                         "status": "ok", "note": "", "peak": peak, "copies": peak / mib, "ref": ref})
    by = {r["impl"]: r["peak"] for r in rows}
    for r in rows:
        r["vs_jit"] = r["peak"] / by[r["ref"]] if r["ref"] else None
        r["vs_numpy"] = r["peak"] / by["numpy forward (hand-written)"]
    return rows


def run(ctx: Any) -> dict[str, Any]:
    size = 2 * 10**5 if ctx.quick else 10**7
    rows = measure(size)
    table = {"title": f"peak memory above baseline, input float64[{ROWS}, {size // ROWS}] "
                      f"({size * 8 / 2**20:.0f} MiB)",
             "columns": [("impl", "implementation", "text"), ("peak", "peak (MiB)", "float"),
                         ("copies", "× input", "float"), ("vs_numpy", "× NumPy", "ratio"),
                         ("vs_jit", "× its jit", "ratio"), ("status", "check", "status")],
             "rows": rows}
    return {"name": NAME, "title": TITLE, "tables": [table], "summary": [], "rows": rows,
            "notes": [f"Target: eager grad, jvp and vmap within {TARGET:g}× of their jit counterpart's peak.",
                      "tracemalloc after a warm-up call: cache fills (compiled code) are not counted."]}


def targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Eager grad, jvp and vmap within 2× of jit's peak, as rows for ``benchmarks.targets``."""
    from benchmarks.targets import _row

    w = results.get(NAME)
    if w is None:  # not run (it runs only when named with --only)
        return []
    out = []
    for t in ("grad", "jvp", "vmap"):
        r = next((r for r in w["rows"] if r["impl"] == f"functrace eager {t}"), None)
        ratio = None if r is None else r["vs_jit"]
        text = "" if r is None else f"{r['peak']:.0f} MiB eager vs {r['peak'] / ratio:.0f} MiB under jit"
        out.append(_row(NAME, f"eager {t} peak memory within {TARGET:g}× of jit({t})", text, ratio, TARGET,
                        ratio_best=ratio))
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=10**7)
    a = p.parse_args()
    print(f"{'':32} {'peak (MiB)':>10} {'x input':>8} {'x its jit':>9}")
    for r in measure(a.size):
        vs = "" if r["vs_jit"] is None else f"{r['vs_jit']:.2f}"
        print(f"{r['impl']:32} {r['peak']:10.1f} {r['copies']:8.2f} {vs:>9}")


if __name__ == "__main__":
    main()
