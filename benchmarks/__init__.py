"""functrace benchmark suite: each workload timed for functrace and its rivals in one process.

Run it with ``python -m benchmarks`` (``--help`` for the flags); see ``benchmarks/README.md``.

Every framework gets the same CPUs: ``FUNCTRACE_BENCH_CPUS`` (default 1 for ``python -m
benchmarks``, ``all`` for the other tools here; ``all`` means no limit) is both the number of
threads of each library's pool and the set of cores the process may run on. The thread
variables alone are not enough: jaxlib's CPU runtime sizes its own pool from the process's CPU
affinity and ignores ``XLA_FLAGS=--xla_cpu_multi_thread_eigen=false`` (measured with jax 0.10:
1.6 cores busy on this 2-core machine with the flag set), so the process is also pinned with
``os.sched_setaffinity``, which every pool respects.

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


def _pin_cpus(request: str) -> list[int] | None:
    """Restrict this process to the first ``request`` of its allowed CPUs ("all": leave them);
    the CPUs it runs on after, or None where the platform has no affinity call."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    allowed = sorted(os.sched_getaffinity(0))
    if request.strip().lower() != "all":
        try:
            n = int(request)
        except ValueError:
            raise SystemExit(f"FUNCTRACE_BENCH_CPUS must be a count of CPUs or 'all', not {request!r}") from None
        if n < 1:
            raise SystemExit(f"FUNCTRACE_BENCH_CPUS must be at least 1, not {n}")
        allowed = allowed[:n]
        os.sched_setaffinity(0, allowed)
    return allowed


def _is_the_runner() -> bool:
    """True for ``python -m benchmarks`` (not for ``-m benchmarks.gpu_check`` or an import)."""
    argv = getattr(sys, "orig_argv", [])
    return "-m" in argv[:-1] and argv[argv.index("-m") + 1] == "benchmarks"


CPUS = _pin_cpus(os.environ.get("FUNCTRACE_BENCH_CPUS", "1" if _is_the_runner() else "all"))
_THREADS = str(len(CPUS)) if CPUS else "1"
for _var in THREAD_VARS:
    os.environ.setdefault(_var, _THREADS)
if _THREADS == "1":  # honoured by older jaxlibs; the affinity above bounds the newer ones
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence XLA's start-up banner
