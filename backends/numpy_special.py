"""NumPy implementations of the special-functions family (``functrace/ops/special.py``), by SciPy."""

from __future__ import annotations

import numpy as np

from functrace.errors import BackendError
from functrace.ops import special as SP


def _scipy_special(name: str, *, order: bool = False):
    """scipy.special's ``name`` in the operand's float type; SciPy is imported on first use, and
    its absence is an error that names the function and the way out."""

    def impl(*args, **params):
        try:
            import scipy.special as sc
        except ImportError:
            raise BackendError(f"the NumPy backend computes {name} with SciPy, which is not installed: "
                               "pip install scipy, or use the torch backend") from None
        dt = np.result_type(*args)
        with np.errstate(all="ignore"):
            out = getattr(sc, name)(params["m"], *args) if order else getattr(sc, name)(*args)
        return np.asarray(out, dtype=dt)

    return impl


def _lgamma(x):
    """scipy's gammaln, but inf at -inf and -log(x) for subnormal x (as JAX and torch; SciPy gives
    -inf and inf there)."""
    out = _scipy_special("gammaln")(x)
    with np.errstate(all="ignore"):
        tiny = (x > 0) & (x < np.finfo(x.dtype).tiny)
        return np.where(np.isneginf(x), np.inf, np.where(tiny, -np.log(np.where(tiny, x, 1)), out)).astype(out.dtype)


IMPLS = {SP.lgamma_p: _lgamma, SP.digamma_p: _scipy_special("psi"),
         SP.polygamma_p: _scipy_special("polygamma", order=True), SP.erfc_p: _scipy_special("erfc"),
         SP.bessel_i0e_p: _scipy_special("i0e"),
         SP.bessel_i1e_p: _scipy_special("i1e"), SP.igamma_p: _scipy_special("gammainc"),
         SP.igammac_p: _scipy_special("gammaincc"), SP.zeta_p: _scipy_special("zeta")}
