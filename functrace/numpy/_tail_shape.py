"""The long tail of ``jax.numpy``'s shape, indexing and polynomial helpers, composed from
``functrace.numpy``'s own functions. Sizes are static, as in JAX: index helpers whose result
depends only on shapes (``tril_indices``, ``indices``, ``mgrid``) return concrete arrays, and
functions whose result size depends on values (``trim_zeros``, ``roots``, ``extract``) need
concrete inputs (or a static ``size=`` where JAX has one).

The functions live in ``_tail_stack`` (stacking, splitting, diagonals), ``_tail_index`` (index
helpers, selection), ``_tail_products`` (products, ``vectorize``) and ``_tail_poly``
(polynomials, sets); this module keeps the windows and index tricks and the list of names."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace.numpy._core import (
    abs,
    asarray,
    user_error,
)
from functrace.numpy._shape import (
    atleast_1d,
    concatenate,
)
from functrace.numpy._tail_index import (
    choose,
    compress,
    diag_indices,
    diag_indices_from,
    extract,
    indices,
    ix_,
    mask_indices,
    meshgrid,
    piecewise,
    place,
    put,
    put_along_axis,
    ravel_multi_index,
    select,
    tril_indices,
    tril_indices_from,
    triu_indices,
    triu_indices_from,
    unravel_index,
)
from functrace.numpy._tail_poly import (
    intersect1d,
    poly,
    polyadd,
    polyder,
    polydiv,
    polyfit,
    polyint,
    polymul,
    polysub,
    polyval,
    roots,
    setdiff1d,
    setxor1d,
    sort_complex,
    union1d,
)
from functrace.numpy._tail_products import (
    apply_along_axis,
    apply_over_axes,
    broadcast_shapes,
    cross,
    einsum_path,
    fromfunction,
    kron,
    matrix_transpose,
    matvec,
    vander,
    vecdot,
    vecmat,
    vectorize,
)
from functrace.numpy._tail_stack import (
    _arr,
    append,
    atleast_2d,
    atleast_3d,
    block,
    column_stack,
    delete,
    diagflat,
    diagonal,
    dsplit,
    dstack,
    fill_diagonal,
    hsplit,
    insert,
    resize,
    rollaxis,
    rot90,
    trim_zeros,
    unstack,
    vsplit,
)

Array = Any

__all__ = [
    "atleast_2d", "atleast_3d", "block", "column_stack", "dstack", "hsplit", "vsplit", "dsplit", "rot90",
    "diagonal", "diagflat", "tril_indices", "triu_indices", "tril_indices_from", "triu_indices_from",
    "diag_indices", "diag_indices_from", "mask_indices", "meshgrid", "indices", "ix_", "kron", "cross", "vander",
    "insert", "delete", "append", "resize", "trim_zeros", "select", "piecewise", "rollaxis", "unstack",
    "compress", "extract", "choose", "fill_diagonal", "put", "put_along_axis", "place", "ravel_multi_index",
    "unravel_index", "polyval", "polyfit", "polyder", "polyint", "polyadd", "polysub", "polymul", "polydiv",
    "poly", "roots", "vectorize", "apply_along_axis", "apply_over_axes", "einsum_path", "fromfunction",
    "matvec", "vecmat", "vecdot", "matrix_transpose", "broadcast_shapes", "intersect1d", "setdiff1d",
    "setxor1d", "union1d", "sort_complex", "bartlett", "blackman", "hamming", "hanning", "kaiser", "mgrid",
    "ogrid", "r_", "c_", "s_", "index_exp",
]


# ---------------------------------------------------------------------------- windows and index tricks
def _window(name: str) -> Callable:
    np_fn = getattr(np, name)

    def f(M: int) -> Array:  # noqa: N803
        return asarray(np_fn(M).astype(np.float64))

    f.__name__ = name
    f.__doc__ = f"The {name} window of ``M`` points (static, as NumPy computes it)."
    return f


bartlett, blackman, hamming, hanning = (_window(n) for n in ("bartlett", "blackman", "hamming", "hanning"))


def kaiser(M: int, beta: float) -> Array:  # noqa: N803
    """The Kaiser window of ``M`` points."""
    return asarray(np.kaiser(M, beta))


class _Grid:
    def __init__(self, sparse: bool) -> None:
        self.sparse = sparse

    def __getitem__(self, key: Any) -> Any:
        out = (np.ogrid if self.sparse else np.mgrid)[key]
        return [asarray(o) for o in out] if isinstance(out, (list, tuple)) else asarray(out)


mgrid, ogrid = _Grid(False), _Grid(True)
s_, index_exp = np.s_, np.index_exp


class _Concat:
    """``r_[...]`` and ``c_[...]``: concatenation of arrays and slices (``start:stop:step``)."""

    def __init__(self, columns: bool) -> None:
        self.columns = columns

    def __getitem__(self, key: Any) -> Array:
        items = key if isinstance(key, tuple) else (key,)
        parts = []
        for it in items:
            if isinstance(it, slice):
                step = it.step if it.step is not None else 1
                if isinstance(step, complex):
                    parts.append(asarray(np.linspace(it.start or 0, it.stop, int(abs(step)))))
                else:
                    parts.append(asarray(np.arange(it.start or 0, it.stop, step)))
            elif isinstance(it, str):
                raise user_error(NotImplementedError("r_/c_ directive strings are not supported; use concatenate"))
            else:
                parts.append(atleast_1d(_arr(it)))
        if self.columns:
            return column_stack(parts)
        return concatenate(parts)


r_, c_ = _Concat(False), _Concat(True)
