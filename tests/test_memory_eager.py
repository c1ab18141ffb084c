"""Peak memory of the eager transforms (issue 21, "Peak memory of eager transforms").

Every interpreter that walks a jaxpr drops each value after its last use, eager ``jvp`` pushes
concrete tangents along as the function runs, and the tape keeps only the residuals the
backward pass reads, so on a long elementwise chain eager ``grad``, ``jvp`` and ``vmap`` peak
near ``jit``'s peak instead of holding every intermediate until they return (before: ~150
copies of the input for ``jvp``, ~50 for ``vmap``). ``tracemalloc`` sees NumPy's buffers, so
these run on the NumPy backend whatever ``FUNCTRACE_BACKEND`` says; memory, not time, is
asserted. ``python -m benchmarks --only memory`` measures the same at 1e7 elements.
"""

from __future__ import annotations

import numpy as np
import pytest

import functrace as ft
import functrace.numpy as fnp
from benchmarks.memory import chain, peak_bytes  # the workload and measurement of the memory benchmark
from functrace.tracing import eval_jaxpr

SIZE = 400_000  # 3.2 MB per float64 array: far above the interpreters' own small allocations


def _peak_copies(fn, x) -> float:
    """Peak bytes allocated during ``fn(x)``, above those in use before it, in copies of ``x``
    (the ``memory`` benchmark's measurement, on its 50-op chain)."""
    return peak_bytes(fn, x) / x.nbytes


@pytest.fixture(scope="module")
def x():
    return np.linspace(-1.0, 1.0, SIZE).reshape(10, SIZE // 10)


@pytest.fixture(autouse=True)
def _numpy_backend():
    with ft.use_backend("numpy"):
        yield


def test_eager_jvp_frees_as_it_goes(x):
    eager = _peak_copies(lambda v: ft.jvp(chain, (v,), (v,)), x)
    jitted = _peak_copies(ft.jit(lambda v: ft.jvp(chain, (v,), (v,))), x)
    assert eager <= 8, f"eager jvp peaks at {eager:.1f} copies of its input"
    assert eager <= 2 * max(jitted, 2.0), (eager, jitted)


def test_eager_vmap_frees_after_last_use(x):
    eager = _peak_copies(ft.vmap(chain), x)
    assert eager <= 3.5, f"eager vmap peaks at {eager:.1f} copies of its input"


def test_eager_grad_keeps_only_residuals(x):
    loss = lambda v: fnp.sum(chain(v))  # noqa: E731
    eager = _peak_copies(ft.grad(loss), x)
    jitted = _peak_copies(ft.jit(ft.grad(loss)), x)
    # 10 sin and 10 tanh residuals (the multiplications and additions by constants keep none)
    assert eager <= 1.5 * jitted + 2, (eager, jitted)
    assert eager <= 26, f"eager grad peaks at {eager:.1f} copies of its input"


def test_eval_jaxpr_and_jvp_jaxpr_free_after_last_use(x):
    closed = ft.make_jaxpr(chain)(x)
    assert _peak_copies(lambda v: eval_jaxpr(closed.jaxpr, closed.consts, [v]), x) <= 3
    # jvp under a trace that carries no values (make_jaxpr), run by eval_jaxpr: the same bound
    jvp_closed = ft.make_jaxpr(lambda v: ft.jvp(chain, (v,), (v,)))(x)
    assert _peak_copies(lambda v: eval_jaxpr(jvp_closed.jaxpr, jvp_closed.consts, [v]), x) <= 5
