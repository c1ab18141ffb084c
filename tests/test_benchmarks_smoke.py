"""Smoke test of the benchmark runner: ``python -m benchmarks --quick`` on functrace + NumPy only.

It runs in a subprocess because the runner pins the BLAS thread pools before NumPy is imported,
which an in-process call (NumPy already loaded by pytest) could not do. Besides "it runs", it
checks that every workload reports, and that functrace's results agree with the hand-written
NumPy references (the runner checks every implementation's first result before timing it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("mlp", "chain", "tanh", "rosenbrock", "trace", "random", "conv", "jet", "data_parallel", "large")


def test_quick_run_reports_every_workload(tmp_path):
    out = tmp_path / "smoke"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks", "--quick", "--repeat", "1", "--frameworks", "functrace,numpy",
         "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = proc.stdout
    summary = text.split("## Summary", 1)[1].split("## Targets", 1)[0]
    summary_rows = [line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| ")]
    for name in WORKLOADS:
        assert any(label.startswith(f"{name}:") for label in summary_rows), f"no summary row for {name}:\n{summary}"
        assert f"\n## {name}: " in text, f"no section for {name}"
    assert "**WRONG**" not in text

    report = json.loads(out.with_name("smoke.json").read_text(encoding="utf-8"))
    assert out.with_name("smoke.md").read_text(encoding="utf-8") == text.rstrip("\n") + "\n"
    assert [w["name"] for w in report["workloads"]] == list(WORKLOADS)
    for w in report["workloads"]:
        for table in w["tables"]:
            for row in table["rows"]:
                assert row["family"] in ("numpy", "functrace", "reference"), row  # --frameworks was honoured
                assert row["status"] in ("ok", "n/a"), (w["name"], row)
                if row["impl"] in ("numpy (hand-written)", "functrace eager"):
                    assert row["status"] == "ok", (w["name"], row)
    assert {t["workload"] for t in report["targets"]} == set(WORKLOADS)
