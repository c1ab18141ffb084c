"""NumPy implementations of the complex-parts family (``functrace/ops/complex_parts.py``)."""

from __future__ import annotations

import numpy as np

from functrace.ops import complex_parts as CP


def _complex(x, y):
    """x + i*y with the complex dtype of the parts (NumPy's ``x + 1j*y`` would widen float32)."""
    x, y = np.broadcast_arrays(x, y)
    out = np.empty(x.shape, CP.complex_dtype(x.dtype))
    out.real, out.imag = x, y
    return out


IMPLS = {CP.real_p: lambda x: np.array(np.real(x)), CP.imag_p: lambda x: np.array(np.imag(x)),
         CP.conj_p: np.conjugate, CP.complex_p: _complex}
