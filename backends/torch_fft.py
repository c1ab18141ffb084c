"""torch implementation of the fft family (``functrace/ops/fft.py``)."""

from __future__ import annotations

from typing import Any

import torch

from functrace.ops import fft as FT


def _fft(x, *, fft_type, fft_lengths):
    dims = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "FFT":
        return torch.fft.fftn(x, dim=dims)
    if fft_type == "IFFT":
        return torch.fft.ifftn(x, dim=dims)
    if fft_type == "RFFT":
        return torch.fft.rfftn(x, dim=dims)
    return torch.fft.irfftn(x, s=fft_lengths, dim=dims)


def impls(device: Any) -> dict:
    return {FT.fft_p: _fft}
