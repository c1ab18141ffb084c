"""Results whose size depends on the values: ``nonzero``, ``argwhere``, one-argument ``where``,
``unique`` (concrete inputs, or a static ``size=``); re-exported by ``_sorting``."""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_bool, is_float
from functrace.errors import ConcretizationError
from functrace.numpy._core import asarray, check_axis, user_error
from functrace.numpy._core import where as _where3
from functrace.numpy._quantiles import _host
from functrace.numpy._reductions import _arr
from functrace.numpy._sort_search import _INDEX, Array, _c, _flatten
from functrace.ops.scatter import scatter
from functrace.tracing import Tracer, get_aval, located


# ---------------------------------------------------------------------------- nonzero
def _static_size(x: Array, what: str, size: int | None, count) -> int:
    """``size`` when given, else the value-dependent length, which needs a concrete ``x``."""
    if size is not None:
        s = int(size)
        if s < 0:
            raise user_error(ValueError(f"{what}: size must be non-negative, got {size}"))
        return s
    if isinstance(x, Tracer) and x.val is None:
        raise located(ConcretizationError(
            f"{what} has a result whose length depends on the values of its input, which are abstract here "
            f"(inside jit or make_jaxpr); pass a static size= (and fill_value= for the padding), as in JAX"))
    return int(count(_host(x.to_host(what)) if isinstance(x, Tracer) else _host(x)))


def _compact(mask: Array, size: int) -> tuple[Array, Array]:
    """The positions of the True entries of the 1-D ``mask``, in order, as an array of ``size``
    (padded with 0), and a boolean array saying which entries are real."""
    n = get_aval(mask).shape[0]
    rank = lax.sub(lax.cumsum(lax.convert_element_type(mask, _INDEX), 0), _c(1, _INDEX))
    dest = lax.select(lax.bitwise_and(mask, lax.lt(rank, _c(size, _INDEX))), rank, lax.full((n,), size, _INDEX))
    board = scatter(lax.full((size + 1,), -1, _INDEX), dest, lax.iota(_INDEX, (n,), 0), 0)
    pos = lax.slice(board, (0,), (size,))
    valid = lax.ge(pos, _c(0, _INDEX))
    return lax.select(valid, pos, lax.full((size,), 0, _INDEX)), valid


def _to_bool(a: Array) -> Array:
    a = _arr(a)
    if is_bool(get_aval(a).dtype):
        return a
    return lax.ne(a, lax.full(get_aval(a).shape, 0, get_aval(a).dtype))


def nonzero(a: Array, *, size: int | None = None, fill_value: Any = None) -> tuple:
    """``numpy.nonzero``: one index array per axis. ``size``/``fill_value`` as in JAX: the
    first ``size`` indices, padded with ``fill_value`` (0; a scalar or one per axis)."""
    a = _arr(a)
    shape = get_aval(a).shape
    if not shape:
        raise user_error(ValueError("Calling nonzero on 0d arrays is not allowed. Use np.atleast_1d(scalar).nonzero()"
                                    " instead."))
    k = _static_size(a, "nonzero", size, np.count_nonzero)
    pos, valid = _compact(_flatten(_to_bool(a)), k)
    fills = fill_value if isinstance(fill_value, (tuple, list)) else [fill_value] * len(shape)
    if len(fills) != len(shape):
        raise user_error(ValueError(f"nonzero: fill_value needs one value per axis ({len(shape)}), got {len(fills)}"))
    out, stride = [], int(np.prod(shape, dtype=np.int64))
    for n, fill in zip(shape, fills, strict=True):
        stride //= max(n, 1)
        coord = lax.rem(lax.div(pos, _c(max(stride, 1), _INDEX)), _c(max(n, 1), _INDEX))
        if fill is not None:
            coord = lax.select(valid, coord, lax.convert_element_type(lax.broadcast_in_dim(asarray(fill), (k,), ()),
                                                                      _INDEX))
        out.append(coord)
    return tuple(out)


def flatnonzero(a: Array, *, size: int | None = None, fill_value: Any = None) -> Array:
    """``numpy.flatnonzero``: the indices of the non-zero entries of the flattened array."""
    return nonzero(_flatten(_arr(a)), size=size, fill_value=fill_value)[0]


def argwhere(a: Array, *, size: int | None = None, fill_value: Any = None) -> Array:
    """``numpy.argwhere``: the indices of the non-zero entries, one row each."""
    a = _arr(a)
    if get_aval(a).ndim == 0:
        rows = nonzero(lax.reshape(a, (1,)), size=size, fill_value=fill_value)[0]
        return lax.reshape(lax.slice(lax.reshape(rows, (get_aval(rows).shape[0], 1)), (0, 0),
                                     (get_aval(rows).shape[0], 0)), (get_aval(rows).shape[0], 0))
    from functrace.numpy._shape import stack

    return stack(nonzero(a, size=size, fill_value=fill_value), axis=1)


