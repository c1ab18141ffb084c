"""Elementwise activation functions of ``functrace.nn`` (``jax.nn``'s, with its conventions).

Each is a composition of ``functrace.numpy``/``functrace.lax`` operations, so it traces,
differentiates, batches and runs on every backend with no rules of its own. They call ``fnp``
functions rather than operators, so that eager calls on any backend's arrays (where ``*`` would be
that array type's own) take the same path as traced ones.

Derivatives at the kinks are JAX's: relu'(0) = 0, relu6'(0) = relu6'(6) = 0, hard_tanh'(+-1) = 1,
leaky_relu'(0) = 1, elu'(0) = alpha. The branches are chosen by comparisons that are False for nan
wherever that sends nan down a branch that keeps it, so relu(nan) is nan as ``np.maximum(nan, 0)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.numpy._core import _as_operand, _float_dtype, check_axis, user_error
from functrace.ops.custom_jvp import custom_jvp
from functrace.tracing import get_aval

Array = Any

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _float(x: Any) -> Any:
    """``x`` as an array of the float type NumPy computes a transcendental in (ints: float64)."""
    x = fnp.asarray(_as_operand(x)) if isinstance(x, (int, float, bool, list, tuple)) else _as_operand(x)
    return lax.convert_element_type(x, _float_dtype(get_aval(x).dtype))


def identity(x: Array) -> Array:
    """The identity activation: ``x`` unchanged (a copy outside transforms, so it is yours to modify)."""
    return fnp.copy(fnp.asarray(_as_operand(x)))


def relu(x: Array) -> Array:
    """max(x, 0), with relu(nan) = nan (as ``np.maximum``: a diverged activation stays visible)
    and the derivative at 0 equal to 0, as in JAX. Written ``where(x <= 0, 0, x)``: the comparison
    is False for nan, so nan takes the ``x`` branch, value and derivative (JAX's rule gives 0
    there); -0.0 gives +0.0 on every backend."""
    x = fnp.asarray(_as_operand(x))
    return fnp.where(fnp.less_equal(x, 0), 0, x)  # a scalar 0, not an array constant


def relu6(x: Array) -> Array:
    """min(max(x, 0), 6); the derivative is 0 at both kinks (as in JAX) and nan passes through."""
    x = _float(x)
    return fnp.where(fnp.less_equal(x, 0), 0, fnp.where(fnp.greater_equal(x, 6), 6, x))


def sigmoid(x: Array) -> Array:
    """The logistic function 1 / (1 + exp(-x)), accurate in both tails."""
    return lax.logistic(_float(x))


def log_sigmoid(x: Array) -> Array:
    """log(sigmoid(x)) = -softplus(-x), without overflow or underflow to -inf."""
    return fnp.negative(softplus(fnp.negative(_float(x))))


def softplus(x: Array) -> Array:
    """log(1 + exp(x)) without overflow: max(x, 0) + log1p(exp(-|x|)).

    Its derivative comes from a custom JVP rule, ``t * sigmoid(x)``: overflow-free and exact at
    every order, also at 0, where differentiating the composed formula (whose max and |x| have
    kinks there) twice would give 0 instead of 1/4.
    """
    return _softplus_with_rule(_float(x))


@custom_jvp
def _softplus_with_rule(x: Array) -> Array:
    return fnp.add(fnp.maximum(x, 0), fnp.log1p(fnp.exp(fnp.negative(fnp.abs(x)))))


@_softplus_with_rule.defjvp
def _softplus_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x,), (t,) = primals, tangents
    return _softplus_with_rule(x), fnp.multiply(t, sigmoid(x))


def soft_sign(x: Array) -> Array:
    """x / (|x| + 1)."""
    x = _float(x)
    return fnp.divide(x, fnp.add(fnp.abs(x), 1))


def squareplus(x: Array, b: Array = 4) -> Array:
    """(x + sqrt(x**2 + b)) / 2, a smooth relu (arXiv:2112.11687)."""
    x = _float(x)
    return fnp.multiply(fnp.add(x, fnp.sqrt(fnp.add(fnp.square(x), b))), 0.5)


def sparse_plus(x: Array) -> Array:
    """0 for x <= -1, (x + 1)**2 / 4 in between, x for x >= 1: a softplus that is exactly 0 and
    exactly linear in its tails, and once continuously differentiable."""
    x = _float(x)
    middle = fnp.multiply(fnp.square(fnp.add(x, 1)), 0.25)
    return fnp.where(fnp.less_equal(x, -1), 0, fnp.where(fnp.greater_equal(x, 1), x, middle))


def sparse_sigmoid(x: Array) -> Array:
    """(x + 1) / 2 clipped to [0, 1]: the derivative of ``sparse_plus``."""
    x = _float(x)
    return fnp.multiply(fnp.clip(fnp.add(x, 1), 0, 2), 0.5)


def silu(x: Array) -> Array:
    """x * sigmoid(x) (also called swish)."""
    x = _float(x)
    return fnp.multiply(x, sigmoid(x))


swish = silu


def mish(x: Array) -> Array:
    """x * tanh(softplus(x)) (arXiv:1908.08681)."""
    x = _float(x)
    return fnp.multiply(x, fnp.tanh(softplus(x)))


def log1mexp(x: Array) -> Array:
    """log(1 - exp(-x)) for x >= 0, accurate everywhere (Maechler's two formulas, switching at
    log 2). Each formula is fed only the inputs it is used for, so the unused one cannot put a
    nan into the derivative."""
    x = _float(x)
    c = float(np.log(2.0))
    small = fnp.less(x, c)
    x_small = fnp.where(small, x, c)
    x_large = fnp.where(small, c, x)
    return fnp.where(small, fnp.log(fnp.negative(fnp.expm1(fnp.negative(x_small)))),
                     fnp.log1p(fnp.negative(fnp.exp(fnp.negative(x_large)))))


def elu(x: Array, alpha: Array = 1.0) -> Array:
    """x for x > 0, alpha * (exp(x) - 1) otherwise (the derivative at 0 is alpha, as in JAX)."""
    x = _float(x)
    positive = fnp.greater(x, 0)
    # expm1 sees only the non-positive inputs, so a large x cannot overflow into the derivative.
    return fnp.where(positive, x, fnp.multiply(alpha, fnp.expm1(fnp.where(positive, 0, x))))


def celu(x: Array, alpha: Array = 1.0) -> Array:
    """max(x, 0) + alpha * expm1(min(x, 0) / alpha): a continuously differentiable elu."""
    x = _float(x)
    return fnp.add(fnp.maximum(x, 0), fnp.multiply(alpha, fnp.expm1(fnp.divide(fnp.minimum(x, 0), alpha))))


def selu(x: Array) -> Array:
    """scale * elu(x, alpha) with the self-normalising constants of arXiv:1706.02515."""
    return fnp.multiply(_SELU_SCALE, elu(x, _SELU_ALPHA))


def leaky_relu(x: Array, negative_slope: Array = 1e-2) -> Array:
    """x for x >= 0, negative_slope * x otherwise (the derivative at 0 is 1, as in JAX)."""
    x = _float(x)
    return fnp.where(fnp.greater_equal(x, 0), x, fnp.multiply(negative_slope, x))


def hard_tanh(x: Array) -> Array:
    """x clipped to [-1, 1]; the derivative at +-1 is 1 (as in JAX). Integers stay integers."""
    x = fnp.asarray(_as_operand(x))
    return fnp.where(fnp.greater(x, 1), 1, fnp.where(fnp.less(x, -1), -1, x))


def hard_sigmoid(x: Array) -> Array:
    """relu6(x + 3) / 6."""
    return fnp.divide(relu6(fnp.add(_float(x), 3)), 6)


def hard_silu(x: Array) -> Array:
    """x * hard_sigmoid(x) (also called hard_swish)."""
    x = _float(x)
    return fnp.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def gelu(x: Array, approximate: bool = True) -> Array:
    """Gaussian error linear unit: ``x * Phi(x)``, with the standard normal CDF ``Phi`` exact
    through ``erf`` (``approximate=False``) or in the tanh approximation (JAX's default).

    The approximation's ``(1 + tanh(u)) / 2`` is computed as ``sigmoid(2u)``, the same function
    without the cancellation that costs ``1 + tanh(u)`` its digits for very negative ``x``.
    """
    x = _float(x)
    if not approximate:
        phi = fnp.multiply(0.5, fnp.add(1.0, lax.erf(fnp.multiply(x, float(np.sqrt(0.5))))))
        return fnp.multiply(x, phi)
    c = float(2.0 * np.sqrt(2.0 / np.pi))
    return fnp.multiply(x, sigmoid(fnp.multiply(c, fnp.add(x, fnp.multiply(0.044715, fnp.power(x, 3))))))


def glu(x: Array, axis: int = -1) -> Array:
    """Gated linear unit: ``x`` split in two halves ``a, b`` along ``axis``, then a * sigmoid(b)."""
    x = _float(x)
    shape = get_aval(x).shape
    size = shape[check_axis(axis, x)] if shape else 0
    if not shape or size % 2:
        raise user_error(ValueError(f"glu: the size of axis {axis} must be even to split it in two halves; "
                                    f"got shape {shape}"))
    a, b = fnp.split(x, 2, axis=axis)
    return fnp.multiply(a, sigmoid(b))


def tanh(x: Array) -> Array:
    """Hyperbolic tangent."""
    return fnp.tanh(x)
