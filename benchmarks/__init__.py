"""functrace benchmark suite: each workload timed for functrace and its rivals in one process.

Run it with ``python -m benchmarks`` (``--help`` for the flags); see ``benchmarks/README.md``.

Threads: by default each library's own thread pool (BLAS, OpenMP, torch) is pinned to one
thread, as the performance issue asks, while jaxlib keeps its default runtime: it sizes its pool
from the CPUs the process may use and ignores ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false``
(measured with jax 0.10: 1.3 to 1.6 cores busy on this 2-core machine with the flag set). The
tables' "CPU cores" column shows what each implementation kept busy.

``FUNCTRACE_BENCH_CPUS=N`` puts every library on the same footing: the process is restricted to
N CPUs with ``os.sched_setaffinity`` (which jaxlib respects) and every thread pool gets N
threads. ``FUNCTRACE_BENCH_CPUS=1`` is the strict single-core comparison.

This happens *here*, in the package's ``__init__``, because ``python -m benchmarks`` imports this
module before ``__main__`` and before anything has imported NumPy: once NumPy (or torch, or
jaxlib) has started its thread pool, changing these variables has no effect. Thread variables
already set in the environment are respected (``setdefault``) and recorded in the results, so a
run with other settings is visible as such.
"""

from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")

# True when NumPy was already imported before the pins below could take effect.
NUMPY_IMPORTED_BEFORE_PINNING = "numpy" in sys.modules


def _pin_cpus(request: str | None) -> list[int] | None:
    """Restrict this process to the first ``request`` of its allowed CPUs: the CPUs it may run
    on after, or None when not pinned (no request, or no affinity call on this platform)."""
    if not request or not hasattr(os, "sched_setaffinity"):
        return None
    try:
        n = int(request)
    except ValueError:
        raise SystemExit(f"FUNCTRACE_BENCH_CPUS must be a count of CPUs, not {request!r}") from None
    if n < 1:
        raise SystemExit(f"FUNCTRACE_BENCH_CPUS must be at least 1, not {n}")
    allowed = sorted(os.sched_getaffinity(0))[:n]
    os.sched_setaffinity(0, allowed)
    return allowed


CPUS = _pin_cpus(os.environ.get("FUNCTRACE_BENCH_CPUS"))
_THREADS = str(len(CPUS)) if CPUS else "1"
for _var in THREAD_VARS:
    os.environ.setdefault(_var, _THREADS)
if _THREADS == "1":  # honoured by older jaxlibs only; the affinity above bounds the newer ones
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence XLA's start-up banner
