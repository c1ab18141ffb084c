"""The distributions that transform uniform, normal, exponential and gamma samples
(``functrace/random/_transformed.py``), and the counts of ``_discrete.py``. Their values are JAX's
(tests/test_random_jax.py, from recorded fixtures); here: the same numbers under jit and vmap,
their moments, derivatives in their parameters, the shapes and dtypes JAX gives, and errors that
name the user's line."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import random
from functrace.errors import DTypeError, ShapeError

KEY = random.PRNGKey(7)

SAMPLERS = {
    "cauchy": lambda k: random.cauchy(k, (3,)),
    "lognormal": lambda k: random.lognormal(k, np.array([0.5, 2.0])),
    "pareto": lambda k: random.pareto(k, 3.0, (3,)),
    "rayleigh": lambda k: random.rayleigh(k, np.array([1.0, 2.0])),
    "weibull_min": lambda k: random.weibull_min(k, 2.0, 1.5, (3,)),
    "maxwell": lambda k: random.maxwell(k, (3,)),
    "double_sided_maxwell": lambda k: random.double_sided_maxwell(k, 1.0, 2.0, (3,)),
    "rademacher": lambda k: random.rademacher(k, (4,)),
    "chisquare": lambda k: random.chisquare(k, np.array([0.5, 3.0])),
    "f": lambda k: random.f(k, 3.0, 5.0, (3,)),
    "t": lambda k: random.t(k, 4.0, (3,)),
    "geometric": lambda k: random.geometric(k, np.array([0.2, 0.7])),
    "triangular": lambda k: random.triangular(k, 0.0, 0.3, 1.0, (3,)),
    "wald": lambda k: random.wald(k, np.array([0.5, 2.0])),
    "generalized_normal": lambda k: random.generalized_normal(k, 1.5, (3,)),
    "ball": lambda k: random.ball(k, 3, 2, (2,)),
    "orthogonal": lambda k: random.orthogonal(k, 3, (2,)),
    "poisson": lambda k: random.poisson(k, np.array([0.5, 4.0, 30.0])),
    "binomial": lambda k: random.binomial(k, np.array([5.0, 50.0]), 0.3),
    "multinomial": lambda k: random.multinomial(k, 30.0, np.array([0.2, 0.3, 0.5])),
}


@pytest.mark.parametrize("name", sorted(SAMPLERS))
def test_same_numbers_under_jit_and_vmap(name):
    sampler = SAMPLERS[name]
    keys = random.split(KEY, 3)
    want = np.stack([host(sampler(keys[i])) for i in range(3)])
    np.testing.assert_allclose(host(ft.vmap(sampler)(keys)), want, rtol=1e-12)
    np.testing.assert_allclose(host(ft.jit(sampler)(keys[1])), want[1], rtol=1e-12)
    typed = host(sampler(random.wrap_key_data(keys[1])))
    np.testing.assert_array_equal(typed, want[1])


def test_moments():
    n = 20000
    k = random.split(KEY, 8)
    assert abs(np.median(host(random.cauchy(k[0], (n,))))) < 0.05
    assert abs(host(random.lognormal(k[1], 0.5, (n,))).mean() - np.exp(0.125)) < 0.02
    assert abs(host(random.pareto(k[2], 3.0, (n,))).mean() - 1.5) < 0.03
    assert abs(host(random.rayleigh(k[3], 2.0, (n,))).mean() - 2.0 * np.sqrt(np.pi / 2)) < 0.03
    assert abs(host(random.chisquare(k[4], 3.0, (n,))).mean() - 3.0) < 0.1
    assert abs(host(random.t(k[5], 5.0, (n,))).var() - 5.0 / 3.0) < 0.1
    g = host(random.geometric(k[6], 0.25, (n,)))
    assert g.dtype == np.int64 and g.min() >= 1 and abs(g.mean() - 4.0) < 0.1
    assert abs(host(random.wald(k[7], 2.0, (n,))).mean() - 2.0) < 0.1
    tri = host(random.triangular(k[0], 0.0, 0.3, 1.0, (n,)))
    assert tri.min() >= 0.0 and tri.max() <= 1.0 and abs(tri.mean() - 1.3 / 3) < 0.01
    for lam in (3.0, 40.0):
        c = host(random.poisson(k[6], lam, (n,)))
        assert c.dtype == np.int64 and c.min() >= 0
        assert abs(c.mean() - lam) < 0.03 * lam and abs(c.var() - lam) < 0.1 * lam
    assert host(random.poisson(k[7], 2.0, (3,), dtype=np.int32)).dtype == np.int32
    for count, prob in ((8.0, 0.3), (200.0, 0.6)):
        c = host(random.binomial(k[5], count, prob, (n,)))
        assert c.dtype == np.float64 and c.min() >= 0 and c.max() <= count and (c == np.floor(c)).all()
        assert abs(c.mean() - count * prob) < 0.02 * count * prob
    counts = host(random.multinomial(k[4], 50.0, np.array([0.2, 0.3, 0.5]), shape=(n, 3)))
    assert (counts.sum(-1) == 50).all() and np.allclose(counts.mean(0), [10, 15, 25], rtol=0.02)
    r = host(random.rademacher(k[1], (n,)))
    assert r.dtype == np.int64 and set(np.unique(r).tolist()) == {-1, 1} and abs(r.mean()) < 0.03
    m = host(random.maxwell(k[2], (n,)))
    assert abs(m.mean() - 2 * np.sqrt(2 / np.pi)) < 0.02
    points = host(random.ball(k[3], 3, 2, (n,)))
    assert points.shape == (n, 3) and (np.linalg.norm(points, axis=-1) <= 1.0).all()
    q = host(random.orthogonal(k[4], 4, (3,)))
    np.testing.assert_allclose(q @ np.swapaxes(q, -1, -2), np.broadcast_to(np.eye(4), (3, 4, 4)), atol=1e-12)
    wide = host(random.orthogonal(k[5], 2, m=5))
    assert wide.shape == (2, 5)
    np.testing.assert_allclose(wide @ wide.T, np.eye(2), atol=1e-12)


# JAX 0.10.2's derivatives (x64, PRNGKey(7)) of the sum of four samples in the parameter: through
# gamma, whose derivative is implicit (that of the CDF's inverse at the sample), not the finite
# difference of the rejection sampler at a fixed key.
JAX_GAMMA_BASED_GRADS = {
    "chisquare": (lambda df: random.chisquare(KEY, df, (4,)), 3.0, 3.7686961201406506),
    "t": (lambda df: random.t(KEY, df, (4,)), 5.0, 0.004012212575688189),
    "f": (lambda dfnum: random.f(KEY, dfnum, 5.0, (4,)), 3.0, 0.1756343138701948),
    "generalized_normal": (lambda p: random.generalized_normal(KEY, p, (4,)), 1.5, -0.27743041554956865),
}


def test_derivatives_in_the_parameters():
    """The samples are differentiable in their parameters for a fixed key: lognormal, pareto and
    weibull_min are smooth transforms (their finite differences), the gamma-based ones have JAX's
    implicit derivative."""
    for f, x in ((lambda s: random.lognormal(KEY, s, (4,)), 0.7), (lambda b: random.pareto(KEY, b, (4,)), 2.5),
                 (lambda c: random.weibull_min(KEY, 2.0, c, (4,)), 1.5)):
        g = host(ft.grad(lambda v, f=f: fnp.sum(f(v)))(x))
        eps = 1e-6
        fd = (host(fnp.sum(f(x + eps))) - host(fnp.sum(f(x - eps)))) / (2 * eps)
        np.testing.assert_allclose(g, fd, rtol=1e-6)
    for name, (f, x, want) in JAX_GAMMA_BASED_GRADS.items():
        np.testing.assert_allclose(host(ft.grad(lambda v, f=f: fnp.sum(f(v)))(x)), want, rtol=1e-9, err_msg=name)


def test_shapes_and_dtypes_follow_jax():
    assert host(random.lognormal(KEY, np.ones((2, 3)))).shape == (2, 3)  # shape=None: the parameters'
    assert host(random.f(KEY, np.ones(3), 2.0)).shape == (3,)
    # double_sided_maxwell appends the parameters' broadcast shape to ``shape`` (JAX's convention)
    assert host(random.double_sided_maxwell(KEY, np.zeros(2), 1.0, (3,))).shape == (3, 2)
    assert host(random.double_sided_maxwell(KEY, np.zeros(2), 1.0)).shape == (2, 2)
    assert host(random.cauchy(KEY, (2,), dtype=np.float32)).dtype == np.float32
    assert host(random.weibull_min(KEY, 2.0, 1.5, (2,), dtype=np.float32)).dtype == np.float32
    assert host(random.rademacher(KEY, (2,), dtype=np.float32)).dtype == np.float32
    assert host(random.geometric(KEY, 0.5, (2,), dtype=np.int32)).dtype == np.int32


def test_errors_name_the_users_line():
    with pytest.raises(ShapeError, match=r"test_random_transformed\.py:\d+: random\.t: the parameter shapes"):
        random.t(KEY, np.ones(3), (2,))
    with pytest.raises(DTypeError, match=r"test_random_transformed\.py:\d+: random\.cauchy samples float"):
        random.cauchy(KEY, (2,), dtype=np.int32)
    with pytest.raises(DTypeError, match="random.geometric samples integers"):
        random.geometric(KEY, 0.5, (2,), dtype=np.float32)
    with pytest.raises(ShapeError, match="random.ball: d must be"):
        random.ball(KEY, -1)