def count_nonzero(a: Array, axis: int | Sequence[int] | None = None, *, keepdims: bool = False) -> Array:
    """``numpy.count_nonzero``: how many entries are not zero (int64, NumPy's intp)."""
    from functrace.numpy._reductions import sum as fsum

    return fsum(_to_bool(a), axis=axis, dtype=_INDEX, keepdims=keepdims)


def where(condition: Array, x: Array | None = None, y: Array | None = None, /, *, size: int | None = None,
          fill_value: Any = None) -> Array:
    """``numpy.where``: ``x`` where ``condition`` holds, else ``y``; with ``condition`` alone,
    ``nonzero(condition)`` (with JAX's ``size``/``fill_value``)."""
    if x is None and y is None:
        return nonzero(condition, size=size, fill_value=fill_value)
    if x is None or y is None:
        raise user_error(ValueError("either both or neither of x and y should be given"))
    return _where3(condition, x, y)


# ---------------------------------------------------------------------------- unique
UniqueAllResult = namedtuple("UniqueAllResult", ["values", "indices", "inverse_indices", "counts"])
UniqueCountsResult = namedtuple("UniqueCountsResult", ["values", "counts"])
UniqueInverseResult = namedtuple("UniqueInverseResult", ["values", "inverse_indices"])


def _distinct_count(equal_nan: bool):
    def count(v: np.ndarray) -> int:
        if v.size == 0:
            return 0
        s = np.sort(v.reshape(-1))
        new = s[1:] != s[:-1]
        if equal_nan and s.dtype.kind in "fc":
            new &= ~(np.isnan(s[1:]) & np.isnan(s[:-1]))
        return int(new.sum()) + 1

    return count


def unique(ar: Array, return_index: bool = False, return_inverse: bool = False, return_counts: bool = False,
           axis: int | None = None, *, equal_nan: bool = True, size: int | None = None, fill_value: Any = None,
           sorted: bool = True) -> Any:  # noqa: A002
    """``numpy.unique``: the sorted distinct values of the flattened array (or, with ``axis``,
    the distinct slices along it, in lexicographic order), and optionally the index of each
    one's first occurrence, the inverse (``ar``'s shape; one per slice with ``axis``) and the
    counts. With a static ``size`` (as JAX, for ``jit``), results have that length: values are
    padded with ``fill_value`` (default: the smallest value), indices with the first one's,
    counts with 0. Differentiable in the values."""
    ar = _arr(ar)
    if axis is not None:
        return _unique_axis(ar, check_axis(axis, ar), return_index, return_inverse, return_counts, size, fill_value)
    shape = get_aval(ar).shape
    k = _static_size(ar, "unique", size, _distinct_count(equal_nan))
    x = _flatten(ar)
    n = get_aval(x).shape[0]
    dt = get_aval(x).dtype
    if n == 0:
        values = lax.full((k,), 0 if fill_value is None else fill_value, dt)
        extra = {"index": lax.full((k,), 0, _INDEX), "inverse": lax.full(shape, 0, _INDEX),
                 "counts": lax.full((k,), 0, _INDEX)}
    else:
        s, perm = lax.sort((x, lax.iota(_INDEX, (n,), 0)), 0, num_keys=1)
        prev, cur = lax.slice(s, (0,), (n - 1,)), lax.slice(s, (1,), (n,))
        new = lax.ne(cur, prev)
        if equal_nan and is_float(dt):
            new = lax.bitwise_and(new, lax.bitwise_not(lax.bitwise_and(lax.ne(cur, cur), lax.ne(prev, prev))))
        mask = lax.concatenate([np.ones((1,), bool), new], 0)
        starts, valid = _compact(mask, k)
        values = lax.gather(s, starts, 0)
        if fill_value is not None:
            values = lax.select(valid, values, lax.convert_element_type(
                lax.broadcast_in_dim(asarray(fill_value), (k,), ()), dt))
        run = lax.sub(lax.cumsum(lax.convert_element_type(mask, _INDEX), 0), _c(1, _INDEX))
        inverse = lax.reshape(scatter(lax.full((n,), 0, _INDEX), perm, run, 0), shape)
        dest = lax.select(lax.lt(run, _c(k, _INDEX)), run, lax.full((n,), k, _INDEX))
        counts = lax.slice(lax.scatter_add(lax.full((k + 1,), 0, _INDEX), dest, lax.full((n,), 1, _INDEX), 0),
                           (0,), (k,))
        extra = {"index": lax.gather(perm, starts, 0), "inverse": inverse, "counts": counts}
    out = [values]
    for flag, key in ((return_index, "index"), (return_inverse, "inverse"), (return_counts, "counts")):
        if flag:
            out.append(extra[key])
    return out[0] if len(out) == 1 else tuple(out)


