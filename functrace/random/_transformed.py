"""Distributions sampled by transforming uniform, normal, exponential and gamma samples, each with
JAX's formula, key splits and argument conventions, so the same key gives JAX's values (to
within rounding): ``cauchy``, ``lognormal``, ``pareto``, ``rayleigh``, ``weibull_min``,
``maxwell``, ``double_sided_maxwell``, ``rademacher``, ``chisquare``, ``f``, ``t``, ``geometric``,
``triangular``, ``wald``, ``generalized_normal``, ``ball`` and ``orthogonal``.

Parameters broadcast against ``shape``: where ``shape`` is ``None`` (its default where JAX's is)
the sample has the parameters' broadcast shape.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import DTypeError, ShapeError
from functrace.random._distributions import _exponential
from functrace.random._gamma import _gamma_impl
from functrace.random._keys import Array, Shape, _error, _single_key, _split_n
from functrace.random._samplers import (
    _broadcast,
    _const,
    _float_dtype,
    _normal,
    _param,
    _sample_shape,
    _shape,
    _uniform,
    bernoulli,
)
from functrace.tracing import get_aval


def _int_dtype(name: str, dtype: Any) -> np.dtype:
    dt = np.dtype(np.int64 if dtype is None else dtype)
    if dt.kind not in "iu":
        raise _error(DTypeError, f"random.{name} samples integers, not {dt.name}")
    return dt


def cauchy(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Standard Cauchy floats, ``tan(pi * (u - 1/2))`` for ``u`` uniform on [eps, 1)."""
    k, _ = _single_key("cauchy", key)
    dt = _float_dtype("cauchy", dtype)
    u = _uniform(k, _shape("cauchy", shape), dt, np.finfo(dt).eps, 1.0)
    return lax.tan(lax.mul(_const(np.pi, dt), lax.sub(u, _const(0.5, dt))))


def lognormal(key: Array, sigma: Any = 1.0, shape: Shape | None = None, dtype: Any = None) -> Array:
    """``exp(sigma * z)`` for standard normal ``z``."""
    k, _ = _single_key("lognormal", key)
    dt = _float_dtype("lognormal", dtype)
    sigma = _param(sigma, dt)
    return fnp.exp(fnp.multiply(_normal(k, _sample_shape("lognormal", shape, get_aval(sigma).shape), dt), sigma))


