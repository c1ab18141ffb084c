"""``functrace.numpy.fft``: NumPy's discrete Fourier transforms, traceable and differentiable.

Each function moves the transformed axes last, crops or zero-pads them to the requested
lengths (``n``/``s``), applies the ``fft`` primitive (``functrace.lax.fft``) and scales for
``norm`` ("backward", the default, scales the inverse by 1/N; "ortho" both by 1/sqrt(N);
"forward" the forward by 1/N). As in JAX, single precision stays single precision: a float32
input gives complex64 (NumPy computes in double).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.errors import FunctraceError
from functrace.numpy._complex import conj
from functrace.numpy._core import _as_operand, asarray, true_divide, user_error
from functrace.numpy._shape import moveaxis, roll
from functrace.ops.complex_parts import complex_dtype, real_dtype
from functrace.tracing import Tracer, get_aval
from functrace.util import normalize_axis

Array = Any

__all__ = ["fft", "ifft", "rfft", "irfft", "fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn",
           "irfftn", "hfft", "ihfft", "fftfreq", "rfftfreq", "fftshift", "ifftshift"]

_NORMS = (None, "backward", "ortho", "forward")


def _operand(a: Array) -> Array:
    return a if isinstance(a, Tracer) else asarray(_as_operand(a))


def _inexact(x: Array, want_complex: bool) -> Array:
    """``x`` cast to the complex (or real) dtype NumPy's transform computes in; integers -> double."""
    dt = get_aval(x).dtype
    base = dt if dt.kind in "fc" else np.dtype(np.float64)
    if base == np.float16:
        base = np.dtype(np.float32)
    target = complex_dtype(base) if want_complex else real_dtype(base)
    if dt.kind == "c" and not want_complex:
        raise user_error(TypeError(f"this transform needs a real input, got {dt.name}; take fnp.real(x) "
                                   "first, or use functrace.numpy.fft.fft"))
    return lax.convert_element_type(x, target)


def _fit(x: Array, axis: int, n: int) -> Array:
    """``x`` cropped or zero-padded at the end of ``axis`` to length ``n``."""
    a = get_aval(x)
    if n < 1:
        raise user_error(FunctraceError(f"invalid number of FFT data points ({n}); it must be at least 1"))
    m = a.shape[axis]
    if n == m:
        return x
    if n < m:
        return lax.slice(x, (0,) * a.ndim, tuple(n if i == axis else d for i, d in enumerate(a.shape)))
    cfg = [(0, n - m if i == axis else 0, 0) for i in range(a.ndim)]
    return lax.pad(x, np.zeros((), a.dtype)[()], cfg)


def _axes_and_sizes(x: Array, s: Sequence[int] | None, axes: Sequence[int] | None,
                    inverse_real: bool = False) -> tuple[tuple[int, ...], tuple[int, ...]]:
    nd = get_aval(x).ndim
    shape = get_aval(x).shape
    if axes is None:
        axes = tuple(range(nd)) if s is None else tuple(range(nd - len(s), nd))
    axes = tuple(normalize_axis(int(a), nd) for a in axes)
    if len(set(axes)) != len(axes):
        raise user_error(FunctraceError(f"repeated axes in {axes} are not supported"))
    if s is None:
        s = [shape[a] for a in axes]
        if inverse_real:
            s[-1] = 2 * (s[-1] - 1)
    elif len(s) != len(axes):
        raise user_error(FunctraceError(f"s={tuple(s)} and axes={axes} must have the same length"))
    return axes, tuple(int(n) for n in s)


def _scale(x: Array, norm: str | None, count: int, forward: bool) -> Array:
    if norm not in _NORMS:
        raise user_error(ValueError(f'invalid norm {norm!r}: use "backward", "ortho" or "forward"'))
    factor = {(None, True): 1.0, ("backward", True): 1.0, ("ortho", True): 1 / np.sqrt(count),
              ("forward", True): 1.0 / count, (None, False): 1.0, ("backward", False): 1.0,
              ("ortho", False): np.sqrt(count), ("forward", False): float(count)}[(norm, forward)]
    if factor == 1.0:
        return x
    return lax.mul(x, np.asarray(factor, get_aval(x).dtype)[()])


