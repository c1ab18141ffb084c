"""Order statistics: ``quantile``, ``percentile``, ``median`` and their NaN-ignoring forms, with
NumPy's interpolation methods (re-exported by ``_sorting``)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.errors import ShapeError
from functrace.numpy._core import _cast, asarray, result_type, user_error
from functrace.numpy._reductions import _arr, _axes
from functrace.numpy._sort_search import _INDEX, Array
from functrace.ops.sorting import take_along
from functrace.tracing import Tracer, get_aval, located

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
