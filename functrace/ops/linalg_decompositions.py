"""Matrix decompositions and solves: ``cholesky``, ``triangular_solve``, ``solve``, ``det``,
``slogdet``, ``qr``, ``eigh``, ``svd``, ``lu``, ``eig`` (its eigenvalues differentiable, as in
JAX) and the forward-only ``sqrtm``, each on the last two axes of its operands (any leading axes
are a batch). Declared with their
traits, then their ``lax.linalg`` wrappers, JVP, transpose and batching rules.

The derivative rules are JAX's (``jax/_src/lax/linalg.py``), for real matrices: eigenvectors
and singular vectors are differentiable where the eigen/singular values are distinct, ``qr``
where the matrix has at least as many rows as columns and ``full_matrices`` is off (or it is
square). ``solve`` and ``triangular_solve`` are linear in their right-hand side, so reverse
mode transposes them into solves with the transposed matrix. ``det``'s derivative divides
by nothing but solves with the matrix, so it is nan at singular matrices (JAX uses a
cofactor solve there).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import ShapeError
from functrace.ops._common import at_front, batch_size
from functrace.primitives import check_kind, def_primitive, same_dtype
from functrace.rules import def_batch_rule
from functrace.tracing import bind, get_aval

Array = Any


# ---------------------------------------------------------------------------- shape checks
def _square(name: str, a: ShapedArray, kinds: str = "f") -> int:
    check_kind(name, a.dtype, kinds)
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{name} needs square matrices in its last two axes, got shape {a.shape}")
    return a.shape[-1]


def _matrix(name: str, a: ShapedArray) -> tuple[int, int]:
    check_kind(name, a.dtype, "f")
    if a.ndim < 2:
        raise ShapeError(f"{name} needs an array of at least two dimensions, got shape {a.shape}")
    return a.shape[-2], a.shape[-1]


def _rhs(name: str, a: ShapedArray, b: ShapedArray, left_side: bool = True, kinds: str = "f") -> None:
    same_dtype(name, a, b)
    n = _square(name, a, kinds)
    if b.ndim != a.ndim or b.shape[:-2] != a.shape[:-2] or b.shape[-2 if left_side else -1] != n:
        raise ShapeError(f"{name}: right-hand side of shape {b.shape} does not match matrices of shape {a.shape}")


# ---------------------------------------------------------------------------- declarations
def _cholesky_ae(a):
    _square("cholesky", a)
    return ShapedArray(a.shape, a.dtype)


def _triangular_solve_ae(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    _rhs("triangular_solve", a, b, left_side)
    return ShapedArray(b.shape, b.dtype)


def _solve_ae(a, b):
    _rhs("solve", a, b, kinds="fc")  # complex too: the eigenvalues' derivative solves with eigenvectors
    return ShapedArray(b.shape, b.dtype)


def _det_ae(a):
    _square("det", a)
    return ShapedArray(a.shape[:-2], a.dtype)


def _slogdet_ae(a):
    _square("slogdet", a)
    return [ShapedArray(a.shape[:-2], a.dtype), ShapedArray(a.shape[:-2], a.dtype)]


def _qr_ae(a, *, full_matrices):
    m, n = _matrix("qr", a)
    k = m if full_matrices else min(m, n)
    return [ShapedArray(a.shape[:-2] + (m, k), a.dtype), ShapedArray(a.shape[:-2] + (k, n), a.dtype)]


def _eigh_ae(a, *, lower):
    n = _square("eigh", a)
    return [ShapedArray(a.shape, a.dtype), ShapedArray(a.shape[:-2] + (n,), a.dtype)]


def _svd_ae(a, *, full_matrices):
    m, n = _matrix("svd", a)
    k = min(m, n)
    mu, nv = (m, n) if full_matrices else (k, k)
    lead = a.shape[:-2]
    return [ShapedArray(lead + (k,), a.dtype), ShapedArray(lead + (m, mu), a.dtype),
            ShapedArray(lead + (nv, n), a.dtype)]


def _lu_ae(a):
    m, n = _matrix("lu", a)
    lead = a.shape[:-2]
    return [ShapedArray(a.shape, a.dtype), ShapedArray(lead + (min(m, n),), np.dtype(np.int32)),
            ShapedArray(lead + (m,), np.dtype(np.int32))]


def _complex_of(name: str, a: ShapedArray) -> np.dtype:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ShapeError(f"{name} needs square matrices in its last two axes, got shape {a.shape}")
    check_kind(name, a.dtype, "fc")
    return np.dtype(np.complex64) if a.dtype in (np.float32, np.complex64) else np.dtype(np.complex128)


def _sqrtm_ae(a):
    return ShapedArray(a.shape, _complex_of("sqrtm", a))


def _eig_ae(a, *, vectors):
    dt = _complex_of("eig", a)
    _square("eig", a, "fc")
    return [ShapedArray(a.shape[:-1], dt)] + ([ShapedArray(a.shape, dt)] if vectors else [])


cholesky_p = def_primitive("cholesky", _cholesky_ae)
triangular_solve_p = def_primitive("triangular_solve", _triangular_solve_ae, linear=(1,))
solve_p = def_primitive("solve", _solve_ae, linear=(1,))
det_p = def_primitive("det", _det_ae)
slogdet_p = def_primitive("slogdet", _slogdet_ae, multiple_results=True)
qr_p = def_primitive("qr", _qr_ae, multiple_results=True)
eigh_p = def_primitive("eigh", _eigh_ae, multiple_results=True)
svd_p = def_primitive("svd", _svd_ae, multiple_results=True)
lu_p = def_primitive("lu", _lu_ae, multiple_results=True)
sqrtm_p = def_primitive("sqrtm", _sqrtm_ae)
eig_p = def_primitive("eig", _eig_ae, multiple_results=True)


# ---------------------------------------------------------------------------- small matrix helpers
def _mT(x: Array) -> Array:
    nd = get_aval(x).ndim
    return lax.transpose(x, list(range(nd - 2)) + [nd - 1, nd - 2])


def _mm(a: Array, b: Array) -> Array:
    """Batched matrix product of two arrays with the same leading (batch) axes."""
    nd = get_aval(a).ndim
    batch = tuple(range(nd - 2))
    return lax.dot_general(a, b, (((nd - 1,), (nd - 2,)), (batch, batch)))


def _masked(x: Array, mask2d: np.ndarray) -> Array:
    a = get_aval(x)
    mask = np.broadcast_to(mask2d, a.shape)
    return lax.select(mask, x, lax.full(a.shape, 0, a.dtype))


def _tril(x: Array, k: int = 0) -> Array:
    s = get_aval(x).shape
    return _masked(x, np.tri(s[-2], s[-1], k, dtype=bool))


def _triu(x: Array, k: int = 0) -> Array:
    s = get_aval(x).shape
    return _masked(x, ~np.tri(s[-2], s[-1], k - 1, dtype=bool))


def _diagonal(x: Array) -> Array:
    """The main diagonal of square matrices: (..., n, n) -> (..., n)."""
    nd = get_aval(x).ndim
    return lax.reduce_sum(_masked(x, np.eye(get_aval(x).shape[-1], dtype=bool)), (nd - 1,))


def _rows(v: Array, shape: tuple) -> Array:
    """A (..., k) vector broadcast along the rows: result[..., i, j] = v[..., j]."""
    nd = len(shape)
    return lax.broadcast_in_dim(v, shape, tuple(range(nd - 2)) + (nd - 1,))


def _cols(v: Array, shape: tuple) -> Array:
    """result[..., i, j] = v[..., i]."""
    nd = len(shape)
    return lax.broadcast_in_dim(v, shape, tuple(range(nd - 2)) + (nd - 2,))


def _symmetrize(x: Array) -> Array:
    dt = get_aval(x).dtype
    return lax.mul(lax.add(x, _mT(x)), np.asarray(0.5, dt)[()])


def _half_eye(n: int, shape: tuple, dt: Any) -> np.ndarray:
    return np.broadcast_to(np.eye(n, dtype=dt), shape)


# ---------------------------------------------------------------------------- lax.linalg wrappers
def cholesky(x: Array, *, symmetrize_input: bool = True) -> Array:
    """The lower Cholesky factor ``L`` (``x = L Lᵀ``) of symmetric positive definite matrices;
    nan where a matrix is not positive definite (as JAX). With ``symmetrize_input`` the factor
    is of ``(x + xᵀ)/2``, so the derivative is symmetric too."""
    if symmetrize_input:
        x = _symmetrize(x)
    return bind(cholesky_p, x)


def triangular_solve(a: Array, b: Array, *, left_side: bool = False, lower: bool = False,
                     transpose_a: bool = False, conjugate_a: bool = False, unit_diagonal: bool = False) -> Array:
    """Solve ``op(a) @ x = b`` (``left_side``) or ``x @ op(a) = b`` with ``a`` triangular; only
    the triangle ``lower`` names is read (its diagonal taken as ones with ``unit_diagonal``).
    ``op(a)`` is ``aᵀ`` with ``transpose_a``. Leading axes of ``a`` broadcast against ``b``'s."""
    del conjugate_a  # real matrices only
    a, b = _broadcast_batch(a, b)
    return bind(triangular_solve_p, a, b, left_side=bool(left_side), lower=bool(lower),
                transpose_a=bool(transpose_a), unit_diagonal=bool(unit_diagonal))


