"""``functrace.numpy.linalg``: JAX's ``jax.numpy.linalg``, composed from the decomposition and
solve primitives of ``functrace.lax.linalg`` (whose derivative rules are JAX's) and from the
elementwise/reduction functions of ``functrace.numpy``. Every function works on stacks of
matrices (leading axes are a batch) and under ``vmap``.

Results that NumPy returns as named tuples (``slogdet``, ``eigh``, ``svd``, ``qr``) are named
tuples here too. Eigenvector and singular-vector signs follow the backend's LAPACK, as JAX's do.
"""

from __future__ import annotations

from collections import namedtuple
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.errors import FunctraceError, ShapeError
from functrace.numpy._core import (
    _as_operand,
    abs,
    asarray,
    astype,
    divide,
    greater,
    multiply,
    not_equal,
    power,
    sqrt,
    subtract,
    user_error,
    where,
)
from functrace.numpy._linalg_ops import matmul, outer, tensordot, vdot  # noqa: F401 -- re-exported as jnp.linalg
from functrace.numpy._reductions import max, min, sum
from functrace.numpy._shape import moveaxis, reshape, swapaxes
from functrace.numpy._shape import trace as _trace
from functrace.ops.complex_parts import real_dtype
from functrace.tracing import get_aval, located

Array = Any

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
EigResult = namedtuple("EigResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])
QRResult = namedtuple("QRResult", ["Q", "R"])

__all__ = [
    "cholesky", "cond", "det", "eig", "eigh", "eigvals", "eigvalsh", "inv", "lstsq", "matrix_power", "matrix_rank",
    "matrix_norm", "matrix_transpose", "multi_dot", "norm", "pinv", "qr", "slogdet", "solve", "svd", "svdvals",
    "tensorinv", "tensorsolve", "vector_norm", "diagonal", "trace", "cross", "outer", "vecdot", "matmul", "tensordot",
]


def _float(x: Array) -> Array:
    """``x`` as a traceable array of a float dtype (integers become float64, as in NumPy)."""
    x = _as_operand(x)
    x = asarray(x) if not hasattr(x, "shape") or isinstance(x, (int, float)) else x
    if not is_float(get_aval(x).dtype):
        x = astype(x, np.float64)
    return x


def _stack(name: str, x: Array) -> Array:
    x = _float(x)
    if get_aval(x).ndim < 2:
        raise located(ShapeError(f"linalg.{name} needs an array of at least 2 dimensions, got shape "
                                 f"{get_aval(x).shape}"))
    return x


def _square(name: str, x: Array) -> Array:
    x = _stack(name, x)
    s = get_aval(x).shape
    if s[-1] != s[-2]:
        raise located(ShapeError(f"linalg.{name} needs square matrices in the last two axes, got shape {s}"))
    return x


def matrix_transpose(x: Array, /) -> Array:
    """Swap the last two axes."""
    return swapaxes(_as_operand(x), -1, -2)


def _eye_like(a: Array) -> Array:
    aval = get_aval(a)
    return lax.broadcast_in_dim(np.eye(aval.shape[-1], dtype=aval.dtype), aval.shape, (aval.ndim - 2, aval.ndim - 1))


# ---------------------------------------------------------------------------- factorizations
def cholesky(a: Array, *, upper: bool = False, symmetrize_input: bool = True) -> Array:
    """Cholesky factor of symmetric positive definite matrices (lower, or ``upper``); nan where
    a matrix is not positive definite (as JAX, where NumPy raises)."""
    L = lax.linalg.cholesky(_square("cholesky", a), symmetrize_input=symmetrize_input)
    return matrix_transpose(L) if upper else L


def qr(a: Array, mode: str = "reduced") -> Any:
    """QR decomposition: ``mode`` "reduced" (default), "complete", or "r" (just R)."""
    if mode not in ("reduced", "complete", "r"):
        raise user_error(ValueError(f"linalg.qr: unsupported mode {mode!r} (use 'reduced', 'complete' or 'r')"))
    q, r = lax.linalg.qr(_stack("qr", a), full_matrices=mode == "complete")
    return r if mode == "r" else QRResult(q, r)


def eigh(a: Array, UPLO: str | None = None, symmetrize_input: bool = True) -> EighResult:  # noqa: N803
    """Eigenvalues (ascending) and eigenvectors of symmetric matrices."""
    v, w = lax.linalg.eigh(_square("eigh", a), lower=UPLO in (None, "L"), symmetrize_input=symmetrize_input)
    return EighResult(w, v)


def eig(a: Array) -> EigResult:
    """``(eigenvalues, eigenvectors)`` of general square matrices, complex. The eigenvectors are
    the columns, of unit norm, each turned so its largest entry is real and positive (JAX keeps
    LAPACK's sign there, which is not the same on every LAPACK). As in JAX, the eigenvalues are
    differentiable through ``eigvals``, the eigenvectors are not."""
    return EigResult(*lax.linalg.eig(_square("eig", a)))


def eigvals(a: Array) -> Array:
    """Eigenvalues of general square matrices, complex (in LAPACK's order), with a first
    derivative (JAX's rule)."""
    return lax.linalg.eig(_square("eigvals", a), compute_right_eigenvectors=False)[0]


def eigvalsh(a: Array, UPLO: str | None = "L") -> Array:  # noqa: N803
    """Eigenvalues (ascending) of symmetric matrices."""
    return eigh(a, UPLO).eigenvalues


def svd(a: Array, full_matrices: bool = True, compute_uv: bool = True, hermitian: bool = False) -> Any:
    """Singular value decomposition ``a = U @ diag(S) @ Vh`` (descending ``S``); just ``S``
    without ``compute_uv``."""
    del hermitian  # the general algorithm is also right for symmetric matrices
    out = lax.linalg.svd(_stack("svd", a), full_matrices=full_matrices, compute_uv=compute_uv)
    return SVDResult(*out) if compute_uv else out


def svdvals(x: Array, /) -> Array:
    """Singular values, descending."""
    return svd(x, compute_uv=False)


# ---------------------------------------------------------------------------- solves
def solve(a: Array, b: Array) -> Array:
    """Solve ``a @ x = b``: ``b`` of shape (..., n) is a vector only when it is 1-D (NumPy 2)."""
    a = _square("solve", a)
    b = _float(b)
    b = astype(b, get_aval(a).dtype) if get_aval(b).dtype != get_aval(a).dtype else b
    a = astype(a, get_aval(b).dtype) if get_aval(b).dtype != get_aval(a).dtype else a
    if get_aval(b).ndim == 1:
        return lax.linalg.solve(a, reshape(b, (-1, 1)))[..., 0]
    return lax.linalg.solve(a, b)


def inv(a: Array) -> Array:
    """Matrix inverse (nan for singular matrices, as the solve it is made of)."""
    a = _square("inv", a)
    return lax.linalg.solve(a, _eye_like(a))


def det(a: Array) -> Array:
    """Determinant."""
    return lax.linalg.det(_square("det", a))


def slogdet(a: Array) -> SlogdetResult:
    """Sign and natural log of the absolute value of the determinant."""
    return SlogdetResult(*lax.linalg.slogdet(_square("slogdet", a)))


def _smax(s: Array) -> Array:
    """The largest singular value, keeping the last axis (0 when there are none)."""
    if get_aval(s).shape[-1] == 0:
        return lax.full(get_aval(s).shape[:-1] + (1,), 0, get_aval(s).dtype)
    return max(s, axis=-1, keepdims=True)


def _default_rtol(a: Array) -> float:
    m, n = get_aval(a).shape[-2:]
    return 10.0 * np.maximum(m, n) * float(np.finfo(get_aval(a).dtype).eps)


def pinv(a: Array, rtol: Any = None, hermitian: bool = False, *, rcond: Any = None) -> Array:
    """Moore-Penrose pseudo-inverse from the SVD, dropping singular values below
    ``rtol * largest`` (default ``10 * max(m, n) * eps``, as JAX). Differentiable where the
    singular values are distinct (JAX's own rule is also defined at repeated ones)."""
    a = _stack("pinv", a)
    rtol = rcond if rtol is None else rtol
    rtol = _default_rtol(a) if rtol is None else rtol
    u, s, vh = svd(a, full_matrices=False)
    cutoff = multiply(asarray(rtol, get_aval(s).dtype), _smax(s))
    keep = greater(s, cutoff)
    s_inv = where(keep, divide(1.0, where(keep, s, 1.0)), 0.0)
    return matmul(multiply(matrix_transpose(vh), s_inv[..., None, :]), matrix_transpose(u))


def lstsq(a: Array, b: Array, rcond: Any = None, *, numpy_resid: bool = False) -> tuple:
    """Least-squares solution of ``a @ x = b``: ``(x, residuals, rank, singular values)``, from
    the SVD (singular values below ``rcond * largest`` count as zero; default ``eps * max(m, n)``)."""
    a, b = _stack("lstsq", a), _float(b)
    vector = get_aval(b).ndim == 1
    b2 = reshape(b, (-1, 1)) if vector else b
    m, n = get_aval(a).shape
    u, s, vh = svd(a, full_matrices=False)
    rc = float(np.finfo(get_aval(a).dtype).eps) * np.maximum(m, n) if rcond is None else rcond
    keep = greater(s, multiply(asarray(rc, get_aval(s).dtype), _smax(s)))
    s_inv = where(keep, divide(1.0, where(keep, s, 1.0)), 0.0)
    x = matmul(matrix_transpose(vh), multiply(s_inv[:, None], matmul(matrix_transpose(u), b2)))
    rank = sum(astype(keep, np.int32))
    r = subtract(b2, matmul(a, x))
    resid = sum(multiply(r, r), axis=0)
    if numpy_resid and m <= n:  # NumPy returns no residuals for under-determined systems
        resid = resid[:0]
    return (x[:, 0] if vector else x), resid, rank, s


def tensorsolve(a: Array, b: Array, axes: Any = None) -> Array:
    """Solve ``tensordot(a, x, x.ndim) = b`` for ``x`` (``axes`` of ``a`` moved to the end first)."""
    a, b = _float(a), _float(b)
    if axes is not None:
        nd = get_aval(a).ndim
        axes = [ax % nd for ax in (axes if isinstance(axes, (tuple, list)) else (axes,))]
        a = moveaxis(a, axes, list(range(nd - len(axes), nd)))
    bshape = get_aval(b).shape
    xshape = get_aval(a).shape[len(bshape):]
    n = int(np.prod(bshape, dtype=np.int64))
    if int(np.prod(xshape, dtype=np.int64)) != n:
        raise located(ShapeError(f"linalg.tensorsolve: a of shape {get_aval(a).shape} is not square for b of "
                                 f"shape {bshape}"))
    return reshape(solve(reshape(a, (n, n)), reshape(b, (n,))), xshape)


def tensorinv(a: Array, ind: int = 2) -> Array:
    """The inverse of ``a`` for ``tensordot(·, ·, ind)``."""
    a = _float(a)
    s = get_aval(a).shape
    out_shape, in_shape = s[:ind], s[ind:]
    n = int(np.prod(out_shape, dtype=np.int64))
    if int(np.prod(in_shape, dtype=np.int64)) != n:
        raise located(ShapeError(f"linalg.tensorinv: shape {s} with ind={ind} is not square"))
    return reshape(inv(reshape(a, (n, n))), tuple(in_shape) + tuple(out_shape))


# ---------------------------------------------------------------------------- products and powers
def matrix_power(a: Array, n: int) -> Array:
    """``a`` multiplied by itself ``n`` times by repeated squaring (``inv(a)`` for negative ``n``)."""
    a = _square("matrix_power", a)
    if int(n) != n:
        raise user_error(TypeError(f"linalg.matrix_power: exponent must be an integer, got {n!r}"))
    n = int(n)
    if n == 0:
        return _eye_like(a)
    if n < 0:
        a, n = inv(a), -n
    result, base = None, a
    while n:
        if n & 1:
            result = base if result is None else matmul(result, base)
        n >>= 1
        if n:
            base = matmul(base, base)
    return result


def multi_dot(arrays: Sequence[Array], *, precision: Any = None) -> Array:
    """``arrays[0] @ arrays[1] @ ...``; the first may be 1-D (a row) and the last 1-D (a column)."""
    arrays = [_as_operand(x) for x in arrays]
    if len(arrays) < 2:
        raise user_error(ValueError("linalg.multi_dot needs at least two arrays"))
    out = arrays[0]
    for x in arrays[1:]:
        out = matmul(out, x)
    return out


def matrix_rank(M: Array, rtol: Any = None, *, tol: Any = None) -> Array:  # noqa: N803
    """The number of singular values above ``tol`` (absolute) or ``rtol * largest``."""
    M = _float(M)
    if get_aval(M).ndim < 2:
        return astype(any_nonzero(M), np.int32)
    s = svdvals(M)
    if tol is None:
        rtol = _default_rtol(M) / 10.0 if rtol is None else rtol
        cut = multiply(asarray(rtol, get_aval(s).dtype), _smax(s))
    else:
        cut = asarray(tol, get_aval(s).dtype)
    return sum(astype(greater(s, cut), np.int32), axis=-1)


def any_nonzero(x: Array) -> Array:
    return sum(astype(not_equal(x, 0), np.int32)) > 0


def vecdot(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """Dot products of vectors along ``axis`` (broadcasting the others)."""
    return sum(multiply(x1, x2), axis=axis)


def diagonal(x: Array, /, *, offset: int = 0) -> Array:
    """Diagonals of the last two axes."""
    from functrace.numpy._tail_shape import diagonal as _diagonal

    return _diagonal(x, offset=offset, axis1=-2, axis2=-1)


def trace(x: Array, /, *, offset: int = 0, dtype: Any = None) -> Array:
    """Traces of the last two axes."""
    x = _as_operand(x)
    if get_aval(x).ndim == 2:
        return _trace(x, offset)
    return sum(diagonal(x, offset=offset), axis=-1)


def cross(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """Cross products of 3-vectors along ``axis``."""
    from functrace.numpy._tail_shape import cross as _cross

    return _cross(x1, x2, axis=axis)


# ---------------------------------------------------------------------------- norms
def vector_norm(x: Array, /, *, axis: Any = None, keepdims: bool = False, ord: Any = 2) -> Array:  # noqa: A002
    """Vector norms over ``axis`` (all axes flattened when None)."""
    x = _float(x)
    if axis is None:
        out = norm(reshape(x, (-1,)), ord=ord, axis=0)
        return reshape(out, (1,) * get_aval(x).ndim) if keepdims else out
    return norm(x, ord=ord, axis=axis, keepdims=keepdims)


def matrix_norm(x: Array, /, *, keepdims: bool = False, ord: Any = "fro") -> Array:  # noqa: A002
    """Matrix norms of the last two axes."""
    return norm(x, ord=ord, axis=(-2, -1), keepdims=keepdims)


def _matrix_norm(x: Array, ord: Any, axis: tuple, keepdims: bool) -> Array:  # noqa: A002
    nd = get_aval(x).ndim
    r, c = (a % nd for a in axis)
    if r == c:
        raise user_error(ValueError("linalg.norm: the two axes of a matrix norm must differ"))
    if ord in (None, "fro"):
        out = sqrt(sum(multiply(x, x), axis=(r, c)))
    elif ord in (1, -1, np.inf, -np.inf):
        red = max if ord in (1, np.inf) else min
        inner_axis, outer_axis = (r, c) if ord in (1, -1) else (c, r)
        sums = sum(abs(x), axis=inner_axis, keepdims=True)
        out = red(sums, axis=outer_axis, keepdims=True)
        out = reshape(out, tuple(d for i, d in enumerate(get_aval(out).shape) if i not in (r, c)))
    elif ord in (2, -2, "nuc"):
        s = svdvals(moveaxis(x, (r, c), (-2, -1)))
        out = max(s, axis=-1) if ord == 2 else min(s, axis=-1) if ord == -2 else sum(s, axis=-1)
    else:
        raise located(FunctraceError(f"invalid norm order {ord!r} for matrices"))
    if keepdims:
        shape = list(get_aval(x).shape)
        shape[r] = shape[c] = 1
        out = reshape(out, tuple(shape))
    return out


def _abs2(x: Array) -> Array:
    """|x|**2 elementwise, real for complex x (as JAX's norm: real(x * conj(x)))."""
    if get_aval(x).dtype.kind == "c":
        from functrace.numpy._complex import conj, real

        return real(multiply(conj(x), x))
    return multiply(x, x)


def norm(x: Array, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:  # noqa: A002
    """Vector norms (``ord`` None/2, 1, inf, -inf, 0, p) and matrix norms (None/"fro", "nuc",
    1, -1, 2, -2, inf, -inf), as ``numpy.linalg.norm``.

    The gradient of the 2-norm at 0 is nan (it divides by the norm), as in NumPy-based autograd.
    """
    x = _float(x)
    nd = get_aval(x).ndim
    if axis is None and ord is None:
        out = sqrt(sum(_abs2(x), axis=None))
        return reshape(out, (1,) * nd) if keepdims else out
    if axis is None:
        if nd not in (1, 2):
            raise user_error(ValueError("linalg.norm: improper number of dimensions to norm (give axis=)"))
        axis = 0 if nd == 1 else (0, 1)
    if isinstance(axis, (tuple, list)) and len(axis) == 2:
        return _matrix_norm(x, ord, tuple(axis), keepdims)
    if isinstance(axis, (tuple, list)):
        if len(axis) != 1:
            raise user_error(ValueError(f"linalg.norm: axis must name one or two axes, got {axis!r}"))
        axis = axis[0]
    if ord is None or ord == 2:
        return sqrt(sum(_abs2(x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return sum(astype(not_equal(x, 0), real_dtype(get_aval(x).dtype)), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    if isinstance(ord, str):
        raise located(FunctraceError(f"invalid norm order {ord!r} for vectors"))
    try:
        p = float(ord)
    except (TypeError, ValueError):
        raise located(FunctraceError(f"invalid norm order {ord!r} for vectors")) from None
    return power(sum(power(abs(x), p), axis=axis, keepdims=keepdims), 1.0 / p)


def cond(x: Array, p: Any = None) -> Array:
    """Condition number: ``s_max / s_min`` for ``p`` None/2 (``s_min / s_max`` for -2), else
    ``norm(x, p) * norm(inv(x), p)``."""
    x = _stack("cond", x)
    if p in (None, 2, -2):
        s = svdvals(x)
        hi, lo = max(s, axis=-1), min(s, axis=-1)
        return divide(hi, lo) if p != -2 else divide(lo, hi)
    xi = inv(x)
    return multiply(norm(x, p, axis=(-2, -1)), norm(xi, p, axis=(-2, -1)))

