"""functrace.scipy.stats against scipy.stats: values on tables that cross the edges of each
support, derivatives in every parameter to second order in both modes, jit and vmap."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.test_util import check_grads

ss = pytest.importorskip("scipy.stats")  # the reference values come from SciPy
st = ft.scipy.stats

X = np.array([-3.0, -1.5, -0.2, 0.0, 0.3, 1.0, 2.5, 7.0])
UNIT = np.array([-0.5, 0.0, 0.2, 0.5, 0.95, 1.0, 1.5])
Q = np.array([0.001, 0.2, 0.5, 0.7, 0.999])
K = np.array([-1.0, 0.0, 1.0, 2.0, 2.5, 3.0, 5.0, 6.0])

# (distribution, function, arguments after x, x values)
VALUES = [
    ("norm", "logpdf", (0.3, 1.7), X), ("norm", "pdf", (0.3, 1.7), X), ("norm", "cdf", (0.3, 1.7), X),
    ("norm", "logcdf", (0.3, 1.7), X * 5), ("norm", "sf", (0.3, 1.7), X), ("norm", "logsf", (0.3, 1.7), X * 5),
    ("norm", "ppf", (0.3, 1.7), Q),
    ("t", "logpdf", (3.5, 0.2, 2.0), X), ("t", "pdf", (1.0,), X),
    ("cauchy", "logpdf", (0.2, 2.0), X), ("cauchy", "cdf", (0.2, 2.0), X), ("cauchy", "ppf", (0.2, 2.0), Q),
    ("laplace", "logpdf", (0.2, 2.0), X), ("laplace", "cdf", (0.2, 2.0), X),
    ("logistic", "logpdf", (0.2, 2.0), X), ("logistic", "cdf", (0.2, 2.0), X),
    ("logistic", "logcdf", (0.2, 2.0), X), ("logistic", "ppf", (0.2, 2.0), Q),
    ("expon", "logpdf", (-0.5, 2.0), X), ("expon", "pdf", (), X), ("expon", "cdf", (-0.5, 2.0), X),
    ("expon", "ppf", (-0.5, 2.0), Q),
    ("uniform", "logpdf", (-0.5, 2.0), X), ("uniform", "pdf", (), UNIT), ("uniform", "cdf", (-0.5, 2.0), X),
    ("uniform", "ppf", (-0.5, 2.0), UNIT),
    ("gamma", "logpdf", (2.5, -0.5, 2.0), X), ("gamma", "logpdf", (1.0,), X), ("gamma", "pdf", (0.7,), X),
    ("gamma", "cdf", (2.5, -0.5, 2.0), X),
    ("chi2", "logpdf", (3.0,), X), ("chi2", "cdf", (4.0, 0.0, 1.5), X),
    ("beta", "logpdf", (2.0, 3.0), UNIT), ("beta", "pdf", (0.5, 1.5), UNIT[2:-2]), ("beta", "logpdf", (1.0, 1.0), UNIT),
    ("poisson", "logpmf", (2.2,), K), ("poisson", "pmf", (0.5, 1.0), K), ("poisson", "cdf", (2.2,), K),
    ("bernoulli", "logpmf", (0.3,), K), ("bernoulli", "pmf", (0.8,), K), ("bernoulli", "cdf", (0.3,), K),
    ("binom", "logpmf", (5.0, 0.3), K), ("binom", "pmf", (6.0, 0.9), K),
    # the second round: survival functions, inverse survival functions, beta's CDFs
    ("norm", "isf", (0.3, 1.7), Q), ("norm", "isf", (), np.array([1e-30, 1e-10, 0.5, 1 - 1e-10])),
    ("cauchy", "sf", (0.2, 2.0), X), ("cauchy", "logsf", (0.2, 2.0), X), ("cauchy", "isf", (0.2, 2.0), Q),
    ("logistic", "sf", (0.2, 2.0), X), ("logistic", "isf", (0.2, 2.0), Q),
    ("expon", "sf", (-0.5, 2.0), X), ("expon", "logsf", (-0.5, 2.0), X),
    ("gamma", "sf", (2.5, -0.5, 2.0), X), ("gamma", "logsf", (2.5, -0.5, 2.0), X),
    ("chi2", "sf", (4.0, 0.0, 1.5), X), ("chi2", "logsf", (3.0,), X),
    ("beta", "cdf", (2.0, 3.0), UNIT), ("beta", "cdf", (0.5, 1.5, -0.2, 1.5), UNIT),
    ("beta", "logcdf", (2.0, 3.0), UNIT), ("beta", "sf", (2.0, 3.0), UNIT), ("beta", "logsf", (0.5, 4.0), UNIT),
    ("bernoulli", "ppf", (0.3,), np.array([0.001, 0.2, 0.7, 0.8, 1.0])),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("dist,fn,params,x", VALUES, ids=[f"{v[0]}.{v[1]}{v[2]}" for v in VALUES])
def test_values_match_scipy(dist, fn, params, x, dtype):
    x = x.astype(dtype)
    want = getattr(getattr(ss, dist), fn)(x, *params)
    got = host(getattr(getattr(st, dist), fn)(x, *[dtype(p) for p in params]))
    assert got.dtype == dtype
    tol = dict(rtol=2e-4, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(got, want, equal_nan=True, **tol)


def test_bernoulli_ppf_and_poisson_entropy_as_jax():
    # bernoulli.ppf(0, p) is 0 in JAX (SciPy: -1); outside [0, 1] it is nan
    np.testing.assert_array_equal(host(st.bernoulli.ppf(np.array([0.0, 0.5, 1.5, -0.1]), 0.3)), [0.0, 0.0, np.nan,
                                                                                                 np.nan])
    mu = np.array([0.01, 0.5, 5.0, 20.0, 99.9, 100.0, 1e3])
    np.testing.assert_allclose(host(st.poisson.entropy(mu)), ss.poisson(mu).entropy(), rtol=1e-9)
    assert np.isnan(host(st.poisson.entropy(np.array([0.0, -1.0])))).all()
    check_grads(st.poisson.entropy, (np.array([0.7, 30.0, 150.0]),), order=2, modes=("fwd", "rev"))


def test_gamma_and_chi2_cdfs_are_differentiable_once_in_the_shape():
    x = np.array([0.3, 2.0, 5.0])
    check_grads(lambda a: st.gamma.cdf(x, a, -0.1, 2.0), (2.5,), order=1, modes=("fwd", "rev"))
    check_grads(lambda df: st.chi2.logsf(x, df), (3.0,), order=1, modes=("fwd", "rev"))
    check_grads(lambda mu: st.poisson.cdf(np.array([0.0, 2.0, 5.0]), mu), (2.2,), order=2, modes=("fwd", "rev"))


def test_beta_cdf_is_differentiable_in_x_loc_scale_only():
    check_grads(lambda x, loc, scale: st.beta.cdf(x, 2.0, 3.0, loc, scale), (np.array([0.2, 0.5, 0.9]), -0.1, 1.3),
                order=2, modes=("fwd", "rev"))
    check_grads(lambda x: st.beta.sf(x, 0.7, 2.5), (np.array([0.2, 0.5, 0.9]),), order=2, modes=("fwd", "rev"))
    with pytest.raises(ft.errors.MissingRuleError, match="betainc"):
        ft.grad(lambda a: st.beta.cdf(0.4, a, 3.0))(2.0)


def test_dirichlet_and_multivariate_normal_values():
    x, alpha = np.array([0.2, 0.3, 0.5]), np.array([1.5, 2.0, 3.0])
    np.testing.assert_allclose(host(st.dirichlet.logpdf(x, alpha)), ss.dirichlet.logpdf(x, alpha), rtol=1e-12)
    assert host(st.dirichlet.logpdf(np.array([0.2, 0.3, 0.6]), alpha)) == -np.inf  # off the simplex
    xs = np.array([[0.3, -1.0, 2.0], [0.0, 0.0, 0.0]])
    mean, var = np.array([0.1, -0.2, 1.0]), np.array([0.5, 2.0, 1.5])
    np.testing.assert_allclose(host(st.multivariate_normal.logpdf(xs, mean, var)),
                               ss.multivariate_normal.logpdf(xs, mean, np.diag(var)), rtol=1e-12)
    if not hasattr(fnp.linalg, "cholesky"):  # the linear-algebra issue brings it; then the full covariance runs
        with pytest.raises(NotImplementedError, match="cholesky"):
            st.multivariate_normal.logpdf(xs, mean, np.diag(var))
        return
    a = np.array([[2.0, 0.3, 0.1], [0.3, 1.0, -0.2], [0.1, -0.2, 0.7]])
    np.testing.assert_allclose(host(st.multivariate_normal.logpdf(xs, mean, a)),
                               ss.multivariate_normal.logpdf(xs, mean, a), rtol=1e-12)
    check_grads(lambda x, m, c: st.multivariate_normal.logpdf(x, m, c @ c.T), (xs, mean, a), order=2)


# (name, function of float64 arrays, arguments inside the support): every parameter differentiated
GRADS = [
    ("norm.logpdf", st.norm.logpdf, (X, 0.3, 1.7)),
    ("norm.logcdf", st.norm.logcdf, (X * 4, 0.3, 1.7)),
    ("norm.ppf", st.norm.ppf, (Q[1:-1], 0.3, 1.7)),
    ("t.logpdf", st.t.logpdf, (X, 3.5, 0.2, 2.0)),
    ("cauchy.logpdf", st.cauchy.logpdf, (X, 0.2, 2.0)),
    ("laplace.logpdf", st.laplace.logpdf, (np.array([-1.0, 0.7, 3.0]), 0.2, 2.0)),
    ("logistic.logpdf", st.logistic.logpdf, (X, 0.2, 2.0)),
    ("logistic.cdf", st.logistic.cdf, (X, 0.2, 2.0)),
    ("expon.logpdf", st.expon.logpdf, (np.array([0.3, 2.0]), -0.5, 2.0)),
    ("expon.cdf", st.expon.cdf, (np.array([0.3, 2.0]), -0.5, 2.0)),
    ("uniform.logpdf", st.uniform.logpdf, (np.array([0.3, 1.0]), -0.5, 2.0)),
    ("gamma.logpdf", st.gamma.logpdf, (np.array([0.3, 2.0, 5.0]), 2.5, -0.1, 2.0)),
    ("norm.isf", st.norm.isf, (Q[1:-1], 0.3, 1.7)),
    ("cauchy.logsf", st.cauchy.logsf, (X, 0.2, 2.0)),
    ("logistic.isf", st.logistic.isf, (Q[1:-1], 0.2, 2.0)),
    ("expon.logsf", st.expon.logsf, (np.array([0.3, 2.0]), -0.5, 2.0)),
    ("chi2.sf", lambda x: st.chi2.sf(x, 3.0), (np.array([0.3, 2.0]),)),
    ("chi2.logpdf", st.chi2.logpdf, (np.array([0.3, 2.0]), 3.0)),
    ("beta.logpdf", st.beta.logpdf, (np.array([0.2, 0.5, 0.9]), 2.0, 3.0)),
    ("dirichlet.logpdf", lambda x, a: st.dirichlet.logpdf(x / fnp.sum(x), a), (np.array([0.2, 0.3, 0.5]),
                                                                                  np.array([1.5, 2.0, 3.0]))),
    ("poisson.logpmf", lambda mu: st.poisson.logpmf(np.array([0.0, 2.0, 5.0]), mu), (2.2,)),
    ("bernoulli.logpmf", lambda p: st.bernoulli.logpmf(np.array([0.0, 1.0]), p), (0.3,)),
    ("binom.logpmf", lambda n, p: st.binom.logpmf(np.array([0.0, 3.0, 5.0]), n, p), (5.5, 0.3)),
    ("mvn.logpdf[diag]", st.multivariate_normal.logpdf, (np.array([0.3, -1.0]), np.array([0.1, 0.2]),
                                                          np.array([0.5, 2.0]))),
]


@pytest.mark.parametrize("name,f,args", GRADS, ids=[g[0] for g in GRADS])
def test_check_grads_in_every_parameter(name, f, args):
    check_grads(f, tuple(np.asarray(a, np.float64) for a in args), order=2, modes=("fwd", "rev"), rtol=1e-5)


def test_jit_vmap_and_outside_support():
    mus = np.array([0.0, 1.0, -2.0])
    got = ft.vmap(lambda m: st.norm.logpdf(X, m, 1.5))(mus)
    np.testing.assert_allclose(host(got), ss.norm.logpdf(X[None], mus[:, None], 1.5), rtol=1e-12)
    got = ft.jit(st.gamma.logpdf)(X, 2.5)
    np.testing.assert_allclose(host(got), ss.gamma.logpdf(X, 2.5), rtol=1e-12)
    # outside the support the derivative in the parameters is 0, not nan
    xs = X[X != 0]  # (at x == loc itself the log-density is -inf and its derivative nan, as in JAX)
    g = ft.grad(lambda a: fnp.sum(fnp.where(xs > 0, st.gamma.logpdf(xs, a), 0.0)))(2.5)
    assert np.isfinite(host(g))
    g = ft.grad(lambda p: st.binom.logpmf(7.0, 5.0, p))(0.3)
    assert host(g) == 0.0


NAN_CALLS = [  # (distribution, function, the arguments after x)
    ("norm", "logpdf", ()), ("norm", "cdf", ()), ("norm", "ppf", ()), ("t", "logpdf", (3.0,)),
    ("cauchy", "cdf", ()), ("laplace", "logpdf", ()), ("logistic", "cdf", ()), ("expon", "logpdf", ()),
    ("expon", "pdf", ()), ("expon", "cdf", ()), ("expon", "logcdf", ()), ("expon", "ppf", ()),
    ("uniform", "pdf", ()), ("uniform", "cdf", ()), ("gamma", "logpdf", (2.0,)), ("chi2", "pdf", (3.0,)),
    ("beta", "pdf", (2.0, 3.0)), ("beta", "cdf", (2.0, 3.0)), ("poisson", "pmf", (3.0,)), ("poisson", "cdf", (3.0,)),
    ("bernoulli", "pmf", (0.3,)), ("bernoulli", "cdf", (0.3,)),
]


@pytest.mark.parametrize("dist, fn, args", NAN_CALLS, ids=[f"{d}.{f}" for d, f, _ in NAN_CALLS])
def test_a_nan_argument_gives_nan(dist, fn, args):
    """No support test turns a nan into 0, -inf or a number (norm.ppf(nan) was -0.674: ndtri's
    clamp; expon.pdf(nan) 0; bernoulli.cdf(nan) 1). A nan parameter gives nan too."""
    from functrace.scipy import stats

    f = getattr(getattr(stats, dist), fn)
    x = np.array([np.nan, 0.5])
    got = host(f(x, *args))
    assert np.isnan(got[0]) and not np.isnan(got[1])
    if args:
        assert np.isnan(host(f(np.array([0.5]), *((np.nan,) + args[1:])))).all()


def test_expon_quantile_and_log_cdf():
    from functrace.scipy import stats

    got = host(stats.expon.ppf(np.array([-0.1, 0.0, 0.5, 1.0, 1.1])))
    np.testing.assert_array_equal(np.isnan(got), [True, False, False, False, True])
    # log(1 - exp(-30)) without cancellation (log of the cdf lost 3 digits: -9.3592e-14)
    np.testing.assert_allclose(host(stats.expon.logcdf(np.array([30.0, 1e-10, 2.0]))),
                               [-9.357622968840175e-14, np.log(-np.expm1(-1e-10)), np.log1p(-np.exp(-2.0))], rtol=1e-12)
    assert host(stats.expon.logcdf(np.array([0.0, -1.0]))).tolist() == [-np.inf, -np.inf]


def test_ndtri_and_entr_keep_nan():
    from functrace.scipy import special

    assert np.isnan(host(special.ndtri(np.array([np.nan, 0.3])))[0])  # was -0.674
    assert np.isnan(host(special.entr(np.array([np.nan, 0.5])))[0])  # was -inf


def test_gamma_at_its_poles_and_zeros():
    """nan at the negative integers and -inf, -inf at -0.0 (SciPy's and JAX's values: the poles
    were +-inf and gamma(-0.0) +inf)."""
    from functrace.scipy import special

    x = np.array([-np.inf, -2.0, -1.0, -0.0, 0.0, np.inf, -2.5, 3.0])
    got = host(special.gamma(x))
    np.testing.assert_allclose(got, [np.nan, np.nan, np.nan, -np.inf, np.inf, np.inf, -0.9453087204829419, 2.0],
                               rtol=1e-12)
