"""Permutations and choices, and the distributions sampled by transforming uniforms and normals."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import AxisError, DTypeError, ShapeError
from functrace.ops.random_bits import sort_indices
from functrace.random._keys import _I64, Array, Shape, _bits32, _error, _single_key, _split_n
from functrace.random._samplers import (
    _const,
    _float_dtype,
    _normal,
    _param,
    _sample_shape,
    _shape,
    _uniform,
    randint,
)
from functrace.tracing import Tracer, get_aval


# ---------------------------------------------------------------------------- permutations
def _take_along(x: Array, idx: Array, axis: int) -> Array:
    if get_aval(x).ndim == 1:
        return lax.gather(x, idx, 0)
    return fnp.take_along_axis(x, idx, axis)


def _shuffle(k: Array, x: Array, axis: int) -> Array:
    """Sort ``x`` along ``axis`` by fresh random 32-bit keys, as many rounds as JAX makes
    (enough that ties of the keys hardly ever matter)."""
    size = get_aval(x).size
    rounds = int(np.ceil(3 * np.log(max(1, size)) / np.log(np.iinfo(np.uint32).max)))
    for _ in range(rounds):
        k, sub = _split_n(k, 2)
        sort_keys = _bits32(sub, get_aval(x).shape)
        x = _take_along(x, sort_indices(sort_keys, axis), axis)
    return x


def permutation(key: Array, x: int | Array, axis: int = 0, independent: bool = False) -> Array:
    """A random permutation of ``arange(x)`` (an int), or of ``x`` along ``axis`` (all slices
    moved together, or each shuffled on its own with ``independent=True``)."""
    k, _ = _single_key("permutation", key)
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return _shuffle(k, fnp.arange(int(x)), 0)
    x = fnp.asarray(x)
    aval = get_aval(x)
    if aval.ndim == 0:
        if aval.dtype.kind not in "iu":
            raise _error(DTypeError, "random.permutation: x must be an integer or an array of at least one axis")
        raise _error(DTypeError, "random.permutation of a traced integer: the length must be a Python int")
    axis = _axis("permutation", axis, aval.ndim)
    if independent or aval.ndim == 1:
        return _shuffle(k, x, axis)
    ind = _shuffle(k, fnp.arange(aval.shape[axis]), 0)
    return lax.gather(x, ind, axis)


def _axis(name: str, axis: int, ndim: int) -> int:
    if not -ndim <= axis < ndim:
        raise _error(AxisError, f"random.{name}: axis {axis} is out of range for {ndim} axes")
    return axis % ndim


def choice(key: Array, a: int | Array, shape: Shape = (), replace: bool = True, p: Any = None, axis: int = 0,
           mode: str | None = None) -> Array:
    """A random sample of ``shape`` from ``a`` (or ``arange(a)``), along ``axis``; with or
    without replacement, uniform or with probabilities ``p``."""
    k, _ = _single_key("choice", key)
    if not isinstance(shape, (tuple, list)):
        raise _error(ShapeError, f"random.choice: shape must be a sequence, got {shape!r}")
    shape = _shape("choice", shape)
    arr = fnp.asarray(a)
    aval = get_aval(arr)
    if aval.ndim == 0:
        if isinstance(a, Tracer):
            raise _error(DTypeError, "random.choice of a traced integer: the population size must be a Python int")
        n_inputs = int(a)
    else:
        axis = _axis("choice", axis, aval.ndim)
        n_inputs = aval.shape[axis]
    n_draws = math.prod(shape)
    if n_draws == 0:
        return fnp.zeros(shape, aval.dtype)
    if n_inputs <= 0:
        raise _error(ValueError, "random.choice: a must be greater than 0 unless no samples are taken")
    if not replace and n_draws > n_inputs:
        raise _error(ValueError, f"random.choice: cannot take a larger sample (size {n_draws}) than the "
                                 f"population (size {n_inputs}) when replace=False")
    if p is None:
        if replace:
            ind = randint(k, shape, 0, n_inputs)
            result = ind if aval.ndim == 0 else lax.gather(arr, ind, axis)
        else:
            perm = permutation(k, n_inputs if aval.ndim == 0 else arr, axis)
            pa = get_aval(perm)
            limit = list(pa.shape)
            limit[axis if aval.ndim else 0] = n_draws
            result = lax.slice(perm, (0,) * pa.ndim, tuple(limit))
    else:
        p_arr = fnp.asarray(p)
        if get_aval(p_arr).dtype.kind != "f":
            p_arr = lax.convert_element_type(p_arr, np.float64)
        if get_aval(p_arr).shape != (n_inputs,):
            raise _error(ShapeError, f"random.choice: p must be None or a 1-D vector of the population's size "
                                     f"{n_inputs}, got shape {get_aval(p_arr).shape}")
        pdt = get_aval(p_arr).dtype
        if replace:
            p_cuml = fnp.cumsum(p_arr)
            r = fnp.multiply(p_cuml[-1], fnp.subtract(_const(1.0, pdt), _uniform(k, shape, pdt, 0.0, 1.0)))
            below = fnp.less(p_cuml, fnp.expand_dims(r, -1))  # searchsorted (left): how many are < r
            ind = fnp.sum(lax.convert_element_type(below, _I64), axis=-1)
        else:
            g = fnp.add(_gumbel(k, (n_inputs,), pdt, mode), fnp.log(p_arr))
            ind = lax.slice(sort_indices(fnp.negative(g), 0), (0,), (n_draws,))
        result = ind if aval.ndim == 0 else lax.gather(arr, ind, axis)
    out_shape = shape if aval.ndim == 0 else aval.shape[:axis] + shape + aval.shape[axis + 1:]
    return fnp.reshape(result, out_shape)


# ---------------------------------------------------------------------------- other distributions
def _gumbel(k: Array, shape: tuple[int, ...], dt: np.dtype, mode: str | None) -> Array:
    info = np.finfo(dt)
    if mode in (None, "low"):
        u = _uniform(k, shape, dt, info.tiny, 1.0)
        return fnp.negative(fnp.log(fnp.negative(fnp.log(u))))
    if mode == "high":
        u = _uniform(k, (2,) + shape, dt, 0.0, 1.0)
        high, low = u[0], u[1]
        small = fnp.add(fnp.add(high, fnp.multiply(_const(2.0 ** -info.nmant, dt), low)), _const(info.tiny, dt))
        x = fnp.where(fnp.greater_equal(high, _const(0.5, dt)), high, small)
        return fnp.negative(fnp.log(fnp.negative(fnp.log1p(fnp.negative(x)))))
    raise _error(ValueError, f"random.gumbel: mode must be None, 'low' or 'high', got {mode!r}")


def gumbel(key: Array, shape: Shape = (), dtype: Any = None, mode: str | None = None) -> Array:
    """Standard Gumbel floats, ``-log(-log(u))``."""
    k, _ = _single_key("gumbel", key)
    return _gumbel(k, _shape("gumbel", shape), _float_dtype("gumbel", dtype), mode)


def categorical(key: Array, logits: Any, axis: int = -1, shape: Shape | None = None, replace: bool = True,
                mode: str | None = None) -> Array:
    """Indices drawn with probabilities ``softmax(logits)`` along ``axis`` (the Gumbel-max trick)."""
    k, _ = _single_key("categorical", key)
    logits = fnp.asarray(logits)
    lshape = get_aval(logits).shape
    nd = len(lshape)
    axis = _axis("categorical", axis, nd)
    batch_shape = lshape[:axis] + lshape[axis + 1:]
    shape = _sample_shape("categorical", shape, batch_shape)
    dt = get_aval(logits).dtype
    prefix = shape[:len(shape) - len(batch_shape)]
    if replace:
        g_shape = list(shape[len(shape) - len(batch_shape):])
        g_shape.insert(axis, lshape[axis])
        g = _gumbel(k, tuple(prefix) + tuple(g_shape), dt, mode)
        z = fnp.add(g, fnp.reshape(logits, (1,) * len(prefix) + lshape))
        return fnp.argmax(z, axis=len(prefix) + axis)
    n = math.prod(prefix)
    if n > lshape[axis]:
        raise _error(ValueError, f"random.categorical: {n} samples without replacement exceed the "
                                 f"{lshape[axis]} categories")
    z = fnp.moveaxis(fnp.add(logits, _gumbel(k, lshape, dt, mode)), axis, -1)
    top = sort_indices(fnp.negative(z), nd - 1)  # top_k: ties to the lower index, int32 as JAX
    top = lax.convert_element_type(lax.slice(top, (0,) * nd, batch_shape + (n,)), np.int32)
    return fnp.reshape(fnp.moveaxis(top, -1, 0), shape)


def exponential(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard exponential floats, ``-log1p(-u)``."""
    k, _ = _single_key("exponential", key)
    return _exponential(k, _shape("exponential", shape), _float_dtype("exponential", dtype))


