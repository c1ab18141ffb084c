"""The long tail of ``jax.numpy``: NaN-ignoring reductions and statistics (``average``, ``cov``,
histograms, ``interp``, ...); re-exported by ``_tail_math``."""

from __future__ import annotations

import builtins
from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.numpy._core import (
    _as_operand,
    asarray,
    astype,
    equal,
    greater,
    isnan,
    less,
    logical_and,
    logical_not,
    maximum,
    minimum,
    multiply,
    remainder,
    sqrt,
    subtract,
    true_divide,
    user_error,
    where,
)
from functrace.numpy._reductions import all, argmax, argmin, max, mean, min, prod, sum
from functrace.numpy._shape import concatenate, expand_dims, reshape, transpose
from functrace.numpy._tail_elementwise import _float, _like
from functrace.tracing import get_aval

Array = Any


# ---------------------------------------------------------------------------- NaN-ignoring reductions
def _nan_fill(a: Array, value: float) -> Array:
    a = asarray(_as_operand(a))
    return where(isnan(a), _like(value, a), a) if is_float(get_aval(a).dtype) else a


def nansum(a: Array, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Sum treating NaN as 0."""
    return sum(_nan_fill(a, 0.0), axis=axis, dtype=dtype, keepdims=keepdims)


def nanprod(a: Array, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Product treating NaN as 1."""
    out = prod(_nan_fill(a, 1.0), axis=axis, keepdims=keepdims)
    return astype(out, dtype) if dtype is not None else out


def nanmax(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """Maximum ignoring NaN (NaN where a slice is all NaN)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return max(a, axis=axis, keepdims=keepdims)
    out = max(_nan_fill(a, -np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), np.nan, out)


def nanmin(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """Minimum ignoring NaN (NaN where a slice is all NaN)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return min(a, axis=axis, keepdims=keepdims)
    out = min(_nan_fill(a, np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), np.nan, out)


def _nan_count(a: Array, axis: Any, keepdims: bool) -> Array:
    a = asarray(_as_operand(a))
    ok = logical_not(isnan(a)) if is_float(get_aval(a).dtype) else equal(a, a)
    return sum(astype(ok, _float(a).aval.dtype if hasattr(_float(a), "aval") else np.float64), axis=axis,
               keepdims=keepdims)


def nanmean(a: Array, axis: Any = None, dtype: Any = None, keepdims: bool = False) -> Array:
    """Mean of the non-NaN entries (NaN for an all-NaN slice)."""
    a = _float(a)
    n = sum(astype(logical_not(isnan(a)), get_aval(a).dtype), axis=axis, keepdims=keepdims)
    out = true_divide(nansum(a, axis=axis, keepdims=keepdims), n)
    return astype(out, dtype) if dtype is not None else out


def nanvar(a: Array, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Variance of the non-NaN entries."""
    a = _float(a)
    ok = logical_not(isnan(a))
    n = sum(astype(ok, get_aval(a).dtype), axis=axis, keepdims=True)
    m = true_divide(nansum(a, axis=axis, keepdims=True), n)
    d = where(ok, subtract(a, m), 0.0)
    ss = sum(multiply(d, d), axis=axis, keepdims=keepdims)
    n = n if keepdims else reshape(n, get_aval(ss).shape)
    out = true_divide(ss, maximum(n - ddof, 0.0))
    return astype(out, dtype) if dtype is not None else out


def nanstd(a: Array, axis: Any = None, dtype: Any = None, ddof: int = 0, keepdims: bool = False) -> Array:
    """Standard deviation of the non-NaN entries."""
    return sqrt(nanvar(a, axis=axis, dtype=dtype, ddof=ddof, keepdims=keepdims))


def nanargmax(a: Array, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the maximum ignoring NaN; -1 for an all-NaN slice (as JAX)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return argmax(a, axis=axis, keepdims=keepdims)
    idx = argmax(_nan_fill(a, -np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), -1, idx)


def nanargmin(a: Array, axis: int | None = None, keepdims: bool = False) -> Array:
    """Index of the minimum ignoring NaN; -1 for an all-NaN slice (as JAX)."""
    a = asarray(_as_operand(a))
    if not is_float(get_aval(a).dtype):
        return argmin(a, axis=axis, keepdims=keepdims)
    idx = argmin(_nan_fill(a, np.inf), axis=axis, keepdims=keepdims)
    return where(all(isnan(a), axis=axis, keepdims=keepdims), -1, idx)


# ---------------------------------------------------------------------------- statistics
def average(a: Array, axis: Any = None, weights: Array | None = None, returned: bool = False, *,
            keepdims: bool = False) -> Any:
    """Weighted mean; with ``returned``, also the sum of the weights."""
    a = _float(a)
    if weights is None:
        avg = mean(a, axis=axis, keepdims=keepdims)
        if not returned:
            return avg
        n = get_aval(a).size // builtins.max(get_aval(avg).size, 1) if axis is not None else get_aval(a).size
        return avg, multiply(avg, 0.0) + float(n)
    w = asarray(_as_operand(weights))
    if get_aval(w).shape != get_aval(a).shape:
        if axis is None or get_aval(w).ndim != 1:
            raise user_error(TypeError("average: 1-D weights need an axis, and other weights a's shape"))
        ax = axis % get_aval(a).ndim
        w = lax.broadcast_in_dim(astype(w, get_aval(a).dtype), get_aval(a).shape, (ax,))
    w = astype(w, np.result_type(get_aval(a).dtype, get_aval(w).dtype))
    wsum = sum(w, axis=axis, keepdims=keepdims)
    avg = true_divide(sum(multiply(a, w), axis=axis, keepdims=keepdims), wsum)
    return (avg, wsum + multiply(avg, 0.0)) if returned else avg


def ptp(a: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """Range: max - min."""
    return subtract(max(a, axis=axis, keepdims=keepdims), min(a, axis=axis, keepdims=keepdims))


def cov(m: Array, y: Array | None = None, rowvar: bool = True, bias: bool = False, ddof: int | None = None,
        fweights: Array | None = None, aweights: Array | None = None) -> Array:
    """Covariance matrix of the variables (rows, or columns without ``rowvar``)."""
    x = _float(m)
    if get_aval(x).ndim == 1:
        x = reshape(x, (1, -1))
    if not rowvar and get_aval(x).shape[0] != 1:
        x = transpose(x)
    if y is not None:
        yy = _float(y)
        yy = reshape(yy, (1, -1)) if get_aval(yy).ndim == 1 else yy
        if not rowvar and get_aval(yy).shape[0] != 1:
            yy = transpose(yy)
        x = concatenate([x, astype(yy, get_aval(x).dtype)], axis=0)
    ddof = (0 if bias else 1) if ddof is None else ddof
    n = get_aval(x).shape[1]
    w = None
    if fweights is not None:
        w = astype(asarray(fweights), get_aval(x).dtype)
    if aweights is not None:
        aw = astype(asarray(aweights), get_aval(x).dtype)
        w = aw if w is None else multiply(w, aw)
    if w is None:
        avg = mean(x, axis=1, keepdims=True)
        fact = float(n - ddof)
        xc = subtract(x, avg)
        c = true_divide(lax.dot_general(xc, xc, (((1,), (1,)), ((), ()))), fact)
    else:
        wsum = sum(w)
        avg = true_divide(sum(multiply(x, w), axis=1, keepdims=True), wsum)
        if ddof == 0:
            fact = wsum
        elif aweights is None:
            fact = wsum - ddof
        else:
            fact = wsum - ddof * true_divide(sum(multiply(w, astype(asarray(aweights), get_aval(x).dtype))), wsum)
        xc = subtract(x, avg)
        c = true_divide(lax.dot_general(multiply(xc, w), xc, (((1,), (1,)), ((), ()))), fact)
    return reshape(c, ()) if get_aval(c).shape == (1, 1) else c


def corrcoef(x: Array, y: Array | None = None, rowvar: bool = True) -> Array:
    """Pearson correlation coefficients, clipped to [-1, 1]."""
    c = cov(x, y, rowvar)
    if get_aval(c).ndim == 0:
        return true_divide(c, c)
    d = sqrt(lax.reduce_sum(multiply(c, np.eye(get_aval(c).shape[0], dtype=get_aval(c).dtype)), (1,)))
    c = true_divide(true_divide(c, expand_dims(d, 1)), expand_dims(d, 0))
    return minimum(maximum(c, -1.0), 1.0)


def bincount(x: Array, weights: Array | None = None, minlength: int = 0, *, length: int | None = None) -> Array:
    """Counts (or summed weights) of each non-negative integer in ``x``; ``length`` (static) is
    needed under ``jit``, as in JAX. Values past ``length`` are dropped."""
    from functrace.numpy._sorting import _host

    x = asarray(_as_operand(x))
    if get_aval(x).dtype.kind not in "iub":
        raise user_error(TypeError(f"bincount needs integers, got {get_aval(x).dtype}"))
    if length is None:
        from functrace.tracing import Tracer

        if isinstance(x, Tracer) and x.val is None:
            from functrace.errors import ConcretizationError
            from functrace.tracing import located

            raise located(ConcretizationError("bincount's length depends on the values of x, which are abstract "
                                              "here (inside jit); pass a static length=, as in JAX"))
        hx = _host(x.to_host("bincount") if isinstance(x, Tracer) else x)
        length = int(np.max(hx)) + 1 if hx.size else 0
        length = builtins.max(length, int(minlength))
    x = reshape(x, (-1,))
    w = multiply(astype(equal(x, x), np.int64), 1) if weights is None else reshape(asarray(weights), (-1,))
    if weights is not None and not is_float(get_aval(w).dtype):
        w = astype(w, np.float64) if get_aval(w).dtype != np.bool_ else astype(w, np.int64)
    onehot = equal(expand_dims(astype(x, np.int64), 1), np.arange(length, dtype=np.int64))
    return sum(multiply(astype(onehot, get_aval(w).dtype), expand_dims(w, 1)), axis=0)


def histogram_bin_edges(a: Array, bins: Any = 10, range: Any = None, weights: Array | None = None) -> Array:  # noqa: A002
    """Edges of ``bins`` equal bins over ``range`` (default: the data's min and max)."""
    from functrace.numpy._creation import linspace

    a = _float(a)
    if not isinstance(bins, int):
        return asarray(bins)
    if range is None:
        lo, hi = min(a), max(a)
    else:
        lo, hi = asarray(range[0], get_aval(a).dtype), asarray(range[1], get_aval(a).dtype)
    same = equal(lo, hi)
    lo, hi = where(same, lo - 0.5, lo), where(same, hi + 0.5, hi)
    steps = np.linspace(0.0, 1.0, bins + 1).astype(get_aval(a).dtype)
    del linspace
    return lo + multiply(hi - lo, steps)


def histogram(a: Array, bins: Any = 10, range: Any = None, weights: Array | None = None,  # noqa: A002
              density: bool | None = None) -> tuple:
    """Counts per bin (static ``bins``) and the bin edges; the last bin includes its right edge."""
    from functrace.numpy._sorting import searchsorted

    a = reshape(_float(a), (-1,))
    edges = histogram_bin_edges(a, bins, range)
    nb = get_aval(edges).shape[0] - 1
    idx = searchsorted(edges, a, side="right") - 1
    idx = where(equal(a, edges[-1]), nb - 1, idx)
    inside = logical_and(greater(idx, -1), less(idx, nb))
    w = astype(inside, get_aval(a).dtype) if weights is None else \
        where(inside, reshape(astype(asarray(weights), get_aval(a).dtype), (-1,)), 0.0)
    onehot = astype(equal(expand_dims(idx, 1), np.arange(nb)), get_aval(a).dtype)
    counts = sum(multiply(onehot, expand_dims(w, 1)), axis=0)
    if density:
        widths = edges[1:] - edges[:-1]
        counts = true_divide(true_divide(counts, sum(counts)), widths)
    return counts, edges


def histogramdd(sample: Array, bins: Any = 10, range: Any = None, weights: Array | None = None,  # noqa: A002
                density: bool | None = None) -> tuple:
    """A D-dimensional histogram of ``sample`` (N, D) with static bin counts."""
    from functrace.numpy._sorting import searchsorted

    s = _float(sample)
    n, d = get_aval(s).shape
    bins = [bins] * d if isinstance(bins, int) else list(bins)
    edges, flat, inside, stride = [], 0, None, 1
    for k in reversed(np.arange(d).tolist()):
        col = s[:, k]
        e = histogram_bin_edges(col, bins[k], None if range is None else range[k])
        nb = get_aval(e).shape[0] - 1
        idx = searchsorted(e, col, side="right") - 1
        idx = where(equal(col, e[-1]), nb - 1, idx)
        ok = logical_and(greater(idx, -1), less(idx, nb))
        inside = ok if inside is None else logical_and(inside, ok)
        flat = flat + multiply(where(ok, idx, 0), stride)
        stride *= nb
        edges.insert(0, e)
    w = astype(inside, get_aval(s).dtype) if weights is None else \
        where(inside, astype(asarray(weights), get_aval(s).dtype), 0.0)
    onehot = astype(equal(expand_dims(flat, 1), np.arange(stride)), get_aval(s).dtype)
    counts = sum(multiply(onehot, expand_dims(w, 1)), axis=0)
    shape = tuple(get_aval(e).shape[0] - 1 for e in edges)
    counts = reshape(counts, shape)
    if density:
        total = sum(counts)
        for k, e in enumerate(edges):
            widths = e[1:] - e[:-1]
            counts = true_divide(counts, reshape(widths, tuple(-1 if j == k else 1 for j in np.arange(d).tolist())))
        counts = true_divide(counts, total)
    return counts, edges


def histogram2d(x: Array, y: Array, bins: Any = 10, range: Any = None, weights: Array | None = None,  # noqa: A002
                density: bool | None = None) -> tuple:
    """A 2-D histogram: ``(counts, xedges, yedges)``."""
    from functrace.numpy._shape import stack

    counts, (ex, ey) = histogramdd(stack([_float(x), _float(y)], axis=1), bins, range, weights, density)
    return counts, ex, ey


def interp(x: Array, xp: Array, fp: Array, left: Any = None, right: Any = None, period: Any = None) -> Array:
    """Piecewise-linear interpolation of (``xp``, ``fp``) at ``x`` (``xp`` increasing)."""
    from functrace.numpy._sorting import argsort, searchsorted

    x, xp, fp = _float(x), _float(xp), _float(fp)
    if period is not None:
        x = remainder(x, period)
        xp = remainder(xp, period)
        order = argsort(xp)
        xp, fp = xp[order], fp[order]
        xp = concatenate([xp[-1:] - period, xp, xp[:1] + period])
        fp = concatenate([fp[-1:], fp, fp[:1]])
    n = get_aval(xp).shape[0]
    i = minimum(maximum(searchsorted(xp, x, side="right"), 1), n - 1)
    from functrace.numpy._indexing import take

    x0, x1, f0, f1 = take(xp, i - 1), take(xp, i), take(fp, i - 1), take(fp, i)
    dx = x1 - x0
    t = true_divide(x - x0, where(equal(dx, 0), 1.0, dx))
    out = f0 + multiply(t, f1 - f0)
    out = where(equal(dx, 0), f1, out)
    if period is None:
        out = where(less(x, xp[0]), fp[0] if left is None else left, out)
        out = where(greater(x, xp[-1]), fp[-1] if right is None else right, out)
    return out
