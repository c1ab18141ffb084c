"""The windowed reductions of the convolution family: ``reduce_window_{sum,max,min}`` and the
two linear primitives that carry the derivative of a max or min window,
``select_and_gather_add`` (JVP) and ``select_and_scatter_add`` (its transpose); see the
docstring of ``functrace.ops.convolution``."""

from __future__ import annotations

import functools
import operator
from typing import Any, Callable, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.errors import DTypeError, ShapeError
from functrace.ops._conv_geometry import (
    _checked,
    _dilate,
    _ints,
    _pairs,
    _vjp_lhs_padding,
    _window_out,
    padtype_to_pads,
)
from functrace.primitives import abstract_eval_rules, def_primitive
from functrace.rules import (
    Zero,
    def_batch_rule,
    def_jvp_rule,
    def_transpose_rule,
    is_undefined,
)
from functrace.tracing import bind, get_aval

Array = Any


# ---------------------------------------------------------------------------- reduce_window
def _reduce_window_abstract_eval(name: str):
    def rule(x: ShapedArray, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        if not (is_float(x.dtype) or is_int(x.dtype)) or is_bool(x.dtype):
            raise DTypeError(f"{name} takes floating or integer arrays, got {x.dtype.name}")
        for what, v in (("window_dimensions", window_dimensions), ("window_strides", window_strides),
                        ("padding", padding), ("base_dilation", base_dilation),
                        ("window_dilation", window_dilation)):
            if len(v) != x.ndim:
                raise ShapeError(f"{name}: {what} needs one entry per axis of the operand {x.shape}, got {v}")
        for what, v in (("window_dimensions", window_dimensions), ("window_strides", window_strides),
                        ("base_dilation", base_dilation), ("window_dilation", window_dilation)):
            if any(s < 1 for s in v):
                raise ShapeError(f"{name}: {what} must be positive, got {v}")
        shape = tuple(_window_out(name, d, lo, hi, bd, w, wd, s) for d, (lo, hi), bd, w, wd, s in
                      zip(x.shape, padding, base_dilation, window_dimensions, window_dilation, window_strides,
                          strict=True))
        return ShapedArray(shape, x.dtype)

    return rule


reduce_window_sum_p = def_primitive("reduce_window_sum", _reduce_window_abstract_eval("reduce_window_sum"),
                                    linear=(0,))
reduce_window_max_p = def_primitive("reduce_window_max", _reduce_window_abstract_eval("reduce_window_max"))
reduce_window_min_p = def_primitive("reduce_window_min", _reduce_window_abstract_eval("reduce_window_min"))


def _window_params(ndim: int, window_dimensions, window_strides, padding, base_dilation, window_dilation,
                   shape=None) -> dict:
    wd = tuple(operator.index(w) for w in window_dimensions)
    if len(wd) != ndim:
        raise ShapeError(f"reduce_window: window_dimensions needs one entry per axis ({ndim}), got {wd}")
    strides = _ints("window_strides", window_strides, ndim, 1)
    base = _ints("base_dilation", base_dilation, ndim, 1)
    wdil = _ints("window_dilation", window_dilation, ndim, 1)
    if isinstance(padding, str):
        pads = tuple(padtype_to_pads(shape, [_dilate(w, d) for w, d in zip(wd, wdil, strict=True)], strides,
                                     padding))
    else:
        pads = _pairs(padding, ndim)
    return dict(window_dimensions=wd, window_strides=strides, padding=pads, base_dilation=base,
                window_dilation=wdil)


def _identity(kind: str, dtype: np.dtype) -> Any:
    dtype = np.dtype(dtype)
    if kind == "sum":
        return np.zeros((), dtype)[()]
    if is_float(dtype):
        return np.asarray(-np.inf if kind == "max" else np.inf, dtype)[()]
    info = np.iinfo(dtype)
    return np.asarray(info.min if kind == "max" else info.max, dtype)[()]


_REDUCE_WINDOW_PRIMS = {"sum": reduce_window_sum_p, "max": reduce_window_max_p, "min": reduce_window_min_p}


def _reduce_window_kind(computation: Callable) -> str:
    from functrace import numpy as fnp

    kinds = {lax.add: "sum", lax.max: "max", lax.min: "min", fnp.add: "sum", fnp.maximum: "max",
             fnp.minimum: "min", operator.add: "sum"}
    kind = kinds.get(computation)
    if kind is None:
        raise NotImplementedError(
            f"reduce_window supports the computations lax.add, lax.max and lax.min, got {computation!r}; "
            "write other windowed reductions with reduce_window_sum/max/min or slices")
    return kind


def _reduce_window_bind(kind: str, x: Array, params: dict) -> Array:
    _checked(abstract_eval_rules[_REDUCE_WINDOW_PRIMS[kind]], get_aval(x), **params)
    return bind(_REDUCE_WINDOW_PRIMS[kind], x, **params)


def reduce_window(operand: Array, init_value: Any, computation: Callable, window_dimensions: Sequence[int],
                  window_strides: Sequence[int] | None = None, padding: Any = "VALID",
                  base_dilation: Sequence[int] | None = None,
                  window_dilation: Sequence[int] | None = None) -> Array:
    """Reduce each window of ``operand`` with ``computation`` (``lax.add``, ``lax.max`` or
    ``lax.min``) starting from ``init_value``, as ``jax.lax.reduce_window``. Padding and the
    holes of ``base_dilation`` are skipped (as in XLA); with the reduction's identity as
    ``init_value`` (0, -inf, +inf) it is one ``reduce_window_*`` primitive, otherwise that
    primitive combined once with ``init_value``."""
    kind = _reduce_window_kind(computation)
    xa = get_aval(operand)
    params = _window_params(xa.ndim, window_dimensions, window_strides, padding, base_dilation, window_dilation,
                            xa.shape)
    concrete = not hasattr(init_value, "aval")
    init = np.asarray(init_value, dtype=xa.dtype)[()] if concrete else init_value
    out = _reduce_window_bind(kind, operand, params)
    if concrete and init == _identity(kind, xa.dtype):
        return out
    # A general initial value starts each window's reduction once; padding and the holes of
    # base_dilation take no part (XLA skips them), so they hold the identity.
    return {"sum": lax.add, "max": lax.max, "min": lax.min}[kind](out, init)


def reduce_window_sum(operand, window_dimensions, window_strides=None, padding="VALID", base_dilation=None,
                      window_dilation=None):
    """The sum over each window (zero padding)."""
    return reduce_window(operand, 0, lax.add, window_dimensions, window_strides, padding, base_dilation,
                         window_dilation)


def reduce_window_max(operand, window_dimensions, window_strides=None, padding="VALID", base_dilation=None,
                      window_dilation=None):
    """The maximum over each window (padding with -inf, or the integer minimum)."""
    return reduce_window(operand, _identity("max", get_aval(operand).dtype), lax.max, window_dimensions,
                         window_strides, padding, base_dilation, window_dilation)


def reduce_window_min(operand, window_dimensions, window_strides=None, padding="VALID", base_dilation=None,
                      window_dilation=None):
    """The minimum over each window (padding with +inf, or the integer maximum)."""
    return reduce_window(operand, _identity("min", get_aval(operand).dtype), lax.min, window_dimensions,
                         window_strides, padding, base_dilation, window_dilation)


# -- derivatives
def _reduce_window_sum_transpose(ct, x, *, window_dimensions, window_strides, padding, base_dilation,
                                 window_dilation):
    """Each input element receives the sum of the cotangents of the windows that contain it:
    the cotangent, dilated by the strides and padded, summed over windows again (the window is
    all ones, so it needs no flipping); strides over it skip the holes of ``base_dilation``."""
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    in_shape, cta = x.aval.shape, get_aval(ct)
    pads = _vjp_lhs_padding(in_shape, window_dimensions, window_strides, cta.shape, padding, base_dilation,
                            window_dilation)
    cfg = [(lo, hi, s - 1) for (lo, hi), s in zip(pads, window_strides, strict=True)]
    padded = lax.pad(ct, np.zeros((), cta.dtype)[()], cfg)
    nd = len(in_shape)
    out = bind(reduce_window_sum_p, padded, window_dimensions=window_dimensions, window_strides=base_dilation,
               padding=((0, 0),) * nd, base_dilation=(1,) * nd, window_dilation=window_dilation)
    return [out]


def _reduce_window_sum_jvp(primals, tangents, **params):
    (x,), (t,) = primals, tangents
    ans = bind(reduce_window_sum_p, x, **params)
    if isinstance(t, Zero):
        return ans, Zero(get_aval(ans))
    return ans, bind(reduce_window_sum_p, t, **params)


def_jvp_rule(reduce_window_sum_p, _reduce_window_sum_jvp)
def_transpose_rule(reduce_window_sum_p, _reduce_window_sum_transpose)


# -- max/min: the derivative goes to the selected element of each window
def _select_abstract_eval(name: str, out_is_window: bool):
    """``select_and_gather_add(t, x)`` has the windowed output's shape; ``select_and_scatter_add(ct, x)``
    has ``x``'s shape (``ct`` has the windowed output's)."""
    window_rule = _reduce_window_abstract_eval(name)

    def rule(v: ShapedArray, x: ShapedArray, *, kind, **params) -> ShapedArray:
        out = window_rule(x, **params)
        want = x if out_is_window else out
        if v.shape != want.shape or v.dtype != x.dtype:
            raise ShapeError(f"{name}: the first operand must be {want.update(dtype=x.dtype).str_short()}, "
                             f"got {v.str_short()}")
        if kind not in ("max", "min"):
            raise ShapeError(f"{name}: kind must be 'max' or 'min', got {kind!r}")
        return out if out_is_window else x

    return rule


select_and_gather_add_p = def_primitive("select_and_gather_add",
                                        _select_abstract_eval("select_and_gather_add", True), linear=(0,))
select_and_scatter_add_p = def_primitive("select_and_scatter_add",
                                         _select_abstract_eval("select_and_scatter_add", False), linear=(0,))


def select_and_gather_add(tangents: Array, operand: Array, kind: str, window_dimensions, window_strides, padding,
                          base_dilation, window_dilation) -> Array:
    """For each window of ``operand``, the entry of ``tangents`` (shaped like ``operand``) at the
    window's first maximum (``kind="max"``) or minimum, in row-major order within the window:
    the JVP of ``reduce_window_max``/``min``. Linear in ``tangents``."""
    return bind(select_and_gather_add_p, tangents, operand, kind=kind, window_dimensions=tuple(window_dimensions),
                window_strides=tuple(window_strides), padding=tuple(map(tuple, padding)),
                base_dilation=tuple(base_dilation), window_dilation=tuple(window_dilation))


def select_and_scatter_add(source: Array, operand: Array, kind: str, window_dimensions, window_strides, padding,
                           base_dilation, window_dilation) -> Array:
    """An array shaped like ``operand`` that holds, at each window's first maximum (minimum), the
    sum of ``source`` (shaped like the windowed output) over the windows that select it: the
    transpose of ``select_and_gather_add``, and so the gradient of max (min) pooling."""
    return bind(select_and_scatter_add_p, source, operand, kind=kind, window_dimensions=tuple(window_dimensions),
                window_strides=tuple(window_strides), padding=tuple(map(tuple, padding)),
                base_dilation=tuple(base_dilation), window_dilation=tuple(window_dilation))


def _select_jvp(prim):
    def rule(primals, tangents, **params):
        v, x = primals
        ans = bind(prim, v, x, **params)
        tv = tangents[0]
        if isinstance(tv, Zero):  # the selection is piecewise constant in x: no derivative through x
            return ans, Zero(get_aval(ans))
        return ans, bind(prim, tv, x, **params)

    return rule


def _select_transpose(other):
    def rule(ct, v, x, **params):
        if is_undefined(x):
            raise NotImplementedError(f"{other.name}'s transpose: the selecting operand must be known")
        if isinstance(ct, Zero):
            return [Zero(v.aval), None]
        return [bind(other, ct, x, **params), None]

    return rule


def _batch_first(x: Array, d: int | None, size: int) -> Array:
    """``x`` with its batch axis first (an unbatched ``x`` broadcast to ``size`` examples)."""
    a = get_aval(x)
    if d is None:
        return lax.broadcast_in_dim(x, (size,) + a.shape, tuple(range(1, a.ndim + 1)))
    return lax.transpose(x, [d] + [i for i in range(a.ndim) if i != d])


def _select_batch_rule(prim):
    def rule(args, dims, *, kind, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        size = next(get_aval(a).shape[d] for a, d in zip(args, dims, strict=True) if d is not None)
        v, x = (_batch_first(a, d, size) for a, d in zip(args, dims, strict=True))
        out = bind(prim, v, x, kind=kind, window_dimensions=(1,) + tuple(window_dimensions),
                   window_strides=(1,) + tuple(window_strides), padding=((0, 0),) + tuple(padding),
                   base_dilation=(1,) + tuple(base_dilation), window_dilation=(1,) + tuple(window_dilation))
        return out, 0

    return rule


for _p, _other in ((select_and_gather_add_p, select_and_scatter_add_p),
                   (select_and_scatter_add_p, select_and_gather_add_p)):
    def_jvp_rule(_p, _select_jvp(_p))
    def_transpose_rule(_p, _select_transpose(_other))
    def_batch_rule(_p, _select_batch_rule(_p))


def _reduce_window_chooser_jvp(kind: str):
    prim = _REDUCE_WINDOW_PRIMS[kind]

    def rule(primals, tangents, **params):
        (x,), (t,) = primals, tangents
        ans = bind(prim, x, **params)
        if isinstance(t, Zero):
            return ans, Zero(get_aval(ans))
        return ans, bind(select_and_gather_add_p, t, x, kind=kind, **params)

    return rule


def_jvp_rule(reduce_window_max_p, _reduce_window_chooser_jvp("max"))
def_jvp_rule(reduce_window_min_p, _reduce_window_chooser_jvp("min"))


def _reduce_window_batch_rule(prim):
    def rule(args, dims, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        (x,), (d,) = args, dims

        def ins(t, v):
            return tuple(t[:d]) + (v,) + tuple(t[d:])

        out = bind(prim, x, window_dimensions=ins(window_dimensions, 1), window_strides=ins(window_strides, 1),
                   padding=ins(padding, (0, 0)), base_dilation=ins(base_dilation, 1),
                   window_dilation=ins(window_dilation, 1))
        return out, d

    return rule


for _p in (reduce_window_sum_p, reduce_window_max_p, reduce_window_min_p):
    def_batch_rule(_p, _reduce_window_batch_rule(_p))


# -- shared by the backends' implementations of the selections
@functools.lru_cache(maxsize=256)
def select_layout(x_shape: tuple, window_dimensions: tuple, window_strides: tuple, padding: tuple,
                  base_dilation: tuple, window_dilation: tuple) -> tuple:
    """Index arithmetic for the selections, worked out once per geometry: ``(padded shape,
    output shape, starts, offsets, disjoint)``. ``starts`` (output shape) is the flat index in the
    padded, dilated operand of each window's first element, ``offsets`` (window size,) the flat
    offset of each window element (row-major); ``disjoint`` says no two windows share an element."""
    pshape = tuple((_dilate(d, b)) + lo + hi for d, b, (lo, hi) in zip(x_shape, base_dilation, padding, strict=True))
    out = tuple(_window_out("select", d, lo, hi, b, w, r, s) for d, (lo, hi), b, w, r, s in
                zip(x_shape, padding, base_dilation, window_dimensions, window_dilation, window_strides, strict=True))
    elem = [int(np.prod(pshape[i + 1:], dtype=np.int64)) for i in range(len(pshape))]
    starts = np.zeros(out, np.int64)
    offsets = np.zeros(window_dimensions, np.int64)
    for i, (o, w, s, r, e) in enumerate(zip(out, window_dimensions, window_strides, window_dilation, elem,
                                            strict=True)):
        shape = [1] * len(out)
        shape[i] = -1
        starts = starts + (np.arange(o, dtype=np.int64) * s * e).reshape(shape)
        offsets = offsets + (np.arange(w, dtype=np.int64) * r * e).reshape(shape)
    disjoint = all(s >= _dilate(w, r) for w, s, r in zip(window_dimensions, window_strides, window_dilation,
                                                          strict=True))
    starts.flags.writeable = False
    offsets = offsets.reshape(-1)
    offsets.flags.writeable = False
    return pshape, out, starts, offsets, disjoint


@functools.lru_cache(maxsize=256)
def unpad_slices(x_shape: tuple, pshape: tuple, padding: tuple, base_dilation: tuple) -> tuple | None:
    """``(destination, source)`` slices that copy the padded, dilated array's entries back to the
    operand's positions (element ``j`` sits at ``lo + j * dilation``), or None when none survive."""
    dst, src = [], []
    for n, pn, (lo, _), b in zip(x_shape, pshape, padding, base_dilation, strict=True):
        j0 = max(0, -(lo // b) if lo < 0 else 0)
        while j0 < n and lo + j0 * b < 0:
            j0 += 1
        j1 = n
        while j1 > j0 and lo + (j1 - 1) * b >= pn:
            j1 -= 1
        if j1 <= j0:
            return None
        dst.append(slice(j0, j1))
        src.append(slice(lo + j0 * b, lo + (j1 - 1) * b + 1, b))
    return tuple(dst), tuple(src)
