"""Indexing: basic slicing (slice/rev/reshape) and integer-array indexing (one gather).

Several index arrays are combined into one linear index over the indexed axes, so the only
gather primitive needed indexes a single axis, like ``numpy.take``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import broadcast_shapes, is_bool, is_int
from functrace.errors import AxisError, DTypeError, ShapeError
from functrace.numpy._core import _as_operand, _cast, asarray, check_axis, promote, user_error
from functrace.tracing import Tracer, get_aval, located

Array = Any


def _is_int_scalar(i: Any) -> bool:
    return isinstance(i, (int, np.integer)) and not isinstance(i, (bool, np.bool_))


def _is_array_index(i: Any) -> bool:
    if isinstance(i, Tracer):
        return True
    if isinstance(i, (list, np.ndarray)):
        return True
    return hasattr(i, "shape") and hasattr(i, "dtype") and not isinstance(i, np.generic)


def _to_index_array(i: Any) -> Any:
    """An integer index array (traced or concrete); concrete boolean masks become nonzero()."""
    if isinstance(i, Tracer):
        if is_bool(i.aval.dtype):
            if i.val is None:
                raise located(ShapeError(
                    "boolean mask indexing with a traced mask has a value-dependent shape; "
                    "use functrace.numpy.where(mask, x, 0) instead"))
            return [asarray(n) for n in np.nonzero(i.to_host('boolean mask indexing'))]
        if not is_int(i.aval.dtype):
            raise located(DTypeError(f"arrays used as indices must be integers, got {i.aval.dtype.name}"))
        return [i]
    arr = np.asarray(i) if not hasattr(i, "detach") else np.asarray(i.detach().cpu().numpy())
    if arr.dtype == bool:
        return [np.asarray(n) for n in np.nonzero(arr)]
    if arr.size == 0 and arr.dtype != np.int64 and not is_int(arr.dtype):
        arr = arr.astype(np.int64)
    if not is_int(arr.dtype):
        raise located(DTypeError(f"arrays used as indices must be integers, got {arr.dtype.name}"))
    return [arr]


def _normalize_index(idx: Any, n: int, axis: int) -> Any:
    """Turn negative indices into positive ones; concrete out-of-range ones raise IndexError."""
    if isinstance(idx, Tracer):
        if idx.val is not None:
            v = idx.to_host("checking index bounds")
            if v.size and (v.min() < -n or v.max() >= n):
                raise located(AxisError(f"index {int(v.max() if v.max() >= n else v.min())} is out of bounds "
                                        f"for axis {axis} with size {n}"))
        (idx, zero), _ = promote("index", idx, 0)
        return lax.select(lax.lt(idx, zero), lax.add(idx, _cast(n, get_aval(idx).dtype)), idx)
    v = np.asarray(idx)
    if v.size and (v.min() < -n or v.max() >= n):
        bad = int(v.max() if v.max() >= n else v.min())
        raise located(AxisError(f"index {bad} is out of bounds for axis {axis} with size {n}"))
    return np.where(v < 0, v + n, v).astype(np.int64)


def getitem(x: Array, key: Any) -> Array:
    """``x[key]`` with NumPy semantics for ints, slices, None, Ellipsis and integer/boolean arrays."""
    x = _as_operand(x)
    if not isinstance(key, tuple):
        key = (key,)
    # Expand boolean masks into one integer array per masked axis.
    items: list = []
    for k in key:
        if _is_array_index(k):
            arrs = _to_index_array(k)
            items.extend(("arr", a) for a in arrs) if len(arrs) > 1 else items.append(("arr", arrs[0]))
        elif isinstance(k, (bool, np.bool_)):
            raise user_error(TypeError("indexing with a Python bool is not supported; use an array"))
        elif _is_int_scalar(k):
            items.append(("int", int(k)))
        elif isinstance(k, slice):
            items.append(("slice", k))
        elif k is None:
            items.append(("new", None))
        elif k is Ellipsis:
            items.append(("ellipsis", None))
        else:
            raise user_error(TypeError(
                f"index of type {type(k).__name__} is not supported; use ints, slices, None, "
                "Ellipsis or integer arrays"))
    shape = get_aval(x).shape
    n_consuming = sum(1 for kind, _ in items if kind in ("arr", "int", "slice"))
    if sum(1 for kind, _ in items if kind == "ellipsis") > 1:
        raise user_error(IndexError("an index can only have a single ellipsis ('...')"))
    if n_consuming > len(shape):
        raise located(AxisError(f"too many indices for array: array is {len(shape)}-dimensional, "
                                f"but {n_consuming} were indexed"))
    expanded: list = []
    for kind, v in items:
        if kind == "ellipsis":
            expanded.extend(("slice", slice(None)) for _ in range(len(shape) - n_consuming))
        else:
            expanded.append((kind, v))
    if not any(kind == "ellipsis" for kind, _ in items):
        expanded.extend(("slice", slice(None)) for _ in range(len(shape) - n_consuming))
    has_arrays = any(kind == "arr" for kind, _ in expanded)
    if has_arrays and any(kind == "new" for kind, _ in expanded):
        # As NumPy does: each None is a new size-1 axis indexed by a full slice (so it also
        # separates the index arrays around it).
        new_shape, it = [], iter(shape)
        for kind, _ in expanded:
            new_shape.append(1 if kind == "new" else next(it))
        x = lax.reshape(x, tuple(new_shape))
        shape = tuple(new_shape)
        expanded = [("slice", slice(None)) if kind == "new" else (kind, v) for kind, v in expanded]

    # 1. Basic indexing: slices and ints (ints become arrays when arrays are present, as in NumPy).
    start, limit, strides, rev_axes, squeeze_axes = [], [], [], [], []
    adv: list[tuple[int, Any]] = []  # (axis in the sliced array, index array)
    layout: list = []  # result axes before reshape: "keep" or ("new",)
    ax = 0
    for kind, v in expanded:
        if kind == "new":
            layout.append("new")
            continue
        n = shape[ax]
        if kind == "slice":
            s0, s1, st = v.indices(n)
            if st > 0:
                start.append(s0), limit.append(max(s0, s1)), strides.append(st)
            else:
                # x[s0:s1:st] with st < 0 is rev(x)[n-1-s0 : n-1-s1 : -st]
                lo, hi = n - 1 - s0, n - 1 - s1
                start.append(lo), limit.append(max(lo, hi)), strides.append(-st)
                rev_axes.append(ax)
            layout.append("keep")
        elif kind == "int" and not has_arrays:
            if not -n <= v < n:
                raise located(AxisError(f"index {v} is out of bounds for axis {ax} with size {n}"))
            i = v % n
            start.append(i), limit.append(i + 1), strides.append(1)
            squeeze_axes.append(ax)
            layout.append("drop")
        else:  # an index array (or an int among arrays): keep the full axis for the gather below
            start.append(0), limit.append(n), strides.append(1)
            adv.append((ax, _normalize_index(np.asarray(v) if kind == "int" else v, n, ax)))
            layout.append("adv")
        ax += 1
    y = lax.rev(x, tuple(rev_axes)) if rev_axes else x
    y = lax.slice(y, start, limit, strides)

    if not adv:
        sliced = get_aval(y).shape
        out_shape, i = [], 0
        for kind in layout:
            if kind == "new":
                out_shape.append(1)
            else:
                if kind != "drop":
                    out_shape.append(sliced[i])
                i += 1
        return lax.reshape(y, tuple(out_shape))
    return _advanced(y, adv)


def _advanced(y: Any, adv: list) -> Any:
    """Integer-array indexing of axes ``adv`` of ``y``, placed as NumPy places them."""
    yshape = get_aval(y).shape
    adv_axes = [a for a, _ in adv]
    contiguous = adv_axes == list(range(adv_axes[0], adv_axes[0] + len(adv_axes)))
    idx_shape = broadcast_shapes(*(get_aval(i).shape for _, i in adv))
    # Move the indexed axes together (to the front unless they already are adjacent).
    pos = adv_axes[0] if contiguous else 0
    others = [a for a in range(len(yshape)) if a not in adv_axes]
    perm = others[:pos] + adv_axes + others[pos:]
    y = lax.transpose(y, perm)
    sizes = [yshape[a] for a in adv_axes]
    total = int(np.prod(sizes, dtype=np.int64))
    y = lax.reshape(y, tuple(get_aval(y).shape[:pos]) + (total,) + tuple(get_aval(y).shape[pos + len(sizes):]))
    # Linear index = sum_k idx_k * stride_k.
    linear = None
    stride = 1
    for (_, idx), n in reversed(list(zip(adv, sizes, strict=True))):
        term = idx if stride == 1 else idx * stride
        linear = term if linear is None else linear + term
        stride *= n
    if isinstance(linear, np.ndarray):
        linear = np.broadcast_to(linear, idx_shape).astype(np.int64)
    else:
        from functrace.numpy._shape import broadcast_to

        linear = broadcast_to(linear, idx_shape)
    return lax.gather(y, linear, pos)


def take(a: Array, indices: Array, axis: int | None = None) -> Array:
    """``numpy.take``: elements at integer ``indices`` along ``axis`` (flattened when None)."""
    from functrace.numpy._shape import ravel

    a = _as_operand(a)
    if axis is None:
        a, axis = ravel(a), 0
    ax = check_axis(axis, a)
    (idx,) = _to_index_array(indices)
    idx = _normalize_index(idx, get_aval(a).shape[ax], ax)
    return lax.gather(a, idx, ax)


def take_along_axis(arr: Array, indices: Array, axis: int) -> Array:
    """``numpy.take_along_axis`` for integer ``indices`` of the same rank as ``arr``."""
    arr = _as_operand(arr)
    shape = get_aval(arr).shape
    ax = check_axis(axis, arr)
    if get_aval(_as_operand(indices)).ndim != len(shape):
        raise located(ShapeError(f"take_along_axis: indices of shape {np.shape(indices)} must have as many "
                                 f"dimensions as the array of shape {shape}"))
    key = []
    for i in range(len(shape)):
        if i == ax:
            key.append(indices)
        else:
            r = np.arange(shape[i]).reshape([-1 if j == i else 1 for j in range(len(shape))])
            key.append(r)
    return getitem(arr, tuple(key))


def setitem_error(*_: Any) -> None:
    raise user_error(TypeError(
        "traced arrays are immutable: instead of x[idx] = y, build a new array "
        "(functrace.numpy.where(mask, y, x), or functrace.numpy.concatenate)"))
