"""The long tail of ``jax.numpy``'s shape, indexing and polynomial helpers, composed from
``functrace.numpy``'s own functions. Sizes are static, as in JAX: index helpers whose result
depends only on shapes (``tril_indices``, ``indices``, ``mgrid``) return concrete arrays, and
functions whose result size depends on values (``trim_zeros``, ``roots``, ``extract``) need
concrete inputs (or a static ``size=`` where JAX has one)."""

from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.avals import is_float
from functrace.numpy._core import (
    _as_operand,
    abs,
    asarray,
    astype,
    equal,
    greater,
    less,
    logical_not,
    multiply,
    not_equal,
    power,
    subtract,
    true_divide,
    user_error,
    where,
)
from functrace.numpy._linalg_ops import einsum, matmul
from functrace.numpy._reductions import any, cumsum, sum
from functrace.numpy._shape import (
    atleast_1d,
    broadcast_to,
    concatenate,
    expand_dims,
    flip,
    moveaxis,
    ravel,
    reshape,
    split,
    stack,
    swapaxes,
    transpose,
)
from functrace.tracing import Tracer, get_aval

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


def _at(x: Array) -> Any:
    from functrace.numpy._at import at

    return at(x)


def _arr(x: Any) -> Array:
    return asarray(_as_operand(x))


def _host(x: Any, what: str) -> np.ndarray:
    """The concrete value of ``x``; a specific error when it is abstract (inside ``jit``)."""
    from functrace.errors import ConcretizationError
    from functrace.numpy._sorting import _host as host
    from functrace.tracing import located

    if isinstance(x, Tracer):
        if x.val is None:
            raise located(ConcretizationError(f"{what} has a result whose shape depends on the values of its "
                                              "input, which are abstract here (inside jit); as in JAX, it needs "
                                              "concrete values"))
        return host(x.to_host(what))
    return host(x)


# ---------------------------------------------------------------------------- stacking and splitting
def atleast_2d(*arys: Any) -> Any:
    """Each array with at least two dimensions (1-D arrays become rows)."""
    out = [reshape(a, (1,) * (2 - get_aval(a).ndim) + get_aval(a).shape) if get_aval(a).ndim < 2 else a
           for a in map(_arr, arys)]
    return out[0] if len(out) == 1 else out


def atleast_3d(*arys: Any) -> Any:
    """Each array with at least three dimensions: (N,) -> (1, N, 1), (M, N) -> (M, N, 1)."""
    out = []
    for a in map(_arr, arys):
        s = get_aval(a).shape
        if len(s) == 0:
            a = reshape(a, (1, 1, 1))
        elif len(s) == 1:
            a = reshape(a, (1, s[0], 1))
        elif len(s) == 2:
            a = reshape(a, s + (1,))
        out.append(a)
    return out[0] if len(out) == 1 else out


def column_stack(tup: Sequence[Array]) -> Array:
    """Stack 1-D arrays as columns (2-D arrays as they are)."""
    cols = [reshape(a, (-1, 1)) if get_aval(a).ndim < 2 else a for a in map(_arr, tup)]
    return concatenate(cols, axis=1)


def dstack(tup: Sequence[Array], dtype: Any = None) -> Array:
    """Stack along the third axis."""
    out = concatenate(atleast_3d(*tup) if len(tup) > 1 else [atleast_3d(*tup)], axis=2)
    return astype(out, dtype) if dtype is not None else out


def block(arrays: Any) -> Array:
    """Assemble an array from nested lists of blocks (the innermost lists join along the last axis)."""
    def depth(x):
        return 1 + depth(x[0]) if isinstance(x, list) and x else (1 if isinstance(x, list) else 0)

    d = depth(arrays)
    leaves = []

    def collect(x):
        if isinstance(x, list):
            for y in x:
                collect(y)
        else:
            leaves.append(_arr(x))

    collect(arrays)
    nd = max([d] + [get_aval(a).ndim for a in leaves])

    def rec(x, level):
        if not isinstance(x, list):
            a = _arr(x)
            return reshape(a, (1,) * (nd - get_aval(a).ndim) + get_aval(a).shape)
        return concatenate([rec(y, level + 1) for y in x], axis=-(d - level))

    return rec(arrays, 0)


