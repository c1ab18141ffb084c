"""functrace benchmark suite: each workload timed for functrace and its rivals in one process.

Run it with ``python -m benchmarks`` (``--help`` for the flags); see ``benchmarks/README.md``.

BLAS and XLA thread pools are pinned to one thread *here*, in the package's ``__init__``, because
``python -m benchmarks`` imports this module before ``__main__`` and before anything has imported
NumPy: once NumPy (or torch, or jaxlib) has started its thread pool, changing these variables has
no effect. Values already set in the environment are respected (``setdefault``) and recorded in the
results, so a run with other settings is visible as such.
"""

from __future__ import annotations

import os
import sys

THREAD_VARS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
               "NUMEXPR_NUM_THREADS")

# True when NumPy was already imported before the pins below could take effect.
NUMPY_IMPORTED_BEFORE_PINNING = "numpy" in sys.modules

for _var in THREAD_VARS:
    os.environ.setdefault(_var, "1")
# XLA's CPU client: one intra-op thread, like the BLAS pins, so JAX competes on the same footing.
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
os.environ.setdefault("JAX_PLATFORMS", "cpu")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # silence XLA's start-up banner
