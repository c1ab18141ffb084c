"""Indexed updates, JAX's ``x.at[index].set(v)`` and friends.

Traced values have the ``.at`` property. Eager results are the backend's own arrays
(``numpy.ndarray``, ``torch.Tensor``), which have none: write ``fnp.at(x)[index].set(v)``
there (it works on traced values too). Every update returns a new array; ``x`` is unchanged.

How it works: any NumPy index (ints, slices, ``None``, ``...``, integer and boolean arrays,
traced or not) is turned into the positions it selects in the flattened array (by indexing an
``arange`` of the array's size), and the update is one ``scatter`` of the flattened array at
those positions; ``get`` is one ``gather``.

Out-of-bounds indices (``mode=``), as in JAX: negative indices count from the end once; then
updates drop what is still out of bounds (``"drop"``/``"fill"``, the default) or clamp it
(``"clip"``, and ``"promise_in_bounds"``); ``get`` clamps (the default) or, with ``"fill"``
(or ``"drop"``), gives ``fill_value`` (NaN for floats, the smallest signed / largest unsigned
integer, True) there. Dropping works by a spare slot past the end of each indexed axis.

Repeated indices: ``set`` keeps the last update, ``add``/``multiply``/``min``/``max`` combine
all of them, ``apply`` applies ``func`` once per occurrence (as JAX) when the index is concrete
and once per distinct position when it is traced.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from functrace import lax
from functrace.avals import is_bool, is_float
from functrace.numpy._core import _as_operand, asarray, power, true_divide, user_error
from functrace.ops.scatter import scatter, scatter_max, scatter_min, scatter_mul
from functrace.tracing import Tracer, get_aval

Array = Any
_MODES = (None, "promise_in_bounds", "clip", "drop", "fill")


def _is_array_index(k: Any) -> bool:
    if isinstance(k, (Tracer, list, np.ndarray)):
        return True
    return hasattr(k, "shape") and hasattr(k, "dtype") and not isinstance(k, np.generic)


def _expand(index: Any, ndim: int) -> list:
    """The index as a list of ("arr", int array), ("slice", slice) and ("new", None), with the
    ellipsis expanded and boolean masks turned into integer arrays (as NumPy reads them)."""
    from functrace.numpy._indexing import _to_index_array

    key = index if isinstance(index, tuple) else (index,)
    items: list = []
    for k in key:
        if isinstance(k, (bool, np.bool_)):
            raise user_error(TypeError("indexing with a Python bool is not supported; use an array"))
        if isinstance(k, (int, np.integer)):
            items.append(("arr", np.asarray(int(k), np.int64)))
        elif _is_array_index(k):
            items.extend(("arr", a) for a in _to_index_array(k))
        elif isinstance(k, slice):
            items.append(("slice", k))
        elif k is None:
            items.append(("new", None))
        elif k is Ellipsis:
            items.append(("ellipsis", None))
        else:
            raise user_error(TypeError(f"index of type {type(k).__name__} is not supported; use ints, slices, "
                                       "None, Ellipsis or integer/boolean arrays"))
    consuming = sum(kind in ("arr", "slice") for kind, _ in items)
    if sum(kind == "ellipsis" for kind, _ in items) > 1:
        raise user_error(IndexError("an index can only have a single ellipsis ('...')"))
    if consuming > ndim:
        raise user_error(IndexError(f"too many indices for array: array is {ndim}-dimensional, but {consuming} "
                                    "were indexed"))
    out: list = []
    for kind, v in items:
        if kind == "ellipsis":
            out.extend(("slice", slice(None)) for _ in range(ndim - consuming))
        else:
            out.append((kind, v))
    if not any(kind == "ellipsis" for kind, _ in items):
        out.extend(("slice", slice(None)) for _ in range(ndim - consuming))
    return out


def _adjust(idx: Any, n: int, pad: bool) -> Any:
    """Indices into an axis of size ``n``: negative ones wrapped once, then out-of-range ones
    sent to the spare slot ``n`` (``pad``) or clamped into range."""
    if isinstance(idx, Tracer):
        from functrace.numpy._core import clip, logical_or, where

        idx = where(idx < 0, idx + n, idx)
        if pad:
            return where(logical_or(idx < 0, idx >= n), n, idx)
        return clip(idx, 0, max(n - 1, 0))
    v = np.asarray(idx.detach().cpu().numpy() if hasattr(idx, "detach") else idx).astype(np.int64)
    v = np.where(v < 0, v + n, v)
    return np.where((v < 0) | (v >= n), n, v) if pad else np.clip(v, 0, max(n - 1, 0))


def _positions(shape: tuple, index: Any, pad: bool) -> tuple[Any, tuple]:
    """The flat positions ``index`` selects in an array of ``shape`` whose array-indexed axes
    have one spare slot at the end when ``pad``; and that padded shape."""
    items = _expand(index, len(shape))
    key, pshape, ax = [], list(shape), 0
    for kind, v in items:
        if kind == "new":
            key.append(None)
            continue
        n = shape[ax]
        if kind == "arr":
            key.append(_adjust(v, n, pad))
            spare = pad and (isinstance(key[-1], Tracer) or bool(np.any(key[-1] == n)))
            pshape[ax] = n + 1 if spare else n  # the spare slot only where an index needs it
        else:  # a slice of the unpadded axis, spelled so that it never reaches the spare slot
            start, stop, step = v.indices(n)
            key.append(slice(start, None if stop < 0 else stop, step))
        ax += 1
    if not any(isinstance(k, Tracer) for k in key):
        # NumPy indexes each axis's coordinates, broadcast without copying: memory in the size
        # of the selection, not of the array.
        pos, stride = np.zeros((), np.int64), 1
        for ax in reversed(range(len(pshape))):
            coords = np.arange(pshape[ax], dtype=np.int64).reshape([-1 if i == ax else 1 for i in range(len(pshape))])
            pos = pos + np.broadcast_to(coords, pshape)[tuple(key)] * stride
            stride *= pshape[ax]
        return np.asarray(pos, np.int64), tuple(pshape)
    from functrace.numpy._indexing import getitem

    grid = np.arange(int(np.prod(pshape, dtype=np.int64)), dtype=np.int64).reshape(pshape)
    return getitem(grid, tuple(key)), tuple(pshape)


def _default_fill(dtype: np.dtype) -> Any:
    if is_float(dtype):
        return np.nan
    if is_bool(dtype):
        return True
    info = np.iinfo(dtype)
    return info.min if info.min < 0 else info.max


class _IndexedUpdate:
    """``x.at[index]``: the update methods. Each returns a new array."""

    __slots__ = ("array", "index")

    def __init__(self, array: Array, index: Any):
        self.array = array
        self.index = index

    def __repr__(self) -> str:
        return f"_IndexedUpdate({self.array!r}, {self.index!r})"

    # -- the pieces
    def _scatter(self, kind: Callable, values: Array, mode: str | None, fill_base: Array | None = None,
                 **kw: Any) -> Array:
        x = _as_operand(self.array)
        x = asarray(x) if isinstance(x, (bool, int, float, complex)) else x
        xa = get_aval(x)
        if mode not in _MODES:
            raise user_error(ValueError(f"mode must be one of {_MODES}, got {mode!r}"))
        pad = mode in (None, "drop", "fill")
        pos, pshape = _positions(xa.shape, self.index, pad)
        base = x if fill_base is None else fill_base
        if pshape != xa.shape:
            base = lax.pad(base, np.zeros((), xa.dtype)[()], [(0, p - n, 0) for p, n in zip(pshape, xa.shape,
                                                                                             strict=True)])
        v = asarray(values)
        v = lax.convert_element_type(v, xa.dtype)
        pa = get_aval(pos)
        from functrace.numpy._shape import broadcast_to

        v = broadcast_to(v, pa.shape)
        flat = lax.reshape(base, (int(np.prod(pshape, dtype=np.int64)),))
        out = lax.reshape(kind(flat, lax.reshape(asarray(pos), (pa.size,)), lax.reshape(v, (pa.size,)), 0, **kw),
                          pshape)
        if pshape != xa.shape:
            out = lax.slice(out, (0,) * xa.ndim, xa.shape)
        return out

    def _ones(self) -> Array:
        x = asarray(_as_operand(self.array))
        return lax.full(get_aval(x).shape, 1, get_aval(x).dtype)

    # -- the methods
    def get(self, *, indices_are_sorted: bool = False, unique_indices: bool = False, mode: str | None = None,
            fill_value: Any = None, out_sharding: Any = None) -> Array:
        """``x[index]``; out-of-bounds indices clamp, or give ``fill_value`` with ``mode="fill"``."""
        x = asarray(_as_operand(self.array))
        xa = get_aval(x)
        if mode not in _MODES:
            raise user_error(ValueError(f"mode must be one of {_MODES}, got {mode!r}"))
        pad = mode in ("drop", "fill")
        pos, pshape = _positions(xa.shape, self.index, pad)
        if pad:
            fill = _default_fill(xa.dtype) if fill_value is None else fill_value
            x = lax.pad(x, np.asarray(fill, xa.dtype)[()], [(0, p - n, 0) for p, n in zip(pshape, xa.shape,
                                                                                           strict=True)])
        flat = lax.reshape(x, (int(np.prod(pshape, dtype=np.int64)),))
        return lax.gather(flat, asarray(pos), 0)

    def set(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,
            mode: str | None = None) -> Array:
        """``x[index] = values`` (the last of repeated indices wins)."""
        return self._scatter(scatter, values, mode)

    def add(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,
            mode: str | None = None) -> Array:
        """``x[index] += values``, adding every repeated index."""
        return self._scatter(lax.scatter_add, values, mode)

    def subtract(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,
                 mode: str | None = None) -> Array:
        """``x[index] -= values``, subtracting every repeated index."""
        from functrace.numpy._core import negative

        return self._scatter(lax.scatter_add, negative(asarray(values)), mode)

    def multiply(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,
                 mode: str | None = None) -> Array:
        """``x[index] *= values``, multiplying in every repeated index. (The derivative in
        ``values`` needs unique indices, as in JAX: say so with ``unique_indices=True`` when the
        index is traced.)"""
        return self._scatter(scatter_mul, values, mode, unique_indices=unique_indices)

    mul = multiply

    def divide(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,
               mode: str | None = None) -> Array:
        """``x[index] /= values`` (true division, as JAX: integer arrays give floats)."""
        return true_divide(self.array, self._scatter(scatter_mul, values, mode, fill_base=self._ones(),
                                                     unique_indices=unique_indices))

    def power(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,
              mode: str | None = None) -> Array:
        """``x[index] **= values`` (repeated indices multiply their exponents, as JAX)."""
        return power(self.array, self._scatter(scatter_mul, values, mode, fill_base=self._ones(),
                                               unique_indices=unique_indices))

    def min(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,  # noqa: A003
            mode: str | None = None) -> Array:
        """``x[index] = minimum(x[index], values)`` over every repeated index."""
        return self._scatter(scatter_min, values, mode)

    def max(self, values: Array, *, indices_are_sorted: bool = False, unique_indices: bool = False,  # noqa: A003
            mode: str | None = None) -> Array:
        """``x[index] = maximum(x[index], values)`` over every repeated index."""
        return self._scatter(scatter_max, values, mode)

    def apply(self, func: Callable[[Array], Array], *, indices_are_sorted: bool = False,
              unique_indices: bool = False, mode: str | None = None) -> Array:
        """``x[index] = func(x[index])`` for an elementwise ``func``. As JAX, a position that the
        index names k times gets ``func`` applied k times, when the index is concrete; a traced
        index applies ``func`` once per distinct position."""
        x = asarray(_as_operand(self.array))
        xa = get_aval(x)
        if mode not in _MODES:
            raise user_error(ValueError(f"mode must be one of {_MODES}, got {mode!r}"))
        pos, pshape = _positions(xa.shape, self.index, mode in (None, "drop", "fill"))
        if not isinstance(pos, np.ndarray):
            return self._scatter(scatter, func(self.get(mode="clip" if mode in ("clip", "promise_in_bounds")
                                                        else None)), mode)
        # Concrete positions: the distinct real ones (not the spare slots) and how often each is named.
        where, counts = np.unique(pos.reshape(-1), return_counts=True)
        real = np.all([c < n for c, n in zip(np.unravel_index(where, pshape), xa.shape, strict=True)], axis=0)
        where, counts = where[real], counts[real]
        flat_where = np.ravel_multi_index(np.unravel_index(where, pshape), xa.shape).astype(np.int64)
        flat = lax.reshape(x, (xa.size,))
        vals = lax.gather(flat, flat_where, 0)
        for r in range(1, int(counts.max(initial=0)) + 1):
            some = np.nonzero(counts >= r)[0]
            vals = scatter(vals, some, lax.convert_element_type(asarray(func(lax.gather(vals, some, 0))), xa.dtype), 0)
        return lax.reshape(scatter(flat, flat_where, vals, 0), xa.shape)


class IndexUpdateHelper:
    """``x.at``: index it (``x.at[index]``) to reach the update methods."""

    __slots__ = ("array",)

    def __init__(self, array: Array):
        self.array = array

    def __getitem__(self, index: Any) -> _IndexedUpdate:
        return _IndexedUpdate(self.array, index)

    def __repr__(self) -> str:
        return f"IndexUpdateHelper({self.array!r})"


def at(x: Array) -> IndexUpdateHelper:
    """``x.at`` for any array: ``fnp.at(x)[index].set(v)`` (eager results, being NumPy arrays
    or torch tensors, have no ``.at`` of their own; traced values do)."""
    return IndexUpdateHelper(x)
