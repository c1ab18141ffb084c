"""NumPy implementations of the cumulative family (``functrace/ops/cumulative.py``)."""

from __future__ import annotations

import numpy as np

from functrace.backends.numpy_util import quiet
from functrace.ops import cumulative as CU


def _accumulate(fn):
    def impl(x, *, axis, reverse):
        if reverse:
            return np.flip(fn(np.flip(x, axis), axis), axis)
        return fn(x, axis)

    return impl


IMPLS = {
    CU.cumprod_p: quiet(_accumulate(lambda x, axis: np.cumprod(x, axis=axis, dtype=x.dtype))),
    CU.cummax_p: quiet(_accumulate(lambda x, axis: np.maximum.accumulate(x, axis=axis))),
    CU.cummin_p: quiet(_accumulate(lambda x, axis: np.minimum.accumulate(x, axis=axis))),
    CU.cumlogsumexp_p: quiet(_accumulate(lambda x, axis: np.logaddexp.accumulate(x, axis=axis))),
}
