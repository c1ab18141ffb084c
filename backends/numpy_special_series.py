"""NumPy implementations of the series-computed special-function primitives:
``regularized_incomplete_beta`` (SciPy's ``betainc``) and ``igamma_grad_a``.

SciPy has no derivative of the incomplete gamma function in its shape ``a``, and torch has
neither function, so both are computed here by algorithms written once over a small table of
array operations (``_Ops``), which torch_special_series.py fills with torch's: the power series of
P(a, x) for x < a + 1 and Legendre's continued fraction of Q(a, x) above (Numerical Recipes
6.2), each carried along with its derivative in ``a``; and the continued fraction of the
incomplete beta function (Numerical Recipes 6.4) with its symmetry I_x(a, b) = 1 - I_{1-x}(b, a).
All elements iterate together: on NumPy until every one has converged (at most 2000 steps), on
torch a fixed number of steps (reading a tensor's values on the host to decide when to stop
would synchronise the device every step). Elements that have not converged by the last step
(shapes beyond about 10⁴ on torch, 10⁵ on NumPy) are nan, not a silently rough value.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

import numpy as np

from functrace.errors import BackendError
from functrace.ops import special as SP

_TINY = 1e-300


class _Ops(NamedTuple):
    """The array operations the algorithms need, for one array library."""

    where: Callable
    log: Callable
    log1p: Callable
    exp: Callable
    abs: Callable
    lgamma: Callable
    digamma: Callable
    any: Callable  # -> Python bool: whether to keep iterating (torch: always, up to max_iter)
    eps: Callable  # dtype of an array -> its machine epsilon
    full_like: Callable
    max_iter: int


def _guard(d: Any, ops: _Ops, tiny: float) -> Any:
    return ops.where(ops.abs(d) < tiny, tiny, d)


def igamma_grad_a(a: Any, x: Any, ops: _Ops) -> Any:
    """d/da P(a, x) for a > 0, x >= 0 (0 at x = 0 and x = inf, nan for a <= 0 or x < 0)."""
    eps = ops.eps(a)
    tiny = 1e-30 if eps > 1e-10 else _TINY
    valid = (a > 0) & (x > 0) & (x < np.inf)
    a_ = ops.where(valid, a, 1.0)
    x_ = ops.where(valid, x, 1.0)
    log_x = ops.log(x_)
    use_series = x_ < a_ + 1
    # Series: P = e^(a log x - x - lgamma(a+1)) sum_n t_n, t_n = prod_{j<=n} x/(a+j), and
    # d log t_n / da = -sum_{j<=n} 1/(a+j); the prefactor's is log x - digamma(a+1).
    t = ops.full_like(a_, 1.0)
    dlog = log_x - ops.digamma(a_ + 1)
    total, dtotal = ops.full_like(a_, 1.0), dlog
    series_done = ~use_series
    for n in range(1, ops.max_iter):  # the terms only shrink (x < a + 1): a small one stays small
        t = t * x_ / (a_ + n)
        dlog = dlog - 1.0 / (a_ + n)
        # converged sums are frozen (torch runs every element to the last step)
        total = ops.where(series_done, total, total + t)
        dtotal = ops.where(series_done, dtotal, dtotal + t * dlog)
        series_done = series_done | ((t <= eps * total) & (ops.abs(t * dlog) <= eps * ops.abs(dtotal)))
        if not ops.any(~series_done):
            break
    series = ops.exp(a_ * log_x - x_ - ops.lgamma(a_ + 1)) * dtotal
    # Continued fraction of Q = e^(a log x - x - lgamma(a)) h, each quantity with its a-derivative.
    b, db = x_ + 1 - a_, -1.0
    c, dc = ops.full_like(a_, 1.0 / tiny), ops.full_like(a_, 0.0)
    d = 1.0 / b
    dd = -db * d * d
    h, dh = d, dd
    fraction_done = use_series
    for i in range(1, ops.max_iter):
        an, dan = -i * (i - a_), float(i)
        b = b + 2
        den = an * d + b
        dden = dan * d + an * dd + db
        den = _guard(den, ops, tiny)
        c_new = _guard(b + an / c, ops, tiny)
        dc = db + dan / c - (an / c) * (dc / c)
        c = c_new
        d = 1.0 / den
        dd = -dden * d * d
        delta = d * c
        ddelta = dd * c + d * dc
        h_new, dh_new = h * delta, dh * delta + h * ddelta
        # the derivative converges more slowly than the value: wait for both
        settled = (ops.abs(delta - 1) <= 4 * eps) & (ops.abs(dh_new - dh) <= 4 * eps * ops.abs(dh_new))
        h, dh = ops.where(fraction_done, h, h_new), ops.where(fraction_done, dh, dh_new)
        fraction_done = fraction_done | settled
        if not ops.any(~fraction_done):
            break
    front = ops.exp(a_ * log_x - x_ - ops.lgamma(a_))
    fraction = -front * (h * (log_x - ops.digamma(a_)) + dh)
    out = ops.where(use_series, series, fraction)
    out = ops.where(series_done & fraction_done, out, np.nan)  # not converged: nan, not a rough value
    zero = (a > 0) & ((x == 0) | (x == np.inf))
    return ops.where(valid, out, ops.where(zero, 0.0, np.nan))


def betainc(a: Any, b: Any, x: Any, ops: _Ops) -> Any:
    """I_x(a, b) by the continued fraction, with SciPy's edges: 0 at x = 0 and 1 at x = 1; 1 for
    a = 0 < b (at x > 0), 0 for b = 0 < a (at x < 1); nan outside a, b >= 0, 0 <= x <= 1."""
    eps = ops.eps(a)
    tiny = 1e-30 if eps > 1e-10 else _TINY
    inside = (a > 0) & (b > 0) & (x > 0) & (x < 1)
    flip = x > (a + 1) / (a + b + 2)  # the fraction converges fast below this point
    p = ops.where(inside, ops.where(flip, b, a), 1.0)
    q = ops.where(inside, ops.where(flip, a, b), 1.0)
    y = ops.where(inside, ops.where(flip, 1 - x, x), 0.5)
    c = ops.full_like(p, 1.0)
    d = 1.0 / _guard(1 - (p + q) * y / (p + 1), ops, tiny)
    h = d
    done = ~inside
    for m in range(1, ops.max_iter):
        m2 = 2 * m
        h_new = h
        for aa in (m * (q - m) * y / ((p - 1 + m2) * (p + m2)), -(p + m) * (p + q + m) * y / ((p + m2) * (p + 1 + m2))):
            d = 1.0 / _guard(1 + aa * d, ops, tiny)
            c = _guard(1 + aa / c, ops, tiny)
            delta = d * c
            h_new = h_new * delta
        h = ops.where(done, h, h_new)  # converged fractions are frozen
        done = done | (ops.abs(delta - 1) <= 4 * eps)
        if not ops.any(~done):
            break
    log_front = p * ops.log(y) + q * ops.log1p(-y) - (ops.lgamma(p) + ops.lgamma(q) - ops.lgamma(p + q))
    value = ops.exp(log_front) * h / p
    value = ops.where(flip, 1 - value, value)
    value = ops.where(done, value, np.nan)  # not converged: nan, not a rough value
    nan = (a < 0) | (b < 0) | (x < 0) | (x > 1) | ((a == 0) & (b == 0)) | (a != a) | (b != b) | (x != x)
    edge = ops.where((x == 0) | (b == 0), 0.0, ops.where((x == 1) | (a == 0), 1.0, np.nan))
    return ops.where(nan, np.nan, ops.where(inside, value, edge))


def _scipy_special() -> Any:
    try:
        import scipy.special as sc
    except ImportError:
        raise BackendError("the NumPy backend computes betainc and the derivative of gammainc in a with SciPy, "
                           "which is not installed: pip install scipy, or use the torch backend") from None
    return sc


def _numpy_ops() -> _Ops:
    sc = _scipy_special()
    return _Ops(where=np.where, log=np.log, log1p=np.log1p, exp=np.exp, abs=np.abs, lgamma=sc.gammaln,
                digamma=sc.psi, any=lambda m: bool(np.any(m)), eps=lambda v: float(np.finfo(v.dtype).eps),
                full_like=np.full_like, max_iter=2000)


def _igamma_grad_a(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    dt = np.result_type(a, x)
    a, x = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(x, np.float64))
    with np.errstate(all="ignore"):
        return np.asarray(igamma_grad_a(a, x, _numpy_ops()), dtype=dt)


def _betainc(a: np.ndarray, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    dt = np.result_type(a, b, x)
    with np.errstate(all="ignore"):
        return np.asarray(_scipy_special().betainc(a, b, x), dtype=dt)


IMPLS = {SP.igamma_grad_a_p: _igamma_grad_a, SP.betainc_p: _betainc}
