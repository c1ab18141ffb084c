"""The gamma family (gamma, loggamma, beta, dirichlet): JAX's rejection sampler and its
implicit reparameterisation gradient."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import ShapeError
from functrace.random._distributions import _exponential
from functrace.random._keys import Array, Shape, _error, _single_key, _split, _split_n
from functrace.random._samplers import (
    _broadcast,
    _const,
    _float_dtype,
    _normal,
    _param,
    _sample_shape,
    _uniform,
)
from functrace.tracing import get_aval


# ---------------------------------------------------------------------------- gamma family
def _gamma_one(k: Array, alpha: Array, log_space: bool) -> Array:
    """One Gamma(alpha) sample by Marsaglia and Tsang's rejection method, step for step as JAX
    (the same keys for the same draws), so the samples agree to rounding."""
    dt = get_aval(alpha).dtype

    def c(v):
        return _const(v, dt)

    boost_mask = lax.ge(alpha, c(1.0))
    alpha_orig = alpha
    alpha = lax.select(boost_mask, alpha, lax.add(alpha, c(1.0)))
    d = lax.sub(alpha, c(1.0 / 3.0))
    cc = lax.div(c(1.0 / 3.0), lax.sqrt(d))

    def cond_fn(state):
        _, x, v, u = state
        first = lax.ge(u, lax.sub(c(1.0), lax.mul(c(0.0331), lax.mul(x, x))))
        second = lax.ge(lax.log(u), lax.add(lax.mul(x, c(0.5)), lax.mul(d, lax.add(lax.sub(c(1.0), v), lax.log(v)))))
        return lax.bitwise_and(first, second)

    def next_xv(state):
        kk, _, _ = state
        kk, sub = _split_n(kk, 2)
        x = _normal(sub, (), dt)
        return kk, x, lax.add(c(1.0), lax.mul(x, cc))

    def body_fn(state):
        kk = state[0]
        kk, x_key, u_key = _split_n(kk, 3)
        _, x, v = lax.while_loop(lambda s: lax.le(s[2], c(0.0)), next_xv, (x_key, c(0.0), c(-1.0)))
        u = _uniform(u_key, (), dt, 0.0, 1.0)
        return kk, lax.mul(x, x), lax.mul(lax.mul(v, v), v), u

    k, sub = _split_n(k, 2)
    _, _, v, _ = lax.while_loop(cond_fn, body_fn, (k, c(0.0), c(1.0), c(2.0)))
    if log_space:
        log_samples = lax.neg(_exponential(sub, (), dt))
        skip = lax.bitwise_or(boost_mask, lax.eq(log_samples, c(0.0)))
        log_boost = lax.select(skip, c(0.0), lax.mul(log_samples, lax.div(c(1.0), alpha_orig)))
        return lax.add(lax.add(lax.log(d), lax.log(v)), log_boost)
    samples = lax.sub(c(1.0), _uniform(sub, (), dt, 0.0, 1.0))
    boost = lax.select(boost_mask, c(1.0), lax.pow(samples, lax.div(c(1.0), alpha_orig)))
    return lax.mul(lax.mul(d, v), boost)


def _gamma_samples(k: Array, a: Array, log_space: bool) -> Array:
    import functrace  # the facade: the core does not import the transforms itself

    shape = get_aval(a).shape
    n = math.prod(shape)
    if n == 0:
        return a
    keys = _split(k, (n,))
    flat = fnp.reshape(a, (n,))
    samples = functrace.vmap(lambda kk, aa: _gamma_one(kk, aa, log_space))(keys, flat)
    return fnp.reshape(samples, shape)


def _gamma_grad(sample: Array, a: Array, log_space: bool) -> Array:
    """d sample / d a at fixed uniform rank (implicit differentiation of the CDF):
    ``-(dP/da) / (dP/dx)`` for the regularized incomplete gamma P(a, x), from its series."""
    dt = get_aval(a).dtype
    x = fnp.exp(sample) if log_space else sample
    x = lax.convert_element_type(x, np.float64)
    x = fnp.maximum(x, np.finfo(np.float64).tiny)
    af = lax.convert_element_type(a, np.float64)
    g = _gamma_x_grad(x, af)
    if log_space:
        g = fnp.divide(g, x)
    return lax.convert_element_type(g, dt)


def _digamma(z: Array) -> Array:
    """The digamma function for z > 0: the recurrence psi(z) = psi(z + 1) - 1 / z up to
    z >= 8, then the asymptotic series."""
    steps = fnp.maximum(fnp.ceil(8.0 - z), 0.0)
    acc = fnp.zeros_like(z)
    for i in range(8):
        acc = fnp.add(acc, fnp.where(i < steps, 1.0 / (z + i), 0.0))
    w = z + steps
    w2 = 1.0 / (w * w)
    series = fnp.log(w) - 0.5 / w - w2 * (1 / 12 - w2 * (1 / 120 - w2 * (1 / 252 - w2 * (1 / 240 - w2 / 132))))
    return series - acc


def _gamma_x_grad(x: Array, a: Array) -> Array:
    """dx/da = -(x / a) * sum_n t_n (log x - digamma(a + n + 1)), t_0 = 1, t_n = t_(n-1) x / (a + n):
    the derivative of P(a, x) in a over its density, from P's power series."""
    logx = fnp.log(x)
    psi = _digamma(a + 1.0)

    def cond(state):
        n, t, total, _ = state
        return fnp.any(fnp.logical_and(n < 20000, fnp.logical_or(n < x + 5, fnp.abs(t) > 1e-17 * fnp.abs(total))))

    def body(state):
        n, t, total, psi_n = state
        term = t * (logx - psi_n)
        n1 = n + 1.0
        return n1, t * x / (a + n1), total + term, psi_n + 1.0 / (a + n1)

    init = (fnp.zeros_like(x), fnp.ones_like(x), fnp.zeros_like(x), psi)
    _, _, total, _ = lax.while_loop(cond, body, init)
    return -(x / a) * total