def hsplit(ary: Array, indices_or_sections: Any) -> list:
    """Split along axis 1 (axis 0 for 1-D arrays)."""
    a = _arr(ary)
    return split(a, indices_or_sections, axis=1 if get_aval(a).ndim > 1 else 0)


def vsplit(ary: Array, indices_or_sections: Any) -> list:
    """Split along axis 0 (arrays of at least 2 dimensions)."""
    a = _arr(ary)
    if get_aval(a).ndim < 2:
        raise user_error(ValueError("vsplit only works on arrays of 2 or more dimensions"))
    return split(a, indices_or_sections, axis=0)


def dsplit(ary: Array, indices_or_sections: Any) -> list:
    """Split along axis 2 (arrays of at least 3 dimensions)."""
    a = _arr(ary)
    if get_aval(a).ndim < 3:
        raise user_error(ValueError("dsplit only works on arrays of 3 or more dimensions"))
    return split(a, indices_or_sections, axis=2)


def unstack(x: Array, /, *, axis: int = 0) -> tuple:
    """The slices of ``x`` along ``axis``."""
    x = _arr(x)
    x = moveaxis(x, axis, 0)
    return tuple(x[i] for i in range(get_aval(x).shape[0]))


def rollaxis(a: Array, axis: int, start: int = 0) -> Array:
    """Move ``axis`` to position ``start`` (NumPy's older spelling of ``moveaxis``)."""
    a = _arr(a)
    n = get_aval(a).ndim
    axis %= n
    start = start + n if start < 0 else start
    if axis < start:
        start -= 1
    return moveaxis(a, axis, start)


def rot90(m: Array, k: int = 1, axes: tuple = (0, 1)) -> Array:
    """Rotate by 90 degrees ``k`` times in the plane of ``axes``."""
    m = _arr(m)
    k %= 4
    a0, a1 = axes
    if k == 0:
        return m
    if k == 2:
        return flip(flip(m, a0), a1)
    perm = list(range(get_aval(m).ndim))
    perm[a0 % len(perm)], perm[a1 % len(perm)] = perm[a1 % len(perm)], perm[a0 % len(perm)]
    return transpose(flip(m, a1), perm) if k == 1 else flip(transpose(m, perm), a1)


def append(arr: Array, values: Array, axis: int | None = None) -> Array:
    """``values`` appended to ``arr`` (both flattened without ``axis``)."""
    if axis is None:
        return concatenate([ravel(_arr(arr)), ravel(_arr(values))])
    return concatenate([_arr(arr), _arr(values)], axis=axis)


def _static_indices(obj: Any, n: int, what: str) -> np.ndarray:
    if isinstance(obj, slice):
        return np.arange(n)[obj]
    return np.asarray(_host(obj, what) if isinstance(obj, Tracer) else obj)


def delete(arr: Array, obj: Any, axis: int | None = None, *, assume_unique_indices: bool = False) -> Array:
    """``arr`` without the entries at ``obj`` (static indices, a slice or a boolean mask) along ``axis``."""
    a = _arr(arr)
    if axis is None:
        a, axis = ravel(a), 0
    n = get_aval(a).shape[axis]
    idx = _static_indices(obj, n, "delete")
    keep = np.ones(n, bool)
    if idx.dtype == bool:
        keep = ~idx
    else:
        keep[idx.astype(np.int64) % max(n, 1)] = False
    return lax.gather(a, np.nonzero(keep)[0], axis % get_aval(a).ndim) if keep.sum() != n else a


