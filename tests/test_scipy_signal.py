"""functrace.scipy.signal against SciPy: every mode and method on odd, even, swapped and N-d
shapes, complex operands, float32/float64; derivatives in both inputs (check_grads order 2, both
modes); jit and vmap; JAX's restrictions (boundary='fill', fillvalue=0) as errors."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
from functrace.scipy import signal as fs
from functrace.test_util import check_grads

ss = pytest.importorskip("scipy.signal")

SHAPES = [((5,), (3,)), ((3,), (5,)), ((4,), (4,)), ((6,), (2,)), ((1,), (1,)), ((4, 5), (2, 3)),
          ((2, 3), (4, 5)), ((3, 3), (3, 3)), ((3, 4, 2), (2, 2, 2))]
MODES = ["full", "same", "valid"]


def _pair(s1, s2, dtype, seed=0):
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(s1), rng.standard_normal(s2)
    if np.dtype(dtype).kind == "c":
        a, b = a + 1j * rng.standard_normal(s1), b - 0.5j * rng.standard_normal(s2)
    return a.astype(dtype), b.astype(dtype)


def _tol(dtype):
    return 1e-5 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("method", ["direct", "fft"])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", ["convolve", "correlate"])
@pytest.mark.parametrize("s1,s2", SHAPES, ids=[f"{a}x{b}" for a, b in SHAPES])
def test_nd_matches_scipy(fn, mode, method, dtype, s1, s2):
    a, b = _pair(s1, s2, dtype)
    want = getattr(ss, fn)(a, b, mode=mode, method=method)
    got = getattr(fs, fn)(a, b, mode=mode, method=method)
    assert_close(got, want, rtol=_tol(dtype), atol=_tol(dtype) * 10)


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex128])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("fn", ["convolve2d", "correlate2d"])
@pytest.mark.parametrize("s1,s2", [s for s in SHAPES if len(s[0]) == 2] + [((5, 2), (2, 2)), ((1, 4), (1, 1))],
                         ids=str)
def test_2d_matches_scipy(fn, mode, dtype, s1, s2):
    a, b = _pair(s1, s2, dtype, seed=1)
    assert_close(getattr(fs, fn)(a, b, mode=mode), getattr(ss, fn)(a, b, mode=mode), rtol=_tol(dtype),
                 atol=_tol(dtype) * 10)


def test_scalars_and_integer_promotion():
    # integers compute in float64 (as JAX; SciPy keeps integers), 0-d operands multiply
    assert_close(fs.convolve(np.arange(3), np.arange(2)), ss.convolve(np.arange(3), np.arange(2)).astype(np.float64))
    assert_close(fs.convolve(np.float32(2.0), np.float32(3.0)), np.float32(6.0))
    # float32 with int64 is float64 by NumPy's promotion, which functrace.numpy follows (JAX: float32)
    assert_close(fs.convolve(np.arange(3.0, dtype=np.float32), np.arange(2)), np.array([0.0, 0, 1, 2]))
    assert_close(fs.convolve(np.arange(3.0, dtype=np.float32), np.ones(2, np.float32)), np.array([0.0, 1, 3, 2],
                                                                                                   np.float32))


@pytest.mark.parametrize("call,err,match", [
    (lambda: fs.convolve(np.ones((3, 2)), np.ones((2, 3)), mode="valid"), ValueError, "at least as large"),
    (lambda: fs.convolve(np.ones(3), np.ones((2, 3))), ValueError, "same number of dimensions"),
    (lambda: fs.convolve(np.ones(3), np.ones(2), mode="wrap"), ValueError, "mode"),
    (lambda: fs.correlate(np.ones(3), np.ones(2), method="overlap"), ValueError, "method"),
    (lambda: fs.convolve2d(np.ones((3, 3)), np.ones((2, 2)), boundary="wrap"), NotImplementedError, "boundary"),
    (lambda: fs.correlate2d(np.ones((3, 3)), np.ones((2, 2)), fillvalue=1), NotImplementedError, "fillvalue"),
    (lambda: fs.convolve2d(np.ones(3), np.ones(2)), ValueError, "2-D"),
])
def test_errors(call, err, match):
    with pytest.raises(err, match=match):
        call()


GRADS = [
    ("convolve[full]", lambda a, b: fs.convolve(a, b), ((5,), (3,))),
    ("convolve[same,fft]", lambda a, b: fs.convolve(a, b, mode="same", method="fft"), ((4,), (3,))),
    ("correlate[valid]", lambda a, b: fs.correlate(a, b, mode="valid"), ((3,), (5,))),
    ("correlate[same,2d]", lambda a, b: fs.correlate(a, b, mode="same"), ((3, 4), (2, 2))),
    ("convolve2d[valid]", lambda a, b: fs.convolve2d(a, b, mode="valid"), ((4, 3), (2, 2))),
    ("correlate2d[same]", lambda a, b: fs.correlate2d(a, b, mode="same"), ((3, 3), (2, 3))),
]


@pytest.mark.parametrize("name,f,shapes", GRADS, ids=[g[0] for g in GRADS])
def test_derivatives_in_both_inputs(name, f, shapes):
    check_grads(f, _pair(*shapes, np.float64, seed=2), order=2, modes=("fwd", "rev"))


def test_complex_derivative():
    a, b = _pair((4,), (3,), np.complex128, seed=3)
    check_grads(lambda a, b: fs.correlate(a, b), (a, b), order=1, modes=("fwd", "rev"))


@pytest.mark.parametrize("name,f,shapes", GRADS, ids=[g[0] for g in GRADS])
def test_jit_and_vmap(name, f, shapes):
    pairs = [_pair(*shapes, np.float64, seed=s) for s in range(3)]
    want = [host(f(a, b)) for a, b in pairs]
    for (a, b), w in zip(pairs, want, strict=True):
        np.testing.assert_allclose(host(ft.jit(f)(a, b)), w, rtol=1e-12, atol=1e-12)
    got = host(ft.vmap(f)(np.stack([p[0] for p in pairs]), np.stack([p[1] for p in pairs])))
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-12, atol=1e-12)
