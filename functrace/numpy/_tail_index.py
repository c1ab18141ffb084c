"""The long tail of ``jax.numpy``: index helpers (``tril_indices``, ``meshgrid``, ``ix_``, ...) and
selection (``select``, ``compress``, ``choose``, ``put``, ...); re-exported by ``_tail_shape``."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.numpy._core import (
    asarray,
    astype,
    equal,
    greater,
    less,
    logical_not,
    multiply,
    user_error,
    where,
)
from functrace.numpy._reductions import any, cumsum
from functrace.numpy._shape import (
    broadcast_to,
    concatenate,
    ravel,
    reshape,
    stack,
    swapaxes,
)
from functrace.numpy._tail_stack import _arr, _at, _host
from functrace.tracing import Tracer, get_aval

Array = Any


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
