"""``functrace.scipy.linalg``: the Cholesky and triangular solves of ``jax.scipy.linalg``
(``cho_factor``, ``cho_solve``, ``solve_triangular``, ``cholesky``), composed from the
primitives of ``functrace.lax.linalg``, so they differentiate and batch as those do."""

from __future__ import annotations

from typing import Any

from functrace import lax
from functrace import numpy as fnp
from functrace.numpy._core import user_error

Array = Any


def cholesky(a: Array, lower: bool = False) -> Array:
    """The Cholesky factor: upper by default (SciPy's convention), lower with ``lower``."""
    return fnp.linalg.cholesky(a, upper=not lower)


def cho_factor(a: Array, lower: bool = False) -> tuple:
    """``(c, lower)`` for ``cho_solve``: the factor, whose other triangle is zero here (SciPy
    leaves garbage there; neither is read)."""
    return cholesky(a, lower=lower), lower


def _rhs(b: Array) -> tuple:
    b = fnp.asarray(b)
    return (fnp.reshape(b, (-1, 1)), True) if b.ndim == 1 else (b, False)


def cho_solve(c_and_lower: tuple, b: Array) -> Array:
    """Solve ``a @ x = b`` given ``cho_factor(a)``: two triangular solves."""
    c, lower = c_and_lower
    b2, vector = _rhs(b)
    if lower:
        y = lax.linalg.triangular_solve(c, b2, left_side=True, lower=True)
        x = lax.linalg.triangular_solve(c, y, left_side=True, lower=True, transpose_a=True)
    else:
        y = lax.linalg.triangular_solve(c, b2, left_side=True, lower=False, transpose_a=True)
        x = lax.linalg.triangular_solve(c, y, left_side=True, lower=False)
    return x[..., 0] if vector else x


def solve_triangular(a: Array, b: Array, trans: Any = 0, lower: bool = False, unit_diagonal: bool = False) -> Array:
    """Solve ``op(a) @ x = b`` for triangular ``a`` (``trans`` 0/"N", 1/"T"; only the ``lower``
    or upper triangle is read)."""
    if trans not in (0, 1, "N", "T", 2, "C"):
        raise user_error(ValueError(f"solve_triangular: invalid trans {trans!r}"))
    b2, vector = _rhs(b)
    x = lax.linalg.triangular_solve(a, b2, left_side=True, lower=lower, transpose_a=trans in (1, "T", 2, "C"),
                                    unit_diagonal=unit_diagonal)
    return x[..., 0] if vector else x


def solve(a: Array, b: Array, assume_a: str = "gen", lower: bool = False) -> Array:
    """Solve ``a @ x = b`` (``assume_a="pos"`` uses the Cholesky factor)."""
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    return fnp.linalg.solve(a, b)


__all__ = ["cho_factor", "cho_solve", "cholesky", "solve", "solve_triangular"]
