"""Every ``dtype=`` argument accepts a torch dtype as well as a NumPy one.

On the torch backend an eager result is a ``torch.Tensor``, so ``x.dtype`` is a ``torch.dtype``:
``fnp.astype(x, x.dtype)`` and ``fnp.zeros(3, dtype=x.dtype)`` raised "Cannot interpret
'torch.float64' as a data type". The same calls work on either backend, eagerly, under a
transform and under ``jit``; a torch dtype with no NumPy equivalent (``bfloat16``) is refused
by a ``DTypeError`` naming the user's line.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import needs_torch
from helpers import host, result_dtype

import functrace as ft
import functrace.numpy as fnp
from functrace.avals import ShapedArray, canonical_dtype, is_float
from functrace.errors import DTypeError

pytestmark = needs_torch

DTYPES = ["float32", "float64", "int32", "int64", "uint8", "bool", "complex64"]

# (name, f(dt) -> result): each passes the dtype ``dt`` where NumPy takes a dtype; the result
# must have that dtype.
CALLS = [
    ("asarray", lambda dt: fnp.asarray([1, 0, 1], dtype=dt)),
    ("array", lambda dt: fnp.array([1, 0, 1], dtype=dt)),
    ("astype", lambda dt: fnp.astype(fnp.asarray([1.0, 0.0]), dt)),
    ("method astype", lambda dt: ft.jit(lambda x: x.astype(dt))(np.ones(2))),
    ("zeros", lambda dt: fnp.zeros(3, dtype=dt)),
    ("ones", lambda dt: fnp.ones((2, 1), dtype=dt)),
    ("empty", lambda dt: fnp.empty(2, dtype=dt)),
    ("full", lambda dt: fnp.full(2, 1, dtype=dt)),
    ("zeros_like", lambda dt: fnp.zeros_like(np.ones(2), dtype=dt)),
    ("ones_like", lambda dt: fnp.ones_like(np.ones(2), dtype=dt)),
    ("full_like", lambda dt: fnp.full_like(np.ones(2), 1, dtype=dt)),
    ("eye", lambda dt: fnp.eye(2, dtype=dt)),
    ("identity", lambda dt: fnp.identity(2, dtype=dt)),
    ("tri", lambda dt: fnp.tri(2, dtype=dt)),
    ("arange", lambda dt: fnp.arange(2, dtype=dt) if dt != "bool" else fnp.asarray([0, 1], dtype=dt)),
    ("sum", lambda dt: fnp.sum(np.ones(3), dtype=dt)),
    ("prod", lambda dt: fnp.prod(np.ones(3), dtype=dt)),
    ("cumsum", lambda dt: fnp.cumsum(np.ones(3), dtype=dt)),
    ("one_hot", lambda dt: ft.nn.one_hot(np.array([0, 1]), 2, dtype=dt)),
]
FLOAT_CALLS = [
    ("linspace", lambda dt: fnp.linspace(0.0, 1.0, 3, dtype=dt)),
    ("mean", lambda dt: fnp.mean(np.ones(3), dtype=dt)),
    ("var", lambda dt: fnp.var(np.ones(3), dtype=dt)),
    ("std", lambda dt: fnp.std(np.ones(3), dtype=dt)),
]


def torch_dtype(name: str):
    import torch

    return getattr(torch, name)


@pytest.mark.parametrize("name", DTYPES)
@pytest.mark.parametrize("call, f", CALLS, ids=[c[0] for c in CALLS])
def test_every_dtype_argument_takes_a_torch_dtype(call, f, name):
    out = f(torch_dtype(name))
    assert result_dtype(out) == np.dtype(name)
    np.testing.assert_array_equal(host(out), host(f(np.dtype(name))))


@pytest.mark.parametrize("name", ["float32", "float64"])
@pytest.mark.parametrize("call, f", FLOAT_CALLS, ids=[c[0] for c in FLOAT_CALLS])
def test_float_dtype_arguments_take_a_torch_dtype(call, f, name):
    out = f(torch_dtype(name))
    assert result_dtype(out) == np.dtype(name)
    np.testing.assert_allclose(host(out), host(f(np.dtype(name))))


@pytest.mark.parametrize("name", ["float32", "float64"])
def test_a_result_dtype_round_trips(name):
    """The issue's calls: ``x.dtype`` of a backend array (a torch dtype on torch) goes back in."""
    x = ft.device_put(np.arange(3, dtype=name))
    assert result_dtype(fnp.astype(x, x.dtype)) == np.dtype(name)
    assert result_dtype(fnp.zeros(3, dtype=x.dtype)) == np.dtype(name)
    assert result_dtype(fnp.asarray([1.0, 2.0], dtype=x.dtype)) == np.dtype(name)
    assert result_dtype(fnp.zeros_like(x, dtype=x.dtype)) == np.dtype(name)
    # and inside transforms, where x.dtype is NumPy's but a closed-over torch dtype may meet it
    dt = torch_dtype(name)
    g = ft.grad(lambda v: fnp.sum(fnp.astype(v, dt) * fnp.ones(3, dtype=dt)))(np.ones(3))
    assert result_dtype(g) == np.dtype(np.float64)
    np.testing.assert_allclose(host(g), np.ones(3))


def test_result_type_and_avals_read_torch_dtypes():
    import torch

    assert fnp.result_type(torch.float32, np.int8) == np.float32
    assert fnp.result_type(np.ones(2, np.float32), torch.float64) == np.float64
    assert canonical_dtype(torch.int16) == np.int16 and canonical_dtype("float32") == np.float32
    assert ShapedArray((2,), torch.float32) == ShapedArray((2,), np.float32)
    assert is_float(torch.float16) and not is_float(torch.int64)


def test_torch_dtypes_without_a_numpy_equivalent_are_refused():
    import torch

    with pytest.raises(DTypeError, match="bfloat16") as info:
        fnp.zeros(2, dtype=torch.bfloat16)
    assert os.path.basename(__file__) in str(info.value)
    with pytest.raises(DTypeError, match="bfloat16"):
        fnp.astype(np.ones(2), torch.bfloat16)
    with pytest.raises(TypeError):  # anything else that is not a dtype stays NumPy's TypeError
        canonical_dtype(object())

