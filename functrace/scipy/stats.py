"""``functrace.scipy.stats``: log-densities, densities, CDFs and quantiles of common distributions,
with ``jax.scipy.stats``'s names and signatures, differentiable in every argument.

Each distribution is a namespace (``stats.norm.logpdf(x, loc, scale)``). Arguments broadcast
together and compute in their promoted floating type (integers in float64). Outside the support
a log-density is ``-inf`` (a density 0), as in SciPy and JAX. The discrete distributions
(``poisson``, ``bernoulli``, ``binom``) give ``-inf`` at non-integer ``k``.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from functrace import numpy as fnp
from functrace.numpy._core import user_error
from functrace.scipy import special as sp
from functrace.tracing import get_aval

Array = Any

_LOG_2PI = float(np.log(2 * np.pi))
_LOG_PI = float(np.log(np.pi))
_LOG_2 = float(np.log(2))
_PI = float(np.pi)


def _promote(*args: Any) -> list:
    """The arguments as arrays of one floating dtype (float64 for integers), broadcast together.
    Python numbers (the default ``loc=0``, ``scale=1``) take the arrays' dtype, as in JAX."""
    arrs = [fnp.asarray(a) for a in args]
    typed = [get_aval(a).dtype for a, raw in zip(arrs, args, strict=True) if not isinstance(raw, (int, float))]
    dt = np.result_type(*typed) if typed else np.dtype(np.float64)
    if dt.kind not in "f":
        dt = np.dtype(np.float64)
    return list(fnp.broadcast_arrays(*[fnp.astype(a, dt) for a in arrs]))


def _full(like: Array, value: float) -> Array:
    return fnp.full_like(like, value)


def _where(cond: Array, x: Array, value: float) -> Array:
    return fnp.where(cond, x, _full(x, value))


class _Namespace:
    """A distribution's functions (``norm.logpdf`` ...): a namespace, never instantiated. For a
    univariate distribution each function is nan wherever an argument is nan (as JAX's: a
    ``where`` that sorts x into a support must not turn a nan into 0 or -inf)."""

    def __init__(self, name: str, univariate: bool = True, **fns: Any):
        self.__name__ = name
        for k, f in fns.items():
            setattr(self, k, _nan_in_nan_out(f) if univariate else f)
        self.__all__ = sorted(fns)

    def __repr__(self) -> str:
        return f"<functrace.scipy.stats.{self.__name__}>"


def _nan_in_nan_out(f):
    def g(*args, **kwargs):
        out = f(*args, **kwargs)
        floats = [a for a in (*args, *kwargs.values())
                  if not isinstance(a, (bool, int)) and get_aval(fnp.asarray(a)).dtype.kind == "f"]
        if not floats:
            return out
        nan = functools.reduce(fnp.logical_or, [fnp.isnan(a) for a in floats])
        return fnp.where(nan, fnp.full_like(out, np.nan), out)

    g.__name__, g.__doc__ = getattr(f, "__name__", "f"), f.__doc__
    return g


def _from_logpdf(logpdf):
    def pdf(*args, **kwargs):
        return fnp.exp(logpdf(*args, **kwargs))
    pdf.__doc__ = "exp(logpdf)."
    return pdf


# ---------------------------------------------------------------------------- norm
def _norm_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return -0.5 * z * z - fnp.log(scale) - 0.5 * _LOG_2PI


def _norm_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return sp.ndtr((x - loc) / scale)


def _norm_logcdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return sp.log_ndtr((x - loc) / scale)


def _norm_sf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return sp.ndtr((loc - x) / scale)


def _norm_logsf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return sp.log_ndtr((loc - x) / scale)


def _norm_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return sp.ndtri(q) * scale + loc


def _norm_isf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return loc - sp.ndtri(q) * scale  # -ndtri(q), not ndtri(1 - q): accurate for small q


norm = _Namespace("norm", logpdf=_norm_logpdf, pdf=_from_logpdf(_norm_logpdf), cdf=_norm_cdf,
                  logcdf=_norm_logcdf, sf=_norm_sf, logsf=_norm_logsf, ppf=_norm_ppf, isf=_norm_isf)


