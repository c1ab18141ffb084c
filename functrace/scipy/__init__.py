"""``functrace.scipy``: the traceable counterparts of SciPy functions, as ``jax.scipy`` offers.

``linalg`` (decompositions, solves, ``expm``), ``signal`` (convolutions), ``special`` (SciPy's
special functions), ``stats`` (log-densities, CDFs and quantiles of common distributions) and
``integrate`` (``odeint``, an adaptive ODE solver differentiated by the adjoint method), with
JAX's derivatives.
``scipy.special``'s own ufuncs of the same names, called on traced values, reach these functions
(as ``np.sin`` reaches ``functrace.numpy.sin``).
"""

from functrace.scipy import integrate, linalg, signal, special, stats

__all__ = ["integrate", "linalg", "signal", "special", "stats"]