def _distinct_rows(v: np.ndarray) -> int:
    """How many distinct rows ``v`` (2-D) has, rows equal when all entries are ``==`` (as NumPy's
    ``unique(axis=...)``: NaN never equals NaN there)."""
    if v.shape[0] == 0:
        return 0
    if v.shape[1] == 0:
        return 1
    s = v[np.lexsort(v.T[::-1])]
    return int((s[1:] != s[:-1]).any(axis=1).sum()) + 1


def _unique_axis(ar: Array, ax: int, return_index: bool, return_inverse: bool, return_counts: bool,
                 size: int | None, fill_value: Any) -> Any:
    """``unique`` of the slices along ``ax``: rows sorted lexicographically (one sort, every
    column a key), then compacted as for the flattened case."""
    from functrace.numpy._shape import moveaxis

    moved = moveaxis(ar, ax, 0)
    shape = get_aval(moved).shape
    n, m = shape[0], int(np.prod(shape[1:], dtype=np.int64))
    rows = lax.reshape(moved, (n, m))
    k = _static_size(ar, "unique", size, lambda v: _distinct_rows(np.moveaxis(v, ax, 0).reshape(n, m)))
    dt = get_aval(rows).dtype
    if n == 0:
        srows, perm, mask = rows, lax.full((0,), 0, _INDEX), lax.full((0,), True, bool)
    else:
        iota = lax.iota(_INDEX, (n,), 0)
        cols = [lax.reshape(lax.slice(rows, (0, j), (n, j + 1)), (n,)) for j in range(m)]
        perm = lax.sort(cols + [iota], 0, num_keys=max(m, 1))[-1] if m else iota
        srows = lax.gather(rows, perm, 0)
        if m:
            differ = lax.reduce_or(lax.ne(lax.slice(srows, (1, 0), (n, m)), lax.slice(srows, (0, 0), (n - 1, m))),
                                   (1,))
        else:
            differ = lax.full((n - 1,), False, bool)
        mask = lax.concatenate([np.ones((1,), bool), differ], 0)
    starts, valid = _compact(mask, k) if n else (lax.full((k,), 0, _INDEX), lax.full((k,), False, bool))
    values = lax.gather(srows, starts, 0) if n else lax.full((k, m), 0, dt)
    if fill_value is not None:
        values = lax.select(lax.broadcast_in_dim(valid, (k, m), (0,)), values,
                            lax.convert_element_type(lax.broadcast_in_dim(asarray(fill_value), (k, m), ()), dt))
    values = moveaxis(lax.reshape(values, (k,) + shape[1:]), 0, ax)
    run = lax.sub(lax.cumsum(lax.convert_element_type(mask, _INDEX), 0), _c(1, _INDEX))
    out = [values]
    if return_index:
        out.append(lax.gather(perm, starts, 0) if n else lax.full((k,), 0, _INDEX))
    if return_inverse:
        out.append(scatter(lax.full((n,), 0, _INDEX), perm, run, 0))
    if return_counts:
        dest = lax.select(lax.lt(run, _c(k, _INDEX)), run, lax.full((n,), k, _INDEX))
        out.append(lax.slice(lax.scatter_add(lax.full((k + 1,), 0, _INDEX), dest, lax.full((n,), 1, _INDEX), 0),
                             (0,), (k,)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_values(x: Array, *, size: int | None = None, fill_value: Any = None) -> Array:
    """``numpy.unique_values``: the distinct values (each NaN distinct), sorted."""
    return unique(x, equal_nan=False, size=size, fill_value=fill_value)


def unique_counts(x: Array, *, size: int | None = None, fill_value: Any = None) -> UniqueCountsResult:
    """``numpy.unique_counts``: the distinct values and how often each occurs."""
    return UniqueCountsResult(*unique(x, return_counts=True, equal_nan=False, size=size, fill_value=fill_value))


def unique_inverse(x: Array, *, size: int | None = None, fill_value: Any = None) -> UniqueInverseResult:
    """``numpy.unique_inverse``: the distinct values and, for each entry of ``x``, its value's index."""
    return UniqueInverseResult(*unique(x, return_inverse=True, equal_nan=False, size=size, fill_value=fill_value))


def unique_all(x: Array, *, size: int | None = None, fill_value: Any = None) -> UniqueAllResult:
    """``numpy.unique_all``: values, first indices, inverse indices and counts."""
    return UniqueAllResult(*unique(x, return_index=True, return_inverse=True, return_counts=True, equal_nan=False,
                                   size=size, fill_value=fill_value))
