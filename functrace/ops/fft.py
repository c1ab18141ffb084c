"""The ``fft`` primitive: discrete Fourier transforms over the trailing axes (as ``lax.fft``).

``fft_type`` is one of ``"FFT"`` (complex -> complex), ``"IFFT"`` (its inverse, scaled by
1/N as NumPy's), ``"RFFT"`` (real -> the ``n//2 + 1`` non-negative frequencies of the last
axis) and ``"IRFFT"`` (those back to ``n`` real values); ``fft_lengths`` are the sizes of the
transformed trailing axes (of the real side for RFFT/IRFFT). ``functrace.numpy.fft`` adds
NumPy's ``n``/``axis``/``norm`` on top.

Every FFT is linear, so its JVP transforms the tangent. The transposes use JAX's pairing
``Re(ct * t)``: the DFT matrix is symmetric, so FFT and IFFT are their own transposes; RFFT's
is the real part of the FFT of the cotangent zero-padded to ``n`` bins; IRFFT's doubles the bins
that stand for two (every one but the zero and Nyquist frequencies) in an RFFT of the cotangent.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import DTypeError, ShapeError
from functrace.ops._common import at_front
from functrace.ops.complex_parts import complex_dtype, real_dtype
from functrace.primitives import def_primitive
from functrace.rules import Zero, def_batch_rule, deflinear
from functrace.tracing import bind, get_aval

Array = Any
FFT_TYPES = ("FFT", "IFFT", "RFFT", "IRFFT")


def _fft_abstract_eval(x: ShapedArray, *, fft_type: str, fft_lengths: tuple[int, ...]) -> ShapedArray:
    k = len(fft_lengths)
    if fft_type not in FFT_TYPES:
        raise ValueError(f"fft: fft_type must be one of {FFT_TYPES}, got {fft_type!r}")
    if not 1 <= k <= x.ndim or any(n < 1 for n in fft_lengths):
        raise ShapeError(f"fft: fft_lengths {fft_lengths} do not fit an operand of shape {x.shape}")
    lead, tail = x.shape[:-k], x.shape[-k:]
    if fft_type == "RFFT":
        if x.dtype.kind != "f" or x.dtype not in (np.float32, np.float64):
            raise DTypeError(f"fft RFFT needs a float32 or float64 operand, got {x.dtype.name}")
        if tail != tuple(fft_lengths):
            raise ShapeError(f"fft RFFT: trailing axes {tail} must equal fft_lengths {fft_lengths}")
        return ShapedArray(lead + tail[:-1] + (fft_lengths[-1] // 2 + 1,), complex_dtype(x.dtype))
    if x.dtype.kind != "c":
        raise DTypeError(f"fft {fft_type} needs a complex operand, got {x.dtype.name}")
    if fft_type == "IRFFT":
        want = tuple(fft_lengths[:-1]) + (fft_lengths[-1] // 2 + 1,)
        if tail != want:
            raise ShapeError(f"fft IRFFT: trailing axes {tail} must be {want} for fft_lengths {fft_lengths}")
        return ShapedArray(lead + tuple(fft_lengths), real_dtype(x.dtype))
    if tail != tuple(fft_lengths):
        raise ShapeError(f"fft {fft_type}: trailing axes {tail} must equal fft_lengths {fft_lengths}")
    return x


fft_p = def_primitive("fft", _fft_abstract_eval, linear=(0,))


def fft(x: Array, fft_type: str, fft_lengths: Sequence[int]) -> Array:
    """The DFT of ``fft_type`` over the ``len(fft_lengths)`` trailing axes (as ``lax.fft``)."""
    fft_type = getattr(fft_type, "name", fft_type)  # accept an enum with JAX's member names
    return bind(fft_p, x, fft_type=str(fft_type).upper(), fft_lengths=tuple(int(n) for n in fft_lengths))


def _rfft_transpose(ct: Array, fft_lengths: tuple[int, ...]) -> Array:
    a = get_aval(ct)
    n = fft_lengths[-1]
    cfg = [(0, 0, 0)] * (a.ndim - 1) + [(0, n - a.shape[-1], 0)]
    padded = lax.pad(ct, np.zeros((), a.dtype)[()], cfg)
    return lax.real(fft(padded, "FFT", fft_lengths))


def _irfft_transpose(ct: Array, fft_lengths: tuple[int, ...]) -> Array:
    x = fft(ct, "RFFT", fft_lengths)
    a = get_aval(x)
    m, odd = a.shape[-1], fft_lengths[-1] % 2
    weights = np.full((m,), 2.0)
    weights[0] = 1.0
    if not odd:
        weights[-1] = 1.0
    weights /= float(np.prod(fft_lengths))
    w = lax.broadcast_in_dim(weights.astype(a.dtype), a.shape, (a.ndim - 1,))
    return lax.conj(lax.mul(x, w))


def _fft_transpose(ct, x, *, fft_type, fft_lengths):
    if isinstance(ct, Zero):
        return [Zero(x.aval)]
    if fft_type == "RFFT":
        return [_rfft_transpose(ct, fft_lengths)]
    if fft_type == "IRFFT":
        return [_irfft_transpose(ct, fft_lengths)]
    return [fft(ct, fft_type, fft_lengths)]


deflinear(fft_p, _fft_transpose)


def _fft_batch(args, dims, *, fft_type, fft_lengths):
    (x,), (d,) = args, dims
    return fft(at_front(x, d, get_aval(x).shape[d]), fft_type, fft_lengths), 0


def_batch_rule(fft_p, _fft_batch)
