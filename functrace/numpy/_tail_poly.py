"""The long tail of ``jax.numpy``: polynomials, and set operations on concrete values;
re-exported by ``_tail_shape``."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.numpy._arith import remainder
from functrace.numpy._core import (
    asarray,
    astype,
    equal,
    less,
    multiply,
    true_divide,
    user_error,
    where,
)
from functrace.numpy._creation import arange
from functrace.numpy._indexing import take
from functrace.numpy._linalg_ops import einsum
from functrace.numpy._reductions import all, argmin, sum
from functrace.numpy._shape import (
    atleast_1d,
    concatenate,
    expand_dims,
    stack,
)
from functrace.numpy._sort_search import argsort
from functrace.numpy._tail_products import vander
from functrace.numpy._tail_stack import _arr, _host
from functrace.tracing import get_aval

Array = Any


# ---------------------------------------------------------------------------- polynomials
def polyval(p: Array, x: Array, *, unroll: int = 16) -> Array:
    """The polynomial with coefficients ``p`` (highest power first) at ``x``, by Horner's rule."""
    p, x = _arr(p), _arr(x)
    n = get_aval(p).shape[0]
    out = multiply(x, 0) + (p[0] if n else 0)
    if n:
        out = astype(out, np.result_type(get_aval(p).dtype, get_aval(x).dtype))
    for i in range(1, n):
        out = out * x + p[i]
    return out


def polyadd(a1: Array, a2: Array) -> Array:
    """Sum of two polynomials."""
    a1, a2 = atleast_1d(_arr(a1)), atleast_1d(_arr(a2))
    n1, n2 = get_aval(a1).shape[0], get_aval(a2).shape[0]
    from functrace.numpy._shape import pad

    if n1 < n2:
        a1 = pad(a1, (n2 - n1, 0))
    elif n2 < n1:
        a2 = pad(a2, (n1 - n2, 0))
    return a1 + a2


def polysub(a1: Array, a2: Array) -> Array:
    """Difference of two polynomials."""
    return polyadd(a1, -_arr(a2))


def polymul(a1: Array, a2: Array, *, trim_leading_zeros: bool = False) -> Array:
    """Product of two polynomials (the full convolution of their coefficients)."""
    a1, a2 = atleast_1d(_arr(a1)), atleast_1d(_arr(a2))
    n1, n2 = get_aval(a1).shape[0], get_aval(a2).shape[0]
    m = np.zeros((n2, n1 + n2 - 1, n1))
    for j in range(n2):
        m[j, j:j + n1, :] = np.eye(n1)
    dt = np.result_type(get_aval(a1).dtype, get_aval(a2).dtype)
    return einsum("j,jki,i->k", astype(a2, dt), m.astype(dt if is_float(dt) else np.float64).astype(dt),
                  astype(a1, dt))


def polydiv(u: Array, v: Array, *, trim_leading_zeros: bool = False) -> tuple:
    """Quotient and remainder of polynomial division (float coefficients)."""
    u, v = _arr(u), _arr(v)
    dt = np.result_type(get_aval(u).dtype, get_aval(v).dtype, np.float16)
    u, v = astype(u, dt), astype(v, dt)
    m, n = get_aval(u).shape[0] - 1, get_aval(v).shape[0] - 1
    scale = true_divide(1.0, v[0])
    q = []
    r = u
    for k in range(0, max(m - n + 1, 0)):
        d = multiply(scale, r[k])
        q.append(d)
        from functrace.numpy._shape import pad

        r = r - pad(multiply(d, v), (k, m - n - k))
    qa = stack(q) if q else lax.full((1,), 0, dt)
    if trim_leading_zeros:  # as NumPy; needs concrete values (JAX keeps the full length)
        hr = _host(r, "polydiv(trim_leading_zeros=True)")
        nz = np.nonzero(~np.isclose(hr, 0, rtol=0, atol=1e-14))[0]
        r = r[int(nz[0]):] if nz.size else r[-1:]
    return qa, r


def polyder(p: Array, m: int = 1) -> Array:
    """The ``m``-th derivative of the polynomial ``p``."""
    p = _arr(p)
    for _ in range(m):
        n = get_aval(p).shape[0] - 1
        if n <= 0:
            return multiply(p[:0], 0)
        p = multiply(p[:-1], np.arange(n, 0, -1).astype(get_aval(p).dtype if is_float(get_aval(p).dtype)
                                                            else get_aval(p).dtype))
    return p


