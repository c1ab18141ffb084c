"""The performance issue's targets, checked against the numbers of the same run.

Each target becomes a row: what was asked, what was measured, and a verdict — ``met``,
``MISSED`` with the factor by which it was missed, or ``n/a`` when a side of the comparison did
not run (a framework not installed, ``ft.jit`` not written yet, a workload not selected).
"""

from __future__ import annotations

from typing import Any

from benchmarks import frameworks as fw
from benchmarks.chain import N_OPS
from benchmarks.common import value
from benchmarks.tanh_derivs import JAX_EQNS_REFERENCE, ORDERS
from benchmarks.timing import fmt_time

Results = dict[str, dict[str, Any]]  # workload name -> its result


def _rows(results: Results, workload: str, table: int) -> list[dict[str, Any]]:
    w = results.get(workload)
    return w["tables"][table]["rows"] if w is not None else []


def _row(workload: str, target: str, measured: str, ratio: float | None, limit: float, strict: bool = False,
         ratio_best: float | None = None) -> dict[str, Any]:
    """A verdict for "``ratio`` ≤ ``limit``" (``<`` when ``strict``); ratio is None when not measured.

    ``ratio_best`` is the same comparison on the best repeats instead of the medians: on a loaded
    machine it shows whether a miss is the load or the code. The verdict is on the medians.
    """
    if ratio is None:
        return {"workload": workload, "target": target, "measured": measured or "n/a", "verdict": "n/a",
                "on_best": "n/a"}
    return {"workload": workload, "target": target, "measured": measured, "verdict": _verdict(ratio, limit, strict),
            "on_best": _verdict(ratio_best, limit, strict) if ratio_best is not None else "–",
            "ratio": ratio, "ratio_best": ratio_best, "limit": limit}


def _verdict(ratio: float, limit: float, strict: bool) -> str:
    ok = ratio < limit if strict else ratio <= limit
    return "met" if ok else f"MISSED by {ratio / limit:.2f}×"


def _div(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _versus(rows: list[dict[str, Any]], impl: str, other: str, label: str) -> tuple[str, float | None, float | None]:
    """``impl`` against ``other`` in ``rows``: the text, the ratio of medians and of bests."""
    a, b = value(rows, impl), value(rows, other)
    if a is None or b is None:
        return "", None, None
    best = _div(value(rows, impl, "best_s"), value(rows, other, "best_s"))
    return f"{fmt_time(a)} vs {label} {fmt_time(b)} ({a / b:.2f}×)", a / b, best


def _absolute(rows: list[dict[str, Any]], impl: str, limit_s: float) -> tuple[str, float | None, float | None]:
    """``impl``'s time against a limit in seconds: the text and both ratios to the limit."""
    t = value(rows, impl)
    return (fmt_time(t) if t is not None else ""), _div(t, limit_s), _div(value(rows, impl, "best_s"), limit_s)


def _mlp(results: Results) -> list[dict[str, Any]]:
    rows = _rows(results, "mlp", 0)
    text, r, rb = _versus(rows, fw.FT_JIT, fw.NUMPY, "numpy")
    text2, r2, rb2 = _versus(rows, fw.FT_JIT, fw.JAX_JIT, "jax jit")
    return [
        _row("mlp", "jit(value_and_grad) ≤ 1.10× hand-written NumPy", text, r, 1.10, ratio_best=rb),
        _row("mlp", "jit(value_and_grad) no slower than JAX jit", text2, r2, 1.0, ratio_best=rb2),
    ]


def _chain(results: Results) -> list[dict[str, Any]]:
    rows = _rows(results, "chain", 0)
    eager = value(rows, fw.FT, "us_per_op")
    best = value(rows, fw.FT, "best_s")
    text, r, rb = _versus(rows, fw.FT_JIT, fw.NUMPY, "numpy")
    return [
        _row("chain", "eager grad ≤ 10 µs/op", f"{eager:.1f} µs/op" if eager is not None else "", _div(eager, 10.0),
             1.0, ratio_best=_div(best, 10e-6 * N_OPS)),
        _row("chain", "jit(grad) ≤ 1.5× hand-written NumPy", text, r, 1.5, ratio_best=rb),
    ]


def _tanh(results: Results) -> list[dict[str, Any]]:
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
    text, r, rb = _absolute(_rows(results, "tanh", 2), fw.FT_JIT, 0.1)
    out.append(_row("tanh", "jit trace+transform+lower+first call at n=8 < 0.1 s", text, r, 1.0, strict=True,
                    ratio_best=rb))
    text, r, rb = _absolute(results["tanh"]["per_order"]["8"] if "tanh" in results else [], fw.FT, 0.010)
    out.append(_row("tanh", "eager per call at n=8 < 10 ms", text, r, 1.0, strict=True, ratio_best=rb))
    return out


def _rosenbrock(results: Results) -> list[dict[str, Any]]:
    text, r, rb = _versus(_rows(results, "rosenbrock", 0), fw.FT_JIT, fw.JAX_JIT, "jax jit")
    return [_row("rosenbrock", "Hessian under jit faster than JAX jit", text, r, 1.0, strict=True, ratio_best=rb)]


def _trace(results: Results) -> list[dict[str, Any]]:
    text, r, rb = _versus(_rows(results, "trace", 0), fw.FT, fw.JAX, "jax")
    text2, r2, rb2 = _absolute(_rows(results, "trace", 1), fw.FT_JIT, 0.1)
    return [
        _row("trace", "make_jaxpr(grad(MLP loss)) no slower than JAX's", text, r, 1.0, ratio_best=rb),
        _row("trace", "jit(value_and_grad(MLP loss)) first call < 0.1 s", text2, r2, 1.0, strict=True, ratio_best=rb2),
    ]


def _random(results: Results) -> list[dict[str, Any]]:
    out = []
    for table, kind in enumerate(("normal", "uniform")):
        text, r, rb = _versus(_rows(results, "random", table), fw.FT_JIT, fw.JAX_JIT, "jax jit")
        out.append(_row("random", f"jit({kind}) of 1M float32 within 3× of JAX jit", text, r, 3.0, ratio_best=rb))
    return out


def _conv(results: Results) -> list[dict[str, Any]]:
    rows = _rows(results, "conv", 0)
    text, r, rb = _versus(rows, fw.FT_JIT, fw.TORCH, "torch autograd")
    text2, r2, rb2 = _versus(rows, fw.FT_TORCH_JIT, fw.TORCH, "torch autograd")
    return [
        _row("conv", "CNN step: jit (NumPy backend) ≤ 1.5× torch autograd", text, r, 1.5, ratio_best=rb),
        _row("conv", "CNN step: jit (torch backend) ≤ 1.2× torch autograd", text2, r2, 1.2, ratio_best=rb2),
    ]


def _large(results: Results) -> list[dict[str, Any]]:
    from benchmarks import large

    rows = _rows(results, "large", 0)
    text, r, rb = _versus(rows, large.JIT_GRAD, large.EAGER_GRAD, "eager grad")
    return [_row("large", "jit(grad) first call of a long program within 5× of eager grad (issue 21)", text, r, 5.0,
                 ratio_best=rb)]


def evaluate(results: Results) -> list[dict[str, Any]]:
    """Every target of the issue with its verdict, in the issue's order."""
    from benchmarks import data_parallel, jet, memory

    return [*_mlp(results), *_chain(results), *_tanh(results), *_rosenbrock(results), *_trace(results),
            *_random(results), *_conv(results), *jet.targets(results),
            *memory.targets(results), *data_parallel.targets(results), *_large(results)]
