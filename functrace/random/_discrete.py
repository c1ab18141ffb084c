"""Counts sampled by loops: ``poisson``, ``binomial`` and ``multinomial``, with JAX's
algorithms, key splits and arithmetic, so the same key gives JAX's counts.

Every element runs both of JAX's samplers for the distribution, each a ``while_loop`` over the
whole sample that ends when every element has its count. Poisson: Knuth's (multiply uniforms
until the product falls below ``exp(-lam)``) where ``lam < 10``, Hörmann's transformed rejection
elsewhere, in float32 as JAX. Binomial: inversion by geometric jumps where ``n * min(p, 1 - p)
<= 10``, BTRS rejection elsewhere, in ``p``'s float dtype. Multinomial: a binomial per category
of the draws still left (a ``scan``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.errors import DTypeError, ShapeError
from functrace.random._keys import Array, Shape, _error, _single_key, _split, _split_n
from functrace.random._samplers import _float_dtype, _sample_shape, _shape, _uniform
from functrace.tracing import get_aval

_F32 = np.dtype(np.float32)


def poisson(key: Array, lam: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Poisson counts of rate ``lam`` (integers, default int64); JAX's samplers and numbers."""
    k, _ = _single_key("poisson", key)
    dt = np.dtype(np.int64 if dtype is None else dtype)
    if dt.kind not in "iu":
        raise _error(DTypeError, f"random.poisson samples integers, not {dt.name}")
    lam = fnp.asarray(lam)
    shape = _sample_shape("poisson", shape, get_aval(lam).shape)
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

    def draw(key):
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
        return key, count, fnp.logical_or(accept1, fnp.logical_and(fnp.logical_not(reject), fnp.less_equal(s, t)))

    return _until_accepted(k, shape, _F32, dt, max_iters, draw)


def _until_accepted(k: Array, shape: tuple[int, ...], fdt: np.dtype, dt: np.dtype, max_iters: float,
                    draw: Any) -> Array:
    """JAX's rejection loop: while some element has not accepted a candidate, every element draws
    one (``draw(key) -> (key, candidates, accepted)``) and keeps it where accepted (a later
    acceptance replaces an earlier one, as in JAX)."""

    def body(carry):
        i, out, accepted, key = carry
        key, candidate, accept = draw(key)
        return i + 1, lax.select(accept, candidate, out), fnp.logical_or(accepted, accept), key

    def cond(carry):
        i, _, accepted, _ = carry
        return fnp.logical_and(fnp.any(fnp.logical_not(accepted)), fnp.less(i, max_iters))

    init = (np.int64(0), fnp.full(shape, fdt.type(-1)), fnp.zeros(shape, bool), k)
    return lax.convert_element_type(lax.while_loop(cond, body, init)[1], dt)


def binomial(key: Array, n: Any, p: Any, shape: Shape | None = None, dtype: Any = None) -> Array:
    """Binomial counts of ``n`` trials of probability ``p``, as floats (JAX's dtype; default
    float64): JAX's inversion by geometric jumps where ``n * min(p, 1 - p) <= 10``, its BTRS
    rejection elsewhere; nan for a negative or nan ``n`` or an invalid ``p``, inf for an infinite
    ``n``."""
    k, _ = _single_key("binomial", key)
    dt = _float_dtype("binomial", dtype)
    p = fnp.asarray(p)
    p = p if get_aval(p).dtype.kind == "f" else lax.convert_element_type(p, np.float64)
    n = fnp.asarray(n)
    shape = _sample_shape("binomial", shape, get_aval(n).shape, get_aval(p).shape)
    return _binomial(k, n, p, shape, dt)