def polyint(p: Array, m: int = 1, k: Any = None) -> Array:
    """The ``m``-th antiderivative of ``p`` with integration constants ``k``."""
    p = _arr(p)
    p = astype(p, np.result_type(get_aval(p).dtype, np.float16)) if not is_float(get_aval(p).dtype) else p
    ks = np.zeros(m) if k is None else np.atleast_1d(np.asarray(k, np.float64))
    if ks.size == 1 and m > 1:
        ks = np.full(m, ks[0])
    for i in range(m):
        n = get_aval(p).shape[0]
        p = concatenate([true_divide(p, np.arange(n, 0, -1).astype(get_aval(p).dtype)),
                         asarray(np.array([ks[i]], get_aval(p).dtype))])
    return p


def poly(seq_of_zeros: Array) -> Array:
    """Coefficients of the monic polynomial with the given roots, or of a square matrix's
    characteristic polynomial (from its eigenvalues: complex coefficients, as in JAX)."""
    z = _arr(seq_of_zeros)
    if get_aval(z).ndim == 2 and get_aval(z).shape[0] == get_aval(z).shape[1] != 0:
        from functrace.numpy.linalg import eigvals

        z = eigvals(z)
    if get_aval(z).ndim == 0:
        z = atleast_1d(z)
    if get_aval(z).ndim != 1:
        raise user_error(ValueError("poly: input must be 1-d or a non-empty square 2-d array"))
    z = astype(z, np.result_type(get_aval(z).dtype, np.float16)) if not is_float(get_aval(z).dtype) else z
    c = asarray(np.ones(1, get_aval(z).dtype))
    for i in range(get_aval(z).shape[0]):
        c = polymul(c, stack([asarray(np.asarray(1, get_aval(z).dtype)), -z[i]]))
    return c


def roots(p: Array, *, strip_zeros: bool = True) -> Array:
    """Roots of the polynomial ``p`` (highest power first): the eigenvalues of its companion
    matrix, always complex (as in JAX; NumPy returns real roots as reals). Leading zeros are
    stripped, which needs concrete coefficients; with ``strip_zeros=False`` (under ``jit``) they
    stay, and each gives a root of nan, listed last."""
    from functrace.errors import ConcretizationError

    p = atleast_1d(_arr(p))
    p = astype(p, np.result_type(get_aval(p).dtype, np.float16)) if not is_float(get_aval(p).dtype) else p
    if get_aval(p).ndim != 1:
        raise user_error(ValueError(f"roots: input must be a rank-1 array, got shape {get_aval(p).shape}"))
    n = get_aval(p).shape[0]
    if n < 2:
        return asarray(np.zeros(0, _complex_dtype(get_aval(p).dtype)))
    is_zero = equal(p, 0)
    leading = where(all(is_zero), n, argmin(is_zero))
    if not strip_zeros:
        return _roots_with_zeros(p, leading)
    try:
        count = int(leading)
    except ConcretizationError as e:
        raise user_error(ConcretizationError(
            "roots: stripping the leading zeros of the coefficients needs their values, which are abstract here "
            "(inside jit); pass strip_zeros=False, which keeps them and gives a nan root for each")) from e
    return _companion_eigenvalues(p[count:])


def _complex_dtype(dt: np.dtype) -> np.dtype:
    return np.dtype(np.complex64 if dt in (np.float16, np.float32, np.complex64) else np.complex128)


def _companion_eigenvalues(p: Array) -> Array:
    """The eigenvalues of the companion matrix of ``p`` (a nonzero leading coefficient)."""
    from functrace.numpy.linalg import eigvals

    n = get_aval(p).shape[0]
    if n < 2:
        return asarray(np.zeros(0, _complex_dtype(get_aval(p).dtype)))
    below = asarray(np.eye(n - 1, k=-1, dtype=get_aval(p).dtype)[1:])  # ones under the diagonal
    first = expand_dims(-true_divide(p[1:], p[0]), 0)
    return eigvals(concatenate([first, below], axis=0))


