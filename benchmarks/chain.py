"""A 200-op elementwise chain under grad: per-operation overhead, in µs per op.

The chain repeats sin, ·1.5, tanh, +0.25 fifty times on a float64 vector of 100 elements and
sums the result. The arrays are small on purpose: the arithmetic costs about a microsecond per
op, so what is measured is what each framework adds per operation (tracing, recording,
dispatch, the backward pass). µs/op is the time of one gradient divided by the 200 forward ops.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from benchmarks import baselines
from benchmarks.cases import autograd_case, functrace_cases, jax_cases, numpy_case, torch_case
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, timing_result

NAME = "chain"
N_OPS = 200
SIZE = 100
TITLE = f"{N_OPS}-op elementwise chain under grad (float64[{SIZE}]): per-op overhead"


def x0() -> np.ndarray:
    return np.linspace(-2.0, 2.0, SIZE)


def make_chain(sin: Any, tanh: Any, total: Any) -> Any:
    """sum(chain(x)) written against any framework's sin/tanh/sum."""
    scale, shift = baselines.CHAIN_SCALE, baselines.CHAIN_SHIFT

    def f(x):
        for _ in range(N_OPS // 4):
            x = sin(x)
            x = x * scale
            x = tanh(x)
            x = x + shift
        return total(x)

    return f


def functrace_chain() -> Any:
    return make_chain(fnp.sin, fnp.tanh, fnp.sum)


def _torch_step(torch: Any) -> Any:
    f = make_chain(torch.sin, torch.tanh, torch.sum)
    x = torch.from_numpy(x0()).requires_grad_()
    return lambda: torch.autograd.grad(f(x), x)[0]


def _autograd_step(autograd: Any) -> Any:
    anp = autograd.numpy
    g = autograd.grad(make_chain(anp.sin, anp.tanh, anp.sum))
    x = x0()
    return lambda: g(x)


def cases() -> list[Case]:
    x = x0()
    return [
        numpy_case(lambda: lambda: baselines.chain_grad(x, N_OPS)),
        *functrace_cases(lambda: ft.grad(functrace_chain()), (x,)),
        *jax_cases(lambda jax: jax.grad(make_chain(jax.numpy.sin, jax.numpy.tanh, jax.numpy.sum)), (x,)),
        torch_case(_torch_step),
        autograd_case(_autograd_step),
    ]


def run(ctx: Ctx) -> dict[str, Any]:
    reference = baselines.chain_grad(x0(), N_OPS)
    rows = run_cases(ctx, cases(), lambda out: assert_allclose_tree(out, reference, rtol=1e-9, atol=1e-12))
    for r in rows:
        if r.get("median_s") is not None:
            r["us_per_op"] = r["median_s"] / N_OPS * 1e6
    return timing_result(NAME, TITLE, f"time per gradient of the {N_OPS}-op chain", rows,
                         f"chain: grad of {N_OPS} elementwise ops", ["float64 everywhere (JAX with jax_enable_x64)."],
                         extra_column=("us_per_op", "µs/op", "float"))
