"""Convolutions and windowed reductions: ``conv_general_dilated`` and ``reduce_window_{sum,max,min}``.

The semantics are XLA's (and so JAX's). A convolution slides the (dilated) kernel over the
(dilated, padded) input and contracts the input features of each window with the kernel:

    out[n, o, y] = sum_{i, k} lhs_padded_dilated[n, g*I + i, y*stride + k*rhs_dilation] * rhs[o, i, k]

where ``g = o // (O / feature_group_count)`` picks the feature group of output channel ``o``
(channels are split group-major, as in torch's ``groups``). With ``batch_group_count = B`` the
batch is split group-major instead: output channel group ``b`` reads examples
``lhs[b * N/B + n]``, and the result has ``N/B`` examples (this is what the gradient of a
grouped convolution with respect to its kernel is).

Derivatives follow from bilinearity: the JVP is a sum of two convolutions, and each transpose is
again a convolution, in which the forward strides become input (lhs) dilation and the padding is
recomputed so that the result has exactly the operand's shape. Feature groups of the forward
convolution become batch groups of its kernel's transpose and vice versa.

``reduce_window_max``/``min`` route the derivative of each window to the *first* element (in
row-major order inside the window) that attains the extremum, as XLA's select-and-scatter with
``ge``/``le`` does in JAX: with ties, exactly one element of each window receives the tangent.
As in JAX, two linear primitives carry it: ``select_and_gather_add`` (the JVP: the tangent at
each window's selected element) and its transpose ``select_and_scatter_add`` (the gradient).

This module holds the convolution; the windowed reductions and their selections are in
``_reduce_window`` and the shared geometry (dimension numbers, padding) in ``_conv_geometry``,
both re-exported here.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.errors import DTypeError, ShapeError
from functrace.ops._conv_geometry import (  # noqa: F401 -- the family's public names
    ConvDimensionNumbers,
    _checked,
    _dilate,
    _ints,
    _pairs,
    _vjp_lhs_padding,
    _vjp_rhs_padding,
    _window_out,
    conv_dimension_numbers,
    conv_general_permutations,
    padtype_to_pads,
)
from functrace.ops._reduce_window import (  # noqa: F401 -- the family's windowed reductions
    reduce_window,
    reduce_window_max,
    reduce_window_max_p,
    reduce_window_min,
    reduce_window_min_p,
    reduce_window_sum,
    reduce_window_sum_p,
    select_and_gather_add,
    select_and_gather_add_p,
    select_and_scatter_add,
    select_and_scatter_add_p,
    select_layout,
    unpad_slices,
)
from functrace.primitives import def_primitive
from functrace.rules import (
    Zero,
    add_tangents,
    def_batch_rule,
    def_jvp_rule,
    def_transpose_rule,
    is_undefined,
)
from functrace.tracing import bind, get_aval

Array = Any


# ---------------------------------------------------------------------------- conv_general_dilated
def _conv_abstract_eval(lhs: ShapedArray, rhs: ShapedArray, *, window_strides, padding, lhs_dilation,
                        rhs_dilation, dimension_numbers, feature_group_count, batch_group_count, precision,
                        preferred_element_type) -> ShapedArray:
    name = "conv_general_dilated"
    if lhs.dtype != rhs.dtype:
        raise DTypeError(f"{name} needs lhs and rhs of one dtype, got {lhs.dtype.name} and {rhs.dtype.name} "
                         "(convert one with lax.convert_element_type)")
    if not (is_float(lhs.dtype) or is_int(lhs.dtype)) or is_bool(lhs.dtype):
        raise DTypeError(f"{name} takes floating or integer operands, got {lhs.dtype.name}")
    if lhs.ndim != rhs.ndim or lhs.ndim < 2:
        raise ShapeError(f"{name} needs lhs and rhs of equal rank >= 2, got shapes {lhs.shape} and {rhs.shape}")
    lspec, rspec, ospec = dimension_numbers
    n = lhs.ndim - 2
    for what, v in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                    ("rhs_dilation", rhs_dilation), ("padding", padding)):
        if len(v) != n:
            raise ShapeError(f"{name}: {what} needs {n} entries (one per spatial axis), got {v}")
    for what, v in (("window_strides", window_strides), ("lhs_dilation", lhs_dilation),
                    ("rhs_dilation", rhs_dilation)):
        if any(s < 1 for s in v):
            raise ShapeError(f"{name}: {what} must be positive, got {v}")
    fgc, bgc = feature_group_count, batch_group_count
    if fgc < 1 or bgc < 1:
        raise ShapeError(f"{name}: feature_group_count and batch_group_count must be >= 1, got {fgc} and {bgc}")
    if fgc > 1 and bgc > 1:
        raise ShapeError(f"{name}: at most one of feature_group_count ({fgc}) and batch_group_count ({bgc}) "
                         "may exceed 1")
    batch, feat = lhs.shape[lspec[0]], lhs.shape[lspec[1]]
    out_feat, in_feat = rhs.shape[rspec[0]], rhs.shape[rspec[1]]
    if feat % fgc or feat // fgc != in_feat:
        raise ShapeError(
            f"{name}: the lhs has {feat} features (axis {lspec[1]} of {lhs.shape}); with feature_group_count="
            f"{fgc} the kernel's input-feature axis (axis {rspec[1]} of {rhs.shape}) must be {feat} / {fgc}, "
            f"got {in_feat}")
    if out_feat % fgc:
        raise ShapeError(f"{name}: the kernel's {out_feat} output features (axis {rspec[0]} of {rhs.shape}) "
                         f"must be a multiple of feature_group_count={fgc}")
    if batch % bgc or out_feat % bgc:
        raise ShapeError(f"{name}: batch_group_count={bgc} must divide the batch ({batch}) and the kernel's "
                         f"output features ({out_feat})")
    spatial = []
    for i in range(n):
        size, k = lhs.shape[lspec[2 + i]], rhs.shape[rspec[2 + i]]
        lo, hi = padding[i]
        spatial.append(_window_out(name, size, lo, hi, lhs_dilation[i], k, rhs_dilation[i], window_strides[i]))
    canon = [batch // bgc, out_feat] + spatial
    shape = [0] * lhs.ndim
    for axis, d in zip(ospec, canon, strict=True):
        shape[axis] = d
    dtype = lhs.dtype if preferred_element_type is None else np.dtype(preferred_element_type)
    return ShapedArray(tuple(shape), dtype)


conv_general_dilated_p = def_primitive("conv_general_dilated", _conv_abstract_eval, linear=(0, 1))


def _precision(precision: Any) -> Any:
    """A hashable stand-in for JAX's precision argument (accepted and recorded; backends compute
    in the operands' dtype)."""
    if precision is None or isinstance(precision, (str, int)):
        return precision
    if isinstance(precision, (tuple, list)):
        return tuple(_precision(p) for p in precision)
    return str(precision)