def solve(a: Array, b: Array) -> Array:
    """Solve ``a @ x = b`` for square ``a`` (..., n, n) and ``b`` (..., n, k)."""
    a, b = _broadcast_batch(a, b)
    return bind(solve_p, a, b)


def det(a: Array) -> Array:
    """Determinants of square matrices (..., n, n) -> (...)."""
    return bind(det_p, a)


def slogdet(a: Array) -> tuple:
    """``(sign, log|det|)`` of square matrices; sign is 0 and log|det| is -inf for singular ones."""
    sign, logabsdet = bind(slogdet_p, a)
    return sign, logabsdet


def qr(x: Array, *, full_matrices: bool = True) -> tuple:
    """``(q, r)`` with orthonormal columns in ``q`` and upper-triangular ``r``, ``x = q @ r``."""
    q, r = bind(qr_p, x, full_matrices=bool(full_matrices))
    return q, r


def eigh(x: Array, *, lower: bool = True, symmetrize_input: bool = True, sort_eigenvalues: bool = True) -> tuple:
    """``(v, w)``: eigenvectors (columns of ``v``) and ascending eigenvalues of symmetric matrices
    (JAX's order of results). Without ``symmetrize_input`` only the ``lower`` (or upper) triangle
    is read."""
    del sort_eigenvalues  # the backends always sort ascending
    if symmetrize_input:
        x = _symmetrize(x)
    v, w = bind(eigh_p, x, lower=bool(lower))
    return v, w


