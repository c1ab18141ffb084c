"""Counts sampled by loops: ``poisson``, with JAX's algorithms, key splits and float32
arithmetic, so the same key gives JAX's counts.

Every element runs both of JAX's samplers, each a ``while_loop`` over the whole sample that ends
when every element has its count: Knuth's (multiply uniforms until the product falls below
``exp(-lam)``) where ``lam < 10``, and Hörmann's transformed rejection elsewhere. As in JAX the
rate is converted to float32, whatever the count's dtype.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import DTypeError
from functrace.random._keys import Array, Shape, _error, _single_key, _split_n
from functrace.random._samplers import _check_shape, _shape, _uniform
from functrace.tracing import get_aval

_F32 = np.dtype(np.float32)


def poisson(key: Array, lam: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Poisson counts of rate ``lam`` (integers, default int64); JAX's samplers and numbers."""
    k, _ = _single_key("poisson", key)
    dt = np.dtype(np.int64 if dtype is None else dtype)
    if dt.kind not in "iu":
        raise _error(DTypeError, f"random.poisson samples integers, not {dt.name}")
    lam = fnp.asarray(lam)
    if shape is None:
        shape = get_aval(lam).shape
    else:
        shape = _shape("poisson", shape)
        _check_shape("poisson", shape, get_aval(lam).shape)
    lam = lax.convert_element_type(fnp.broadcast_to(lam, shape), _F32)
    use_knuth = fnp.logical_or(fnp.isnan(lam), fnp.less(lam, np.float32(10)))
    lam_knuth = lax.select(use_knuth, lam, fnp.zeros_like(lam))
    lam_rejection = lax.select(use_knuth, fnp.full_like(lam, np.float32(1e5)), lam)
    max_iters = np.iinfo(dt).max
    result = lax.select(use_knuth, _knuth(k, lam_knuth, shape, dt, max_iters),
                        _rejection(k, lam_rejection, shape, dt, max_iters))
    return lax.select(fnp.equal(lam, np.float32(0)), fnp.zeros_like(result), result)


def _knuth(k: Array, lam: Array, shape: tuple[int, ...], dt: np.dtype, max_iters: int) -> Array:
    """The number of uniforms whose product stays above ``exp(-lam)`` (in logs), minus one."""
    neg_lam = fnp.negative(lam)

    def body(carry):
        i, count, key, log_prod = carry
        key, sub = _split_n(key, 2)
        count = lax.select(fnp.greater(log_prod, neg_lam), fnp.add(count, dt.type(1)), count)
        u = _uniform(sub, shape, _F32, 0.0, 1.0)
        return i + 1, count, key, fnp.add(log_prod, fnp.log(u))

    def cond(carry):
        i, _, _, log_prod = carry
        return fnp.logical_and(fnp.any(fnp.greater(log_prod, neg_lam)), fnp.less(i, max_iters))

    init = (np.int64(0), fnp.zeros(shape, dt), k, fnp.zeros(shape, _F32))
    count = lax.while_loop(cond, body, init)[1]
    return lax.convert_element_type(fnp.subtract(count, dt.type(1)), dt)


def _rejection(k: Array, lam: Array, shape: tuple[int, ...], dt: np.dtype, max_iters: int) -> Array:
    """Hörmann's transformed rejection with squeeze (PTRS), as JAX, TensorFlow and NumPy."""
    c = np.float32
    log_lam = fnp.log(lam)
    b = fnp.add(c(0.931), fnp.multiply(c(2.53), fnp.sqrt(lam)))
    a = fnp.add(c(-0.059), fnp.multiply(c(0.02483), b))
    inv_alpha = fnp.add(c(1.1239), fnp.divide(c(1.1328), fnp.subtract(b, c(3.4))))
    v_r = fnp.subtract(c(0.9277), fnp.divide(c(3.6224), fnp.subtract(b, c(2))))

    def body(carry):
        i, k_out, accepted, key = carry
        key, sub0, sub1 = _split_n(key, 3)
        u = fnp.subtract(_uniform(sub0, shape, _F32, 0.0, 1.0), c(0.5))
        v = _uniform(sub1, shape, _F32, 0.0, 1.0)
        u_shifted = fnp.subtract(c(0.5), fnp.abs(u))
        count = fnp.floor(fnp.add(fnp.add(fnp.multiply(fnp.add(fnp.divide(fnp.multiply(c(2), a), u_shifted), b), u),
                                          lam), c(0.43)))
        s = fnp.log(fnp.divide(fnp.multiply(v, inv_alpha),
                               fnp.add(fnp.divide(a, fnp.multiply(u_shifted, u_shifted)), b)))
        t = fnp.subtract(fnp.add(fnp.negative(lam), fnp.multiply(count, log_lam)),
                         lax.lgamma(fnp.add(count, c(1))))
        accept1 = fnp.logical_and(fnp.greater_equal(u_shifted, c(0.07)), fnp.less_equal(v, v_r))
        reject = fnp.logical_or(fnp.less(count, c(0)),
                                fnp.logical_and(fnp.less(u_shifted, c(0.013)), fnp.greater(v, u_shifted)))
        accept = fnp.logical_or(accept1, fnp.logical_and(fnp.logical_not(reject), fnp.less_equal(s, t)))
        return i + 1, lax.select(accept, count, k_out), fnp.logical_or(accepted, accept), key

    def cond(carry):
        i, _, accepted, _ = carry
        return fnp.logical_and(fnp.any(fnp.logical_not(accepted)), fnp.less(i, max_iters))

    init = (np.int64(0), fnp.full(shape, c(-1)), fnp.zeros(shape, bool), k)
    return lax.convert_element_type(lax.while_loop(cond, body, init)[1], dt)
