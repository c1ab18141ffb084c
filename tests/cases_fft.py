"""Derivative-table rows (see test_grad_primitives.py) for the ``fft`` primitive: each transform
type over one and two trailing axes, with odd and even lengths (the Nyquist bin of RFFT/IRFFT
stands for one frequency only when the length is even)."""

from __future__ import annotations

import numpy as np
from grad_cases import Case, real

from functrace import lax
from functrace.ops import fft as FT


def _cdt(dt) -> np.dtype:
    return np.dtype(np.complex64 if np.dtype(dt) == np.float32 else np.complex128)


def cplx(shape):
    return lambda rng, dt: (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(_cdt(dt))


CASES = [
    Case("fft[FFT,5]", FT.fft_p, lambda z: lax.fft(z, "FFT", (5,)), (cplx((2, 5)),)),
    Case("fft[FFT,3x4]", FT.fft_p, lambda z: lax.fft(z, "FFT", (3, 4)), (cplx((3, 4)),)),
    Case("fft[IFFT,6]", FT.fft_p, lambda z: lax.fft(z, "IFFT", (6,)), (cplx((3, 6)),)),
    Case("fft[IFFT,2x3]", FT.fft_p, lambda z: lax.fft(z, "IFFT", (2, 3)), (cplx((2, 2, 3)),)),
    Case("fft[RFFT,7]", FT.fft_p, lambda x: lax.fft(x, "RFFT", (7,)), (real((2, 7)),)),
    Case("fft[RFFT,8]", FT.fft_p, lambda x: lax.fft(x, "RFFT", (8,)), (real((8,)),)),
    Case("fft[RFFT,3x6]", FT.fft_p, lambda x: lax.fft(x, "RFFT", (3, 6)), (real((3, 6)),)),
    Case("fft[IRFFT,7]", FT.fft_p, lambda z: lax.fft(z, "IRFFT", (7,)), (cplx((2, 4)),)),
    Case("fft[IRFFT,8]", FT.fft_p, lambda z: lax.fft(z, "IRFFT", (8,)), (cplx((5,)),)),
    Case("fft[IRFFT,3x5]", FT.fft_p, lambda z: lax.fft(z, "IRFFT", (3, 5)), (cplx((2, 3, 3)),)),
]
