"""Shared test configuration: the suite runs under whichever backend FUNCTRACE_BACKEND names.

torch is optional. ``FUNCTRACE_TEST_WITHOUT_TORCH=1 python -m pytest`` runs the suite as it runs
where torch is not installed (``import torch`` raises ImportError), so that the tests that need
torch can be seen to skip, saying why, rather than fail.
"""

import importlib.util
import os
import sys


class _WithoutTorch:
    """A meta-path finder under which ``import torch`` fails as where torch is not installed."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ModuleNotFoundError(f"No module named {name!r} (hidden by FUNCTRACE_TEST_WITHOUT_TORCH)",
                                      name=name)
        return None


if os.environ.get("FUNCTRACE_TEST_WITHOUT_TORCH", "") not in ("", "0"):
    assert "torch" not in sys.modules, "torch was imported before the suite could hide it"
    sys.meta_path.insert(0, _WithoutTorch())  # before functrace is imported

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import functrace as ft  # noqa: E402


def _have_torch() -> bool:
    """Whether ``import torch`` would work (without importing it: that takes seconds)."""
    try:
        return importlib.util.find_spec("torch") is not None
    except ImportError:
        return False


HAVE_TORCH = _have_torch()

# Tests that need torch (the torch backend, or an example run under it) carry this mark.
needs_torch = pytest.mark.skipif(not HAVE_TORCH, reason="torch is not installed (it is optional: see the README)")


@pytest.fixture(autouse=True)
def _seed():
    np.random.seed(0)


def pytest_report_header(config):
    return f"functrace backend: {ft.get_backend()} (FUNCTRACE_BACKEND={os.environ.get('FUNCTRACE_BACKEND', '')!r})"


@pytest.fixture(autouse=True, scope="session")
def _tensors_refuse_implicit_host_copies():
    """Under the torch backend, ``np.asarray(tensor)`` raises, as it does for a CUDA tensor.

    CI has no GPU, so this is how the suite catches code that reads a backend array on the host
    implicitly (``np.asarray``/``np.array`` of a tensor) instead of through ``ft.device_get`` or
    the backend's ``to_numpy``: on a CPU tensor such a read works, on a CUDA tensor it raises.
    """
    if ft.get_backend() != "torch":
        yield
        return
    import torch

    def refuse(self, *args, **kwargs):
        raise TypeError(f"can't convert {self.device} tensor to numpy implicitly (as for a CUDA tensor): "
                        "use ft.device_get or the backend's to_numpy")

    saved = torch.Tensor.__array__
    torch.Tensor.__array__ = refuse
    yield
    torch.Tensor.__array__ = saved
