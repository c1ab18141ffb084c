"""Reductions and normalisations of ``functrace.nn``: the softmax family, ``logsumexp``,
``logmeanexp``, ``standardize`` and ``one_hot``, with ``jax.nn``'s signatures.

All are compositions of ``functrace.numpy``/``functrace.lax`` operations. The softmax family
subtracts the maximum along the reduced axes through ``stop_gradient``: exact, because these
functions are invariant under that shift, and smooth, so their derivatives of every order are
exact at ties (a maximum differentiated as such would be kinked there). ``where=`` masks enter as
-inf before the shift, so a masked entry contributes nothing to a value or a derivative.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.nn._activations import _float
from functrace.numpy._core import check_axis, user_error
from functrace.numpy._reductions import _axes
from functrace.tracing import get_aval

Array = Any
Axis = int | Sequence[int] | None


def _masked(x: Any, where: Any, fill: float) -> Any:
    return x if where is None else fnp.where(where, x, fill)


def _shift(x: Any, axes: tuple[int, ...], keep_inf: bool = False) -> Any:
    """The maximum of ``x`` over ``axes`` (kept as size-1 axes), as a constant with no derivative;
    0 where that maximum is not finite (an all -inf slice, an inf or a nan) or the slice is empty,
    so the shift itself never makes a nan. With ``keep_inf`` a +inf maximum is kept: softmax and
    log_softmax of a slice holding +inf are then nan throughout, as JAX's."""
    shape = get_aval(x).shape
    if any(shape[a] == 0 for a in axes):
        return fnp.zeros(tuple(1 if i in axes else n for i, n in enumerate(shape)), get_aval(x).dtype)
    m = fnp.max(x, axis=axes, keepdims=True)
    kept = fnp.isfinite(m) if not keep_inf else fnp.logical_or(fnp.isfinite(m), fnp.greater(m, 0))
    return lax.stop_gradient(fnp.where(kept, m, 0))


def logsumexp(a: Array, axis: Axis = None, b: Array | None = None, keepdims: bool = False,
              return_sign: bool = False, where: Array | None = None) -> Array:
    """log(sum(b * exp(a))) over ``axis``, shifted by the maximum so it cannot overflow.

    ``b`` weights the terms (an entry with b == 0 is left out, even where ``a`` is inf); with
    ``return_sign`` the result is ``(log|sum|, sign(sum))``, otherwise a negative sum gives nan.
    ``where`` chooses the entries that take part; an empty or all -inf selection gives -inf.
    """
    a = _float(a)
    if b is not None:
        b = fnp.asarray(b) if isinstance(b, (list, tuple)) else b
        dt = fnp.result_type(a, b)  # a Python number b is weak: a keeps its float type
        a, b = fnp.astype(a, dt), (b if isinstance(b, (int, float)) else fnp.astype(b, dt))
        a = fnp.where(fnp.not_equal(b, 0), a, -np.inf)
    a = _masked(a, where, -np.inf)
    axes = _axes(a, axis)
    shift = _shift(a, axes)
    terms = fnp.exp(fnp.subtract(a, shift))
    if b is not None:
        terms = fnp.multiply(terms, b)
    total = fnp.sum(terms, axis=axes, keepdims=keepdims)
    shift = fnp.reshape(shift, get_aval(total).shape)
    if b is None and not return_sign:
        return fnp.add(fnp.log(total), shift)
    sign = fnp.sign(total)
    out = fnp.add(fnp.log(fnp.abs(total)), shift)
    if return_sign:
        return out, sign
    return fnp.where(fnp.less(sign, 0), np.nan, out)


def logmeanexp(x: Array, axis: Axis = None, where: Array | None = None, keepdims: bool = False) -> Array:
    """log(mean(exp(x))) over ``axis`` (the entries chosen by ``where``): logsumexp - log(count)."""
    x = _float(x)
    lse = logsumexp(x, axis=axis, keepdims=keepdims, where=where)
    axes = _axes(x, axis)
    if where is None:
        shape = get_aval(x).shape
        return fnp.subtract(lse, float(np.log(np.prod([shape[a] for a in axes], dtype=np.float64))))
    chosen = fnp.broadcast_to(fnp.astype(where, get_aval(lse).dtype), get_aval(x).shape)
    return fnp.subtract(lse, fnp.log(fnp.sum(chosen, axis=axes, keepdims=keepdims)))