def insert(arr: Array, obj: Any, values: Array, axis: int | None = None) -> Array:
    """``values`` inserted before the static indices ``obj`` along ``axis`` (NumPy's rules)."""
    a = _arr(arr)
    if axis is None:
        a, axis = ravel(a), 0
    nd = get_aval(a).ndim
    axis %= nd
    n = get_aval(a).shape[axis]
    idx = _static_indices(obj, n, "insert")
    scalar_index = idx.ndim == 0
    idx = np.atleast_1d(idx).astype(np.int64)
    idx = np.where(idx < 0, idx + n, idx)
    v = _arr(values)
    if get_aval(v).dtype != get_aval(a).dtype:
        v = astype(v, get_aval(a).dtype)
    shape = list(get_aval(a).shape)
    if scalar_index:
        vshape = shape.copy()
        vshape[axis] = 1 if get_aval(v).ndim < nd else get_aval(v).shape[axis]
        v = broadcast_to(v if get_aval(v).ndim == nd else expand_dims(v, axis) if get_aval(v).ndim == nd - 1
                         else v, tuple(vshape))
        idx = np.full(vshape[axis], idx[0])
    else:
        vshape = shape.copy()
        vshape[axis] = len(idx)
        v = broadcast_to(v, tuple(vshape))
    order = np.argsort(idx, kind="stable")
    m = len(idx)
    # positions of the new entries in the result, and of the old ones
    new_pos = idx[order] + np.arange(m)
    old_pos = np.setdiff1d(np.arange(n + m), new_pos)
    combined = concatenate([a, lax.gather(v, order, axis)], axis=axis)
    src = np.empty(n + m, np.int64)
    src[old_pos] = np.arange(n)
    src[new_pos] = n + np.arange(m)
    return lax.gather(combined, src, axis)


def resize(a: Array, new_shape: Any) -> Array:
    """``a`` flattened, repeated cyclically (or cut) to fill ``new_shape``."""
    a = ravel(_arr(a))
    shape = (new_shape,) if isinstance(new_shape, int) else tuple(new_shape)
    total = int(np.prod(shape, dtype=np.int64))
    n = get_aval(a).shape[0]
    if n == 0 or total == 0:
        return multiply(reshape(concatenate([a, a])[:0], (0,)), 0) if total == 0 else \
            reshape(lax.full((total,), 0, get_aval(a).dtype), shape)
    return reshape(lax.gather(a, np.arange(total) % n, 0), shape)


def trim_zeros(filt: Array, trim: str = "fb") -> Array:
    """``filt`` (1-D) without its leading (``f``) and/or trailing (``b``) zeros; needs concrete values."""
    a = _arr(filt)
    nz = np.nonzero(_host(not_equal(a, 0), "trim_zeros"))[0]
    if nz.size == 0:
        return a[:0]
    lo = nz[0] if "f" in trim.lower() else 0
    hi = nz[-1] + 1 if "b" in trim.lower() else get_aval(a).shape[0]
    return a[int(lo):int(hi)]


