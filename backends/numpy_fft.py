"""NumPy implementation of the fft family (``functrace/ops/fft.py``)."""

from __future__ import annotations

import numpy as np

from functrace.ops import complex_parts as CP
from functrace.ops import fft as FT


def _fft(x, *, fft_type, fft_lengths):
    """numpy.fft over the trailing axes, keeping single precision (NumPy computes in double)."""
    axes = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "FFT":
        out, dt = np.fft.fftn(x, axes=axes), x.dtype
    elif fft_type == "IFFT":
        out, dt = np.fft.ifftn(x, axes=axes), x.dtype
    elif fft_type == "RFFT":
        out, dt = np.fft.rfftn(x, axes=axes), CP.complex_dtype(x.dtype)
    else:
        out, dt = np.fft.irfftn(x, s=fft_lengths, axes=axes), CP.real_dtype(x.dtype)
    return np.asarray(out, dtype=dt)


IMPLS = {FT.fft_p: _fft}
