"""``functrace.nn``: neural-network functions composed from ``functrace.numpy``.

They call ``fnp`` functions rather than operators, so that eager calls on any backend's arrays
(where ``*`` would be that array type's own) take the same path as traced ones. Each is a
composition (no derivative rules of its own); the max-shift in the softmax family
goes through ``stop_gradient``, which is exact because those functions are shift-invariant.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.custom_derivatives import custom_jvp
from functrace.numpy._core import _as_operand, _cast, _float_dtype
from functrace.tracing import get_aval

Array = Any


def _float(x: Any) -> Any:
    x = fnp.asarray(_as_operand(x)) if isinstance(x, (int, float, bool, list, tuple)) else _as_operand(x)
    dt = _float_dtype(get_aval(x).dtype)
    return lax.convert_element_type(x, dt)


def relu(x: Array) -> Array:
    """max(x, 0); its derivative at 0 is 0 (as in JAX)."""
    x = _as_operand(x)
    return fnp.where(fnp.greater(x, 0), x, 0)  # a scalar 0, not an array constant


def sigmoid(x: Array) -> Array:
    """The logistic function 1 / (1 + exp(-x)), computed stably."""
    return lax.logistic(_float(x))


def softplus(x: Array) -> Array:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).

    Its derivative comes from a custom JVP rule, ``t * sigmoid(x)``: overflow-free and exact at
    every order, also at 0, where differentiating the composed formula (whose max and |x| have
    kinks there) twice would give 0 instead of 1/4.
    """
    return _softplus_with_rule(_float(x))


@custom_jvp
def _softplus_with_rule(x: Array) -> Array:
    return fnp.logaddexp(x, _cast(0.0, get_aval(x).dtype))


@_softplus_with_rule.defjvp
def _softplus_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return _softplus_with_rule(x), fnp.multiply(t, sigmoid(x))


def gelu(x: Array, approximate: bool = True) -> Array:
    """Gaussian error linear unit: ``x * Phi(x)``, with the standard normal CDF ``Phi`` exact
    through ``erf`` (``approximate=False``) or in the tanh approximation (JAX's default)."""
    x = _float(x)
    if not approximate:
        phi = fnp.multiply(0.5, fnp.add(1.0, lax.erf(fnp.multiply(x, float(np.sqrt(0.5))))))
        return fnp.multiply(x, phi)
    c = float(np.sqrt(2.0 / np.pi))
    inner = fnp.multiply(c, fnp.add(x, fnp.multiply(0.044715, fnp.power(x, 3))))
    return fnp.multiply(fnp.multiply(0.5, x), fnp.add(1.0, fnp.tanh(inner)))


def silu(x: Array) -> Array:
    """x * sigmoid(x) (also called swish)."""
    x = _float(x)
    return fnp.multiply(x, sigmoid(x))


swish = silu


def tanh(x: Array) -> Array:
    """Hyperbolic tangent."""
    return fnp.tanh(x)


def logsumexp(x: Array, axis: Any = None, keepdims: bool = False) -> Array:
    """log(sum(exp(x))) along ``axis``, shifted by the maximum so it cannot overflow."""
    x = _float(x)
    m = lax.stop_gradient(fnp.max(x, axis=axis, keepdims=True))
    m = fnp.where(fnp.isfinite(m), m, 0.0)  # all -inf (or an inf) along the axis: no shift
    out = fnp.add(fnp.log(fnp.sum(fnp.exp(fnp.subtract(x, m)), axis=axis, keepdims=True)), m)
    return out if keepdims else fnp.squeeze(out, axis=axis) if axis is not None else fnp.reshape(out, ())


def softmax(x: Array, axis: int = -1) -> Array:
    """exp(x) / sum(exp(x)) along ``axis``."""
    x = _float(x)
    unnormalized = fnp.exp(fnp.subtract(x, lax.stop_gradient(fnp.max(x, axis=axis, keepdims=True))))
    return fnp.divide(unnormalized, fnp.sum(unnormalized, axis=axis, keepdims=True))


def log_softmax(x: Array, axis: int = -1) -> Array:
    """x - logsumexp(x) along ``axis``."""
    x = _float(x)
    shifted = fnp.subtract(x, lax.stop_gradient(fnp.max(x, axis=axis, keepdims=True)))
    return fnp.subtract(shifted, fnp.log(fnp.sum(fnp.exp(shifted), axis=axis, keepdims=True)))


def one_hot(x: Array, num_classes: int, dtype: Any = np.float64, axis: int = -1) -> Array:
    """A one-hot encoding of integer labels ``x``: ``(x[..., None] == arange(num_classes))``."""
    x = fnp.asarray(_as_operand(x)) if not hasattr(x, "shape") else x
    classes = np.arange(num_classes)
    out = fnp.equal(fnp.expand_dims(x, -1), classes)
    if axis != -1:
        out = fnp.moveaxis(out, -1, axis)
    return fnp.astype(out, dtype)


__all__ = ["relu", "sigmoid", "softplus", "gelu", "silu", "swish", "tanh", "logsumexp", "softmax",
           "log_softmax", "one_hot"]
from functrace.pooling import avg_pool, max_pool, min_pool  # noqa: E402,F401