# ---------------------------------------------------------------------------- multivariate_normal
def _mvn_logpdf(x, mean, cov, allow_singular=None):
    """log N(x; mean, cov) over the last axis of x (cov a matrix, or a scalar/vector variance)."""
    if allow_singular:
        raise user_error(NotImplementedError("multivariate_normal.logpdf: allow_singular=True is not supported"))
    x, mean = _promote(x, mean)
    cov = fnp.astype(fnp.asarray(cov), get_aval(x).dtype)
    n = get_aval(x).shape[-1] if get_aval(x).ndim else 1
    if get_aval(cov).ndim < 2:  # a variance per coordinate (or one for all)
        var = fnp.broadcast_to(cov, (n,)) if get_aval(cov).ndim else fnp.full((n,), 1.0) * cov
        d = x - mean
        return -0.5 * fnp.sum(d * d / var, axis=-1) - 0.5 * fnp.sum(fnp.log(var)) - 0.5 * n * _LOG_2PI
    cholesky = getattr(fnp.linalg, "cholesky", None)
    try:
        from functrace.scipy.linalg import solve_triangular
    except ImportError:
        solve_triangular = None
    if cholesky is None or solve_triangular is None:
        raise user_error(NotImplementedError(
            "multivariate_normal.logpdf with a covariance matrix needs functrace.numpy.linalg.cholesky and "
            "functrace.scipy.linalg.solve_triangular (the linear-algebra issue), which this build lacks"))
    low = cholesky(cov)
    d = x - mean
    lead = get_aval(d).shape[:-1]
    y = solve_triangular(low, fnp.transpose(fnp.reshape(d, (-1, n))), lower=True)  # L y = d, one column each
    maha = fnp.reshape(fnp.sum(y * y, axis=0), lead)
    logdet = 2 * fnp.sum(fnp.log(fnp.diag(low)))
    return -0.5 * maha - 0.5 * logdet - 0.5 * n * _LOG_2PI


multivariate_normal = _Namespace("multivariate_normal", univariate=False, logpdf=_mvn_logpdf,
                                 pdf=_from_logpdf(_mvn_logpdf))


# ---------------------------------------------------------------------------- t
def _t_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _promote(x, df, loc, scale)
    z = (x - loc) / scale
    half = 0.5 * (df + 1)
    return (sp.gammaln(half) - sp.gammaln(0.5 * df) - 0.5 * fnp.log(df * _PI) - fnp.log(scale)
            - half * fnp.log1p(z * z / df))


t = _Namespace("t", logpdf=_t_logpdf, pdf=_from_logpdf(_t_logpdf))


# ---------------------------------------------------------------------------- cauchy, laplace, logistic
def _cauchy_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return -_LOG_PI - fnp.log(scale) - fnp.log1p(z * z)


def _cauchy_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return 0.5 + fnp.arctan((x - loc) / scale) / _PI


def _cauchy_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return loc + scale * fnp.tan(_PI * (q - 0.5))


def _cauchy_sf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return 0.5 - fnp.arctan((x - loc) / scale) / _PI


def _cauchy_isf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return loc + scale * fnp.tan(_PI * (0.5 - q))


cauchy = _Namespace("cauchy", logpdf=_cauchy_logpdf, pdf=_from_logpdf(_cauchy_logpdf), cdf=_cauchy_cdf,
                    logcdf=lambda x, loc=0, scale=1: fnp.log(_cauchy_cdf(x, loc, scale)), ppf=_cauchy_ppf,
                    sf=_cauchy_sf, logsf=lambda x, loc=0, scale=1: fnp.log(_cauchy_sf(x, loc, scale)),
                    isf=_cauchy_isf)


def _laplace_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return -_LOG_2 - fnp.log(scale) - fnp.abs(x - loc) / scale


def _laplace_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return fnp.where(z < 0, 0.5 * fnp.exp(fnp.minimum(z, 0)), 1 - 0.5 * fnp.exp(-fnp.maximum(z, 0)))