def _binomial(k: Array, n: Array, p: Array, shape: tuple[int, ...], dt: np.dtype) -> Array:
    pdt = get_aval(p).dtype
    one = pdt.type(1)
    count = fnp.broadcast_to(lax.convert_element_type(n, pdt), shape)
    p = fnp.broadcast_to(p, shape)
    p_lt_half = fnp.less(p, pdt.type(0.5))
    q = lax.select(p_lt_half, p, fnp.subtract(one, p))
    count_nan_or_neg = fnp.logical_or(fnp.isnan(count), fnp.less(count, pdt.type(0)))
    count_inf = fnp.isinf(count)
    q_is_nan = fnp.isnan(q)
    q_lt_0 = fnp.less(q, pdt.type(0))
    q = lax.select(fnp.logical_or(q_is_nan, q_lt_0), fnp.full_like(q, pdt.type(0.01)), q)
    use_inversion = fnp.logical_or(count_nan_or_neg, fnp.less_equal(fnp.multiply(count, q), pdt.type(10)))
    count = fnp.floor(count)
    count_inv = lax.select(use_inversion, count, fnp.zeros_like(count))
    count_btrs = lax.select(use_inversion, fnp.full_like(count, pdt.type(1e4)), count)
    q_btrs = lax.select(use_inversion, fnp.full_like(q, pdt.type(0.5)), q)
    max_iters = float(np.finfo(dt).max)
    samples = lax.select(use_inversion, _binomial_inversion(k, count_inv, q, shape, dt, max_iters),
                         _btrs(k, count_btrs, q_btrs, shape, dt, max_iters))
    invalid = fnp.logical_or(fnp.logical_or(q_lt_0, q_is_nan), count_nan_or_neg)
    samples = lax.select(invalid, fnp.full_like(samples, np.nan), samples)
    samples = lax.select(fnp.logical_and(count_inf, fnp.logical_not(invalid)), fnp.full_like(samples, np.inf),
                         samples)
    keep = fnp.logical_or(fnp.logical_or(p_lt_half, count_nan_or_neg), fnp.logical_or(q_is_nan, count_inf))
    return lax.select(keep, samples, fnp.subtract(lax.convert_element_type(count, dt), samples))


def _binomial_inversion(k: Array, count: Array, prob: Array, shape: tuple[int, ...], dt: np.dtype,
                        max_iters: float) -> Array:
    """The number of geometric jumps (of ``prob``) that fit in ``count`` trials."""
    pdt = get_aval(prob).dtype
    log_q = fnp.log1p(fnp.negative(prob))

    def body(carry):
        i, num_geom, geom_sum, key = carry
        sub, key = _split_n(key, 2)
        num_geom = lax.select(fnp.less_equal(geom_sum, count), fnp.add(num_geom, pdt.type(1)), num_geom)
        u = _uniform(sub, shape, pdt, 0.0, 1.0)
        return i + 1, num_geom, fnp.add(geom_sum, fnp.ceil(fnp.divide(fnp.log(u), log_q))), key

    def cond(carry):
        i, _, geom_sum, _ = carry
        return fnp.logical_and(fnp.any(fnp.less_equal(geom_sum, count)), fnp.less(i, max_iters))

    init = (np.int64(0), fnp.zeros(shape, pdt), fnp.zeros(shape, pdt), k)
    num_geom = lax.while_loop(cond, body, init)[1]
    return lax.convert_element_type(fnp.subtract(num_geom, pdt.type(1)), dt)


def _stirling_tail(k: Array) -> Array:
    """JAX's tail of Stirling's series for log(k!): a table for k <= 9, else the series, which
    JAX evaluates at the clamped k (= 9), reproduced here for JAX's numbers."""
    kd = get_aval(k).dtype
    table = np.array([0.0810614667953272, 0.0413406959554092, 0.0276779256849983, 0.02079067210376509,
                      0.0166446911898211, 0.0138761288230707, 0.0118967099458917, 0.0104112652619720,
                      0.00925546218271273, 0.00833056343336287], kd)
    use_table = fnp.less_equal(k, kd.type(9))
    k = fnp.clip(k, kd.type(0), kd.type(9))
    kp1sq = fnp.multiply(fnp.add(k, kd.type(1)), fnp.add(k, kd.type(1)))
    inner = fnp.subtract(kd.type(1.0 / 360), fnp.divide(fnp.divide(kd.type(1.0), kd.type(1260)), kp1sq))
    approx = fnp.divide(fnp.subtract(kd.type(1.0 / 12), fnp.divide(inner, kp1sq)), fnp.add(k, kd.type(1)))
    # a nan (an infinite count's) takes the series, which is nan too; its index only must be valid
    idx = lax.convert_element_type(fnp.floor(fnp.where(fnp.isnan(k), kd.type(0), k)), np.int32)
    return lax.select(use_table, fnp.take(table, idx), approx)


