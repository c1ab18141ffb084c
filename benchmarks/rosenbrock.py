"""The Hessian of the 100-dimensional Rosenbrock function (float64).

``hessian = jacfwd(jacrev(f))``: a reverse pass nested in 100 forward passes, so this is the
forward-over-reverse composition at a realistic size. Without vmap, functrace's jacfwd pushes
one tangent per input element; JAX and torch.func batch them with vmap. The floor is the
analytic tridiagonal Hessian.
"""

from __future__ import annotations

from typing import Any

import numpy as np

import functrace as ft
import functrace.numpy as fnp
from benchmarks import baselines
from benchmarks.cases import autograd_case, functrace_cases, jax_cases, numpy_case, torch_case
from benchmarks.common import Case, Ctx, assert_allclose_tree, run_cases, timing_result

NAME = "rosenbrock"
DIM = 100
TITLE = f"Hessian of the {DIM}-dimensional Rosenbrock function (float64)"


def x0() -> np.ndarray:
    return np.cos(np.arange(DIM) * 0.7)  # varied values in [-1, 1], so no entry is special


def make_rosenbrock(total: Any) -> Any:
    """Σ 100 (x_{i+1} - x_i²)² + (1 - x_i)², written against any framework's sum."""

    def f(x):
        return total(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2)

    return f


def _torch_step(torch: Any) -> Any:
    h = torch.func.hessian(make_rosenbrock(torch.sum))
    x = torch.from_numpy(x0())
    return lambda: h(x)


def _autograd_step(autograd: Any) -> Any:
    h = autograd.hessian(make_rosenbrock(autograd.numpy.sum))
    x = x0()
    return lambda: h(x)


def cases() -> list[Case]:
    x = x0()
    return [
        numpy_case(lambda: lambda: baselines.rosenbrock_hessian(x)),
        *functrace_cases(lambda: ft.hessian(make_rosenbrock(fnp.sum)), (x,)),
        *jax_cases(lambda jax: jax.hessian(make_rosenbrock(jax.numpy.sum)), (x,)),
        torch_case(_torch_step),
        autograd_case(_autograd_step),
    ]


def run(ctx: Ctx) -> dict[str, Any]:
    reference = baselines.rosenbrock_hessian(x0())
    rows = run_cases(ctx, cases(), lambda out: assert_allclose_tree(out, reference, rtol=1e-10, atol=1e-8))
    return timing_result(NAME, TITLE, f"time per {DIM}×{DIM} Hessian", rows, f"rosenbrock: Hessian, n={DIM}",
                         ["float64 everywhere (JAX with jax_enable_x64). torch uses torch.func.hessian "
                          "(vmap-based)."])