def _exponential(k: Array, shape: tuple[int, ...], dt: np.dtype) -> Array:
    u = _uniform(k, shape, dt, 0.0, 1.0)
    return lax.neg(lax.log1p(lax.neg(u)))


def laplace(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard Laplace floats."""
    k, _ = _single_key("laplace", key)
    dt = _float_dtype("laplace", dtype)
    u = _uniform(k, _shape("laplace", shape), dt, -1.0 + np.finfo(dt).epsneg, 1.0)
    return lax.mul(lax.sign(u), lax.log1p(lax.neg(lax.abs(u))))


def logistic(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard logistic floats, ``log(u) - log1p(-u)``."""
    k, _ = _single_key("logistic", key)
    dt = _float_dtype("logistic", dtype)
    x = _uniform(k, _shape("logistic", shape), dt, np.finfo(dt).tiny, 1.0)
    return lax.sub(lax.log(x), lax.log1p(lax.neg(x)))


def _cholesky(a: Array) -> Array:
    """The lower Cholesky factor of the trailing ``n x n`` matrices of ``a``, column by column
    (small ``n``: the covariance of a multivariate normal)."""
    n = get_aval(a).shape[-1]
    cols: list[Array] = []
    for j in range(n):
        col = a[..., :, j]
        for i in range(j):
            col = fnp.subtract(col, fnp.multiply(cols[i], cols[i][..., j:j + 1]))
        pivot = fnp.sqrt(col[..., j:j + 1])
        below = fnp.arange(n) >= j
        cols.append(fnp.where(below, fnp.divide(col, pivot), fnp.zeros_like(col)))
    return fnp.stack(cols, axis=-1)


def multivariate_normal(key: Array, mean: Any, cov: Any, shape: Shape | None = None, dtype: Any = None,
                        method: str = "cholesky") -> Array:
    """Normal vectors with ``mean`` (..., n) and covariance ``cov`` (..., n, n): ``mean + L z``
    with ``L`` the Cholesky factor of ``cov`` (``method="cholesky"``, the only method here)."""
    k, _ = _single_key("multivariate_normal", key)
    dt = _float_dtype("multivariate_normal", dtype)
    if method != "cholesky":
        raise _error(ValueError, f"random.multivariate_normal: method {method!r} is not available; use "
                                 "method='cholesky'")
    mean, cov = _param(mean, dt), _param(cov, dt)
    ms, cs = get_aval(mean).shape, get_aval(cov).shape
    if len(ms) < 1 or len(cs) < 2 or cs[-2:] != (ms[-1], ms[-1]):
        raise _error(ShapeError, f"random.multivariate_normal needs mean (..., n) and cov (..., n, n), got "
                                 f"{ms} and {cs}")
    shape = _sample_shape("multivariate_normal", shape, ms[:-1], cs[:-2])
    factor = _cholesky(cov)
    z = _normal(k, shape + ms[-1:], dt)
    return fnp.add(mean, fnp.einsum("...ij,...j->...i", factor, z))
