"""``functrace.random``: counter-based random numbers with JAX's keys and JAX's bits.

There is no hidden state. A *key* (two uint32 words) names a stream of random bits; every
sampler takes a key and returns the same numbers for the same key, eagerly, under ``jit``,
under ``vmap`` and inside loops, on every backend. New randomness comes from new keys:
``split`` a key into independent ones, or ``fold_in`` a number (a step, an example index), and
never use one key twice.

The generator is Threefry-2x32 (``functrace.lax.threefry2x32``) with the bit layout of JAX's
current default (``jax_threefry_partitionable=True``): the ``i``-th element of a sample of any
shape is made from the cipher of the counter ``i`` (its 64-bit row-major index), so ``bits``,
``uniform``, ``randint``, ``split``, ``fold_in``, ``bernoulli``, ``permutation`` and ``choice``
give exactly JAX's values, and ``normal`` and the others JAX's values to within rounding.

functrace's default dtypes are NumPy's (float64, int64), so a sampler without ``dtype`` returns
what JAX returns with ``jax_enable_x64``; pass ``dtype=np.float32`` for JAX's 32-bit default.
Seeds are 64-bit, as in JAX's x64 mode.

Keys come in two forms, as in JAX: ``PRNGKey(seed)`` returns the raw key data, a uint32 array
of shape ``(2,)`` (batches of keys: ``(..., 2)``); ``key(seed)`` returns a typed key
(``KeyArray``), which cannot be mistaken for numbers. ``key_data`` and ``wrap_key_data``
convert between them. Every function accepts both and returns keys of the form it was given.
"""

from functrace.random._discrete import binomial, multinomial, poisson
from functrace.random._distributions import (
    categorical,
    choice,
    exponential,
    gumbel,
    laplace,
    logistic,
    multivariate_normal,
    permutation,
)
from functrace.random._gamma import beta, dirichlet, gamma, loggamma
from functrace.random._keys import KeyArray, PRNGKey, fold_in, key, key_data, split, wrap_key_data
from functrace.random._samplers import bernoulli, bits, normal, randint, truncated_normal, uniform
from functrace.random._transformed import (
    ball,
    cauchy,
    chisquare,
    double_sided_maxwell,
    f,
    generalized_normal,
    geometric,
    lognormal,
    maxwell,
    orthogonal,
    pareto,
    rademacher,
    rayleigh,
    t,
    triangular,
    wald,
    weibull_min,
)

__all__ = [
    "KeyArray", "PRNGKey", "key", "key_data", "wrap_key_data", "split", "fold_in", "bits", "uniform", "normal",
    "truncated_normal", "bernoulli", "categorical", "randint", "choice", "permutation", "gumbel", "exponential",
    "laplace", "logistic", "multivariate_normal", "gamma", "loggamma", "beta", "dirichlet", "ball", "binomial",
    "cauchy", "chisquare", "double_sided_maxwell", "f", "generalized_normal", "geometric", "lognormal", "maxwell",
    "multinomial", "orthogonal", "pareto", "poisson", "rademacher", "rayleigh", "t", "triangular", "wald",
    "weibull_min",
]
