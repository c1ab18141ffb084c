"""``functrace.scipy``: the traceable counterparts of SciPy functions, as ``jax.scipy`` offers.

``linalg`` (decompositions, solves, ``expm``), ``signal`` (convolutions), ``special`` (SciPy's
special functions) and ``stats`` (log-densities, CDFs and quantiles of common distributions),
with JAX's derivatives.
``scipy.special``'s own ufuncs of the same names, called on traced values, reach these functions
(as ``np.sin`` reaches ``functrace.numpy.sin``).
"""

from functrace.scipy import linalg, signal, special, stats

__all__ = ["linalg", "signal", "special", "stats"]