def _transform(a: Array, s, axes, norm, kind: str) -> Array:
    """The n-dimensional transform ``kind`` (FFT, IFFT, RFFT, IRFFT) over ``axes``."""
    x = _operand(a)
    axes, sizes = _axes_and_sizes(x, s, axes, inverse_real=kind == "IRFFT")
    x = _inexact(x, want_complex=kind != "RFFT")
    k, nd = len(axes), get_aval(x).ndim
    for ax, n in zip(axes, sizes, strict=True):
        x = _fit(x, ax, n // 2 + 1 if kind == "IRFFT" and ax == axes[-1] else n)
    last = tuple(range(nd - k, nd))
    x = moveaxis(x, axes, last)
    y = lax.fft(x, kind, sizes)
    y = _scale(y, norm, int(np.prod(sizes)), forward=kind in ("FFT", "RFFT"))
    return moveaxis(y, last, axes)


def fft(a: Array, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """The one-dimensional DFT along ``axis`` (cropped/zero-padded to ``n``)."""
    return _transform(a, None if n is None else (n,), (axis,), norm, "FFT")


def ifft(a: Array, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """The one-dimensional inverse DFT along ``axis``."""
    return _transform(a, None if n is None else (n,), (axis,), norm, "IFFT")


def rfft(a: Array, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """The DFT of a real input: its ``n//2 + 1`` non-negative frequencies."""
    return _transform(a, None if n is None else (n,), (axis,), norm, "RFFT")


def irfft(a: Array, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """The inverse of ``rfft``: ``n`` real values (``2 * (m - 1)`` by default)."""
    return _transform(a, None if n is None else (n,), (axis,), norm, "IRFFT")


def fftn(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
         norm: str | None = None) -> Array:
    """The n-dimensional DFT over ``axes`` (every axis by default)."""
    return _transform(a, s, axes, norm, "FFT")


def ifftn(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Array:
    """The n-dimensional inverse DFT."""
    return _transform(a, s, axes, norm, "IFFT")


def rfftn(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
          norm: str | None = None) -> Array:
    """The n-dimensional DFT of a real input (the last axis halved)."""
    return _transform(a, s, axes, norm, "RFFT")


def irfftn(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] | None = None,
           norm: str | None = None) -> Array:
    """The inverse of ``rfftn``."""
    return _transform(a, s, axes, norm, "IRFFT")


def fft2(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None) -> Array:
    """The two-dimensional DFT over ``axes``."""
    return fftn(a, s, axes, norm)


def ifft2(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None) -> Array:
    """The two-dimensional inverse DFT."""
    return ifftn(a, s, axes, norm)


def rfft2(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1), norm: str | None = None) -> Array:
    """The two-dimensional DFT of a real input."""
    return rfftn(a, s, axes, norm)


def irfft2(a: Array, s: Sequence[int] | None = None, axes: Sequence[int] = (-2, -1),
           norm: str | None = None) -> Array:
    """The inverse of ``rfft2``."""
    return irfftn(a, s, axes, norm)


_SWAP = {None: "forward", "backward": "forward", "ortho": "ortho", "forward": "backward"}


def hfft(a: Array, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """The DFT of a signal with Hermitian symmetry, given by its first half: ``n`` real values."""
    if norm not in _NORMS:
        raise user_error(ValueError(f'invalid norm {norm!r}: use "backward", "ortho" or "forward"'))
    return irfft(conj(_inexact(_operand(a), True)), n, axis, _SWAP[norm])


def ihfft(a: Array, n: int | None = None, axis: int = -1, norm: str | None = None) -> Array:
    """The inverse of ``hfft``: the first half of the spectrum of a real signal, conjugated."""
    if norm not in _NORMS:
        raise user_error(ValueError(f'invalid norm {norm!r}: use "backward", "ortho" or "forward"'))
    return conj(rfft(a, n, axis, _SWAP[norm]))


def fftfreq(n: int, d: Any = 1.0) -> Array:
    """The sample frequencies of an ``n``-point DFT with sample spacing ``d`` (a traced ``d`` works)."""
    base = asarray(np.fft.fftfreq(int(n), 1.0))
    return base if isinstance(d, (int, float)) and d == 1.0 else true_divide(base, d)


def rfftfreq(n: int, d: Any = 1.0) -> Array:
    """The non-negative sample frequencies of an ``n``-point real DFT."""
    base = asarray(np.fft.rfftfreq(int(n), 1.0))
    return base if isinstance(d, (int, float)) and d == 1.0 else true_divide(base, d)


def _shift(x: Array, axes: Any, sign: int) -> Array:
    x = _operand(x)
    shape = get_aval(x).shape
    if axes is None:
        axes = tuple(range(len(shape)))
    elif isinstance(axes, int):
        axes = (axes,)
    axes = tuple(normalize_axis(int(a), len(shape)) for a in axes)
    shifts = tuple(sign * (shape[a] // 2) for a in axes)
    return roll(x, shifts, axes)


def fftshift(x: Array, axes: Any = None) -> Array:
    """Move the zero frequency to the centre (roll by ``n // 2`` along ``axes``)."""
    return _shift(x, axes, 1)


def ifftshift(x: Array, axes: Any = None) -> Array:
    """The inverse of ``fftshift``."""
    return _shift(x, axes, -1)