laplace = _Namespace("laplace", logpdf=_laplace_logpdf, pdf=_from_logpdf(_laplace_logpdf), cdf=_laplace_cdf,
                     logcdf=lambda x, loc=0, scale=1: fnp.log(_laplace_cdf(x, loc, scale)))


def _logistic_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return -fnp.logaddexp(0.0, z) - fnp.logaddexp(0.0, -z) - fnp.log(scale)


def _logistic_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return sp.expit((x - loc) / scale)


def _logistic_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return loc + scale * sp.logit(q)


def _logistic_logcdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return -fnp.logaddexp(0.0, (loc - x) / scale)


def _logistic_sf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return sp.expit((loc - x) / scale)


def _logistic_isf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return loc - scale * sp.logit(q)


logistic = _Namespace("logistic", logpdf=_logistic_logpdf, pdf=_from_logpdf(_logistic_logpdf),
                      cdf=_logistic_cdf, logcdf=_logistic_logcdf, ppf=_logistic_ppf, sf=_logistic_sf,
                      isf=_logistic_isf)


# ---------------------------------------------------------------------------- expon, uniform
def _expon_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return _where(z >= 0, -z - fnp.log(scale), -np.inf)


def _expon_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return _where(z >= 0, -fnp.expm1(-fnp.maximum(z, 0)), 0.0)


def _expon_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    return _where(fnp.logical_and(q >= 0, q <= 1), loc - scale * fnp.log1p(-q), np.nan)


def _expon_logcdf(x, loc=0, scale=1):
    """log(1 - exp(-z)) without the cancellation of log(cdf) near 1 (``nn.log1mexp``)."""
    from functrace.nn import log1mexp

    x, loc, scale = _promote(x, loc, scale)
    z = (x - loc) / scale
    return _where(z > 0, log1mexp(_where(z > 0, z, 1.0)), -np.inf)


def _expon_logsf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return -fnp.maximum((x - loc) / scale, 0)  # 1 (log 0) below loc


expon = _Namespace("expon", logpdf=_expon_logpdf, pdf=_from_logpdf(_expon_logpdf), cdf=_expon_cdf,
                   logcdf=_expon_logcdf, ppf=_expon_ppf,
                   sf=_from_logpdf(_expon_logsf), logsf=_expon_logsf)


def _uniform_logpdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    inside = fnp.logical_and(x >= loc, x <= loc + scale)
    return _where(inside, -fnp.log(scale), -np.inf)


def _uniform_cdf(x, loc=0, scale=1):
    x, loc, scale = _promote(x, loc, scale)
    return fnp.clip((x - loc) / scale, 0.0, 1.0)


def _uniform_ppf(q, loc=0, scale=1):
    q, loc, scale = _promote(q, loc, scale)
    inside = fnp.logical_and(q >= 0, q <= 1)
    return _where(inside, loc + q * scale, np.nan)


uniform = _Namespace("uniform", logpdf=_uniform_logpdf, pdf=_from_logpdf(_uniform_logpdf), cdf=_uniform_cdf,
                     logcdf=lambda x, loc=0, scale=1: fnp.log(_uniform_cdf(x, loc, scale)), ppf=_uniform_ppf)


# ---------------------------------------------------------------------------- gamma, chi2, beta
def _gamma_logpdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _promote(x, a, loc, scale)
    y = (x - loc) / scale
    safe_y = _where(y >= 0, y, 1.0)  # x < loc never reaches the logs (nor their derivatives)
    val = sp.xlogy(a - 1, safe_y) - safe_y - sp.gammaln(a) - fnp.log(scale)
    return _where(y >= 0, val, -np.inf)  # at x == loc: +inf for a < 1, -log(scale) for a == 1, -inf above


def _gamma_cdf(x, a, loc=0, scale=1):
    x, a, loc, scale = _promote(x, a, loc, scale)
    return sp.gammainc(a, fnp.maximum((x - loc) / scale, 0))