def conv_general_dilated(lhs: Array, rhs: Array, window_strides: Sequence[int], padding: Any,
                         lhs_dilation: Sequence[int] | None = None, rhs_dilation: Sequence[int] | None = None,
                         dimension_numbers: Any = None, feature_group_count: int = 1,
                         batch_group_count: int = 1, precision: Any = None,
                         preferred_element_type: Any = None) -> Array:
    """General N-d convolution (cross-correlation, as ``jax.lax.conv_general_dilated``).

    ``padding`` is ``"SAME"``, ``"SAME_LOWER"``, ``"VALID"`` or one ``(low, high)`` pair per
    spatial axis (negative values crop); ``lhs_dilation`` inserts ``d - 1`` zeros between input
    elements (a transposed convolution), ``rhs_dilation`` between kernel taps (atrous).
    ``dimension_numbers`` is None (``NC...``/``OI...``/``NC...``), three strings such as
    ``("NHWC", "HWIO", "NHWC")`` or a ``ConvDimensionNumbers``. ``precision`` is accepted for
    compatibility; ``preferred_element_type`` casts both operands to that dtype first.
    """
    la, ra = get_aval(lhs), get_aval(rhs)
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    n = la.ndim - 2
    strides = _ints("window_strides", window_strides, n)
    lhs_dil = _ints("lhs_dilation", lhs_dilation, n, 1)
    rhs_dil = _ints("rhs_dilation", rhs_dilation, n, 1)
    if isinstance(padding, str):
        if any(d != 1 for d in lhs_dil):
            raise ShapeError("string padding is not defined for a convolution with lhs_dilation; give "
                             "explicit (low, high) pairs or use lax.conv_transpose")
        lhs_sp = [la.shape[a] for a in dn.lhs_spec[2:]]
        k_sp = [_dilate(ra.shape[a], d) for a, d in zip(dn.rhs_spec[2:], rhs_dil, strict=True)]
        pads = tuple(padtype_to_pads(lhs_sp, k_sp, strides, padding))
    else:
        pads = _pairs(padding, n)
    if preferred_element_type is not None:
        pet = np.dtype(preferred_element_type)
        lhs, rhs = lax.convert_element_type(lhs, pet), lax.convert_element_type(rhs, pet)
    params = dict(window_strides=strides, padding=pads, lhs_dilation=lhs_dil, rhs_dilation=rhs_dil,
                  dimension_numbers=dn, feature_group_count=operator.index(feature_group_count),
                  batch_group_count=operator.index(batch_group_count), precision=_precision(precision),
                  preferred_element_type=None)
    _checked(_conv_abstract_eval, get_aval(lhs), get_aval(rhs), **params)
    return bind(conv_general_dilated_p, lhs, rhs, **params)


