"""Compare two revisions of functrace: ``python -m benchmarks.compare OTHER_TREE [--rounds N] [ARGS...]``.

One process cannot import two revisions of the package, so this runs ``python -m benchmarks
--out ...`` in ``OTHER_TREE`` (a checkout of the other revision, e.g. ``git worktree add
../base REV``) and in this tree, alternating, ``N`` rounds; then prints, for every time the
reports share, the median over the rounds of each run's median, and the ratio this / other.
Alternating rounds spread a drift of the machine's load over both revisions alike. ``ARGS``
go to both runs (e.g. ``--only chain,tanh --frameworks numpy,functrace``).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from typing import Any

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(tree: str, args: list[str], out: str) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks", "--out", out, *args]
    proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True)
    if not os.path.exists(out):
        raise SystemExit(f"{' '.join(cmd)} in {tree} wrote no report:\n{proc.stderr[-2000:]}")
    with open(out) as f:
        return json.load(f)


def times(report: dict[str, Any]) -> dict[tuple[str, ...], float]:
    """Every time in a report, keyed by (workload, table, implementation, column)."""
    found = {}
    for w in report["workloads"]:
        for t in w["tables"]:
            cols = [(key, label) for key, label, kind in t["columns"] if kind == "time"]
            for row in t["rows"]:
                for key, label in cols:
                    v = row.get(key)
                    if isinstance(v, (int, float)):
                        found[(w["name"], t["title"], row["impl"], label)] = float(v)
    return found


def _fmt(s: float) -> str:
    return f"{s * 1e3:.3g} ms" if s >= 1e-3 else f"{s * 1e6:.3g} µs"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.compare", description=__doc__.split("\n\n")[0])
    p.add_argument("other", help="a checkout of the revision to compare against")
    p.add_argument("--rounds", type=int, default=3)
    ns, rest = p.parse_known_args(argv)
    runs: dict[str, list[dict]] = {"other": [], "this": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ns.rounds):
            for name, tree in (("other", ns.other), ("this", HERE)):
                print(f"[compare] round {r + 1}/{ns.rounds}: {name}", file=sys.stderr, flush=True)
                runs[name].append(times(_run(tree, rest, os.path.join(tmp, f"{name}-{r}.json"))))
    keys = [k for k in runs["this"][0] if all(k in t for t in runs["other"] + runs["this"])]
    print(f"Median over {ns.rounds} alternating rounds of each run's median; ratio = this / other.\n")
    print("| workload | measurement | implementation | column | other | this | ratio |")
    print("|---|---|---|---|---|---|---|")
    for k in keys:
        a = statistics.median(t[k] for t in runs["other"])
        b = statistics.median(t[k] for t in runs["this"])
        print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {_fmt(a)} | {_fmt(b)} | {b / a:.2f}× |")


if __name__ == "__main__":
    main()
