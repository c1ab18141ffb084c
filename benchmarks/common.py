"""What every workload shares: the run settings, a case (one implementation of a workload), and
running a case into a result row.

A row is a plain dict (so the JSON result is just the rows): ``impl``, ``family``, ``status``
(``ok``, ``mismatch`` — it ran but disagrees with the reference —, ``n/a``, ``error``), ``note``,
``median_s``/``best_s`` (seconds per call) and whatever a workload adds. Every implementation's
first result is checked against the reference before it is timed, because a fast wrong answer
is not a result.
"""

from __future__ import annotations

import os
import platform
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from benchmarks.frameworks import FAMILIES, Unavailable, to_numpy
from benchmarks.timing import Timing, interleaved, measure

Step = Callable[[], Any]


@dataclass(frozen=True)
class Ctx:
    """Settings of one run."""

    quick: bool = False
    repeat: int = 7
    min_time: float = 0.05  # seconds one timed repeat should last at least
    families: frozenset[str] = frozenset(FAMILIES)

    def wants(self, family: str) -> bool:
        return family in self.families


@dataclass
class Case:
    """One implementation of a workload: ``build()`` returns the zero-argument step to time."""

    impl: str
    family: str
    build: Callable[[], Step]
    extra: dict[str, Any] = field(default_factory=dict)
    check: Callable[[Any], None] | None = None  # overrides the workload's check


def short_error(e: BaseException) -> str:
    """``Type: message`` on one line, at most 160 characters, plus the innermost frame."""
    msg = " ".join(str(e).split())
    tb = traceback.extract_tb(e.__traceback__)
    where = f" [{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}]" if tb else ""
    text = f"{type(e).__name__}: {msg}"
    return (text[:157] + "...") if len(text) > 160 else text + where


def assert_allclose_tree(got: Any, want: Any, rtol: float, atol: float) -> None:
    """Every leaf of ``got`` (any framework) equals the NumPy reference ``want`` within tolerance."""
    got = to_numpy(got)
    if isinstance(want, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(want):
            raise AssertionError(f"expected {len(want)} results, got {type(got).__name__}")
        for g, w in zip(got, want, strict=True):
            assert_allclose_tree(g, w, rtol, atol)
        return
    g = np.asarray(got, dtype=np.float64)
    w = np.asarray(want, dtype=np.float64)
    if g.shape != w.shape:
        raise AssertionError(f"shape {g.shape} != reference {w.shape}")
    if not np.allclose(g, w, rtol=rtol, atol=atol):
        err = np.max(np.abs(g - w) / (atol + rtol * np.abs(w)))
        raise AssertionError(f"differs from the reference ({err:.1f}x the tolerance)")


def timing_fields(t: Timing) -> dict[str, Any]:
    return {"median_s": t.median, "best_s": t.best, "repeats": t.repeats, "number": t.number, "cores": t.cores}


def prepare_case(case: Case, check: Callable[[Any], None] | None) -> tuple[dict[str, Any], Step | None]:
    """Build a case and check its first result; never raises (a failure becomes the row's status).

    Returns the row and the step to time (None when there is nothing to time). The checked
    first call doubles as the warm-up (for jit: the compile).
    """
    row: dict[str, Any] = {"impl": case.impl, "family": case.family, "status": "ok", "note": "", **case.extra}
    try:
        step = case.build()
        out = step()
    except Unavailable as e:
        row.update(status="n/a", note=str(e))
        return row, None
    except Exception as e:  # a framework bug must not end the whole run
        row.update(status="error", note=short_error(e))
        return row, None
    check = case.check or check
    if check is not None:
        try:
            check(out)
        except AssertionError as e:
            row.update(status="mismatch", note=str(e))
        except Exception as e:
            row.update(status="mismatch", note=short_error(e))
    return row, step


def run_cases(ctx: Ctx, cases: list[Case], check: Callable[[Any], None] | None = None) -> list[dict[str, Any]]:
    """Build, check and time the selected cases, then add each row's ratio to the NumPy row.

    The timed repeats are interleaved across the cases (``timing.interleaved``), so a change of
    machine load during the workload hits every implementation alike.
    """
    prepared = [prepare_case(c, check) for c in cases if ctx.wants(c.family)]
    rows = [row for row, _ in prepared]
    timed = [(row, step) for row, step in prepared if step is not None]
    try:
        timings = interleaved([step for _, step in timed], repeat=ctx.repeat, min_time=ctx.min_time)
    except Exception:  # one step failed on a later call: time them one by one to find it
        timings = []
        for row, step in timed:
            try:
                timings.append(measure(step, repeat=ctx.repeat, min_time=ctx.min_time, warmup=0))
            except Exception as e:
                row.update(status="error", note=short_error(e))
                timings.append(None)
    for (row, _), t in zip(timed, timings, strict=True):
        if t is not None:
            row.update(timing_fields(t))
    add_ratios(rows)
    return rows


def add_ratios(rows: list[dict[str, Any]], key: str = "median_s") -> None:
    """``ratio_vs_numpy``: each row's ``key`` over the NumPy row's (when both were measured)."""
    base = next((r.get(key) for r in rows if r["family"] == "numpy"), None)
    for r in rows:
        if base and r.get(key) is not None:
            r["ratio_vs_numpy"] = r[key] / base


def find(rows: list[dict[str, Any]], impl: str) -> dict[str, Any] | None:
    """The row of implementation ``impl``, if it ran."""
    return next((r for r in rows if r["impl"] == impl), None)


def value(rows: list[dict[str, Any]], impl: str, key: str = "median_s") -> float | None:
    """``key`` of the row ``impl`` when that row ran successfully, else None."""
    r = find(rows, impl)
    return r.get(key) if r is not None and r["status"] == "ok" else None


def machine(release: bool = True) -> str:
    """The CPU model, the number of logical CPUs and the OS (with its kernel release)."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), model)
    except OSError:
        pass
    system = f"{platform.system()} {platform.release()}" if release else platform.system()
    return f"{model}, {os.cpu_count()} logical CPUs, {system}"


def timing_result(name: str, title: str, table_title: str, rows: list[dict[str, Any]], label: str,
                  notes: list[str], extra_column: tuple[str, str, str] | None = None) -> dict[str, Any]:
    """A workload's result with one timing table (implementation, median, then ``extra_column``
    or the best repeat, ratio to NumPy, CPU cores busy while timed, check) and its row of the
    summary."""
    middle = extra_column or ("best_s", "best", "time")
    table = {"title": table_title,
             "columns": [("impl", "implementation", "text"), ("median_s", "median", "time"), middle,
                         ("ratio_vs_numpy", "× numpy", "ratio"), ("cores", "CPU cores", "float"),
                         ("status", "check", "status")],
             "rows": rows}
    cells = {r["impl"]: value(rows, r["impl"]) for r in rows}
    return {"name": name, "title": title, "tables": [table], "summary": [{"label": label, "cells": cells}],
            "notes": notes}
