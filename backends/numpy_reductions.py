"""NumPy implementations of the reductions family (``functrace/ops/reductions.py``), and the
faster routes the lowering picks for some shapes (``NumpyBackend.specialize``)."""

from __future__ import annotations

import functools
import math
from typing import Any

import numpy as np

from functrace import ops as P
from functrace.backends.numpy_util import quiet


def _reduce(ufunc):
    """A reduction by the ufunc's ``reduce`` (np.sum and friends add a Python layer on top);
    sums and products keep the input's dtype (NumPy would widen small integers)."""
    reduce = ufunc.reduce
    if ufunc in (np.add, np.multiply):
        return lambda x, *, axes: reduce(x, axis=axes, dtype=x.dtype)
    return lambda x, *, axes: reduce(x, axis=axes)


def _cumsum(x, *, axis, reverse):
    if reverse:
        return np.flip(np.cumsum(np.flip(x, axis), axis=axis, dtype=x.dtype), axis)
    return np.cumsum(x, axis=axis, dtype=x.dtype)


def _reduce_short_rows(ufunc):
    """A reduction over the trailing axes of many short rows (a softmax's max and sum over ten
    classes for each of 256 examples): NumPy reduces a short contiguous row element by element,
    row after row (12 µs for 256 rows of 10), while the transposed copy reduces with one vector
    operation per element of the row (2.5 µs, copy included)."""
    reduce = _reduce(ufunc)

    def impl(x, *, axes):
        lead = x.shape[:x.ndim - len(axes)]
        return reduce(x.reshape(math.prod(lead), -1).T.copy(), axes=0).reshape(lead)

    impl.__name__ = f"{ufunc.__name__}_reduce_short_rows"
    return impl


# A reduction over trailing axes takes the transposed route when the rows are at most this long
# (longer rows favour NumPy's own loop) and there are at least _MANY_ROWS of them.
_SHORT_ROW = {P.reduce_max_p: 32, P.reduce_min_p: 32, P.reduce_sum_p: 16, P.reduce_prod_p: 16}
_MANY_ROWS = 64
_SHORT_ROWS_IMPLS = {P.reduce_max_p: _reduce_short_rows(np.maximum), P.reduce_min_p: _reduce_short_rows(np.minimum),
                     P.reduce_sum_p: _reduce_short_rows(np.add), P.reduce_prod_p: _reduce_short_rows(np.multiply)}


@functools.lru_cache(maxsize=64)
def _ones(n: int, dtype: np.dtype) -> np.ndarray:
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _column_sums(x, *, axes):
    """The sum over the leading axes as BLAS vector-matrix products with ones (3 µs instead of
    9.5 for a 256 × 256 float32 gradient of a bias; 10 µs instead of 175 for a convolution's
    bias, summed over examples and pixels). Accumulation order is BLAS's within a block of at
    most ``_BLAS_COLUMN[1]`` rows, and pairwise across blocks; a sum of negative zeros is +0.0,
    as in XLA, whose reductions start from +0.0."""
    n = math.prod(x.shape[:len(axes)])
    rest = x.shape[len(axes):]
    x = x.reshape(n, -1)
    block = _BLAS_COLUMN[1]
    if n <= block:
        return (_ones(n, x.dtype) @ x).reshape(rest)
    full = n - n % block
    sums = np.add.reduce(_ones(block, x.dtype) @ x[:full].reshape(full // block, block, -1), axis=0)
    if full < n:
        sums += _ones(n - full, x.dtype) @ x[full:]
    return sums.reshape(rest)


# Column sums go to BLAS for float32/float64 columns of at least 8 elements (below, NumPy's loop
# is as fast), in blocks of at most 4096 rows (longer BLAS sums would lose accuracy).
_BLAS_COLUMN = (8, 4096)


def _sums_columns(eqn: Any) -> bool:
    """Whether a sum is over the leading axes of a float32/float64 array, of at least
    ``_BLAS_COLUMN[0]`` rows and columns."""
    shape, axes = eqn.invars[0].aval.shape, tuple(eqn.params["axes"])
    k = len(axes)
    return (eqn.invars[0].aval.dtype in (np.float32, np.float64) and 0 < k < len(shape)
            and tuple(sorted(axes)) == tuple(range(k)) and math.prod(shape[:k]) >= _BLAS_COLUMN[0]
            and math.prod(shape[k:]) >= 8)


def _reduces_short_rows(eqn: Any) -> bool:
    shape, axes = eqn.invars[0].aval.shape, tuple(eqn.params["axes"])
    nd = len(shape)
    if not axes or len(axes) == nd or tuple(sorted(axes)) != tuple(range(nd - len(axes), nd)):
        return False
    row = math.prod(shape[nd - len(axes):])
    return 1 < row <= _SHORT_ROW[eqn.primitive] and math.prod(shape[:nd - len(axes)]) >= _MANY_ROWS


IMPLS = {
    P.reduce_sum_p: quiet(_reduce(np.add)), P.reduce_prod_p: quiet(_reduce(np.multiply)),
    P.reduce_max_p: _reduce(np.maximum), P.reduce_min_p: _reduce(np.minimum),
    P.reduce_and_p: _reduce(np.logical_and), P.reduce_or_p: _reduce(np.logical_or),
    P.argmax_p: lambda x, *, axis, index_dtype: np.argmax(x, axis=axis).astype(index_dtype),
    P.argmin_p: lambda x, *, axis, index_dtype: np.argmin(x, axis=axis).astype(index_dtype),
    P.cumsum_p: quiet(_cumsum),
}


def _specialize_sum(eqn: Any) -> Any:
    if _sums_columns(eqn):
        return _column_sums
    return _specialize_short_rows(eqn)


def _specialize_short_rows(eqn: Any) -> Any:
    return _SHORT_ROWS_IMPLS[eqn.primitive] if _reduces_short_rows(eqn) else None


# Implementations chosen when a program is lowered, for an equation's shapes and params.
SPECIALIZE = {P.reduce_sum_p: _specialize_sum, P.reduce_prod_p: _specialize_short_rows,
              P.reduce_max_p: _specialize_short_rows, P.reduce_min_p: _specialize_short_rows}