def _gamma_sf(x, a, loc=0, scale=1):
    x, a, loc, scale = _promote(x, a, loc, scale)
    return sp.gammaincc(a, fnp.maximum((x - loc) / scale, 0))


gamma = _Namespace("gamma", logpdf=_gamma_logpdf, pdf=_from_logpdf(_gamma_logpdf), cdf=_gamma_cdf,
                   logcdf=lambda x, a, loc=0, scale=1: fnp.log(_gamma_cdf(x, a, loc, scale)), sf=_gamma_sf,
                   logsf=lambda x, a, loc=0, scale=1: fnp.log(_gamma_sf(x, a, loc, scale)))


def _chi2_logpdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _promote(x, df, loc, scale)
    return _gamma_logpdf(x, df / 2, loc, 2 * scale)


def _chi2_cdf(x, df, loc=0, scale=1):
    x, df, loc, scale = _promote(x, df, loc, scale)
    return _gamma_cdf(x, df / 2, loc, 2 * scale)


def _chi2_sf(x, df, loc=0, scale=1):
    x, df, loc, scale = _promote(x, df, loc, scale)
    return _gamma_sf(x, df / 2, loc, 2 * scale)


chi2 = _Namespace("chi2", logpdf=_chi2_logpdf, pdf=_from_logpdf(_chi2_logpdf), cdf=_chi2_cdf,
                  logcdf=lambda x, df, loc=0, scale=1: fnp.log(_chi2_cdf(x, df, loc, scale)), sf=_chi2_sf,
                  logsf=lambda x, df, loc=0, scale=1: fnp.log(_chi2_sf(x, df, loc, scale)))


def _beta_logpdf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _promote(x, a, b, loc, scale)
    y = (x - loc) / scale
    inside = fnp.logical_and(y >= 0, y <= 1)
    safe = _where(inside, y, 0.5)
    val = sp.xlogy(a - 1, safe) + sp.xlog1py(b - 1, -safe) - sp.betaln(a, b) - fnp.log(scale)
    return _where(inside, val, -np.inf)


def _beta_cdf(x, a, b, loc=0, scale=1):
    """I_y(a, b) at y = (x - loc) / scale clipped to [0, 1]; differentiable in x, loc and scale
    (in a and b it raises, as betainc's derivative does in JAX)."""
    x, a, b, loc, scale = _promote(x, a, b, loc, scale)
    return sp.betainc(a, b, fnp.clip((x - loc) / scale, 0.0, 1.0))


def _beta_sf(x, a, b, loc=0, scale=1):
    x, a, b, loc, scale = _promote(x, a, b, loc, scale)
    return sp.betainc(b, a, fnp.clip(1 - (x - loc) / scale, 0.0, 1.0))  # I_{1-y}(b, a): no cancellation


beta = _Namespace("beta", logpdf=_beta_logpdf, pdf=_from_logpdf(_beta_logpdf), cdf=_beta_cdf,
                  logcdf=lambda x, a, b, loc=0, scale=1: fnp.log(_beta_cdf(x, a, b, loc, scale)), sf=_beta_sf,
                  logsf=lambda x, a, b, loc=0, scale=1: fnp.log(_beta_sf(x, a, b, loc, scale)))


# ---------------------------------------------------------------------------- dirichlet
def _dirichlet_logpdf(x, alpha):
    """log Dir(x; alpha) over the last axis (x on the simplex; -inf off it)."""
    x, alpha = _promote(x, alpha)
    lnb = fnp.sum(sp.gammaln(alpha), axis=-1) - sp.gammaln(fnp.sum(alpha, axis=-1))
    on_simplex = fnp.logical_and(fnp.all(x >= 0, axis=-1), fnp.abs(fnp.sum(x, axis=-1) - 1) < 1e-6 * x.shape[-1])
    val = fnp.sum(sp.xlogy(alpha - 1, x), axis=-1) - lnb
    return _where(on_simplex, val, -np.inf)


dirichlet = _Namespace("dirichlet", univariate=False, logpdf=_dirichlet_logpdf, pdf=_from_logpdf(_dirichlet_logpdf))


