"""``functrace.scipy.linalg``: ``jax.scipy.linalg``'s functions (SciPy's names, signatures and
conventions: upper Cholesky factors by default, ``lu``'s permutation matrix ``p`` with
``a = p @ l @ u``, ``qr``'s ``mode``), composed from the primitives of ``functrace.lax.linalg``
(the same as ``functrace.numpy.linalg``'s), so they differentiate and batch as those do.
SciPy's ``overwrite_*`` and ``check_finite`` arguments are accepted and ignored, as in JAX."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.numpy._core import user_error
from functrace.tracing import get_aval

Array = Any


def _dt(x: Array) -> np.dtype:
    """The NumPy dtype of a traced or concrete array of any backend."""
    return get_aval(x).dtype


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


def solve(a: Array, b: Array, lower: bool = False, overwrite_a: bool = False, overwrite_b: bool = False,
          debug: bool = False, check_finite: bool = True, assume_a: str = "gen") -> Array:
    """Solve ``a @ x = b``. ``assume_a="pos"`` solves with the Cholesky factor of the ``lower``
    (or upper) triangle; "gen", "sym" and "her" use the general (LU) solve, as JAX does."""
    del overwrite_a, overwrite_b, debug, check_finite
    if assume_a not in ("gen", "sym", "her", "pos"):
        raise user_error(ValueError(f"solve: assume_a must be one of 'gen', 'sym', 'her', 'pos', got {assume_a!r}"))
    if assume_a == "pos":
        return cho_solve(cho_factor(a, lower=lower), b)
    return fnp.linalg.solve(a, b)


def det(a: Array, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """The determinant of (..., n, n) matrices."""
    return fnp.linalg.det(a)


def inv(a: Array, overwrite_a: bool = False, check_finite: bool = True) -> Array:
    """The inverse of (..., n, n) matrices (non-finite for singular ones, as JAX's)."""
    return fnp.linalg.inv(a)


def eigh(a: Array, b: Any = None, lower: bool = True, eigvals_only: bool = False, overwrite_a: bool = False,
         overwrite_b: bool = False, turbo: bool = True, eigvals: Any = None, type: int = 1,  # noqa: A002
         check_finite: bool = True) -> Any:
    """Eigenvalues (ascending) and eigenvectors ``(w, v)`` of symmetric matrices, reading only the
    ``lower`` (or upper) triangle as SciPy; just ``w`` with ``eigvals_only``. The generalised
    problem (``b``) and ``eigvals`` subsets are not supported (nor are they in JAX)."""
    if b is not None or eigvals is not None:
        raise user_error(NotImplementedError("scipy.linalg.eigh: only the standard problem (b=None, eigvals=None) "
                                             "is supported, as in JAX"))
    v, w = lax.linalg.eigh(fnp.linalg._square("eigh", a), lower=lower, symmetrize_input=False)
    return w if eigvals_only else (w, v)


def svd(a: Array, full_matrices: bool = True, compute_uv: bool = True, overwrite_a: bool = False,
        check_finite: bool = True, lapack_driver: str = "gesdd") -> Any:
    """``(u, s, vh)`` with ``a = u @ diag(s) @ vh`` (descending ``s``); just ``s`` without
    ``compute_uv``."""
    out = fnp.linalg.svd(a, full_matrices=full_matrices, compute_uv=compute_uv)
    return tuple(out) if compute_uv else out


def qr(a: Array, overwrite_a: bool = False, lwork: Any = None, mode: str = "full", pivoting: bool = False,
       check_finite: bool = True) -> tuple:
    """QR decomposition as SciPy's: ``mode`` "full" gives ``(q, r)`` with square ``q``,
    "economic" the reduced ``(q, r)``, "r" the one-tuple ``(r,)`` (of the full factorisation).
    ``pivoting`` and ``mode="raw"`` are not supported."""
    if pivoting:
        raise user_error(NotImplementedError("scipy.linalg.qr: pivoting=True is not supported; use pivoting=False"))
    if mode not in ("full", "r", "economic"):
        raise user_error(ValueError(f"scipy.linalg.qr: unsupported mode {mode!r} (use 'full', 'economic' or 'r')"))
    q, r = lax.linalg.qr(fnp.linalg._stack("qr", a), full_matrices=mode != "economic")
    return (r,) if mode == "r" else (q, r)


# ---------------------------------------------------------------------------- LU
def lu_factor(a: Array, overwrite_a: bool = False, check_finite: bool = True) -> tuple:
    """``(lu, piv)`` as SciPy's: ``lu`` packs the unit lower factor below its diagonal and the
    upper factor on and above it; row ``i`` was swapped with row ``piv[i]`` (int32)."""
    packed, pivots, _ = lax.linalg.lu(fnp.linalg._stack("lu_factor", a))
    return packed, pivots


def _unpack(packed: Array) -> tuple:
    m, n = packed.shape[-2:]
    k = min(m, n)
    low = fnp.tril(packed[..., :, :k], -1) + fnp.eye(m, k, dtype=_dt(packed))
    return low, fnp.triu(packed[..., :k, :])


def _permutation_matrix(perm: Array, dtype: Any) -> Array:
    """``P`` with ``P[..., i, perm[i]] = 1``, so ``P @ x == x[perm]`` (and differentiable in x)."""
    m = perm.shape[-1]
    return fnp.astype(fnp.equal(perm[..., :, None], fnp.arange(m, dtype=_dt(perm))), dtype)


def lu(a: Array, permute_l: bool = False, overwrite_a: bool = False, check_finite: bool = True) -> tuple:
    """``(p, l, u)`` with ``a = p @ l @ u``: ``p`` a permutation matrix, ``l`` unit lower
    (m, k), ``u`` upper (k, n), ``k = min(m, n)``; ``(p @ l, u)`` with ``permute_l``.
    Differentiable in ``a`` (JAX's rule)."""
    packed, _, perm = lax.linalg.lu(fnp.linalg._stack("lu", a))
    low, up = _unpack(packed)
    p = fnp.linalg.matrix_transpose(_permutation_matrix(perm, _dt(packed)))
    return (fnp.matmul(p, low), up) if permute_l else (p, low, up)


def _pivots_to_permutation(pivots: Array, m: int) -> Array:
    """The row order the swaps ``pivots`` make, applied one after another to ``arange(m)``."""
    idx = fnp.arange(m, dtype=_dt(pivots))
    perm = fnp.broadcast_to(idx, pivots.shape[:-1] + (m,))
    for i in range(pivots.shape[-1]):
        p = pivots[..., i:i + 1]
        at_p = fnp.sum(fnp.where(idx == p, perm, 0), axis=-1, keepdims=True)
        at_i = perm[..., i:i + 1]
        perm = fnp.where(idx == i, at_p, fnp.where(idx == p, at_i, perm))
    return perm


def lu_solve(lu_and_piv: tuple, b: Array, trans: int = 0, overwrite_b: bool = False,
             check_finite: bool = True) -> Array:
    """Solve ``a @ x = b`` (``trans`` 0), ``a.T @ x = b`` (1, or 2 for real ``a``) given
    ``lu_factor(a)``: a permutation and two triangular solves."""
    if trans not in (0, 1, 2):
        raise user_error(ValueError(f"lu_solve: trans must be 0, 1 or 2, got {trans!r}"))
    packed, pivots = lu_and_piv
    packed, b = fnp.linalg._square("lu_solve", packed), fnp.asarray(b)
    b = fnp.astype(b, fnp.result_type(packed, b))
    packed = fnp.astype(packed, _dt(b))
    m = packed.shape[-1]
    if b.shape[:1] != (m,):
        raise user_error(ValueError(f"lu_solve: b of shape {b.shape} does not match a factor of shape {packed.shape}"))
    cols = fnp.reshape(b, (m, -1))
    p = _permutation_matrix(_pivots_to_permutation(fnp.asarray(pivots), m), _dt(b))
    if trans == 0:  # L U x = P b
        y = lax.linalg.triangular_solve(packed, fnp.matmul(p, cols), left_side=True, lower=True, unit_diagonal=True)
        x = lax.linalg.triangular_solve(packed, y, left_side=True, lower=False)
    else:  # Uᵀ Lᵀ P x = b
        y = lax.linalg.triangular_solve(packed, cols, left_side=True, lower=False, transpose_a=True)
        y = lax.linalg.triangular_solve(packed, y, left_side=True, lower=True, transpose_a=True, unit_diagonal=True)
        x = fnp.matmul(fnp.linalg.matrix_transpose(p), y)
    return fnp.reshape(x, b.shape)


# ---------------------------------------------------------------------------- matrix functions
# Padé numerator coefficients b_j of exp (Higham 2005): r_m(A) = (V - U)^-1 (V + U) with U the odd
# and V the even part of sum b_j A^j; theta is the largest 1-norm for which r_m is exact in the
# precision (double: m = 13, single: m = 7).
_PADE = {
    13: ((64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
          10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.),
         5.371920351148152),
    7: ((17297280., 8648640., 1995840., 277200., 25200., 1512., 56., 1.), 3.925724783138660),
}


def expm(A: Array, *, upper_triangular: bool = False, max_squarings: int = 16) -> Array:  # noqa: N803
    """The matrix exponential of (..., n, n) matrices by scaling and squaring a Padé approximant
    (degree 13 in float64, 7 in float32), as JAX's: built from matrix products, one solve and
    selects, so it differentiates (and batches) as they do. nan where more than
    ``max_squarings`` squarings would be needed."""
    a = fnp.asarray(fnp.linalg._square("expm", A))
    if _dt(a).kind != "f":
        raise user_error(TypeError(f"expm: real floating matrices are supported, got {_dt(a)}"))
    coeffs, theta = _PADE[13 if _dt(a) == np.float64 else 7]
    norm1 = fnp.max(fnp.sum(fnp.abs(a), axis=-2), axis=-1)  # the 1-norm, per matrix
    # ceil(log2(norm / theta)) halvings bring the norm to theta or below; the count is not
    # differentiated (it is locally constant).
    ratio = lax.stop_gradient(norm1 / theta)
    squarings = fnp.maximum(0.0, fnp.ceil(fnp.log2(fnp.where(ratio > 0, ratio, 1.0))))
    scaled = a / fnp.power(2.0, squarings)[..., None, None]
    eye = fnp.broadcast_to(fnp.eye(a.shape[-1], dtype=_dt(a)), a.shape)
    a2 = fnp.matmul(scaled, scaled)
    powers = [eye, a2]
    for _ in range(2, len(coeffs) // 2):
        powers.append(fnp.matmul(powers[-1], a2))
    if len(coeffs) == 14:  # degree 13 evaluates A^8.. A^12 through A^6, as Higham does
        a4, a6 = powers[2], powers[3]
        u_hi = fnp.matmul(a6, coeffs[13] * a6 + coeffs[11] * a4 + coeffs[9] * a2)
        v_hi = fnp.matmul(a6, coeffs[12] * a6 + coeffs[10] * a4 + coeffs[8] * a2)
        u = fnp.matmul(scaled, u_hi + sum(coeffs[2 * j + 1] * powers[j] for j in range(4)))
        v = v_hi + sum(coeffs[2 * j] * powers[j] for j in range(4))
    else:
        u = fnp.matmul(scaled, sum(coeffs[2 * j + 1] * powers[j] for j in range(len(coeffs) // 2)))
        v = sum(coeffs[2 * j] * powers[j] for j in range(len(coeffs) // 2))
    if upper_triangular:
        r = solve_triangular(v - u, v + u, lower=False)
    else:
        r = fnp.linalg.solve(v - u, v + u)
    for i in range(max_squarings):
        more = (squarings > i)[..., None, None]
        done = fnp.where(more, r, 0.0)  # squared only where needed (no overflow in the unused products)
        r = fnp.where(more, fnp.matmul(done, done), r)
    return fnp.where((squarings > max_squarings)[..., None, None], fnp.full_like(r, np.nan), r)


def sqrtm(A: Array, blocksize: int = 1) -> Array:  # noqa: N803
    """The principal matrix square root, complex (as JAX's, from a complex Schur form: SciPy's
    on the NumPy backend; torch has no Schur decomposition, so there it comes from the
    eigendecomposition and is nan for defective matrices). Forward only, as in JAX."""
    if blocksize != 1:
        raise user_error(NotImplementedError("sqrtm: only blocksize=1 is supported (as in JAX)"))
    return lax.linalg.sqrtm(fnp.linalg._square("sqrtm", A))


def block_diag(*arrs: Array) -> Array:
    """The block-diagonal matrix of ``arrs`` (scalars and 1-D arrays are 1-row blocks), in their
    promoted dtype."""
    if not arrs:
        return fnp.zeros((1, 0))
    blocks = [fnp.atleast_2d(fnp.asarray(x)) for x in arrs]
    for x in blocks:
        if x.ndim != 2:
            raise user_error(ValueError(f"block_diag: arguments must have at most 2 dimensions, got shape {x.shape}"))
    dt = fnp.result_type(*blocks)
    width = sum(x.shape[1] for x in blocks)
    rows, left = [], 0
    for x in blocks:
        right = width - left - x.shape[1]
        rows.append(fnp.pad(fnp.astype(x, dt), ((0, 0), (left, right))))
        left += x.shape[1]
    return fnp.concatenate(rows, axis=0)


__all__ = ["block_diag", "cho_factor", "cho_solve", "cholesky", "det", "eigh", "expm", "inv", "lu", "lu_factor",
           "lu_solve", "qr", "solve", "solve_triangular", "sqrtm", "svd"]
