"""The frameworks under comparison: which are installed, and how to bring their results to NumPy.

functrace and NumPy are always present. JAX, PyTorch and HIPS autograd are optional (the
``bench`` extra): a missing one makes its rows read "n/a" instead of failing the run. So is
``ft.jit`` while it is being written: a functrace jit row reads "n/a" until ``hasattr(ft, "jit")``.

Implementations are grouped in *families*, the unit ``--frameworks`` selects.
"""

from __future__ import annotations

import functools
import importlib
from types import ModuleType
from typing import Any

import numpy as np

import functrace as ft

# family -> what it stands for (the order is the order of the rows)
FAMILIES = {
    "numpy": "hand-written NumPy with a hand-derived backward pass (the floor for functrace's NumPy backend)",
    "functrace": "functrace on its NumPy backend, eager and ft.jit",
    "functrace-torch": "functrace on its PyTorch backend (CPU), eager and ft.jit",
    "jax": "JAX (CPU, jaxlib), eager and jax.jit",
    "torch": "PyTorch autograd (CPU)",
    "autograd": "HIPS autograd",
}

# The implementations (row names), each in one family.
NUMPY = "numpy (hand-written)"
FT = "functrace eager"
FT_JIT = "functrace jit"
FT_TORCH = "functrace eager (torch)"
FT_TORCH_JIT = "functrace jit (torch)"
JAX = "jax eager"
JAX_JIT = "jax jit"
TORCH = "torch autograd"
AUTOGRAD = "hips autograd"
IMPLS = {NUMPY: "numpy", FT: "functrace", FT_JIT: "functrace", FT_TORCH: "functrace-torch",
         FT_TORCH_JIT: "functrace-torch", JAX: "jax", JAX_JIT: "jax", TORCH: "torch", AUTOGRAD: "autograd"}


class Unavailable(Exception):
    """A framework (or ``ft.jit``) this row needs is not installed: the row reads "n/a"."""


@functools.lru_cache(maxsize=None)
def _optional(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def require(name: str) -> ModuleType:
    """Import an optional framework, or raise ``Unavailable``."""
    mod = _optional(name)
    if mod is None:
        raise Unavailable(f"{name} is not installed (pip install -e '.[bench]')")
    return mod


@functools.lru_cache(maxsize=None)
def jax() -> ModuleType:
    """JAX with 64-bit types enabled, so the float64 workloads run in float64 as everywhere else.

    The float32 workloads (the MLP) pass explicitly float32 arrays, which x64 leaves float32.
    """
    jax_mod = require("jax")
    jax_mod.config.update("jax_enable_x64", True)
    return jax_mod


def torch() -> ModuleType:
    return require("torch")


def autograd() -> ModuleType:
    return require("autograd")


def ft_jit():
    """``ft.jit``, or ``Unavailable`` while functrace has none."""
    jit = getattr(ft, "jit", None)
    if jit is None:
        raise Unavailable("ft.jit does not exist yet")
    return jit


def ft_torch_backend() -> None:
    """Check that functrace's torch backend loads (torch installed, backend module complete)."""
    torch()
    with ft.use_backend("torch"):
        pass


def to_numpy(x: Any) -> Any:
    """A result tree (tuples, lists, dicts) of any framework's arrays as NumPy arrays."""
    if isinstance(x, (tuple, list)):
        return type(x)(to_numpy(v) for v in x)
    if isinstance(x, dict):
        return {k: to_numpy(v) for k, v in x.items()}
    if type(x).__module__.startswith("torch"):
        return x.detach().cpu().numpy()
    if type(x).__module__.startswith("functrace"):
        x = ft.device_get(x)
    return np.asarray(x)


def versions() -> dict[str, str]:
    """Versions of everything that was measured (installed or not), from the package metadata."""
    import platform
    import sys
    from importlib import metadata

    out = {"python": sys.version.split()[0], "platform": platform.platform(), "functrace": ft.__version__}
    for dist in ("numpy", "jax", "jaxlib", "torch", "autograd", "scikit-learn"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out
