"""Geometry shared by the convolution family: dimension numbers, padding specs and argument checks."""

from __future__ import annotations

import operator
from typing import Any, Callable, NamedTuple, Sequence

from functrace.avals import ShapedArray
from functrace.errors import FunctraceError, ShapeError
from functrace.tracing import located


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


def _window_out(name: str, size: int, lo: int, hi: int, base_dil: int, window: int, win_dil: int,
                stride: int) -> int:
    padded = _dilate(size, base_dil) + lo + hi
    if padded < 0:
        raise ShapeError(f"{name}: negative padding ({lo}, {hi}) removes more than the {size} elements of an axis")
    eff = _dilate(window, win_dil)
    return 0 if padded < eff else (padded - eff) // stride + 1


def _checked(rule: Callable, *avals: ShapedArray, **params: Any) -> None:
    """Run an abstract-evaluation rule up front: eager calls skip it on the happy path, and a
    backend would otherwise promote mixed dtypes or accept out-of-range padding silently."""
    try:
        rule(*avals, **params)
    except FunctraceError as e:
        raise located(e) from None


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
