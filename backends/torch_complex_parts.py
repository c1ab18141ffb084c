"""torch implementations of the complex-parts family (``functrace/ops/complex_parts.py``)."""

from __future__ import annotations

from typing import Any

import torch

from functrace.ops import complex_parts as CP


def _complex(x, y):
    x, y = torch.broadcast_tensors(x, y)
    return torch.complex(x, y)


def impls(device: Any) -> dict:
    return {CP.real_p: lambda x: torch.real(x).clone(), CP.imag_p: lambda x: torch.imag(x).clone(),
            CP.conj_p: lambda x: torch.conj(x).resolve_conj(), CP.complex_p: _complex}
