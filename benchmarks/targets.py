"""The performance issue's targets, checked against the numbers of the same run.

Each target becomes a row: what was asked, what was measured, and a verdict — ``met``,
``MISSED`` with the factor by which it was missed, or ``n/a`` when a side of the comparison did
not run (a framework not installed, ``ft.jit`` not written yet, a workload not selected).
"""

from __future__ import annotations

from typing import Any

from benchmarks import frameworks as fw
from benchmarks.common import value
from benchmarks.timing import fmt_time

Results = dict[str, dict[str, Any]]  # workload name -> its result


def _rows(results: Results, workload: str, table: int) -> list[dict[str, Any]]:
    w = results.get(workload)
    return w["tables"][table]["rows"] if w is not None else []


def _row(workload: str, target: str, measured: str, ratio: float | None, limit: float, strict: bool = False
         ) -> dict[str, Any]:
    """A verdict for "``ratio`` ≤ ``limit``" (``<`` when ``strict``); ratio is None when not measured."""
    if ratio is None:
        return {"workload": workload, "target": target, "measured": measured or "n/a", "verdict": "n/a"}
    ok = ratio < limit if strict else ratio <= limit
    verdict = "met" if ok else f"MISSED by {ratio / limit:.2f}×"
    return {"workload": workload, "target": target, "measured": measured, "verdict": verdict,
            "ratio": ratio, "limit": limit}


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _time_vs(a: float | None, b: float | None, name_b: str) -> str:
    if a is None or b is None:
        return ""
    return f"{fmt_time(a)} vs {name_b} {fmt_time(b)} ({a / b:.2f}×)"


def _mlp(results: Results) -> list[dict[str, Any]]:
    rows = _rows(results, "mlp", 0)
    ftj, npy, jaxj = value(rows, fw.FT_JIT), value(rows, fw.NUMPY), value(rows, fw.JAX_JIT)
    return [
        _row("mlp", "jit(value_and_grad) ≤ 1.10× hand-written NumPy", _time_vs(ftj, npy, "numpy"),
             _div(ftj, npy), 1.10),
        _row("mlp", "jit(value_and_grad) no slower than JAX jit", _time_vs(ftj, jaxj, "jax jit"), _div(ftj, jaxj), 1.0),
    ]


def _chain(results: Results) -> list[dict[str, Any]]:
    rows = _rows(results, "chain", 0)
    eager = value(rows, fw.FT, "us_per_op")
    ftj, npy = value(rows, fw.FT_JIT), value(rows, fw.NUMPY)
    return [
        _row("chain", "eager grad ≤ 10 µs/op", f"{eager:.1f} µs/op" if eager is not None else "", _div(eager, 10.0),
             1.0),
        _row("chain", "jit(grad) ≤ 1.5× hand-written NumPy", _time_vs(ftj, npy, "numpy"), _div(ftj, npy), 1.5),
    ]


def _tanh(results: Results) -> list[dict[str, Any]]:
    from benchmarks.tanh_derivs import JAX_EQNS_REFERENCE, ORDERS

    eqn_rows = _rows(results, "tanh", 0)
    ours = next((r for r in eqn_rows if r["impl"] == "functrace" and r["status"] == "ok"), None)
    theirs = next((r for r in eqn_rows if r["impl"] == "jax (measured)" and r["status"] == "ok"), None)
    jax_counts = {n: theirs[f"n{n}"] for n in ORDERS} if theirs else JAX_EQNS_REFERENCE
    out = []
    if ours is None:
        out.append(_row("tanh", "fewer equations than JAX at every n", "", None, 1.0))
    else:
        worst = max(ours[f"n{n}"] / jax_counts[n] for n in ORDERS)
        counts = ", ".join(f"{ours[f'n{n}']}/{jax_counts[n]}" for n in ORDERS)
        source = "JAX" if theirs else "JAX as quoted in the issue"
        out.append(_row("tanh", "fewer equations than JAX at every n", f"functrace/{source} for n=1…8: {counts}",
                        worst, 1.0, strict=True))
    cold = value(_rows(results, "tanh", 2), fw.FT_JIT)
    out.append(_row("tanh", "jit trace+transform+lower+first call at n=8 < 0.1 s", fmt_time(cold) if cold else "",
                    _div(cold, 0.1), 1.0, strict=True))
    per_call = next((r.get("n8") for r in _rows(results, "tanh", 1) if r["impl"] == fw.FT and r["status"] == "ok"),
                    None)
    out.append(_row("tanh", "eager per call at n=8 < 10 ms", fmt_time(per_call) if per_call else "",
                    _div(per_call, 0.010), 1.0, strict=True))
    return out


def _rosenbrock(results: Results) -> list[dict[str, Any]]:
    rows = _rows(results, "rosenbrock", 0)
    ftj, jaxj = value(rows, fw.FT_JIT), value(rows, fw.JAX_JIT)
    return [_row("rosenbrock", "Hessian under jit faster than JAX jit", _time_vs(ftj, jaxj, "jax jit"),
                 _div(ftj, jaxj), 1.0, strict=True)]


def _trace(results: Results) -> list[dict[str, Any]]:
    ours, theirs = value(_rows(results, "trace", 0), fw.FT), value(_rows(results, "trace", 0), fw.JAX)
    first = value(_rows(results, "trace", 1), fw.FT_JIT)
    return [
        _row("trace", "make_jaxpr(grad(MLP loss)) no slower than JAX's", _time_vs(ours, theirs, "jax"),
             _div(ours, theirs), 1.0),
        _row("trace", "jit(value_and_grad(MLP loss)) first call < 0.1 s", fmt_time(first) if first else "",
             _div(first, 0.1), 1.0, strict=True),
    ]


def evaluate(results: Results) -> list[dict[str, Any]]:
    """Every target of the issue with its verdict, in the issue's order."""
    return [*_mlp(results), *_chain(results), *_tanh(results), *_rosenbrock(results), *_trace(results)]
