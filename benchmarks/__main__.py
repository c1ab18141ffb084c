"""The benchmark runner: ``python -m benchmarks [--quick] [--only NAME] [--repeat N] [--out PATH]``.

Runs every workload for every installed framework in this one process (so ratios compare
numbers taken minutes apart on the same machine state), prints the Markdown report, and with
``--out`` writes it together with its JSON. The exit status is 1 when some implementation gave
a wrong answer (a ``**WRONG**`` row), so a broken derivative cannot hide behind a fast time.
"""

from __future__ import annotations

# benchmarks/__init__.py has pinned the BLAS/XLA thread pools before this import of NumPy.
import argparse
import datetime
import os
import sys
import time
from typing import Any

import benchmarks
from benchmarks import (
    chain,
    conv,
    data_parallel,
    jet,
    large,
    memory,
    mlp,
    report,
    rosenbrock,
    tanh_derivs,
    targets,
    trace_time,
)
from benchmarks import frameworks as fw
from benchmarks import random as random_numbers
from benchmarks.common import Ctx, machine

WORKLOADS = {m.NAME: m for m in (mlp, chain, tanh_derivs, rosenbrock, trace_time, random_numbers, conv, jet, memory,
                                  data_parallel, large)}
OPT_IN = ("memory",)  # run only when named with --only: minutes and gigabytes at its full size


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fast smoke run: 3 short repeats per measurement")
    p.add_argument("--only", action="append", metavar="NAME",
                   help=f"run only this workload (repeatable, or comma-separated): {', '.join(WORKLOADS)}; "
                        f"{', '.join(OPT_IN)} run only when named")
    p.add_argument("--repeat", type=int, metavar="N", help="timed repeats per measurement (default 7; 3 with --quick)")
    p.add_argument("--min-time", type=float, metavar="S",
                   help="seconds one timed repeat lasts at least (default 0.05; 0.005 with --quick)")
    p.add_argument("--frameworks", metavar="LIST",
                   help=f"comma-separated families to run (default all): {', '.join(fw.FAMILIES)}")
    p.add_argument("--out", metavar="PATH",
                   help="write PATH.md and PATH.json (a directory: results-YYYY-MM-DD.md/.json inside it)")
    return p.parse_args(argv)


def _split(values: list[str] | None, valid: Any, what: str) -> list[str] | None:
    if not values:
        return None
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    unknown = [n for n in names if n not in valid]
    if unknown:
        raise SystemExit(f"unknown {what} {unknown}; choose from {', '.join(valid)}")
    return names


def _git_revision() -> str:
    """The commit measured, marked when the framework's sources differ from it (a shared tree)."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True,
                             timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "functrace", "transforms", "backends"],
                               cwd=root, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return (rev or "unknown") + (" + uncommitted changes to functrace/transforms/backends" if dirty else "")


def _threads() -> dict[str, Any]:
    out: dict[str, Any] = {"cpus": ",".join(map(str, benchmarks.CPUS)) if benchmarks.CPUS else "not pinned"}
    out.update({v: os.environ.get(v, "unset") for v in benchmarks.THREAD_VARS})
    out["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "unset")
    if benchmarks.NUMPY_IMPORTED_BEFORE_PINNING:
        out["warning"] = "NumPy was imported before the pins: BLAS may use several threads"
    try:
        from threadpoolctl import threadpool_info

        out["blas_pools"] = sorted({f"{p['internal_api']}:{p['num_threads']}" for p in threadpool_info()})
    except ImportError:
        pass
    if "torch" in sys.modules:
        out["torch_threads"] = sys.modules["torch"].get_num_threads()
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    only = _split(args.only, WORKLOADS, "workload") or [n for n in WORKLOADS if n not in OPT_IN]
    families = _split([args.frameworks] if args.frameworks else None, fw.FAMILIES, "framework")
    ctx = Ctx(quick=args.quick,
              repeat=args.repeat or (3 if args.quick else 7),
              min_time=args.min_time if args.min_time is not None else (0.005 if args.quick else 0.05),
              families=frozenset(families or fw.FAMILIES))
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    done = []
    for name in only:
        t0 = time.perf_counter()
        print(f"[benchmarks] {name} ...", file=sys.stderr, flush=True)
        done.append(WORKLOADS[name].run(ctx))
        print(f"[benchmarks] {name} done in {time.perf_counter() - t0:.1f} s", file=sys.stderr, flush=True)
    meta = {
        "date": datetime.date.today().isoformat(),
        "machine": machine(),
        "revision": _git_revision(),
        "versions": fw.versions(),
        "threads": _threads(),
        "load": {"before": load_before, "after": os.getloadavg()[0]},
        "settings": f"repeat={ctx.repeat}, min_time={ctx.min_time}s, quick={ctx.quick}, "
                    f"frameworks={','.join(sorted(ctx.families))}",
        "wall_s": time.perf_counter() - start,
    }
    result = {"meta": meta, "workloads": done, "targets": targets.evaluate({w["name"]: w for w in done})}
    print(report.render_markdown(result))
    if args.out:
        for path in report.write(result, args.out):
            print(f"[benchmarks] wrote {path}", file=sys.stderr)
    wrong = [(w["name"], r["impl"]) for w in done for t in w["tables"] for r in t["rows"] if r["status"] == "mismatch"]
    if wrong:
        print(f"[benchmarks] WRONG results: {wrong}", file=sys.stderr)
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
