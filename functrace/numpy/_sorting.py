"""Sorting, searching, order statistics, ``unique`` and ``nonzero``: compositions of ``lax.sort``,
``gather`` and ``scatter``, so each is differentiable where NumPy's is a function of the values
(``sort``, ``median``, ``quantile``, ``unique``'s values), with JAX's derivative conventions.

Results whose size depends on the values (``unique``, ``nonzero``, ``argwhere``,
``flatnonzero``, one-argument ``where``) need concrete inputs, as in NumPy, or a static
``size=`` (then ``fill_value=`` pads them), as in JAX under ``jit``.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_bool, is_float
from functrace.errors import ConcretizationError, ShapeError
from functrace.numpy._core import _as_operand, _cast, asarray, check_axis, result_type, user_error
from functrace.numpy._core import where as _where3
from functrace.numpy._reductions import _arr, _axes
from functrace.ops.scatter import scatter
from functrace.ops.sorting import descending_sort, take_along
from functrace.tracing import Tracer, get_aval, located

__all__ = [
    "argpartition", "argsort", "argwhere", "count_nonzero", "digitize", "flatnonzero", "lexsort", "median",
    "nanmedian", "nanpercentile", "nanquantile", "nonzero", "partition", "percentile", "quantile", "searchsorted",
    "sort", "unique", "unique_all", "unique_counts", "unique_inverse", "unique_values", "where",
]

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


# ---------------------------------------------------------------------------- order statistics
_CONTINUOUS = {  # method: (alpha, beta) of Hyndman and Fan, as NumPy names them
    "interpolated_inverted_cdf": (0.0, 1.0), "hazen": (0.5, 0.5), "weibull": (0.0, 0.0),
    "median_unbiased": (1 / 3.0, 1 / 3.0), "normal_unbiased": (3 / 8.0, 3 / 8.0),
}
_DISCRETE = ("inverted_cdf", "closest_observation", "lower", "higher", "nearest")
_METHODS = ("linear", "midpoint", "averaged_inverted_cdf") + tuple(_CONTINUOUS) + _DISCRETE


def _virtual_index(n: Array, q: Array, method: str) -> tuple[Array, Array | None]:
    """NumPy's virtual index of quantile ``q`` in a sorted sample of ``n`` values: an integer
    index (discrete methods; gamma None) or a float index and its interpolation weight gamma."""
    from functrace.numpy import _core as C

    floor = C.floor
    if method in ("lower", "higher", "nearest"):
        v = (n - 1) * q
        return {"lower": floor, "higher": C.ceil, "nearest": C.rint}[method](v), None
    if method in ("inverted_cdf", "closest_observation"):
        v = n * q - 1 if method == "inverted_cdf" else n * q - 1.5
        prev = floor(v)
        g = v - prev
        keep_prev = (g == 0) if method == "inverted_cdf" else C.logical_and(g == 0, C.remainder(prev, 2) == 1)
        return C.maximum(C.where(keep_prev, prev, prev + 1), 0), None
    if method == "linear":
        v = (n - 1) * q
    elif method == "midpoint":
        v = 0.5 * (floor((n - 1) * q) + C.ceil((n - 1) * q))
    elif method == "averaged_inverted_cdf":
        v = n * q - 1
    else:
        alpha, beta = _CONTINUOUS[method]
        v = n * q + (alpha + q * (1 - alpha - beta)) - 1
    g = v - floor(v)
    if method == "midpoint":
        g = C.where(C.remainder(v, 1) == 0, 0.0, 0.5)
    elif method == "averaged_inverted_cdf":
        g = C.where(g == 0, 0.5, 1.0)
    return v, g


def _quantile(a: Array, q: Array, axis: Any, method: str, keepdims: bool, ignore_nan: bool, name: str) -> Array:
    from functrace.numpy import _core as C
    from functrace.numpy._reductions import sum as fsum
    from functrace.numpy._shape import moveaxis

    if method not in _METHODS:
        raise user_error(ValueError(f"{name}: {method!r} is not a valid method; use one of {', '.join(_METHODS)}"))
    a = _arr(a)
    shape = get_aval(a).shape
    axes = _axes(a, axis)
    if any(shape[i] == 0 for i in axes) or (not shape and axis not in (None, 0, -1, (), [])):
        raise located(ShapeError(f"{name} of an empty axis is undefined (shape {shape})"))
    kept = [i for i in range(len(shape)) if i not in axes]
    x = lax.transpose(a, kept + list(axes))
    rest = tuple(shape[i] for i in kept)
    n_all = int(np.prod([shape[i] for i in axes], dtype=np.int64))
    x = lax.reshape(x, rest + (n_all,))
    dt = get_aval(x).dtype
    discrete = method in _DISCRETE
    if discrete:  # NumPy takes the values themselves: the array's dtype
        out_dt = dt
    else:  # interpolation in the promoted dtype of the array (as a float) and q (a weak scalar adapts)
        out_dt = result_type(dt if is_float(dt) else np.float64, q if isinstance(q, float) else asarray(q))
        out_dt = out_dt if is_float(out_dt) else np.dtype(np.float64)
        x = _cast(x, out_dt)
    q = asarray(q)
    qa = get_aval(q)
    qf = _cast(q, out_dt if is_float(out_dt) else np.dtype(np.float64))
    if not isinstance(q, Tracer) or q.val is not None:
        qv = np.asarray(q.to_host(name) if isinstance(q, Tracer) else _host(q))
        if qv.size and (np.nanmin(qv) < 0 or np.nanmax(qv) > 1):
            raise user_error(ValueError(f"{name}: quantiles must be in the range [0, 1]"))
    s = lax.sort(x, len(rest))  # NaN last
    nq = qa.size
    qflat = lax.reshape(qf, (nq,))
    fdt = get_aval(qflat).dtype
    # Broadcast to rest + (nq,): the sample size (per slice when NaNs are dropped) and q.
    qb = lax.broadcast_in_dim(qflat, rest + (nq,), (len(rest),))
    if ignore_nan and is_float(dt):
        count = fsum(C.logical_not(C.isnan(x)), axis=-1)
        n = lax.broadcast_in_dim(_cast(count, fdt), rest + (nq,), tuple(range(len(rest))))
    else:
        n = lax.full(rest + (nq,), n_all, fdt)
    v, g = _virtual_index(n, qb, method)
    last = n - 1
    if g is None:
        idx = C.clip(v, 0, C.maximum(last, 0))
        prev_i = lax.convert_element_type(idx, _INDEX)
        res = take_along(s, prev_i, len(rest))
    else:
        below, above = v < 0, v >= last
        prev = C.where(below, 0, C.where(above, last, C.floor(v)))
        nxt = C.where(below, 0, C.where(above, last, C.floor(v) + 1))
        prev = C.maximum(prev, 0)
        nxt = C.maximum(nxt, 0)
        lo = take_along(s, lax.convert_element_type(prev, _INDEX), len(rest))
        hi = take_along(s, lax.convert_element_type(nxt, _INDEX), len(rest))
        g = _cast(g, out_dt)
        diff = hi - lo
        res = C.where(g >= 0.5, hi - diff * (1 - g), lo + diff * g)
    if is_float(dt):
        if ignore_nan:
            res = C.where(n == 0, np.nan, res)
        else:
            has_nan = C.isnan(lax.slice(s, (0,) * len(rest) + (n_all - 1,), rest + (n_all,)))
            res = C.where(lax.broadcast_in_dim(lax.reshape(has_nan, rest), rest + (nq,), tuple(range(len(rest)))),
                          np.nan, res)
    res = _cast(res, out_dt)
    res = lax.reshape(moveaxis(res, -1, 0), qa.shape + rest)
    if keepdims:
        res = lax.reshape(res, qa.shape + tuple(1 if i in axes else d for i, d in enumerate(shape)))
    return res


def _host(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def quantile(a: Array, q: Array, axis: int | Sequence[int] | None = None, out: None = None,
             overwrite_input: bool = False, method: str = "linear", keepdims: bool = False, *,
             interpolation: str | None = None) -> Array:
    """``numpy.quantile`` with every one of NumPy's methods (``linear``, ``lower``, ``higher``,
    ``midpoint``, ``nearest``, ``inverted_cdf``, ``hazen``, ``weibull``, ...). The result's
    leading axes are ``q``'s. A slice holding NaN gives NaN. Differentiable in ``a`` (through
    the sort) and, for the interpolating methods, in ``q``."""
    return _quantile(a, q, axis, interpolation or method, keepdims, False, "quantile")


def percentile(a: Array, q: Array, axis: int | Sequence[int] | None = None, out: None = None,
               overwrite_input: bool = False, method: str = "linear", keepdims: bool = False, *,
               interpolation: str | None = None) -> Array:
    """``numpy.percentile``: ``quantile`` with ``q`` in percent."""
    return _quantile(a, _percent(q), axis, interpolation or method, keepdims, False, "percentile")


def nanquantile(a: Array, q: Array, axis: int | Sequence[int] | None = None, out: None = None,
                overwrite_input: bool = False, method: str = "linear", keepdims: bool = False, *,
                interpolation: str | None = None) -> Array:
    """``numpy.nanquantile``: ``quantile`` of the values that are not NaN (NaN for an all-NaN slice)."""
    return _quantile(a, q, axis, interpolation or method, keepdims, True, "nanquantile")


def nanpercentile(a: Array, q: Array, axis: int | Sequence[int] | None = None, out: None = None,
                  overwrite_input: bool = False, method: str = "linear", keepdims: bool = False, *,
                  interpolation: str | None = None) -> Array:
    """``numpy.nanpercentile``: ``nanquantile`` with ``q`` in percent."""
    return _quantile(a, _percent(q), axis, interpolation or method, keepdims, True, "nanpercentile")


def _percent(q: Array) -> Array:
    from functrace.numpy._core import true_divide

    if isinstance(q, (int, float)) and not isinstance(q, bool):
        return q / 100  # stays a weak Python scalar
    return true_divide(asarray(q), 100)


def median(a: Array, axis: int | Sequence[int] | None = None, out: None = None, overwrite_input: bool = False,
           keepdims: bool = False) -> Array:
    """``numpy.median``: the middle value, or the mean of the two middle values (as JAX, the
    ``midpoint`` quantile; so the derivative of an even-sized median is half to each)."""
    return _quantile(a, 0.5, axis, "midpoint", keepdims, False, "median")


def nanmedian(a: Array, axis: int | Sequence[int] | None = None, out: None = None, overwrite_input: bool = False,
              keepdims: bool = False) -> Array:
    """``numpy.nanmedian``: ``median`` ignoring NaN."""
    return _quantile(a, 0.5, axis, "midpoint", keepdims, True, "nanmedian")


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

