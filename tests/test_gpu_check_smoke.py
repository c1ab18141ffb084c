"""benchmarks/gpu_check.py, the device check, runs end to end on the CPU and reports what fails.

The script is written to be run once on a borrowed GPU under a tight time budget, so it must
not break there for a reason a CPU run could have shown: the whole script runs here with
``--device cpu --quick`` in a subprocess (as on the GPU: environment set before functrace is
imported), and its comparison is checked to catch wrong values, wrong dtypes, results that are
not device tensors, and cases that raise.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from benchmarks import gpu_check  # noqa: E402
from functrace.backends.registry import load_backend  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_runs_on_cpu_every_case_passes_and_the_report_is_written(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FUNCTRACE_")}
    proc = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "--device", "cpu", "--quick",
                           "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "PyTorch" in out and ("GPU: " in out if torch.cuda.is_available() else "no GPU" in out)
    results = re.findall(r"^(PASS|FAIL)  (.*)$", out, re.M)
    assert not [line for status, line in results if status == "FAIL"], out
    floats, ints = gpu_check.core_cases()
    # The default-backend row, every float case in two dtypes, the integer cases, four MLP rows.
    assert len(results) == 1 + 2 * len(floats) + len(ints) + 4
    for dtype in ("float32", "float64"):
        assert len(re.findall(rf"^PASS  {dtype} ", out, re.M)) == len(floats)
    reports = list(tmp_path.glob("gpu-check-*-cpu.md"))
    assert len(reports) == 1, list(tmp_path.iterdir())
    text = reports[0].read_text()
    n = 1 + 2 * len(floats) + len(ints)
    assert f"## Core cases: {n}/{n} pass" in text and "FAIL" not in text
    assert re.search(r"\| functrace jit, torch backend \| cpu \| [\d.]+ ms \| [\d.]+ ms \| [\d.]+× \|", text)
    assert not re.search(r"/(work|home|root|Users|tmp)/", text), "no machine paths in the report"


def test_compare_catches_wrong_values_dtypes_and_placement():
    device = load_backend("torch").device
    ref = [np.array([1.0, 2.0], np.float32)]
    ok, err, _ = gpu_check.compare(ref, [torch.tensor([1.0, 2.00001], device=device)], device, "float32")
    assert ok and err == pytest.approx(1e-5, rel=0.1)
    ok, _, note = gpu_check.compare(ref, [torch.tensor([1.0, 2.01], device=device)], device, "float32")
    assert not ok and "tolerance" in note
    ok, _, note = gpu_check.compare(ref, [torch.tensor([1.0, 2.0], dtype=torch.float64, device=device)], device,
                                    "float32")
    assert not ok and "float64" in note
    ok, _, note = gpu_check.compare(ref, [np.array([1.0, 2.0], np.float32)], device, "float32")
    assert not ok and "not a torch.Tensor" in note
    ok, _, note = gpu_check.compare([np.array([3, 4])], [torch.tensor([3, 5], device=device)], device, "int32")
    assert not ok and "differs" in note
    assert gpu_check.misplaced([torch.zeros(1, device="meta")], device) == [f"result 0 is on meta, not {device}"]


def test_a_case_that_raises_or_differs_is_a_failure_and_the_run_goes_on():
    import functrace as ft

    device = load_backend("torch").device

    def raises(dt, rng):
        return (lambda x: x[5]), (np.zeros(2, dt),)

    def differs(dt, rng):
        return (lambda x: x + (1.0 if ft.get_backend() == "torch" else 0.0)), (np.zeros(2, dt),)

    def fine(dt, rng):
        return (lambda x: x * 2), (np.ones(2, dt),)

    lines: list[str] = []
    rows = gpu_check.run_core(device, lines.append, [("raises", raises, "float32"), ("differs", differs, "float64"),
                                                     ("fine", fine, "float32")])
    assert [r["ok"] for r in rows] == [False, False, True]
    assert rows[0]["note"] and lines[0].startswith("FAIL") and rows[0]["note"] in lines[0]
    assert "tolerance" in rows[1]["note"] and lines[2].startswith("PASS")


def test_report_name_slug():
    assert gpu_check.slug("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert gpu_check.slug("  ") == "unknown"