def svd(x: Array, *, full_matrices: bool = True, compute_uv: bool = True) -> Any:
    """``(u, s, vh)`` with ``x = u @ diag(s) @ vh`` and descending singular values ``s``; just
    ``s`` without ``compute_uv``."""
    s, u, vh = bind(svd_p, x, full_matrices=bool(full_matrices and compute_uv))
    return (u, s, vh) if compute_uv else s


def lu(x: Array) -> tuple:
    """``(lu, pivots, permutation)``: the LU decomposition with partial pivoting of (..., m, n)
    matrices, as LAPACK's ``getrf`` and JAX's ``lax.linalg.lu``. ``lu`` holds the unit lower
    factor ``L`` below its diagonal and the upper factor ``U`` on and above it; row ``i`` was
    swapped with row ``pivots[i]`` at step ``i``, and ``x[..., permutation, :] = L @ U``."""
    out, pivots, permutation = bind(lu_p, x)
    return out, pivots, permutation


def sqrtm(x: Array) -> Array:
    """The principal square root of (..., n, n) matrices, complex (as JAX's ``sqrtm``, which
    is computed from a complex Schur form); forward only, as in JAX."""
    return bind(sqrtm_p, x)


def eig(x: Array, *, compute_left_eigenvectors: bool = False, compute_right_eigenvectors: bool = True) -> Any:
    """Eigenvalues ``w`` and right eigenvectors ``v`` (columns of unit norm, as LAPACK's geev,
    each turned so its largest entry is real and positive) of general square matrices, complex:
    ``[w, v]``, or ``[w]`` without right eigenvectors. Left eigenvectors are not supported.
    As in JAX, only the eigenvalues computed alone (``compute_right_eigenvectors=False``) have a
    derivative, and only a first one."""
    if compute_left_eigenvectors:
        raise NotImplementedError("lax.linalg.eig: left eigenvectors are not supported")
    return bind(eig_p, x, vectors=bool(compute_right_eigenvectors))


def _broadcast_batch(a: Array, b: Array) -> tuple:
    """Broadcast the leading (batch) axes of two stacks of matrices against each other."""
    sa, sb = get_aval(a).shape, get_aval(b).shape
    if len(sa) < 2 or len(sb) < 2:
        raise ShapeError(f"expected stacks of matrices, got shapes {sa} and {sb}")
    try:
        lead = tuple(np.broadcast_shapes(sa[:-2], sb[:-2]))
    except ValueError:
        raise ShapeError(f"the leading axes of shapes {sa} and {sb} do not broadcast") from None

    def grow(x, s):
        if s[:-2] == lead:
            return x
        shape = lead + s[-2:]
        nd = len(shape)
        x = lax.reshape(x, (1,) * (len(lead) - len(s[:-2])) + tuple(s))
        keep = [i for i, d in enumerate(get_aval(x).shape[:-2]) if d != 1] + [nd - 2, nd - 1]
        squeezed = lax.reshape(x, tuple(get_aval(x).shape[i] for i in keep))
        return lax.broadcast_in_dim(squeezed, shape, tuple(keep))

    return grow(a, sa), grow(b, sb)


# ---------------------------------------------------------------------------- batching
def _batched(prim):
    """Every operand's batch axis to the front (the primitives treat leading axes as a batch)."""

    def rule(args, dims, **params):
        size = batch_size(args, dims)
        out = bind(prim, *[at_front(x, d, size) for x, d in zip(args, dims, strict=True)], **params)
        return (out, [0] * len(out)) if prim.multiple_results else (out, 0)

    return rule


for _p in (cholesky_p, triangular_solve_p, solve_p, det_p, slogdet_p, qr_p, eigh_p, svd_p, lu_p, sqrtm_p, eig_p):
    def_batch_rule(_p, _batched(_p))


# The derivative rules live in their own module, which reads the declarations above.
from functrace.ops import _linalg_decompositions_rules  # noqa: E402,F401