def pareto(key: Array, b: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Pareto floats of shape ``b`` on [1, inf): ``exp(e / b)`` for standard exponential ``e``."""
    k, _ = _single_key("pareto", key)
    dt = _float_dtype("pareto", dtype)
    b = _param(b, dt)
    return fnp.exp(fnp.divide(_exponential(k, _sample_shape("pareto", shape, get_aval(b).shape), dt), b))


def rayleigh(key: Array, scale: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Rayleigh floats, ``scale * sqrt(-2 log u)``."""
    k, _ = _single_key("rayleigh", key)
    dt = _float_dtype("rayleigh", dtype)
    scale = _param(scale, dt)
    shape = _sample_shape("rayleigh", shape, get_aval(scale).shape)
    u = _uniform(k, shape, dt, 0.0, 1.0)
    return lax.mul(_broadcast(scale, shape), lax.sqrt(lax.mul(lax.log(u), _const(-2.0, dt))))


def weibull_min(key: Array, scale: Any, concentration: Any, shape: Shape = (), dtype: Any = None) -> Array:
    """Weibull floats, ``scale * (-log1p(-u)) ** (1 / concentration)``."""
    k, _ = _single_key("weibull_min", key)
    dt = _float_dtype("weibull_min", dtype)
    u = _uniform(k, _shape("weibull_min", shape), dt, 0.0, 1.0)
    return fnp.multiply(fnp.power(fnp.negative(fnp.log1p(fnp.negative(u))), _reciprocal(concentration)), scale)


def _reciprocal(x: Any) -> Any:
    """``1 / x`` as JAX computes it in these formulas: a Python number stays one (weakly typed,
    so it keeps the sample's dtype), an array is divided."""
    return 1.0 / x if isinstance(x, (int, float)) and not isinstance(x, bool) else fnp.divide(1.0, x)


def maxwell(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """Maxwell floats: the norm of three standard normals."""
    k, _ = _single_key("maxwell", key)
    dt = _float_dtype("maxwell", dtype)
    return fnp.linalg.norm(_normal(k, _shape("maxwell", shape) + (3,), dt), axis=-1)


def rademacher(key: Array, shape: Shape = (), dtype: Any = None) -> Array:
    """-1 or +1 with equal probability, as integers (default int64) or ``dtype``."""
    k, _ = _single_key("rademacher", key)
    dt = np.dtype(np.int64 if dtype is None else dtype)
    b = lax.convert_element_type(bernoulli(k, 0.5, _shape("rademacher", shape)), dt)
    return lax.convert_element_type(fnp.subtract(fnp.multiply(2, b), 1), dt)


def double_sided_maxwell(key: Array, loc: Any, scale: Any, shape: Shape = (), dtype: Any = None) -> Array:
    """A Maxwell sample with a random sign, scaled and shifted. As in JAX the sample's shape is
    ``shape`` followed by the parameters' broadcast shape."""
    k, _ = _single_key("double_sided_maxwell", key)
    dt = _float_dtype("double_sided_maxwell", dtype)
    params = tuple(np.broadcast_shapes(np.shape(loc), np.shape(scale)))  # loc and scale promote, as in JAX
    shape = _shape("double_sided_maxwell", shape)
    shape = (shape or params) + params
    k_maxwell, k_sign = _split_n(k, 2)
    size = fnp.multiply(rademacher(k_sign, shape, dt), maxwell(k_maxwell, shape, dt))
    return fnp.add(fnp.multiply(size, scale), loc)


def chisquare(key: Array, df: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Chi-square floats with ``df`` degrees of freedom: twice a Gamma(df / 2) sample."""
    k, _ = _single_key("chisquare", key)
    dt = _float_dtype("chisquare", dtype)
    df = _param(df, dt)
    return _chisquare(k, df, _sample_shape("chisquare", shape, get_aval(df).shape))


def _chisquare(k: Array, df: Array, shape: tuple[int, ...]) -> Array:
    two = _const(2.0, get_aval(df).dtype)
    log_g = _gamma_impl(k, _broadcast(fnp.divide(df, two), shape), True)
    return fnp.multiply(fnp.exp(log_g), two)


def f(key: Array, dfnum: Any, dfden: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """F-distributed floats: the ratio of two chi-square samples, each over its degrees of freedom."""
    k, _ = _single_key("f", key)
    dt = _float_dtype("f", dtype)
    dfnum, dfden = _param(dfnum, dt), _param(dfden, dt)
    shape = _sample_shape("f", shape, get_aval(dfnum).shape, get_aval(dfden).shape)
    k_den, k_num = _split_n(k, 2)
    num = fnp.divide(_chisquare(k_num, dfnum, shape), dfnum)
    return fnp.divide(num, fnp.divide(_chisquare(k_den, dfden, shape), dfden))


def t(key: Array, df: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Student's t floats: ``z * sqrt((df / 2) / g)`` with ``g`` a Gamma(df / 2) sample."""
    k, _ = _single_key("t", key)
    dt = _float_dtype("t", dtype)
    df = _param(df, dt)
    shape = _sample_shape("t", shape, get_aval(df).shape)
    k_normal, k_gamma = _split_n(k, 2)
    z = _normal(k_normal, shape, dt)
    half_df = fnp.divide(df, _const(2.0, dt))
    g = _gamma_impl(k_gamma, _broadcast(half_df, shape), False)
    return fnp.multiply(z, fnp.sqrt(fnp.divide(half_df, g)))


def geometric(key: Array, p: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """The number of Bernoulli(p) trials up to the first success (1, 2, ...), as integers
    (default int64), ``floor(log u / log1p(-p)) + 1``; the uniforms have ``p``'s float dtype."""
    k, _ = _single_key("geometric", key)
    dt = _int_dtype("geometric", dtype)
    p = fnp.asarray(p)
    p = p if get_aval(p).dtype.kind == "f" else lax.convert_element_type(p, np.float64)
    pdt = get_aval(p).dtype
    shape = _sample_shape("geometric", shape, get_aval(p).shape)
    u = _uniform(k, shape, pdt, 0.0, 1.0)
    u = fnp.where(fnp.equal(u, 0), _const(1.0, pdt), u)
    log_q = _broadcast(fnp.log1p(fnp.negative(p)), shape)
    return lax.convert_element_type(fnp.add(fnp.floor(fnp.divide(fnp.log(u), log_q)), _const(1.0, pdt)), dt)


def triangular(key: Array, left: Any, mode: Any, right: Any, shape: Shape | None = None,
               dtype: Any = None) -> Array:
    """Triangular floats on [left, right] peaking at ``mode``, by the inverse CDF."""
    k, _ = _single_key("triangular", key)
    dt = _float_dtype("triangular", dtype)
    left, mode, right = (_param(x, dt) for x in (left, mode, right))
    shape = _sample_shape("triangular", shape, *(get_aval(v).shape for v in (left, mode, right)))
    left, mode, right = (_broadcast(x, shape) for x in (left, mode, right))
    width = fnp.subtract(right, left)
    fc = fnp.divide(fnp.subtract(mode, left), width)
    u = _uniform(k, shape, dt, 0.0, 1.0)
    low = fnp.add(left, fnp.sqrt(fnp.multiply(fnp.multiply(u, width), fnp.subtract(mode, left))))
    one = _const(1.0, dt)
    high = fnp.subtract(right, fnp.sqrt(fnp.multiply(fnp.multiply(fnp.subtract(one, u), width),
                                                     fnp.subtract(right, mode))))
    return lax.select(fnp.less(u, fc), low, high)


def wald(key: Array, mean: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Wald (inverse Gaussian) floats of mean ``mean`` and shape 1 (Michael, Schucany and Haas)."""
    k, _ = _single_key("wald", key)
    dt = _float_dtype("wald", dtype)
    mean = _param(mean, dt)
    shape = _sample_shape("wald", shape, get_aval(mean).shape)
    mean = _broadcast(mean, shape)
    k_normal, k_uniform = _split_n(k, 2)
    v = _normal(k_normal, shape, dt)
    z = _uniform(k_uniform, shape, dt, 0.0, 1.0)
    y = lax.integer_pow(v, 2)
    y_sq = lax.integer_pow(y, 2)
    mean_sq = lax.integer_pow(mean, 2)
    c = lambda v: _const(v, dt)  # noqa: E731
    root = fnp.sqrt(fnp.add(fnp.multiply(fnp.multiply(c(4.0), mean), y), fnp.multiply(mean_sq, y_sq)))
    x = fnp.subtract(fnp.add(mean, fnp.divide(fnp.multiply(mean_sq, y), c(2.0))),
                     fnp.multiply(fnp.divide(mean, c(2.0)), root))
    return lax.select(fnp.less_equal(z, fnp.divide(mean, fnp.add(mean, x))), x, fnp.divide(mean_sq, x))


def generalized_normal(key: Array, p: Any, shape: Shape = (), dtype: Any = None) -> Array:
    """Generalized normal floats of power ``p`` (density ~ exp(-|x|**p)): a Gamma(1/p) sample
    to the power 1/p with a random sign."""
    k, _ = _single_key("generalized_normal", key)
    dt = _float_dtype("generalized_normal", dtype)
    return _generalized_normal(k, p, _shape("generalized_normal", shape), dt)


def _generalized_normal(k: Array, p: Any, shape: tuple[int, ...], dt: np.dtype) -> Array:
    k_gamma, k_sign = _split_n(k, 2)
    inv_p = _reciprocal(p)
    g = _gamma_impl(k_gamma, _broadcast(_param(inv_p, dt), shape), False)
    return fnp.multiply(rademacher(k_sign, shape, dt), fnp.power(g, inv_p))


def ball(key: Array, d: int, p: Any = 2, shape: Shape = (), dtype: Any = None) -> Array:
    """Points uniform in the unit ``p``-norm ball of dimension ``d`` (the last axis)."""
    k, _ = _single_key("ball", key)
    dt = _float_dtype("ball", dtype)
    shape = _shape("ball", shape)
    if not isinstance(d, (int, np.integer)) or d < 0:
        raise _error(ShapeError, f"random.ball: d must be a non-negative int, got {d!r}")
    k_points, k_radius = _split_n(k, 2)
    g = _generalized_normal(k_points, p, shape + (int(d),), dt)
    e = _exponential(k_radius, shape, dt)
    radius = fnp.power(fnp.add(fnp.sum(fnp.power(fnp.abs(g), p), axis=-1), e), _reciprocal(p))
    return fnp.divide(g, fnp.expand_dims(radius, -1))


def orthogonal(key: Array, n: int, shape: Shape = (), dtype: Any = None, m: int | None = None) -> Array:
    """Random ``n x m`` matrices (default square) with orthonormal columns (or rows, when wider),
    Haar-distributed: the QR factor of a normal matrix, each column's sign that of ``r``'s diagonal."""
    k, _ = _single_key("orthogonal", key)
    dt = _float_dtype("orthogonal", dtype)
    shape = _shape("orthogonal", shape)
    m = n if m is None else m
    for v in (n, m):
        if not isinstance(v, (int, np.integer)) or v < 0:
            raise _error(ShapeError, f"random.orthogonal: n and m must be non-negative ints, got {v!r}")
    z = _normal(k, shape + (max(n, m), min(n, m)), dt)
    q, r = fnp.linalg.qr(z)
    x = fnp.multiply(q, fnp.expand_dims(fnp.sign(fnp.linalg.diagonal(r)), -2))
    return fnp.swapaxes(x, -1, -2) if n < m else x
