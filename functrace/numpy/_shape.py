"""Shape manipulation: reshape, transpose, stacking, splitting, tiling, padding, rolling."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.errors import FunctraceError, ShapeError
from functrace.numpy._core import _as_operand, _cast, asarray, check_axis, promote, user_error
from functrace.tracing import get_aval, located

Array = Any


def _arr(x: Any) -> Any:
    x = _as_operand(x)
    return x if not isinstance(x, (bool, int, float, complex)) else asarray(x)


_axis = check_axis


def reshape(a: Array, shape: int | Sequence[int] | None = None, order: str = "C", *,
            newshape: int | Sequence[int] | None = None, copy: bool | None = None) -> Array:
    """Reshape (row-major); one entry may be -1. ``newshape`` is NumPy's older name for ``shape``."""
    if order != "C":
        raise located(ShapeError("functrace.numpy.reshape supports only order='C'"))
    if (shape is None) == (newshape is None):
        raise user_error(TypeError("reshape needs exactly one of shape= and newshape="))
    shape = shape if newshape is None else newshape
    a = _arr(a)
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    size = get_aval(a).size
    if sum(1 for d in shape if d == -1) > 1:
        raise located(ShapeError(f"can only specify one unknown dimension in reshape to {shape}"))
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1], dtype=np.int64))
        if known == 0 or size % known:
            raise located(ShapeError(f"cannot reshape array of shape {get_aval(a).shape} into shape {shape}"))
        shape = tuple(size // known if d == -1 else d for d in shape)
    if int(np.prod(shape, dtype=np.int64)) != size:
        raise located(ShapeError(f"cannot reshape array of shape {get_aval(a).shape} (size {size}) into shape {shape}"))
    return lax.reshape(a, shape)


def ravel(a: Array) -> Array:
    """Flatten to one dimension."""
    a = _arr(a)
    return lax.reshape(a, (get_aval(a).size,))


def transpose(a: Array, axes: Sequence[int] | None = None) -> Array:
    """Permute axes (reverse them by default)."""
    a = _arr(a)
    nd = get_aval(a).ndim
    perm = tuple(reversed(range(nd))) if axes is None else tuple(_axis(x, a) for x in axes)
    if sorted(perm) != list(range(nd)):
        raise located(ShapeError(f"axes {axes} don't match array of dimension {nd}"))
    return lax.transpose(a, perm)


def swapaxes(a: Array, axis1: int, axis2: int) -> Array:
    """Exchange two axes."""
    a = _arr(a)
    nd = get_aval(a).ndim
    i, j = _axis(axis1, a), _axis(axis2, a)
    perm = list(range(nd))
    perm[i], perm[j] = perm[j], perm[i]
    return lax.transpose(a, perm)


def moveaxis(a: Array, source: int | Sequence[int], destination: int | Sequence[int]) -> Array:
    """Move axes to new positions, keeping the order of the others."""
    a = _arr(a)
    nd = get_aval(a).ndim
    src = [source] if isinstance(source, (int, np.integer)) else list(source)
    dst = [destination] if isinstance(destination, (int, np.integer)) else list(destination)
    src = [_axis(s, a) for s in src]
    dst = [_axis(d, a) for d in dst]
    if len(src) != len(dst):
        raise located(ShapeError("moveaxis: source and destination must have the same number of elements"))
    order = [i for i in range(nd) if i not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    return lax.transpose(a, order)


def expand_dims(a: Array, axis: int | Sequence[int]) -> Array:
    """Insert size-1 axes at ``axis``."""
    a = _arr(a)
    shape = get_aval(a).shape
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    nd = len(shape) + len(axes)
    axes = sorted(_axis(x, nd) for x in axes)
    out = list(shape)
    for ax in axes:
        out.insert(ax, 1)
    return lax.reshape(a, tuple(out))


def squeeze(a: Array, axis: int | Sequence[int] | None = None) -> Array:
    """Remove size-1 axes (all of them, or those named)."""
    a = _arr(a)
    shape = get_aval(a).shape
    if axis is None:
        axes = [i for i, d in enumerate(shape) if d == 1]
    else:
        axes = [_axis(x, a) for x in ([axis] if isinstance(axis, (int, np.integer)) else axis)]
        for ax in axes:
            if shape[ax] != 1:
                raise located(ShapeError(f"cannot select an axis to squeeze out which has size not equal to one "
                                         f"(axis {ax} of shape {shape})"))
    return lax.reshape(a, tuple(d for i, d in enumerate(shape) if i not in axes))


def broadcast_to(a: Array, shape: int | Sequence[int]) -> Array:
    """Broadcast to ``shape`` by NumPy's rules."""
    a = _arr(a)
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(d) for d in shape)
    ashape = get_aval(a).shape
    if len(ashape) > len(shape) or any(d not in (1, s) for d, s in zip(ashape[::-1], shape[::-1], strict=False)):
        raise located(ShapeError(f"cannot broadcast an array of shape {ashape} to shape {shape}"))
    if ashape == shape:
        return a
    nd = len(shape)
    return lax.broadcast_in_dim(a, shape, tuple(range(nd - len(ashape), nd)))


def broadcast_arrays(*args: Array) -> list:
    """Broadcast arrays against each other."""
    from functrace.avals import broadcast_shapes

    args = [_arr(a) for a in args]
    shape = broadcast_shapes(*(get_aval(a).shape for a in args))
    return [broadcast_to(a, shape) for a in args]


def atleast_1d(a: Array) -> Array:
    a = _arr(a)
    return reshape(a, (1,)) if get_aval(a).ndim == 0 else a


def concatenate(arrays: Sequence[Array], axis: int | None = 0) -> Array:
    """Join arrays along an existing axis (flattened first when ``axis`` is None)."""
    arrays = [_arr(a) for a in arrays]
    if not arrays:
        raise user_error(ValueError("need at least one array to concatenate"))
    if axis is None:
        arrays = [ravel(a) for a in arrays]
        axis = 0
    nd = get_aval(arrays[0]).ndim
    if nd == 0:
        raise located(ShapeError("zero-dimensional arrays cannot be concatenated"))
    arrays, _ = promote("concatenate", *arrays) if _shapes_agree(arrays) else (_promote_only(arrays), None)
    try:
        return lax.concatenate(arrays, _axis(axis, arrays[0]))
    except FunctraceError as e:
        raise located(e) from None


def _shapes_agree(arrays: list) -> bool:
    return len({get_aval(a).shape for a in arrays}) == 1


def _promote_only(arrays: list) -> list:
    dt = np.result_type(*[get_aval(a).dtype for a in arrays])
    return [lax.convert_element_type(a, dt) for a in arrays]


def stack(arrays: Sequence[Array], axis: int = 0) -> Array:
    """Join arrays along a new axis."""
    arrays = [_arr(a) for a in arrays]
    if not arrays:
        raise user_error(ValueError("need at least one array to stack"))
    shapes = {get_aval(a).shape for a in arrays}
    if len(shapes) != 1:
        raise located(ShapeError(f"all input arrays must have the same shape to stack, got {sorted(shapes)}"))
    nd = get_aval(arrays[0]).ndim + 1
    ax = _axis(axis, nd)
    return concatenate([expand_dims(a, ax) for a in _promote_only(arrays)], axis=ax)


def vstack(arrays: Sequence[Array]) -> Array:
    arrays = [_arr(a) for a in arrays]
    return concatenate([reshape(a, (1, -1)) if get_aval(a).ndim < 2 else a for a in arrays], axis=0)


def hstack(arrays: Sequence[Array]) -> Array:
    arrays = [atleast_1d(a) for a in arrays]
    return concatenate(arrays, axis=0 if get_aval(arrays[0]).ndim == 1 else 1)


def split(a: Array, indices_or_sections: int | Sequence[int], axis: int = 0) -> list:
    """Split into equal sections (an int) or at the given indices along ``axis``."""
    a = _arr(a)
    shape = get_aval(a).shape
    ax = _axis(axis, a)
    n = shape[ax]
    if isinstance(indices_or_sections, (int, np.integer)):
        k = int(indices_or_sections)
        if k <= 0 or n % k:
            raise located(ShapeError(f"array split does not result in an equal division ({n} into {k})"))
        bounds = [i * (n // k) for i in range(k + 1)]
    else:
        bounds = [0] + [min(max(int(i), 0), n) for i in indices_or_sections] + [n]
    out = []
    for lo, hi in zip(bounds[:-1], bounds[1:], strict=True):
        start = [0] * len(shape)
        limit = list(shape)
        start[ax], limit[ax] = lo, max(lo, hi)
        out.append(lax.slice(a, start, limit))
    return out


def array_split(a: Array, indices_or_sections: int | Sequence[int], axis: int = 0) -> list:
    """Split into ``indices_or_sections`` nearly equal parts (the first ones one longer), or at indices."""
    a = _arr(a)
    if not isinstance(indices_or_sections, (int, np.integer)):
        return split(a, indices_or_sections, axis)
    sections = int(indices_or_sections)
    if sections <= 0:
        raise user_error(ValueError("number sections must be larger than 0"))
    n = get_aval(a).shape[_axis(axis, a)]
    q, r = divmod(n, sections)
    bounds, acc = [], 0
    for i in range(sections - 1):
        acc += q + (1 if i < r else 0)
        bounds.append(acc)
    return split(a, bounds, axis)


def tile(a: Array, reps: int | Sequence[int]) -> Array:
    """Repeat the whole array ``reps`` times along each axis."""
    a = _arr(a)
    reps = (reps,) if isinstance(reps, (int, np.integer)) else tuple(reps)
    shape = get_aval(a).shape
    nd = max(len(shape), len(reps))
    shape = (1,) * (nd - len(shape)) + shape
    reps = (1,) * (nd - len(reps)) + reps
    a = lax.reshape(a, shape)
    # Broadcast to (r0, d0, r1, d1, ...) and merge each pair.
    expanded = tuple(x for r, d in zip(reps, shape, strict=True) for x in (r, d))
    b = lax.broadcast_in_dim(a, expanded, tuple(range(1, 2 * nd, 2)))
    return lax.reshape(b, tuple(r * d for r, d in zip(reps, shape, strict=True)))


def repeat(a: Array, repeats: int | Sequence[int], axis: int | None = None) -> Array:
    """Repeat each element ``repeats`` times along ``axis`` (of the flattened array when None)."""
    a = _arr(a)
    if axis is None:
        a, axis = ravel(a), 0
    shape = get_aval(a).shape
    ax = _axis(axis, a)
    if not isinstance(repeats, (int, np.integer)):
        reps = [int(r) for r in np.asarray(repeats).ravel()]
        if len(reps) == 1:
            repeats = reps[0]
        else:
            from functrace.numpy._indexing import take

            return take(a, np.repeat(np.arange(shape[ax]), reps), axis=ax)
    r = int(repeats)
    expanded = shape[:ax + 1] + (r,) + shape[ax + 1:]
    b = lax.broadcast_in_dim(a, expanded, tuple(i for i in range(len(expanded)) if i != ax + 1))
    return lax.reshape(b, shape[:ax] + (shape[ax] * r,) + shape[ax + 1:])


def pad(array: Array, pad_width: Any, mode: str = "constant", constant_values: Any = 0) -> Array:
    """Pad with a constant (``mode="constant"``) or the edge values (``mode="edge"``)."""
    a = _arr(array)
    shape = get_aval(a).shape
    pw = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (len(shape), 2)) if shape else np.zeros((0, 2), int)
    if (pw < 0).any():
        raise user_error(ValueError("index can't contain negative values (pad_width)"))
    if mode == "constant":
        value = _cast(constant_values, get_aval(a).dtype) if isinstance(constant_values, (int, float, bool)) \
            else lax.convert_element_type(_arr(constant_values), get_aval(a).dtype)
        if get_aval(value).shape != ():
            raise user_error(ValueError("functrace.numpy.pad supports a scalar constant_values"))
        return lax.pad(a, value, [(int(lo), int(hi), 0) for lo, hi in pw])
    if mode == "edge":
        for ax, (lo, hi) in enumerate(pw):
            parts = []
            n = get_aval(a).shape[ax]
            if lo:
                parts.append(repeat(_take_slice(a, ax, 0, 1), int(lo), axis=ax))
            parts.append(a)
            if hi:
                parts.append(repeat(_take_slice(a, ax, n - 1, n), int(hi), axis=ax))
            a = concatenate(parts, axis=ax) if len(parts) > 1 else a
        return a
    raise user_error(NotImplementedError(f"functrace.numpy.pad supports mode='constant' and 'edge', not {mode!r}"))


def _take_slice(a: Any, ax: int, lo: int, hi: int) -> Any:
    shape = get_aval(a).shape
    start = [0] * len(shape)
    limit = list(shape)
    start[ax], limit[ax] = lo, hi
    return lax.slice(a, start, limit)


def flip(m: Array, axis: int | Sequence[int] | None = None) -> Array:
    """Reverse the order of elements along ``axis`` (all axes by default)."""
    m = _arr(m)
    nd = get_aval(m).ndim
    axes = range(nd) if axis is None else ([axis] if isinstance(axis, (int, np.integer)) else axis)
    return lax.rev(m, tuple(sorted(_axis(x, m) for x in axes)))


def fliplr(m: Array) -> Array:
    return flip(m, 1)


def flipud(m: Array) -> Array:
    return flip(m, 0)


def roll(a: Array, shift: int | Sequence[int], axis: int | Sequence[int] | None = None) -> Array:
    """Shift elements cyclically along ``axis`` (of the flattened array when None)."""
    a = _arr(a)
    if axis is None:
        shape = get_aval(a).shape
        return reshape(roll(ravel(a), shift, 0), shape)
    shifts = _shifts(shift)
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    if len(shifts) == 1 and len(axes) > 1:
        shifts = shifts * len(axes)
    if len(shifts) != len(axes):
        raise user_error(ValueError(f"roll: {len(shifts)} shifts for {len(axes)} axes"))
    for s, ax in zip(shifts, axes, strict=True):
        ax = _axis(ax, a)
        n = get_aval(a).shape[ax]
        if n == 0:
            continue
        k = _static_int(s)
        if k is None:  # a traced shift: slice the doubled axis at n - s % n (start in [1, n])
            start = lax.sub(np.int64(n), lax.rem(lax.add(lax.rem(_int64(s), np.int64(n)), np.int64(n)), np.int64(n)))
            a = lax.dynamic_slice_in_dim(concatenate([a, a], axis=ax), start, n, ax)
        elif k % n:
            k %= n
            a = concatenate([_take_slice(a, ax, n - k, n), _take_slice(a, ax, 0, n - k)], axis=ax)
    return a


def _shifts(shift: Any) -> list:
    """roll's shifts: an int, a sequence, or an integer array (traced too), one per axis."""
    if isinstance(shift, (int, np.integer)):
        return [shift]
    if isinstance(shift, (list, tuple)):
        return list(shift)
    s = _as_operand(shift)
    s = s if hasattr(s, "shape") else asarray(s)
    aval = get_aval(s)
    if aval.dtype.kind not in "iu":
        raise user_error(TypeError(f"roll: shift must be integers, got dtype {aval.dtype}"))
    if aval.ndim > 1:
        raise user_error(ValueError(f"roll: shift must be a scalar or 1-D, got shape {aval.shape}"))
    return [s] if aval.ndim == 0 else [s[i] for i in range(aval.shape[0])]


def _static_int(s: Any) -> int | None:
    """``s`` as a Python int when its value is known now, else None (a traced shift)."""
    from functrace.tracing import Tracer

    if isinstance(s, Tracer):
        return None
    return int(s)


def _int64(s: Any) -> Any:
    return s if get_aval(s).dtype == np.int64 else lax.convert_element_type(s, np.int64)


def diag(v: Array, k: int = 0) -> Array:
    """The k-th diagonal of a 2-D array, or a 2-D array with the 1-D ``v`` on its k-th diagonal."""
    v = _arr(v)
    shape = get_aval(v).shape
    dt = get_aval(v).dtype
    if len(shape) == 1:
        # result[i, i + k] = v[i]: pad v by |k| on the left, spread it along the rows (k >= 0) or
        # the columns (k < 0), and keep it only on the k-th diagonal (a select, so inf stays inf).
        n = shape[0] + abs(k)
        vv = lax.pad(v, _cast(0, dt), [(abs(k), 0, 0)])
        spread = lax.broadcast_in_dim(vv, (n, n), (1,) if k >= 0 else (0,))
        return lax.select(np.eye(n, k=k, dtype=bool), spread, lax.full((n, n), 0, dt))
    if len(shape) == 2:
        # Gather the flat positions (i, i + k) of the row-major array.
        rows = np.arange(max(0, -k), min(shape[0], shape[1] - k))
        return lax.gather(lax.reshape(v, (get_aval(v).size,)), rows * shape[1] + rows + k, 0)
    raise located(ShapeError(f"diag requires a 1-D or 2-D array, got shape {shape}"))


def trace(a: Array, offset: int = 0) -> Array:
    """Sum of the diagonal."""
    from functrace.numpy._reductions import sum as _sum

    return _sum(diag(a, offset))
