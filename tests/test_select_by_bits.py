"""``select`` on large CPU arrays moves bits instead of branching per element
(``backends/select_by_bits.py``): its results must have exactly the bits of ``np.where``'s for
every dtype it takes, every special value, masks that change often or rarely, and operands that
broadcast, eagerly and under jit, on both backends; and each result is the caller's to modify."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax

SPECIALS = np.array([np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-310, 5e-324, 1.5, -2.5, 3e38, -1e-40])
SIZE = 3 * 4099  # above select_by_bits.MIN_SIZE, and not a multiple of any vector width


def _values(rng, dtype, shape):
    if np.dtype(dtype).kind == "f":
        with np.errstate(over="ignore"):
            return rng.choice(SPECIALS, shape).astype(dtype)
    if np.dtype(dtype).kind == "b":
        return rng.random(shape) < 0.5
    info = np.iinfo(dtype)
    return rng.integers(info.min, info.max, shape, dtype=dtype, endpoint=True)


def _masks(rng, shape):
    n = int(np.prod(shape))
    return {"random": rng.random(shape) < 0.5, "sorted": (np.arange(n) < n // 3).reshape(shape),
            "all true": np.ones(shape, bool)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64,
                                   np.uint8, np.uint32, np.bool_])
@pytest.mark.parametrize("mask", ["random", "sorted", "all true"])
def test_select_gives_the_bits_of_np_where(dtype, mask):
    if ft.get_backend() == "torch" and np.dtype(dtype) == np.uint32:
        pytest.skip("torch has no uint32 arithmetic")
    rng = np.random.default_rng(0)
    shape = (3, 4099)
    c = _masks(rng, shape)[mask]
    a, b = _values(rng, dtype, shape), _values(rng, dtype, shape)
    cases = [(a, b), (a[0, 0], b), (a, b[:1]), (a[:, :1], b[:1, :]), (a[0, 0], b[0, 0])]
    jitted = ft.jit(lax.select)
    for x, y in cases:
        want = np.where(c, x, y)
        xx, yy = np.broadcast_to(x, shape), np.broadcast_to(y, shape)  # lax.select takes equal shapes
        for got in (host(fnp.where(c, x, y)), host(lax.select(c, xx, yy)), host(jitted(c, xx, yy))):
            assert got.dtype == want.dtype and got.shape == want.shape
            assert got.tobytes() == want.tobytes(), (np.shape(x), np.shape(y))


def test_select_by_bits_under_grad_and_python_scalars():
    """A ReLU and its gradient at a large float32 batch: the mask depends on the data, and one
    branch is a Python scalar."""
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SIZE).astype(np.float32)
    x[:4] = [np.nan, -0.0, 0.0, -np.inf]
    relu = lambda v: fnp.where(v > 0, v, 0.0)  # noqa: E731
    for f in (relu, ft.jit(relu)):
        got = host(f(x))
        assert got.dtype == np.float32
        assert got.tobytes() == np.where(x > 0, x, np.float32(0.0)).tobytes()
    g = host(ft.jit(ft.grad(lambda v: fnp.sum(relu(v) * 3.0)))(x))
    assert g.tobytes() == np.where(x > 0, np.float32(3.0), np.float32(0.0)).tobytes()


def test_select_results_are_the_callers():
    """The result owns its memory: writing into it changes neither the operands nor the next
    result."""
    rng = np.random.default_rng(2)
    c = rng.random(SIZE) < 0.5
    a, b = rng.standard_normal(SIZE), rng.standard_normal(SIZE)
    a0, b0 = a.copy(), b.copy()
    f = ft.jit(lambda c, a, b: lax.select(c, a, b))
    for call in (lambda: lax.select(c, a, b), lambda: f(c, a, b)):
        first = call()
        first[...] = 7.0
        assert np.array_equal(a, a0) and np.array_equal(b, b0)
        assert host(call()).tobytes() == np.where(c, a, b).tobytes()


def test_when_selecting_by_bits_pays():
    from functrace.backends import select_by_bits as S

    assert not S.worth_it(S.MIN_SIZE - 1, 4) and S.worth_it(S.MIN_SIZE, 4)
    assert not S.worth_it(S.MIN_SIZE, 16)  # complex128: no integer type of its width
    assert S.changes_often(S.MIN_SIZE, 4, 0)  # narrow elements: always
    assert not S.changes_often(8000, 8, 999) and S.changes_often(8000, 8, 1000)