def conv(lhs: Array, rhs: Array, window_strides: Sequence[int], padding: str, precision: Any = None,
         preferred_element_type: Any = None) -> Array:
    """``conv_general_dilated`` in the NCHW / OIHW layout with no dilation (``jax.lax.conv``)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_with_general_padding(lhs: Array, rhs: Array, window_strides: Sequence[int], padding: Any,
                              lhs_dilation: Sequence[int] | None, rhs_dilation: Sequence[int] | None,
                              precision: Any = None, preferred_element_type: Any = None) -> Array:
    """``conv_general_dilated`` in the NCHW / OIHW layout (``jax.lax.conv_with_general_padding``)."""
    return conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
                                rhs_dilation=rhs_dilation, precision=precision,
                                preferred_element_type=preferred_element_type)


def _conv_transpose_padding(k: int, s: int, padding: Any) -> tuple[int, int]:
    """Before/after padding of the fractionally strided convolution that ``conv_transpose`` runs
    for one spatial axis (kernel size ``k`` already dilated, stride ``s``)."""
    if padding == "SAME":
        total = k + s - 2
        lo = k - 1 if s > k - 1 else -(-total // 2)
    elif padding == "VALID":
        total = k + s - 2 + max(k - s, 0)
        lo = k - 1
    elif isinstance(padding, tuple):
        pads = tuple(k - p - 1 for p in padding)
        lo, total = pads[0], sum(pads)
    else:
        raise ShapeError(f"conv_transpose: padding must be 'SAME', 'VALID' or (low, high) pairs, got {padding!r}")
    return lo, total - lo


def conv_transpose(lhs: Array, rhs: Array, strides: Sequence[int], padding: Any,
                   rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                   transpose_kernel: bool = False, precision: Any = None, preferred_element_type: Any = None,
                   use_consistent_padding: bool = False) -> Array:
    """A transposed ("fractionally strided") convolution, as ``jax.lax.conv_transpose``.

    The input is dilated by ``strides``. ``"SAME"``/``"VALID"`` (and, with
    ``use_consistent_padding``, explicit pairs) name the padding of the forward convolution this
    one transposes; otherwise explicit pairs pad the dilated input directly. The layout defaults
    to channels last (``NHWC``/``HWIO``). ``transpose_kernel`` flips the kernel's spatial axes and
    swaps its feature axes (Keras' Conv2DTranspose)."""
    la, ra = get_aval(lhs), get_aval(rhs)
    nd = la.ndim
    if ra.ndim != nd or nd < 2:
        raise ShapeError(f"conv_transpose needs lhs and rhs of equal rank >= 2, got {la.shape} and {ra.shape}")
    if dimension_numbers is None:
        defaults = {2: ("NC", "IO", "NC"), 3: ("NHC", "HIO", "NHC"), 4: ("NHWC", "HWIO", "NHWC"),
                    5: ("NHWDC", "HWDIO", "NHWDC")}
        if nd not in defaults:
            raise ShapeError(f"conv_transpose has no default dimension_numbers for rank {nd}; pass them")
        dimension_numbers = defaults[nd]
    dn = conv_dimension_numbers(la.shape, ra.shape, dimension_numbers)
    n = nd - 2
    strides = _ints("strides", strides, n)
    rhs_dil = _ints("rhs_dilation", rhs_dilation, n, 1)
    k_sp = [_dilate(ra.shape[a], d) for a, d in zip(dn.rhs_spec[2:], rhs_dil, strict=True)]
    if use_consistent_padding or (isinstance(padding, str) and padding in ("SAME", "VALID")):
        per_axis = [padding] * n if isinstance(padding, str) else [tuple(p) for p in _pairs(padding, n)]
        pads = tuple(_conv_transpose_padding(k, s, p) for k, s, p in zip(k_sp, strides, per_axis, strict=True))
    else:
        pads = padding
    if transpose_kernel:
        rhs = lax.rev(rhs, dn.rhs_spec[2:])
        perm = list(range(nd))
        perm[dn.rhs_spec[0]], perm[dn.rhs_spec[1]] = perm[dn.rhs_spec[1]], perm[dn.rhs_spec[0]]
        rhs = lax.transpose(rhs, perm)
    return conv_general_dilated(lhs, rhs, (1,) * n, pads, strides, rhs_dil, dn, precision=precision,
                                preferred_element_type=preferred_element_type)


def conv_general_dilated_patches(lhs: Array, filter_shape: Sequence[int], window_strides: Sequence[int],
                                 padding: Any, lhs_dilation: Sequence[int] | None = None,
                                 rhs_dilation: Sequence[int] | None = None, dimension_numbers: Any = None,
                                 precision: Any = None, preferred_element_type: Any = None) -> Array:
    """The patches a convolution with a kernel of spatial shape ``filter_shape`` would see, one
    per output position, flattened into the feature axis (as
    ``jax.lax.conv_general_dilated_patches``): the feature axis of the result has
    ``C * prod(filter_shape)`` entries ordered ``(c, *window position)``. It is a depthwise
    convolution with one-hot kernels, so it is differentiable like any convolution."""
    la = get_aval(lhs)
    filter_shape = tuple(operator.index(f) for f in filter_shape)
    dn = conv_dimension_numbers(la.shape, (1, 1) + filter_shape, dimension_numbers)
    size = math.prod(filter_shape)
    channels = la.shape[dn.lhs_spec[1]]
    # One-hot kernels in the canonical (O, I, spatial...) layout, O = channel-major (c, position).
    eye = np.eye(size, dtype=la.dtype).reshape((size, 1) + filter_shape)
    kernel = np.tile(eye, (channels,) + (1,) * (len(filter_shape) + 1))
    perm = [0] * kernel.ndim  # canonical axis j goes to axis rhs_spec[j]
    for canonical, axis in enumerate(dn.rhs_spec):
        perm[axis] = canonical
    kernel = np.ascontiguousarray(kernel.transpose(perm))
    return conv_general_dilated(lhs, kernel, window_strides, padding, lhs_dilation, rhs_dilation, dn,
                                feature_group_count=channels, precision=precision,
                                preferred_element_type=preferred_element_type)


def _bind_conv(lhs: Array, rhs: Array, **params: Any) -> Array:
    return bind(conv_general_dilated_p, lhs, rhs, **params)


def _conv_jvp(primals, tangents, **params):
    lhs, rhs = primals
    tl, tr = tangents
    ans = _bind_conv(lhs, rhs, **params)
    out = Zero(get_aval(ans))
    if not isinstance(tl, Zero):
        out = add_tangents(out, _bind_conv(tl, rhs, **params))
    if not isinstance(tr, Zero):
        out = add_tangents(out, _bind_conv(lhs, tr, **params))
    return ans, out


def_jvp_rule(conv_general_dilated_p, _conv_jvp)


def _reshape_axis_out_of(src: int, size1: int, x: Array) -> Array:
    """Split axis ``src`` of ``x`` into ``(size1, rest)`` (major part first)."""
    shape = list(get_aval(x).shape)
    shape[src:src + 1] = [size1, shape[src] // size1]
    return lax.reshape(x, shape)


def _reshape_axis_into(src: int, dst: int, x: Array) -> Array:
    """Merge axis ``src`` into axis ``dst`` (numbered with ``src`` removed), ``src`` as the major part."""
    shape = get_aval(x).shape
    perm = [i for i in range(len(shape)) if i != src]
    perm.insert(dst, src)
    new = [shape[i] for i in range(len(shape)) if i != src]
    new[dst] *= shape[src]
    return lax.reshape(lax.transpose(x, perm), new)


def _swap01(spec: tuple[int, ...]) -> tuple[int, ...]:
    return (spec[1], spec[0]) + tuple(spec[2:])


def _cast_to(x: Array, dtype: np.dtype) -> Array:
    return x if get_aval(x).dtype == dtype else lax.convert_element_type(x, dtype)


def _conv_transpose_lhs(ct, rhs, lhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count, precision, **_):
    lspec, rspec, ospec = dimension_numbers
    fgc = feature_group_count
    if fgc > 1 or batch_group_count > 1:
        # The group axis moves from the kernel's output features to its input features.
        g = max(fgc, batch_group_count)
        rhs = _reshape_axis_into(rspec[0], rspec[1], _reshape_axis_out_of(rspec[0], g, rhs))
        fgc = g
    ra, cta = get_aval(rhs), get_aval(ct)
    pads = _vjp_lhs_padding([lhs_aval.shape[a] for a in lspec[2:]], [ra.shape[a] for a in rspec[2:]],
                            window_strides, [cta.shape[a] for a in ospec[2:]], padding, lhs_dilation, rhs_dilation)
    out = _bind_conv(ct, _cast_to(lax.rev(rhs, rspec[2:]), cta.dtype), window_strides=lhs_dilation, padding=pads,
                     lhs_dilation=window_strides, rhs_dilation=rhs_dilation,
                     dimension_numbers=ConvDimensionNumbers(ospec, _swap01(rspec), lspec),
                     feature_group_count=fgc, batch_group_count=1, precision=precision, preferred_element_type=None)
    if batch_group_count > 1:
        out = _reshape_axis_into(lspec[1], lspec[0], _reshape_axis_out_of(lspec[1], batch_group_count, out))
    return _cast_to(out, lhs_aval.dtype)


def _conv_transpose_rhs(ct, lhs, rhs_aval, *, window_strides, padding, lhs_dilation, rhs_dilation,
                        dimension_numbers, feature_group_count, batch_group_count, precision, **_):
    lspec, rspec, ospec = dimension_numbers
    cta, la = get_aval(ct), get_aval(lhs)
    if cta.size == 0:
        return lax.full(rhs_aval.shape, 0, rhs_aval.dtype)
    # Feature groups become batch groups and vice versa.
    fgc, bgc = batch_group_count, feature_group_count
    pads = _vjp_rhs_padding([la.shape[a] for a in lspec[2:]], [rhs_aval.shape[a] for a in rspec[2:]],
                            window_strides, [cta.shape[a] for a in ospec[2:]], padding, lhs_dilation, rhs_dilation)
    out = _bind_conv(_cast_to(lhs, cta.dtype), ct, window_strides=rhs_dilation, padding=pads,
                     lhs_dilation=lhs_dilation, rhs_dilation=window_strides,
                     dimension_numbers=ConvDimensionNumbers(_swap01(lspec), _swap01(ospec), _swap01(rspec)),
                     feature_group_count=fgc, batch_group_count=bgc, precision=precision, preferred_element_type=None)
    return _cast_to(out, rhs_aval.dtype)


def _conv_transpose_rule(ct, lhs, rhs, **params):
    if is_undefined(lhs) and is_undefined(rhs):
        raise NotImplementedError("conv_general_dilated of two linear values is not linear; cannot transpose it")
    if is_undefined(lhs):
        if isinstance(ct, Zero):
            return [Zero(lhs.aval), None]
        return [_conv_transpose_lhs(ct, rhs, lhs.aval, **params), None]
    if isinstance(ct, Zero):
        return [None, Zero(rhs.aval)]
    return [None, _conv_transpose_rhs(ct, lhs, rhs.aval, **params)]


def_transpose_rule(conv_general_dilated_p, _conv_transpose_rule)


def _conv_batch_rule(args, dims, **params):
    """vmap over images (the batch axis joins the convolution's batch), over kernels (it joins
    the output features) or over both (a grouped convolution, one group per example)."""
    lhs, rhs = args
    bl, br = dims
    lspec, rspec, ospec = params["dimension_numbers"]
    fgc, bgc = params["feature_group_count"], params["batch_group_count"]
    if bl is not None and br is not None:
        size = get_aval(lhs).shape[bl]
        new = dict(params)
        if bgc > 1:
            lhs = _reshape_axis_into(bl, lspec[0], lhs)
            new["batch_group_count"] = bgc * size
        else:
            lhs = _reshape_axis_into(bl, lspec[1], lhs)
            new["feature_group_count"] = fgc * size
        rhs = _reshape_axis_into(br, rspec[0], rhs)
        out = _bind_conv(lhs, rhs, **new)
        return _reshape_axis_out_of(ospec[1], size, out), ospec[1]
    if bl is not None:
        size = get_aval(lhs).shape[bl]
        if bgc == 1:
            out = _bind_conv(_reshape_axis_into(bl, lspec[0], lhs), rhs, **params)
            return _reshape_axis_out_of(ospec[0], size, out), ospec[0]
        # Keep the batch groups outermost: N = (group, example, n).
        lhs = _reshape_axis_out_of(lspec[0] + int(bl <= lspec[0]), bgc, lhs)
        lhs = _reshape_axis_into(bl + int(lspec[0] < bl), lspec[0] + 1, lhs)
        lhs = _reshape_axis_into(lspec[0], lspec[0], lhs)
        out = _bind_conv(lhs, rhs, **params)
        return _reshape_axis_out_of(ospec[0], size, out), ospec[0]
    size = get_aval(rhs).shape[br]
    if fgc == 1 and bgc == 1:
        out = _bind_conv(lhs, _reshape_axis_into(br, rspec[0], rhs), **params)
        return _reshape_axis_out_of(ospec[1], size, out), ospec[1]
    # Groups stay outermost in the kernel's output features: O = (group, example, o).
    g = max(fgc, bgc)
    rhs = _reshape_axis_out_of(rspec[0] + int(br <= rspec[0]), g, rhs)
    rhs = _reshape_axis_into(br + int(rspec[0] < br), rspec[0] + 1, rhs)
    rhs = _reshape_axis_into(rspec[0], rspec[0], rhs)
    out = _bind_conv(lhs, rhs, **params)
    out = _reshape_axis_out_of(ospec[1], g, out)
    out = _reshape_axis_out_of(ospec[1] + 1, size, out)
    return _reshape_axis_into(ospec[1], ospec[1] + 1, out), ospec[1]


def_batch_rule(conv_general_dilated_p, _conv_batch_rule)
