"""``functrace.scipy``: the traceable counterparts of SciPy functions, as ``jax.scipy`` offers.

``linalg`` (Cholesky and triangular solves) and ``special``: the functions of ``scipy.special`` that neural-network and
statistics code differentiates most. ``scipy.special``'s own ufuncs of the same names, called
on traced values, reach these functions (as ``np.sin`` reaches ``functrace.numpy.sin``).
"""

from functrace.scipy import linalg, special

__all__ = ["linalg", "special"]