def _roots_with_zeros(p: Array, leading: Array) -> Array:
    """JAX's roots without stripping: the coefficients rotated so the ``leading`` zeros come
    last (their roots are then 0), those zero roots sorted last and replaced by nan."""
    n = get_aval(p).shape[0]
    p = where(equal(leading, n), asarray(np.ones((), get_aval(p).dtype)), p)  # all zero: no LAPACK error
    rotated = take(p, remainder(arange(n) + leading, n))
    r = _companion_eigenvalues(rotated)
    r = take(r, argsort(equal(r, 0), stable=True))
    nan = asarray(np.array(complex(np.nan, np.nan), get_aval(r).dtype))
    return where(less(arange(n - 1), n - 1 - leading), r, nan)


def polyfit(x: Array, y: Array, deg: int, rcond: Any = None, full: bool = False, w: Array | None = None,
            cov: bool = False) -> Any:
    """Least-squares polynomial fit of degree ``deg`` (coefficients highest power first)."""
    from functrace.numpy.linalg import lstsq

    x, y = _arr(x), _arr(y)
    x = astype(x, np.result_type(get_aval(x).dtype, np.float16)) if not is_float(get_aval(x).dtype) else x
    lhs = vander(x, deg + 1)
    rhs = astype(y, get_aval(x).dtype)
    if w is not None:
        ww = _arr(w)
        lhs = multiply(lhs, expand_dims(ww, 1))
        rhs = multiply(rhs, ww if get_aval(rhs).ndim == 1 else expand_dims(ww, 1))
    scale = __import__("functrace.numpy", fromlist=["sqrt"]).sqrt(sum(multiply(lhs, lhs), axis=0))
    c, resids, rank, s = lstsq(true_divide(lhs, scale), rhs, rcond)
    c = true_divide(c, scale if get_aval(c).ndim == 1 else expand_dims(scale, 1))
    if full:
        return c, resids, rank, s, rcond
    return c


# ---------------------------------------------------------------------------- sets (concrete values)
def _set_result(values: np.ndarray, like: Array, size: int | None, fill_value: Any) -> Array:
    dt = get_aval(like).dtype
    values = values.astype(dt)
    if size is not None:
        fill = values.min() if fill_value is None and values.size else (0 if fill_value is None else fill_value)
        values = np.concatenate([values[:size], np.full(max(size - values.size, 0), fill, dt)])
    return asarray(values)


def intersect1d(ar1: Array, ar2: Array, assume_unique: bool = False, return_indices: bool = False, *,
                size: int | None = None, fill_value: Any = None) -> Any:
    """Sorted common values (needs concrete inputs)."""
    a, b = _arr(ar1), _arr(ar2)
    if return_indices:
        v, i1, i2 = np.intersect1d(_host(a, "intersect1d"), _host(b, "intersect1d"), assume_unique, True)
        return _set_result(v, a, size, fill_value), asarray(i1.astype(np.int32)), asarray(i2.astype(np.int32))
    return _set_result(np.intersect1d(_host(a, "intersect1d"), _host(b, "intersect1d")), a, size, fill_value)


def setdiff1d(ar1: Array, ar2: Array, assume_unique: bool = False, *, size: int | None = None,
              fill_value: Any = None) -> Array:
    """Sorted values of ``ar1`` not in ``ar2`` (needs concrete inputs)."""
    a, b = _arr(ar1), _arr(ar2)
    return _set_result(np.setdiff1d(_host(a, "setdiff1d"), _host(b, "setdiff1d")), a, size, fill_value)


def setxor1d(ar1: Array, ar2: Array, assume_unique: bool = False, *, size: int | None = None,
             fill_value: Any = None) -> Array:
    """Sorted values in exactly one of the inputs (needs concrete inputs)."""
    a, b = _arr(ar1), _arr(ar2)
    return _set_result(np.setxor1d(_host(a, "setxor1d"), _host(b, "setxor1d")), a, size, fill_value)


def union1d(ar1: Array, ar2: Array, *, size: int | None = None, fill_value: Any = None) -> Array:
    """Sorted values in either input (needs concrete inputs)."""
    a, b = _arr(ar1), _arr(ar2)
    return _set_result(np.union1d(_host(a, "union1d"), _host(b, "union1d")), a, size, fill_value)


def sort_complex(a: Array) -> Array:
    """Sorted (real arrays: the plain sort, in a float dtype)."""
    from functrace.numpy._sorting import sort

    a = _arr(a)
    return sort(astype(a, np.result_type(get_aval(a).dtype, np.float32)) if not is_float(get_aval(a).dtype) else a)