def diagonal(a: Array, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Array:
    """The ``offset`` diagonal of the plane (``axis1``, ``axis2``), as the last axis of the result."""
    a = _arr(a)
    nd = get_aval(a).ndim
    a = moveaxis(a, (axis1 % nd, axis2 % nd), (-2, -1))
    r, c = get_aval(a).shape[-2:]
    rows = np.arange(max(0, -offset), min(r, c - offset)) if min(r, c - offset) > max(0, -offset) else np.arange(0)
    lead = get_aval(a).shape[:-2]
    flat = reshape(a, lead + (r * c,))
    return lax.gather(flat, (rows * c + rows + offset).astype(np.int64), len(lead))


def diagflat(v: Array, k: int = 0) -> Array:
    """A 2-D array with the flattened ``v`` on its ``k``-th diagonal."""
    from functrace.numpy._shape import diag

    return diag(ravel(_arr(v)), k)


def fill_diagonal(a: Array, val: Any, wrap: bool = False, *, inplace: bool = True) -> Array:
    """A copy of ``a`` with ``val`` on its main diagonal (JAX requires ``inplace=False``)."""
    if inplace:
        raise user_error(NotImplementedError("fill_diagonal: functrace arrays are immutable; pass inplace=False "
                                             "and use the result (as in JAX)"))
    a = _arr(a)
    s = get_aval(a).shape
    n = min(s) if len(s) > 2 or not wrap else s[1]
    if len(s) == 2:
        step = s[1] + 1
        end = s[1] * s[1] if not wrap else s[0] * s[1]
        pos = np.arange(0, min(end, s[0] * s[1]), step)
    else:
        pos = np.ravel_multi_index((np.arange(n),) * len(s), s)
    flat = ravel(a)
    vals = ravel(astype(_arr(val), get_aval(a).dtype))
    vals = lax.gather(broadcast_to(vals, (max(get_aval(vals).shape[0], 1),)), np.arange(len(pos)) %
                      max(get_aval(vals).shape[0], 1), 0)
    return reshape(_at(flat)[pos].set(vals), s)


# ---------------------------------------------------------------------------- index helpers
def tril_indices(n: int, k: int = 0, m: int | None = None) -> tuple:
    """Row and column indices of the lower triangle."""
    return tuple(asarray(i.astype(np.int32)) for i in np.tril_indices(n, k, m))


def triu_indices(n: int, k: int = 0, m: int | None = None) -> tuple:
    """Row and column indices of the upper triangle."""
    return tuple(asarray(i.astype(np.int32)) for i in np.triu_indices(n, k, m))


def tril_indices_from(arr: Array, k: int = 0) -> tuple:
    s = get_aval(_arr(arr)).shape
    return tril_indices(s[-2], k, s[-1])


def triu_indices_from(arr: Array, k: int = 0) -> tuple:
    s = get_aval(_arr(arr)).shape
    return triu_indices(s[-2], k, s[-1])


def diag_indices(n: int, ndim: int = 2) -> tuple:
    """Indices of the main diagonal of an ``ndim``-dimensional array of side ``n``."""
    return tuple(asarray(np.arange(n, dtype=np.int32)) for _ in range(ndim))


def diag_indices_from(arr: Array) -> tuple:
    s = get_aval(_arr(arr)).shape
    if len(set(s)) != 1:
        raise user_error(ValueError("diag_indices_from needs an array with all dimensions equal"))
    return diag_indices(s[0], len(s))


def mask_indices(n: int, mask_func: Callable, k: int = 0, *, size: int | None = None) -> tuple:
    """Indices where ``mask_func(ones((n, n)), k)`` is non-zero."""
    from functrace.numpy._sorting import nonzero

    return nonzero(mask_func(np.ones((n, n), np.int32), k), size=size)


def indices(dimensions: Sequence[int], dtype: Any = np.int32, sparse: bool = False) -> Any:
    """A grid of indices (``sparse``: broadcastable ones)."""
    out = np.indices(tuple(dimensions), dtype=dtype, sparse=sparse)
    return tuple(asarray(x) for x in out) if sparse else asarray(out)


def meshgrid(*xi: Array, copy: bool = True, sparse: bool = False, indexing: str = "xy") -> list:
    """Coordinate matrices from coordinate vectors (``indexing`` "xy" or "ij")."""
    xs = [ravel(_arr(x)) for x in xi]
    n = len(xs)
    out = []
    for i, x in enumerate(xs):
        shape = [1] * n
        shape[i] = -1
        out.append(reshape(x, tuple(shape)))
    if indexing == "xy" and n > 1:
        out = [swapaxes(o, 0, 1) for o in out]
    if sparse:
        return out
    shape = np.broadcast_shapes(*[get_aval(o).shape for o in out])
    return [broadcast_to(o, shape) for o in out]


def ix_(*args: Array) -> tuple:
    """Open-mesh index arrays from 1-D sequences."""
    n = len(args)
    out = []
    for i, a in enumerate(args):
        a = _arr(a)
        if get_aval(a).dtype == np.bool_:
            a = asarray(np.nonzero(_host(a, "ix_"))[0])
        shape = [1] * n
        shape[i] = get_aval(a).shape[0]
        out.append(reshape(a, tuple(shape)))
    return tuple(out)


def ravel_multi_index(multi_index: Sequence[Array], dims: Sequence[int], mode: str = "raise",
                      order: str = "C") -> Array:
    """Flat indices of index arrays in an array of shape ``dims`` (``mode`` "clip" or "wrap"; "raise"
    checks concrete indices)."""
    strides = np.cumprod((1,) + tuple(dims[::-1]))[:-1][::-1] if order == "C" else np.cumprod((1,) + tuple(dims))[:-1]
    total = 0
    for idx, d, st in zip(multi_index, dims, strides, strict=True):
        i = _arr(idx)
        if mode == "clip":
            i = where(less(i, 0), 0, where(greater(i, d - 1), d - 1, i))
        elif mode == "wrap":
            from functrace.numpy._core import remainder

            i = remainder(i, d)
        elif not (isinstance(i, Tracer) and i.val is None):
            h = _host(i, "ravel_multi_index")
            if h.size and (h.min() < 0 or h.max() >= d):
                raise user_error(ValueError("ravel_multi_index: invalid entry in coordinates array"))
        total = total + multiply(i, int(st))
    return total


def unravel_index(indices: Array, shape: Sequence[int]) -> tuple:
    """Index arrays into an array of ``shape`` from flat indices (out-of-range ones clipped, as JAX)."""
    from functrace.numpy._core import floor_divide, remainder

    i = _arr(indices)
    total = int(np.prod(shape, dtype=np.int64))
    i = where(less(i, 0), i + total, i)
    i = where(less(i, 0), 0, where(greater(i, total - 1), total - 1, i))
    out = []
    for d in reversed(tuple(shape)):
        out.append(remainder(i, d))
        i = floor_divide(i, d)
    return tuple(reversed(out))


# ---------------------------------------------------------------------------- selection
def select(condlist: Sequence[Array], choicelist: Sequence[Array], default: Any = 0) -> Array:
    """The first choice whose condition holds, elementwise (else ``default``)."""
    if len(condlist) != len(choicelist):
        raise user_error(ValueError("select: condlist and choicelist must have the same length"))
    out = _arr(default)
    for c, x in reversed(list(zip(condlist, choicelist, strict=True))):
        out = where(c, x, out)
    return out


def piecewise(x: Array, condlist: Any, funclist: Sequence[Any], *args: Any, **kw: Any) -> Array:
    """``funclist[i](x)`` where ``condlist[i]`` holds (a constant for a non-callable; an extra
    function is the default)."""
    x = _arr(x)
    conds = [condlist] if not isinstance(condlist, (list, tuple)) else list(condlist)
    out = multiply(x, 0)
    funcs = list(funclist)
    if len(funcs) == len(conds) + 1:
        default = funcs.pop()
        none = logical_not(any(stack([_arr(c) for c in conds]), axis=0)) if conds else equal(x, x)
        conds.append(none)
        funcs.append(default)
    for c, f in zip(conds, funcs, strict=True):
        val = f(x, *args, **kw) if callable(f) else f
        out = where(c, val, out)
    return astype(out, get_aval(x).dtype)


def compress(condition: Array, a: Array, axis: int | None = None, *, size: int | None = None,
             fill_value: Any = 0) -> Array:
    """The slices of ``a`` where the (concrete, or ``size``-padded) 1-D ``condition`` holds."""
    from functrace.numpy._sorting import nonzero

    a = _arr(a)
    if axis is None:
        a, axis = ravel(a), 0
    c = ravel(_arr(condition))
    n = get_aval(a).shape[axis]
    c = c[:n]
    (idx,) = nonzero(c, size=size, fill_value=n)
    out = lax.gather(concatenate([a, lax.full(tuple(1 if i == axis % get_aval(a).ndim else d for i, d in
                                                    enumerate(get_aval(a).shape)), fill_value, get_aval(a).dtype)],
                                 axis=axis), astype(idx, np.int64), axis % get_aval(a).ndim)
    return out


def extract(condition: Array, arr: Array, *, size: int | None = None, fill_value: Any = 0) -> Array:
    """The entries of ``arr`` where ``condition`` holds, flattened."""
    return compress(ravel(_arr(condition)), ravel(_arr(arr)), size=size, fill_value=fill_value)


def choose(a: Array, choices: Sequence[Array], out: None = None, mode: str = "raise") -> Array:
    """Entries picked from ``choices[a]`` elementwise (``mode`` "clip" or "wrap"; "raise"
    checks concrete indices)."""
    from functrace.numpy._core import remainder

    a = _arr(a)
    n = len(choices)
    if mode == "clip":
        a = where(less(a, 0), 0, where(greater(a, n - 1), n - 1, a))
    elif mode == "wrap":
        a = remainder(a, n)
    elif not (isinstance(a, Tracer) and a.val is None):
        h = _host(a, "choose")
        if h.size and (h.min() < 0 or h.max() >= n):
            raise user_error(ValueError("choose: invalid entry in choice array"))
    return select([equal(a, i) for i in range(n)], list(choices), 0)


def put(a: Array, ind: Any, v: Array, mode: str | None = None, *, inplace: bool = True) -> Array:
    """A copy of ``a`` with flat positions ``ind`` set to ``v`` (JAX requires ``inplace=False``)."""
    if inplace:
        raise user_error(NotImplementedError("put: functrace arrays are immutable; pass inplace=False and use the "
                                             "result (as in JAX)"))
    a = _arr(a)
    flat = ravel(a)
    idx = ravel(_arr(ind))
    vals = ravel(astype(_arr(v), get_aval(a).dtype))
    k = get_aval(idx).shape[0]
    if get_aval(vals).shape[0] != k:
        vals = lax.gather(vals, np.arange(k) % max(get_aval(vals).shape[0], 1), 0)
    return reshape(_at(flat)[idx].set(vals, mode=mode or "fill"), get_aval(a).shape)


def put_along_axis(arr: Array, indices: Array, values: Array, axis: int | None, inplace: bool = True,
                   *, mode: str | None = None) -> Array:
    """A copy of ``arr`` with ``values`` written at ``indices`` along ``axis``."""
    if inplace:
        raise user_error(NotImplementedError("put_along_axis: functrace arrays are immutable; pass inplace=False "
                                             "(as in JAX)"))
    a = _arr(arr)
    if axis is None:
        a, axis = ravel(a), 0
    idx = _arr(indices)
    s = get_aval(a).shape
    axis %= len(s)
    grids = np.indices(get_aval(idx).shape, sparse=True)
    index = tuple(idx if i == axis else asarray(g) for i, g in enumerate(grids))
    vals = broadcast_to(astype(_arr(values), get_aval(a).dtype), get_aval(idx).shape)
    return _at(a)[index].set(vals)


def place(arr: Array, mask: Array, vals: Array, *, inplace: bool = True) -> Array:
    """A copy of ``arr`` with the masked entries set from ``vals`` in order (repeating)."""
    if inplace:
        raise user_error(NotImplementedError("place: functrace arrays are immutable; pass inplace=False (as in JAX)"))
    a = _arr(arr)
    m = ravel(_arr(mask))
    pos = astype(cumsum(astype(m, np.int64)) - 1, np.int64)
    v = ravel(astype(_arr(vals), get_aval(a).dtype))
    nv = max(get_aval(v).shape[0], 1)
    from functrace.numpy._core import remainder

    picked = lax.gather(v, remainder(where(m, pos, 0), nv), 0) if get_aval(v).shape[0] else ravel(a)
    return reshape(where(m, picked, ravel(a)), get_aval(a).shape)


# ---------------------------------------------------------------------------- products
def kron(a: Array, b: Array) -> Array:
    """Kronecker product."""
    a, b = _arr(a), _arr(b)
    nd = max(get_aval(a).ndim, get_aval(b).ndim)
    a = reshape(a, (1,) * (nd - get_aval(a).ndim) + get_aval(a).shape)
    b = reshape(b, (1,) * (nd - get_aval(b).ndim) + get_aval(b).shape)
    sa, sb = get_aval(a).shape, get_aval(b).shape
    ea = reshape(a, tuple(x for d in sa for x in (d, 1)))
    eb = reshape(b, tuple(x for d in sb for x in (1, d)))
    return reshape(multiply(ea, eb), tuple(x * y for x, y in zip(sa, sb, strict=True)))


def cross(a: Array, b: Array, axisa: int = -1, axisb: int = -1, axisc: int = -1, axis: int | None = None) -> Array:
    """Cross product of 3-vectors (or the z-component for 2-vectors)."""
    if axis is not None:
        axisa = axisb = axisc = axis
    a, b = moveaxis(_arr(a), axisa, -1), moveaxis(_arr(b), axisb, -1)
    na, nb = get_aval(a).shape[-1], get_aval(b).shape[-1]
    if na not in (2, 3) or nb not in (2, 3):
        raise user_error(ValueError("cross: incompatible dimensions for cross product (dimension must be 2 or 3)"))
    a0, a1 = a[..., 0], a[..., 1]
    b0, b1 = b[..., 0], b[..., 1]
    a2 = a[..., 2] if na == 3 else None
    b2 = b[..., 2] if nb == 3 else None
    if na == 2 and nb == 2:
        return subtract(multiply(a0, b1), multiply(a1, b0))
    a2 = multiply(a0, 0) if a2 is None else a2
    b2 = multiply(b0, 0) if b2 is None else b2
    c = stack([a1 * b2 - a2 * b1, a2 * b0 - a0 * b2, a0 * b1 - a1 * b0], axis=-1)
    return moveaxis(c, -1, axisc)


def vander(x: Array, N: int | None = None, increasing: bool = False) -> Array:  # noqa: N803
    """Columns are powers of ``x`` (decreasing unless ``increasing``)."""
    x = _arr(x)
    n = get_aval(x).shape[0] if N is None else N
    p = np.arange(n) if increasing else np.arange(n)[::-1].copy()
    return power(expand_dims(x, 1), p.astype(get_aval(x).dtype if not is_float(get_aval(x).dtype) else np.int32))


def matvec(x1: Array, x2: Array, /) -> Array:
    """Matrix-vector products over broadcast batches."""
    return matmul(_arr(x1), expand_dims(_arr(x2), -1))[..., 0]


def vecmat(x1: Array, x2: Array, /) -> Array:
    """Vector-matrix products over broadcast batches."""
    return matmul(expand_dims(_arr(x1), -2), _arr(x2))[..., 0, :]


def vecdot(x1: Array, x2: Array, /, *, axis: int = -1) -> Array:
    """Dot products along ``axis``."""
    return sum(multiply(_arr(x1), _arr(x2)), axis=axis)


def matrix_transpose(x: Array, /) -> Array:
    """Swap the last two axes."""
    return swapaxes(_arr(x), -1, -2)


def broadcast_shapes(*shapes: Sequence[int]) -> tuple:
    """The shape the given shapes broadcast to."""
    return tuple(np.broadcast_shapes(*shapes))


def einsum_path(subscripts: str, *operands: Any, optimize: Any = "greedy") -> tuple:
    """NumPy's contraction path for ``einsum`` (computed on the shapes alone)."""
    dummies = [np.empty(get_aval(_as_operand(o)).shape, np.float32) for o in operands]
    return np.einsum_path(subscripts, *dummies, optimize=optimize)


def apply_along_axis(func1d: Callable, axis: int, arr: Array, *args: Any, **kwargs: Any) -> Array:
    """``func1d`` applied to 1-D slices along ``axis`` (by ``vmap`` over the other axes)."""
    from functrace import vmap

    a = _arr(arr)
    nd = get_aval(a).ndim
    axis %= nd
    # the kept axis last, then one vmap per other axis
    a2 = moveaxis(a, axis, -1)
    g = lambda v: func1d(v, *args, **kwargs)  # noqa: E731
    for _ in range(nd - 1):
        g = vmap(g)
    out = g(a2)
    out_nd = get_aval(out).ndim - (nd - 1)
    if out_nd == 0:
        return out
    return moveaxis(out, tuple(range(nd - 1, nd - 1 + out_nd)), tuple(range(axis, axis + out_nd)))


def apply_over_axes(func: Callable, a: Array, axes: Sequence[int]) -> Array:
    """``func(a, axis)`` applied repeatedly over ``axes``, keeping dimensions."""
    a = _arr(a)
    for ax in axes if not isinstance(axes, int) else [axes]:
        b = func(a, ax)
        if get_aval(b).ndim == get_aval(a).ndim - 1:
            b = expand_dims(b, ax)
        a = b
    return a


def fromfunction(function: Callable, shape: Sequence[int], *, dtype: Any = float, **kwargs: Any) -> Any:
    """``function`` called on the grid of indices of ``shape``."""
    grids = np.indices(tuple(shape), dtype=dtype)
    return function(*[asarray(g) for g in grids], **kwargs)


# ---------------------------------------------------------------------------- vectorize
class vectorize:  # noqa: N801 -- NumPy's name
    """Turn a function of scalars (or of core arrays, with ``signature``) into one that maps over
    leading axes, by ``vmap`` (as ``jax.numpy.vectorize``)."""

    def __init__(self, pyfunc: Callable, *, excluded: Any = frozenset(), signature: str | None = None) -> None:
        self.pyfunc = pyfunc
        self.excluded = set(excluded)
        self.signature = signature
        functools.update_wrapper(self, pyfunc)

    def _core_dims(self, n: int) -> tuple:
        if self.signature is None:
            return [()] * n, None
        ins, outs = self.signature.replace(" ", "").split("->")

        def parse(s):
            import re

            return [tuple(d for d in g.split(",") if d) for g in re.findall(r"\(([^)]*)\)", s)]

        return parse(ins), parse(outs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        from functrace import vmap

        excluded = {i for i in self.excluded if isinstance(i, int)}
        dyn = [i for i in range(len(args)) if i not in excluded]
        core_in, _ = self._core_dims(len(dyn))
        arrs = [_arr(args[i]) for i in dyn]
        ncore = [len(c) for c in core_in]
        batch = np.broadcast_shapes(*[get_aval(a).shape[:get_aval(a).ndim - k] for a, k in zip(arrs, ncore,
                                                                                                  strict=True)])
        arrs = [broadcast_to(a, tuple(batch) + get_aval(a).shape[get_aval(a).ndim - k:]) for a, k in zip(arrs, ncore,
                                                                                                         strict=True)]

        def call(*dargs):
            full = list(args)
            for i, v in zip(dyn, dargs, strict=True):
                full[i] = v
            return self.pyfunc(*full, **kwargs)

        f = call
        for _ in batch:
            f = vmap(f)
        return f(*arrs)


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
    """Coefficients of the monic polynomial with the given roots (or of a matrix's
    characteristic polynomial, from its eigenvalues when symmetric)."""
    z = _arr(seq_of_zeros)
    if get_aval(z).ndim == 2:
        from functrace.numpy.linalg import eigvalsh

        z = eigvalsh(z)
    z = astype(z, np.result_type(get_aval(z).dtype, np.float16)) if not is_float(get_aval(z).dtype) else z
    c = asarray(np.ones(1, get_aval(z).dtype))
    for i in range(get_aval(z).shape[0]):
        c = polymul(c, stack([asarray(np.asarray(1, get_aval(z).dtype)), -z[i]]))
    return c


def roots(p: Array, *, strip_zeros: bool = True) -> Array:
    """Roots of the polynomial ``p``: the eigenvalues of its companion matrix, computed with
    NumPy on concrete coefficients (complex roots have no traced representation)."""
    vals = np.roots(_host(_arr(p), "roots"))
    if np.iscomplexobj(vals):
        if np.allclose(vals.imag, 0):
            vals = vals.real
        else:
            raise user_error(NotImplementedError("roots: this polynomial has complex roots, and functrace has no "
                                                 "complex arrays; compute them with numpy.roots"))
    return asarray(vals)


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
