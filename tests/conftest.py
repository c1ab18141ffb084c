"""Shared test configuration: the suite runs under whichever backend FUNCTRACE_BACKEND names."""

import os

import numpy as np
import pytest

import functrace as ft


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
