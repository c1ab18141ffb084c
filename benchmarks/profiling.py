"""Where functrace's eager time goes: cProfile of a workload's functrace eager step.

``python -m benchmarks.profiling [--workload chain] [--calls 50] [--top 25] [--out PATH]``
prints the functions with the most *own* time (tottime), as a Markdown table, with each
function's own time per call of the step and per forward op (for the chain). This is the input
for making the eager path cheaper: the per-op costs add up to the µs/op of the chain benchmark.
Profiling inflates each Python call's cost, so read the shares, not the absolute times.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path
from typing import Any, Callable

import functrace as ft
from benchmarks import chain, mlp, rosenbrock, tanh_derivs
from benchmarks.frameworks import FT

# workload -> (functrace eager case builder, forward ops per step for the per-op column)
TARGETS: dict[str, tuple[Callable[[], Any], int]] = {
    "chain": (chain.cases, chain.N_OPS),
    "mlp": (mlp.cases, 0),
    "tanh": (lambda: tanh_derivs.cases(8), 0),
    "rosenbrock": (rosenbrock.cases, 0),
}


def _eager_step(workload: str) -> Callable[[], Any]:
    make_cases, _ = TARGETS[workload]
    case = next(c for c in make_cases() if c.impl == FT)
    return case.build()


def profile(workload: str, calls: int) -> pstats.Stats:
    """cProfile ``calls`` calls of the functrace eager step of ``workload`` (after one warm-up)."""
    step = _eager_step(workload)
    step()
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(calls):
        step()
    prof.disable()
    return pstats.Stats(prof).strip_dirs()  # file names only: no machine paths in the report


def top_table(stats: pstats.Stats, calls: int, n_ops: int, top: int) -> str:
    """The ``top`` functions by own time as Markdown, with their share of the total."""
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]  # type: ignore[attr-defined]
    total = stats.total_tt  # type: ignore[attr-defined]
    per = "µs/op" if n_ops else "µs/step"
    lines = [f"total {total / calls * 1e3:.2f} ms per step under the profiler ({calls} steps)", "",
             f"| function | calls/step | tottime/step | {per} | share | cumtime/step |", "|---|---|---|---|---|---|"]
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in rows:
        own = tottime / calls
        lines.append(f"| {filename}:{line}({name}) | {ncalls / calls:.0f} | {own * 1e3:.3f} ms | "
                     f"{own * 1e6 / (n_ops or 1):.2f} | {tottime / total:.1%} | {cumtime / calls * 1e3:.3f} ms |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.profiling", description=__doc__.split("\n\n")[0])
    p.add_argument("--workload", default="chain", choices=sorted(TARGETS))
    p.add_argument("--calls", type=int, default=50, help="profiled calls of the step (default 50)")
    p.add_argument("--top", type=int, default=25, help="functions to list (default 25)")
    p.add_argument("--out", metavar="PATH", help="also write the table to PATH")
    args = p.parse_args(argv)
    with ft.use_backend("numpy"):
        stats = profile(args.workload, args.calls)
    text = (f"# cProfile: functrace eager, {args.workload} workload, top {args.top} by own time (tottime)\n\n"
            + top_table(stats, args.calls, TARGETS[args.workload][1], args.top))
    print(text)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
