"""NumPy implementation of the debugging family (``functrace/ops/debugging.py``)."""

from __future__ import annotations

import numpy as np

from functrace.ops import debugging as DB

IMPLS = {DB.debug_print_p: DB.host_print_impl(np.asarray)}
