"""Sorting, searching, order statistics, ``unique`` and ``nonzero``: compositions of ``lax.sort``,
``gather`` and ``scatter``, so each is differentiable where NumPy's is a function of the values
(``sort``, ``median``, ``quantile``, ``unique``'s values), with JAX's derivative conventions.

Results whose size depends on the values (``unique``, ``nonzero``, ``argwhere``,
``flatnonzero``, one-argument ``where``) need concrete inputs, as in NumPy, or a static
``size=`` (then ``fill_value=`` pads them), as in JAX under ``jit``.

The functions live in ``_sort_search``, ``_quantiles`` and ``_nonzero``; this module gathers
their names.
"""

from __future__ import annotations

from functrace.numpy._nonzero import (  # noqa: F401 -- re-exported
    argwhere,
    count_nonzero,
    flatnonzero,
    nonzero,
    unique,
    unique_all,
    unique_counts,
    unique_inverse,
    unique_values,
    where,
)
from functrace.numpy._quantiles import (  # noqa: F401 -- re-exported
    _host,
    median,
    nanmedian,
    nanpercentile,
    nanquantile,
    percentile,
    quantile,
)
from functrace.numpy._sort_search import (  # noqa: F401 -- re-exported
    argpartition,
    argsort,
    digitize,
    lexsort,
    partition,
    searchsorted,
    sort,
)

__all__ = [
    "argpartition", "argsort", "argwhere", "count_nonzero", "digitize", "flatnonzero", "lexsort", "median",
    "nanmedian", "nanpercentile", "nanquantile", "nonzero", "partition", "percentile", "quantile", "searchsorted",
    "sort", "unique", "unique_all", "unique_counts", "unique_inverse", "unique_values", "where",
]