def _gamma_impl(k: Array, a: Array, log_space: bool) -> Array:
    from functrace.ops.custom_jvp import custom_jvp

    @custom_jvp
    def sample(a):
        return _gamma_samples(k, a, log_space)

    @sample.defjvp
    def sample_jvp(primals, tangents):
        (a,), (ta,) = primals, tangents
        out = sample(a)
        return out, fnp.multiply(ta, _gamma_grad(lax.stop_gradient(out), lax.stop_gradient(a), log_space))

    return sample(a)


def _gamma(name: str, key: Array, a: Any, shape: Shape | None, dtype: Any, log_space: bool) -> Array:
    k, _ = _single_key(name, key)
    dt = _float_dtype(name, dtype)
    a = _param(a, dt)
    ashape = get_aval(a).shape
    shape = _sample_shape(name, shape, ashape)
    return _gamma_impl(k, _broadcast(a, shape), log_space)


def gamma(key: Array, a: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Gamma(a, 1) floats; differentiable in ``a`` (implicit reparameterisation, as JAX)."""
    return _gamma("gamma", key, a, shape, dtype, False)


def loggamma(key: Array, a: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """log of Gamma(a, 1) floats, accurate for small ``a`` (where the samples underflow)."""
    return _gamma("loggamma", key, a, shape, dtype, True)


def beta(key: Array, a: Any, b: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Beta(a, b) floats, from two log-gamma samples."""
    k, typed = _single_key("beta", key)
    dt = _float_dtype("beta", dtype)
    a, b = _param(a, dt), _param(b, dt)
    shape = _sample_shape("beta", shape, get_aval(a).shape, get_aval(b).shape)
    ka, kb = _split_n(k, 2)
    log_ga = _gamma_impl(ka, _broadcast(a, shape), True)
    log_gb = _gamma_impl(kb, _broadcast(b, shape), True)
    log_max = fnp.maximum(log_ga, log_gb)
    ga, gb = fnp.exp(fnp.subtract(log_ga, log_max)), fnp.exp(fnp.subtract(log_gb, log_max))
    return fnp.divide(ga, fnp.add(ga, gb))


def dirichlet(key: Array, alpha: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Dirichlet(alpha) vectors along the last axis, from log-gamma samples and a softmax."""
    from functrace.nn import softmax

    k, _ = _single_key("dirichlet", key)
    dt = _float_dtype("dirichlet", dtype)
    alpha = _param(alpha, dt)
    ashape = get_aval(alpha).shape
    if len(ashape) < 1:
        raise _error(ShapeError, "random.dirichlet needs alpha with at least one axis (the categories)")
    shape = _sample_shape("dirichlet", shape, ashape[:-1])
    log_g = _gamma_impl(k, _broadcast(alpha, shape + ashape[-1:]), True)
    return softmax(log_g, -1)
