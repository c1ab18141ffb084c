"""Sorting and searching: ``sort``, ``argsort``, ``lexsort``, ``partition``, ``searchsorted``,
``digitize`` (re-exported by ``_sorting``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.errors import ShapeError
from functrace.numpy._core import _as_operand, _cast, check_axis, result_type, user_error
from functrace.numpy._reductions import _arr
from functrace.ops.sorting import descending_sort
from functrace.tracing import get_aval, located

Array = Any
_INDEX = np.dtype(np.int64)  # NumPy's intp: the dtype of every index result


def _c(value: Any, dtype: Any) -> Any:
    return np.asarray(value, dtype=dtype)[()]


def _flatten(a: Array) -> Array:
    return lax.reshape(a, (get_aval(a).size,))


def _axis_or_flat(a: Array, axis: int | None) -> tuple[Array, int]:
    if axis is None:
        return _flatten(a), 0
    return a, check_axis(axis, a)


def _no_order(order: Any) -> None:
    if order is not None:
        raise user_error(ValueError("order= (sorting by fields of a structured array) is not supported"))


# ---------------------------------------------------------------------------- sort / argsort
def sort(a: Array, axis: int | None = -1, *, kind: str | None = None, order: Any = None, stable: bool = True,
         descending: bool = False) -> Array:
    """``numpy.sort``: a sorted copy along ``axis`` (flattened when None); NaN sorts last.

    ``descending=True`` (as JAX) sorts from the largest, NaN first, equal values in input order.
    The derivative permutes the tangent as the values were permuted.
    """
    _no_order(order)
    a, ax = _axis_or_flat(_arr(a), axis)
    return descending_sort(a, ax) if descending else lax.sort(a, ax)


def argsort(a: Array, axis: int | None = -1, *, kind: str | None = None, order: Any = None, stable: bool = True,
            descending: bool = False) -> Array:
    """``numpy.argsort``: the indices that sort ``a`` along ``axis``; always stable (equal values
    keep their order, also when ``descending``)."""
    _no_order(order)
    a, ax = _axis_or_flat(_arr(a), axis)
    if descending:
        return descending_sort(a, ax, with_indices=True, index_dtype=_INDEX)[1]
    return lax.sort((a, lax.iota(_INDEX, get_aval(a).shape, ax)), ax, num_keys=1)[1]


def lexsort(keys: Any, axis: int = -1) -> Array:
    """``numpy.lexsort``: the stable order that sorts by the last key, then the one before, ..."""
    if isinstance(keys, (list, tuple)):
        ks = [_arr(k) for k in keys]
    else:
        keys = _arr(keys)
        ks = [lax.reshape(lax.slice(keys, (i,) + (0,) * (get_aval(keys).ndim - 1),
                                    (i + 1,) + get_aval(keys).shape[1:]), get_aval(keys).shape[1:])
              for i in range(get_aval(keys).shape[0])]
    if not ks:
        raise user_error(TypeError("lexsort needs at least one key"))
    from functrace.numpy._shape import broadcast_arrays

    ks = broadcast_arrays(*ks)
    ax = check_axis(axis, ks[0])
    iota = lax.iota(_INDEX, get_aval(ks[0]).shape, ax)
    return lax.sort([*reversed(ks), iota], ax, num_keys=len(ks))[-1]


def _partition(a: Array, kth: Any, axis: int, indices: bool) -> Array:
    a = _arr(a)
    ax = check_axis(axis, a)
    n = get_aval(a).shape[ax]
    values, idx = lax.sort((a, lax.iota(_INDEX, get_aval(a).shape, ax)), ax, num_keys=1)
    if not isinstance(kth, (int, np.integer)):  # several kth: a sorted array puts every one in place
        return idx if indices else values
    k = int(kth) + n if int(kth) < 0 else int(kth)
    if not 0 <= k < n:
        raise located(ShapeError(f"kth(={kth}) out of bounds ({n})"))
    # As JAX: the k + 1 smallest in ascending order, then the others from the largest down
    # (equal values in input order).
    top_vals, top_idx = descending_sort(a, ax, with_indices=True, index_dtype=_INDEX)
    shape = get_aval(a).shape

    def part(x, lo, hi):
        start, limit = [0] * len(shape), list(shape)
        start[ax], limit[ax] = lo, hi
        return lax.slice(x, start, limit)

    src = (idx, top_idx) if indices else (values, top_vals)
    return lax.concatenate([part(src[0], 0, k + 1), part(src[1], 0, n - k - 1)], ax)


def partition(a: Array, kth: int, axis: int = -1) -> Array:
    """``numpy.partition``: element ``kth`` in its sorted place, smaller ones before it (ascending,
    as JAX), larger ones after it (descending, as JAX)."""
    return _partition(a, kth, axis, indices=False)


def argpartition(a: Array, kth: int, axis: int = -1) -> Array:
    """``numpy.argpartition``: the indices that would ``partition`` ``a`` (JAX's order)."""
    return _partition(a, kth, axis, indices=True)


# ---------------------------------------------------------------------------- searching
def _nan_less(x: Array, y: Array, strict: bool) -> Array:
    """``x < y`` (or ``<=``) in the order sort uses: NaN after every number."""
    lt = lax.lt(x, y) if strict else lax.le(x, y)
    if not is_float(get_aval(x).dtype):
        return lt
    y_nan = lax.ne(y, y)
    if strict:
        return lax.bitwise_or(lt, lax.bitwise_and(y_nan, lax.eq(x, x)))
    return lax.bitwise_or(lt, y_nan)


_SEARCH_METHODS = ("scan", "scan_unrolled", "sort", "compare_all")


def searchsorted(a: Array, v: Array, side: str = "left", sorter: Array | None = None, *,
                 method: str = "scan") -> Array:
    """``numpy.searchsorted``: where to insert ``v`` into the sorted 1-D ``a`` to keep it sorted
    (``side="left"``: before equal values; ``"right"``: after them). NaN counts as the largest
    value. ``method`` picks the algorithm as in JAX (the result is the same): a binary search
    of ``log2(len(a))`` steps, or ``"compare_all"`` (all pairs compared at once)."""
    if side not in ("left", "right"):
        raise user_error(ValueError(f"side must be 'left' or 'right', got {side!r}"))
    if method not in _SEARCH_METHODS:
        raise user_error(ValueError(f"method must be one of {_SEARCH_METHODS}, got {method!r}"))
    a, v = _arr(a), _as_operand(v)
    if get_aval(a).ndim != 1:
        raise located(ShapeError(f"searchsorted needs a 1-D sorted array, got shape {get_aval(a).shape}"))
    if sorter is not None:
        from functrace.numpy._indexing import take

        a = take(a, sorter)
    dt = result_type(a, v)
    a, v = _cast(a, dt), _arr(_cast(v, dt))
    n = get_aval(a).shape[0]
    vshape = get_aval(v).shape
    strict = side == "left"  # left: count the elements < v; right: those <= v
    if n == 0:
        return lax.full(vshape, 0, _INDEX)
    if method == "compare_all":
        nd = len(vshape)
        ab = lax.broadcast_in_dim(a, vshape + (n,), (nd,))
        vb = lax.broadcast_in_dim(v, vshape + (n,), tuple(range(nd)))
        return lax.reduce_sum(lax.convert_element_type(_nan_less(ab, vb, strict), _INDEX), (nd,))
    lo, hi = lax.full(vshape, 0, _INDEX), lax.full(vshape, n, _INDEX)
    one, two, last = _c(1, _INDEX), _c(2, _INDEX), _c(n - 1, _INDEX)
    for _ in range(n.bit_length()):
        mid = lax.div(lax.add(lo, hi), two)
        probe = lax.gather(a, lax.min(mid, last), 0)
        right = _nan_less(probe, v, strict)  # the insertion point is after mid
        active = lax.lt(lo, hi)
        lo = lax.select(lax.bitwise_and(active, right), lax.add(mid, one), lo)
        hi = lax.select(lax.bitwise_and(active, lax.bitwise_not(right)), mid, hi)
    return lo


def digitize(x: Array, bins: Array, right: bool = False, *, method: str | None = None) -> Array:
    """``numpy.digitize``: the index of the bin of each ``x`` for increasing or decreasing ``bins``."""
    bins = _arr(bins)
    if get_aval(bins).ndim != 1:
        raise located(ShapeError(f"digitize: bins must be 1-D, got shape {get_aval(bins).shape}"))
    side = "left" if right else "right"
    kw = {} if method is None else {"method": method}
    n = get_aval(bins).shape[0]
    if n == 0:
        return lax.full(get_aval(_arr(x)).shape, 0, _INDEX)
    up = searchsorted(bins, x, side=side, **kw)
    down = lax.sub(_c(n, _INDEX), searchsorted(lax.rev(bins, (0,)), x, side=side, **kw))
    first, final = lax.slice(bins, (0,), (1,)), lax.slice(bins, (n - 1,), (n,))
    increasing = lax.reshape(lax.ge(final, first), ())
    return lax.select(lax.broadcast_in_dim(increasing, get_aval(up).shape, ()), up, down)
