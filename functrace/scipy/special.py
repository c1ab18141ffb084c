"""``functrace.scipy.special``: ``erf``, ``expit``, ``logit`` and ``logsumexp`` with SciPy's
semantics. float32 and float64 keep their type; integers, booleans and float16 are computed in
float64 (as SciPy 1.17's ufuncs do; SciPy 1.18 takes float32 for int8, bool and float16)."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import nn as _nn
from functrace import numpy as fnp
from functrace.numpy._core import user_error
from functrace.tracing import get_aval

Array = Any


def _float(x: Any, floats: tuple = (np.float32, np.float64)) -> Any:
    """``x`` in the type it is computed in: float32 and float64 stay, everything else (integers,
    booleans, float16) becomes float64, the first loop of SciPy 1.17's ufuncs."""
    x = fnp.asarray(x)
    dt = get_aval(x).dtype
    return lax.convert_element_type(x, dt if dt in floats else np.dtype(np.float64))


def erf(x: Array) -> Array:
    """The error function, 2/sqrt(pi) times the integral of exp(-t**2) from 0 to x."""
    return lax.erf(_float(x))


def expit(x: Array) -> Array:
    """The logistic sigmoid 1 / (1 + exp(-x)), accurate in both tails."""
    return lax.logistic(_float(x))


def logit(x: Array) -> Array:
    """log(x / (1 - x)), the inverse of ``expit``."""
    x = _float(x)
    return fnp.subtract(fnp.log(x), fnp.log1p(fnp.negative(x)))


def logsumexp(a: Array, axis: Any = None, b: Any = None, keepdims: bool = False, return_sign: bool = False) -> Array:
    """log(sum(exp(a))) along ``axis``, without overflow. ``b`` and ``return_sign`` (SciPy's
    weights and signs) are not supported."""
    if b is not None or return_sign:
        raise user_error(NotImplementedError(
            "functrace.scipy.special.logsumexp does not support b= or return_sign=; multiply inside instead: "
            "logsumexp(a + log(b))"))
    # SciPy's logsumexp is NumPy code, not a ufunc: float16 stays float16 there.
    return _nn.logsumexp(_float(a, (np.float16, np.float32, np.float64)), axis=axis, keepdims=keepdims)


__all__ = ["erf", "expit", "logit", "logsumexp"]