# ---------------------------------------------------------------------------- discrete
def _is_count(k: Array) -> Array:
    return fnp.logical_and(k >= 0, fnp.equal(k, fnp.floor(k)))


def _poisson_logpmf(k, mu, loc=0):
    k, mu, loc = _promote(k, mu, loc)
    x = k - loc
    val = sp.xlogy(x, mu) - sp.gammaln(x + 1) - mu
    return _where(_is_count(x), val, -np.inf)


def _poisson_cdf(k, mu, loc=0):
    k, mu, loc = _promote(k, mu, loc)
    x = fnp.floor(k - loc)
    return _where(x >= 0, sp.gammaincc(x + 1, mu), 0.0)


def _poisson_entropy(mu, loc=0):
    """-sum_k pmf(k) log pmf(k): summed over k < 256 for mu < 100, the asymptotic series
    1/2 log(2 pi e mu) - 1/(12 mu) - 1/(24 mu^2) - 19/(360 mu^3) above (relative error < 1e-9
    there); nan for mu <= 0. ``loc`` does not change it."""
    mu, loc = _promote(mu, loc)
    small = mu < 100
    m = _where(small, mu, 1.0)[..., None]
    k = fnp.arange(256, dtype=m.dtype)
    log_pmf = sp.xlogy(k, m) - m - sp.gammaln(k + 1)
    pmf = fnp.exp(log_pmf)
    log_pmf = fnp.where(pmf > 0, log_pmf, 0.0)  # 0 log 0 = 0 where the pmf underflows
    direct = -fnp.sum(pmf * log_pmf, axis=-1)
    big = _where(~small, mu, 200.0)
    series = 0.5 * fnp.log(2 * _PI * np.e * big) - 1 / (12 * big) - 1 / (24 * big**2) - 19 / (360 * big**3)
    return _where(mu > 0, fnp.where(small, direct, series), np.nan)


poisson = _Namespace("poisson", logpmf=_poisson_logpmf, pmf=_from_logpdf(_poisson_logpmf), cdf=_poisson_cdf,
                     entropy=_poisson_entropy)


def _bernoulli_logpmf(k, p, loc=0):
    k, p, loc = _promote(k, p, loc)
    x = k - loc
    val = sp.xlogy(x, p) + sp.xlog1py(1 - x, -p)
    return _where(fnp.logical_or(x == 0, x == 1), val, -np.inf)


def _bernoulli_cdf(k, p):
    k, p = _promote(k, p)
    return fnp.where(k < 0, _full(p, 0.0), fnp.where(k < 1, 1 - p, _full(p, 1.0)))


def _bernoulli_ppf(q, p):
    q, p = _promote(q, p)
    bad = fnp.isnan(q) | fnp.isnan(p) | (p < 0) | (p > 1) | (q < 0) | (q > 1)
    return _where(~bad, fnp.where(q <= 1 - p, _full(q, 0.0), _full(q, 1.0)), np.nan)


bernoulli = _Namespace("bernoulli", logpmf=_bernoulli_logpmf, pmf=_from_logpdf(_bernoulli_logpmf), cdf=_bernoulli_cdf,
                       ppf=_bernoulli_ppf)


def _binom_logpmf(k, n, p, loc=0):
    k, n, p, loc = _promote(k, n, p, loc)
    y = k - loc
    comb = sp.gammaln(n + 1) - sp.gammaln(y + 1) - sp.gammaln(n - y + 1)
    val = comb + sp.xlogy(y, p) + sp.xlog1py(n - y, -p)
    return _where(fnp.logical_and(_is_count(y), y <= n), val, -np.inf)


binom = _Namespace("binom", logpmf=_binom_logpmf, pmf=_from_logpdf(_binom_logpmf))

__all__ = ["norm", "multivariate_normal", "t", "cauchy", "laplace", "logistic", "expon", "uniform", "gamma",
           "chi2", "beta", "dirichlet", "poisson", "bernoulli", "binom"]
