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
"""

from __future__ import annotations

import functools
import math
import operator
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray, is_bool, is_float, is_int
from functrace.errors import DTypeError, FunctraceError, ShapeError
from functrace.primitives import abstract_eval_rules, def_primitive
from functrace.rules import (
    Zero,
    add_tangents,
    def_batch_rule,
    def_jvp_rule,
    def_transpose_rule,
    is_undefined,
)
from functrace.tracing import bind, get_aval, located

Array = Any


# ---------------------------------------------------------------------------- dimension numbers
class ConvDimensionNumbers(NamedTuple):
    """Where each logical axis of a convolution's operands lives.

    ``lhs_spec`` is ``(batch axis, feature axis, spatial axes...)``, ``rhs_spec`` is
    ``(output-feature axis, input-feature axis, spatial axes...)`` and ``out_spec`` is
    ``(batch axis, feature axis, spatial axes...)``; the spatial axes of all three are listed in
    the same order (the order in which the kernel's spatial axes appear)."""

    lhs_spec: tuple[int, ...]
    rhs_spec: tuple[int, ...]
    out_spec: tuple[int, ...]


def conv_general_permutations(dimension_numbers: Sequence[str]) -> tuple[tuple[int, ...], ...]:
    """The ``(lhs, rhs, out)`` specs of string dimension numbers such as ``("NHWC", "HWIO", "NHWC")``."""
    lhs_s, rhs_s, out_s = dimension_numbers
    pairs = (("N", "C"), ("O", "I"), ("N", "C"))
    for i, (spec, (a, b)) in enumerate(zip(dimension_numbers, pairs, strict=True)):
        if spec.count(a) != 1 or spec.count(b) != 1:
            raise ShapeError(f"convolution dimension_numbers[{i}] = {spec!r} must contain the letters "
                             f"{a!r} and {b!r} exactly once")
        if len(set(spec)) != len(spec):
            raise ShapeError(f"convolution dimension_numbers[{i}] = {spec!r} repeats a letter")
    spatial = [set(s) - set(p) for s, p in zip(dimension_numbers, pairs, strict=True)]
    if not spatial[0] == spatial[1] == spatial[2]:
        raise ShapeError(f"convolution dimension_numbers {tuple(dimension_numbers)} must name the same "
                         "spatial letters in all three specs")

    def perm(spec: str, pair: tuple[str, str]) -> tuple[int, ...]:
        sp = sorted((i for i, c in enumerate(spec) if c not in pair), key=lambda i: rhs_s.index(spec[i]))
        return (spec.index(pair[0]), spec.index(pair[1])) + tuple(sp)

    return tuple(perm(s, p) for s, p in zip(dimension_numbers, pairs, strict=True))


def conv_dimension_numbers(lhs_shape: Sequence[int], rhs_shape: Sequence[int],
                           dimension_numbers: Any) -> ConvDimensionNumbers:
    """Normalise ``dimension_numbers`` (None, three strings, three index tuples, or a
    ``ConvDimensionNumbers``) to a ``ConvDimensionNumbers`` (as ``jax.lax.conv_dimension_numbers``).
    None means ``("NC...", "OI...", "NC...")``: batch and features first."""
    if isinstance(dimension_numbers, ConvDimensionNumbers):
        return dimension_numbers
    nd = len(lhs_shape)
    if nd != len(rhs_shape):
        raise ShapeError(f"convolution needs lhs and rhs of equal rank, got shapes {tuple(lhs_shape)} "
                         f"and {tuple(rhs_shape)}")
    if nd < 2:
        raise ShapeError(f"convolution needs operands of rank >= 2 (batch and feature axes), got rank {nd}")
    if dimension_numbers is None:
        iota = tuple(range(nd))
        return ConvDimensionNumbers(iota, iota, iota)
    if not isinstance(dimension_numbers, (list, tuple)) or len(dimension_numbers) != 3:
        raise ShapeError("convolution dimension_numbers must be None, a ConvDimensionNumbers or three "
                         f"specs (lhs, rhs, out), got {dimension_numbers!r}")
    if all(isinstance(s, str) for s in dimension_numbers):
        for i, s in enumerate(dimension_numbers):
            if len(s) != nd:
                raise ShapeError(f"convolution dimension_numbers[{i}] = {s!r} has {len(s)} letters but the "
                                 f"operands have rank {nd} (shapes {tuple(lhs_shape)} and {tuple(rhs_shape)})")
        return ConvDimensionNumbers(*conv_general_permutations(dimension_numbers))
    specs = tuple(tuple(operator.index(i) for i in s) for s in dimension_numbers)
    for i, s in enumerate(specs):
        if sorted(s) != list(range(nd)):
            raise ShapeError(f"convolution dimension_numbers[{i}] = {s} is not a permutation of range({nd})")
    return ConvDimensionNumbers(*specs)


def padtype_to_pads(in_shape: Sequence[int], window_shape: Sequence[int], window_strides: Sequence[int],
                    padding: str) -> list[tuple[int, int]]:
    """(low, high) pads for ``"VALID"``, ``"SAME"`` (odd extra at the end) or ``"SAME_LOWER"``
    (odd extra at the start), as ``jax.lax.padtype_to_pads``: SAME gives ``ceil(in / stride)``
    outputs."""
    mode = padding.upper() if isinstance(padding, str) else padding
    if mode == "VALID":
        return [(0, 0)] * len(in_shape)
    if mode not in ("SAME", "SAME_LOWER"):
        raise ShapeError(f"padding must be 'VALID', 'SAME', 'SAME_LOWER' or (low, high) pairs, got {padding!r}")
    pads = []
    for d, w, s in zip(in_shape, window_shape, window_strides, strict=True):
        total = max(0, (-(-d // s) - 1) * s + w - d)
        lo = total // 2 if mode == "SAME" else total - total // 2
        pads.append((lo, total - lo))
    return pads


def _dilate(d: int, dilation: int) -> int:
    return 0 if d == 0 else 1 + dilation * (d - 1)


def _ints(name: str, values: Any, n: int, default: int | None = None) -> tuple[int, ...]:
    if values is None:
        if default is None:
            raise ShapeError(f"{name} is required")
        return (default,) * n
    out = tuple(operator.index(v) for v in values)
    if len(out) != n:
        raise ShapeError(f"{name} needs one entry per spatial axis ({n}), got {tuple(values)}")
    return out


def _pairs(padding: Any, n: int) -> tuple[tuple[int, int], ...]:
    try:
        pads = tuple((operator.index(lo), operator.index(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise ShapeError(f"padding must be 'VALID', 'SAME', 'SAME_LOWER' or a sequence of (low, high) "
                         f"integer pairs, got {padding!r}") from None
    if len(pads) != n:
        raise ShapeError(f"padding needs one (low, high) pair per spatial axis ({n}), got {padding!r}")
    return pads


# ---------------------------------------------------------------------------- conv_general_dilated
def _window_out(name: str, size: int, lo: int, hi: int, base_dil: int, window: int, win_dil: int,
                stride: int) -> int:
    padded = _dilate(size, base_dil) + lo + hi
    if padded < 0:
        raise ShapeError(f"{name}: negative padding ({lo}, {hi}) removes more than the {size} elements of an axis")
    eff = _dilate(window, win_dil)
    return 0 if padded < eff else (padded - eff) // stride + 1


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


def _checked(rule: Callable, *avals: ShapedArray, **params: Any) -> None:
    """Run an abstract-evaluation rule up front: eager calls skip it on the happy path, and a
    backend would otherwise promote mixed dtypes or accept out-of-range padding silently."""
    try:
        rule(*avals, **params)
    except FunctraceError as e:
        raise located(e) from None


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


def _vjp_lhs_padding(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil) -> tuple:
    """Padding of the convolution of the output cotangent (dilated by the strides) with the
    flipped kernel that gives the input cotangent at exactly the input's (dilated) shape."""
    pads = []
    for d, k, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil,
                                           strict=True):
        before = _dilate(k, rd) - lo - 1
        after = _dilate(d, ld) + _dilate(k, rd) - 1 - _dilate(o, s) - before
        pads.append((before, after))
    return tuple(pads)


def _vjp_rhs_padding(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil) -> tuple:
    """Padding of the convolution of the input with the output cotangent (as the kernel) that
    gives the kernel's cotangent."""
    pads = []
    for d, k, s, o, (lo, _), ld, rd in zip(in_shape, window, strides, out_shape, padding, lhs_dil, rhs_dil,
                                           strict=True):
        hi = (_dilate(o, s) - _dilate(d, ld)) + (_dilate(k, rd) - lo - 1)
        pads.append((lo, hi))
    return tuple(pads)


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