def _btrs(k: Array, count: Array, prob: Array, shape: tuple[int, ...], dt: np.dtype, max_iters: float) -> Array:
    """Hörmann's BTRS (transformed rejection with squeeze), as JAX and TensorFlow."""
    pdt = get_aval(prob).dtype
    c = pdt.type
    one = c(1)
    stddev = fnp.sqrt(fnp.multiply(fnp.multiply(count, prob), fnp.subtract(one, prob)))
    b = fnp.add(c(1.15), fnp.multiply(c(2.53), stddev))
    a = fnp.add(fnp.add(c(-0.0873), fnp.multiply(c(0.0248), b)), fnp.multiply(c(0.01), prob))
    cc = fnp.add(fnp.multiply(count, prob), c(0.5))
    v_r = fnp.subtract(c(0.92), fnp.divide(c(4.2), b))
    r = fnp.divide(prob, fnp.subtract(one, prob))
    alpha = fnp.multiply(fnp.add(c(2.83), fnp.divide(c(5.1), b)), stddev)
    m = fnp.floor(fnp.multiply(fnp.add(count, one), prob))

    def draw(key):
        key, sub0, sub1 = _split_n(key, 3)
        u = _uniform(sub0, shape, pdt, 0.0, 1.0)
        v = _uniform(sub1, shape, pdt, 0.0, 1.0)
        u = fnp.subtract(u, c(0.5))
        us = fnp.subtract(c(0.5), fnp.abs(u))
        accept1 = fnp.logical_and(fnp.greater_equal(us, c(0.07)), fnp.less_equal(v, v_r))
        kk = fnp.floor(fnp.add(fnp.multiply(fnp.add(fnp.divide(fnp.multiply(c(2), a), us), b), u), cc))
        reject = fnp.logical_or(fnp.less(kk, c(0)), fnp.greater(kk, count))
        v = fnp.log(fnp.divide(fnp.multiply(v, alpha), fnp.add(fnp.divide(a, fnp.multiply(us, us)), b)))
        n_m1 = fnp.add(fnp.subtract(count, m), one)  # count - m + 1
        n_k1 = fnp.add(fnp.subtract(count, kk), one)  # count - k + 1
        ub = fnp.add(fnp.multiply(fnp.add(m, c(0.5)), fnp.log(fnp.divide(fnp.add(m, one), fnp.multiply(r, n_m1)))),
                     fnp.multiply(fnp.add(count, one), fnp.log(fnp.divide(n_m1, n_k1))))
        ub = fnp.add(ub, fnp.multiply(fnp.add(kk, c(0.5)),
                                      fnp.log(fnp.divide(fnp.multiply(r, n_k1), fnp.add(kk, one)))))
        ub = fnp.add(fnp.add(ub, _stirling_tail(m)), _stirling_tail(fnp.subtract(count, m)))
        ub = fnp.subtract(fnp.subtract(ub, _stirling_tail(kk)), _stirling_tail(fnp.subtract(count, kk)))
        return key, kk, fnp.logical_or(accept1, fnp.logical_and(fnp.logical_not(reject), fnp.less_equal(v, ub)))

    return _until_accepted(k, shape, pdt, dt, max_iters, draw)


def multinomial(key: Array, n: Any, p: Any, *, shape: Shape | None = None, dtype: Any = None,
                unroll: int | bool = 1) -> Array:
    """Counts of ``n`` draws among the categories of ``p`` (the last axis), as floats: one
    binomial per category of the remaining draws (JAX's scan, its keys and its numbers)."""
    from functrace.lax import scan

    k, _ = _single_key("multinomial", key)
    dt = _float_dtype("multinomial", dtype)
    n, p = fnp.asarray(n), fnp.asarray(p)
    common = np.result_type(get_aval(n).dtype, get_aval(p).dtype, np.float16)
    n, p = lax.convert_element_type(n, common), lax.convert_element_type(p, common)
    shape = get_aval(p).shape if shape is None else _shape("multinomial", shape)
    if not shape:
        raise _error(ShapeError, "random.multinomial needs p with at least one axis (the categories)")
    n = fnp.broadcast_to(n, shape[:-1])
    p = fnp.moveaxis(fnp.broadcast_to(p, shape), -1, 0)
    remaining = fnp.flip(fnp.cumsum(fnp.flip(p, 0), axis=0), 0)
    ratios = fnp.divide(p, fnp.where(fnp.equal(remaining, 0), common.type(1), remaining))
    keys = _split(k, (shape[-1],))

    def step(left, ratio_key):
        ratio, sub = ratio_key
        got = _binomial(sub, left, fnp.clip(ratio, 0, 1), get_aval(left).shape, common)
        return fnp.subtract(left, got), got

    _, counts = scan(step, n, (ratios, keys), unroll=unroll)
    return lax.convert_element_type(fnp.moveaxis(counts, 0, -1), dt)