def softmax(x: Array, axis: Axis = -1, where: Array | None = None) -> Array:
    """exp(x) / sum(exp(x)) over ``axis`` (an int, a tuple or None for all axes). Entries left out
    by ``where`` are 0 and take no part in the sum; a slice holding +inf is nan, as in JAX."""
    x = _float(x)
    axes = _axes(x, axis)
    x = _masked(x, where, -np.inf)
    unnormalized = fnp.exp(fnp.subtract(x, _shift(x, axes, keep_inf=True)))
    out = fnp.divide(unnormalized, fnp.sum(unnormalized, axis=axes, keepdims=True))
    return _masked(out, where, 0)


def log_softmax(x: Array, axis: Axis = -1, where: Array | None = None) -> Array:
    """x - logsumexp(x) over ``axis``; entries left out by ``where`` are -inf; a slice holding
    +inf is nan, as in JAX."""
    x = _float(x)
    axes = _axes(x, axis)
    x = _masked(x, where, -np.inf)
    shifted = fnp.subtract(x, _shift(x, axes, keep_inf=True))
    out = fnp.subtract(shifted, fnp.log(fnp.sum(fnp.exp(shifted), axis=axes, keepdims=True)))
    return _masked(out, where, -np.inf)


def _mean(x: Any, axes: tuple[int, ...], where: Any) -> Any:
    if where is None:
        return fnp.mean(x, axis=axes, keepdims=True)
    chosen = fnp.broadcast_to(fnp.astype(where, get_aval(x).dtype), get_aval(x).shape)
    return fnp.divide(fnp.sum(fnp.multiply(x, chosen), axis=axes, keepdims=True),
                      fnp.sum(chosen, axis=axes, keepdims=True))


def standardize(x: Array, axis: Axis = -1, mean: Array | None = None, variance: Array | None = None,
                epsilon: Array = 1e-5, where: Array | None = None, *, algorithm: str = "fast") -> Array:
    """(x - mean) / sqrt(variance + epsilon) over ``axis``, the statistics taken from ``x`` (over
    the entries ``where`` chooses) unless given.

    ``algorithm="fast"`` (JAX's default) computes the variance as mean(x**2) - mean**2, clipped at
    0; it loses digits when |mean| is large next to the spread. ``"stable"`` takes the two-pass
    mean((x - mean)**2).
    """
    if algorithm not in ("fast", "stable"):
        raise user_error(ValueError(f"standardize: unknown algorithm {algorithm!r}; expected 'fast' or 'stable'"))
    x = _float(x)
    axes = _axes(x, axis)
    if mean is None:
        mean = _mean(x, axes, where)
    if variance is None:
        if algorithm == "stable":
            variance = _mean(fnp.square(fnp.subtract(x, mean)), axes, where)
        else:
            variance = fnp.clip(fnp.subtract(_mean(fnp.square(x), axes, where), fnp.square(mean)), 0, None)
    if isinstance(variance, (int, float)) and isinstance(epsilon, (int, float)):
        scale = math.sqrt(variance + epsilon)  # a Python number: weak, so x keeps its float type
    else:
        scale = fnp.sqrt(fnp.add(variance, epsilon))
    return fnp.divide(fnp.subtract(x, mean), scale)


def one_hot(x: Array, num_classes: int, *, dtype: Any = None, axis: int = -1) -> Array:
    """A one-hot encoding of integer labels ``x`` along a new axis ``axis`` of size ``num_classes``.

    Labels outside [0, num_classes) encode as all zeros. ``dtype`` defaults to float64 (NumPy's
    float, and JAX's with 64-bit types enabled).
    """
    try:
        num_classes = operator.index(num_classes)
    except TypeError:
        raise user_error(TypeError(
            f"one_hot: num_classes must be a Python int known when tracing; got {type(num_classes).__name__} "
            "(under jit, pass it as a static argument)")) from None
    x = fnp.asarray(x)
    out_axis = check_axis(axis, get_aval(x).ndim + 1)
    out = fnp.equal(fnp.expand_dims(x, -1), fnp.arange(num_classes))
    if out_axis != get_aval(x).ndim:
        out = fnp.moveaxis(out, -1, out_axis)
    return fnp.astype(out, np.float64 if dtype is None else dtype)
