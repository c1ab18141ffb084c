"""functrace.scipy without SciPy: importing it works, and what the NumPy backend computes with
SciPy raises an error that names the function and the way out."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from helpers import host

import functrace as ft


def test_missing_scipy_is_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)  # "import scipy" now raises ImportError
    monkeypatch.setitem(sys.modules, "scipy.special", None)
    x = np.array([0.5, 2.0])
    # composed from primitives every backend has: no SciPy needed
    np.testing.assert_allclose(host(ft.scipy.stats.norm.logpdf(x)), -0.5 * x * x - 0.5 * np.log(2 * np.pi))
    if ft.get_backend() != "numpy":
        np.testing.assert_allclose(host(ft.scipy.special.gammaln(np.array([3.0]))), [np.log(2.0)])
        return
    with pytest.raises(ft.errors.BackendError, match="gammaln with SciPy, which is not installed"):
        ft.scipy.special.gammaln(x)
