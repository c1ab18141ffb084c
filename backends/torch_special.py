"""torch implementations of the special-functions family (``functrace/ops/special.py``)."""

from __future__ import annotations

from typing import Any

import torch

from functrace.ops import special as SP


def _zeta(x, q):
    """torch's Hurwitz zeta is nan where (n + q) ** -x underflows for huge x and q (x, q > 1);
    the value there is 0, as SciPy gives."""
    z = torch.special.zeta(x, q)
    return torch.where(torch.isnan(z) & (x > 1) & (q > 1), torch.zeros_like(z), z)


def _nan_in_nan_out(f):
    """torch's incomplete gamma returns 0 or 1 for some nan operands; NumPy (SciPy) and JAX give nan."""
    def g(a, x):
        return torch.where(torch.isnan(a) | torch.isnan(x), a + x, f(a, x))
    return g


def impls(device: Any) -> dict:
    return {
        SP.lgamma_p: torch.lgamma, SP.digamma_p: torch.digamma,
        SP.polygamma_p: lambda x, *, m: torch.special.polygamma(m, x), SP.erfc_p: torch.special.erfc,
        SP.bessel_i0e_p: torch.special.i0e, SP.bessel_i1e_p: torch.special.i1e,
        SP.igamma_p: _nan_in_nan_out(torch.special.gammainc), SP.igammac_p: _nan_in_nan_out(torch.special.gammaincc),
        SP.zeta_p: _zeta,
    }
