"""functrace.numpy.fft against numpy.fft: values on a table of functions, lengths (odd and even),
axes and norms; dtypes as JAX's (float32 -> complex64); derivatives to second order in both
modes; jit, vmap and NumPy's own ``np.fft`` functions on traced values."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import host

import functrace as ft
import functrace.numpy as fnp
from functrace.test_util import check_grads

NORMS = [None, "ortho", "forward"]

# (name, kwargs, kind of input): "c" complex, "r" real, "h" half spectrum (for the inverse real transforms)
ROWS = [
    ("fft", {}, "c"), ("fft", {"n": 7}, "c"), ("fft", {"n": 3, "axis": 0}, "c"),
    ("ifft", {}, "c"), ("ifft", {"n": 8, "axis": 0}, "c"),
    ("rfft", {}, "r"), ("rfft", {"n": 9}, "r"), ("rfft", {"axis": 0}, "r"),
    ("irfft", {}, "h"), ("irfft", {"n": 9}, "h"), ("irfft", {"n": 4, "axis": 0}, "h"),
    ("fft2", {}, "c"), ("ifft2", {"s": (4, 6)}, "c"), ("rfft2", {}, "r"), ("irfft2", {}, "h"),
    ("irfft2", {"s": (5, 7)}, "h"), ("fftn", {"axes": (0,)}, "c"), ("ifftn", {}, "c"),
    ("rfftn", {"s": (4, 3), "axes": (0, 1)}, "r"), ("irfftn", {"axes": (1, 0)}, "h"),
    ("hfft", {}, "h"), ("hfft", {"n": 7, "axis": 0}, "h"), ("ihfft", {}, "r"), ("ihfft", {"n": 6}, "r"),
]
SHAPES = [(5, 7), (4, 6)]


def _input(kind: str, shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    if kind in "ch":
        x = x + 1j * rng.standard_normal(shape)
        return x.astype(np.complex64 if dtype == np.float32 else np.complex128)
    return x.astype(dtype)


def _id(row):
    return f"{row[0]}{row[1]}{row[2]}".replace(" ", "")


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("norm", NORMS, ids=str)
@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_values_against_numpy(row, norm, shape, dtype):
    name, kw, kind = row
    x = _input(kind, shape, dtype)
    want = getattr(np.fft, name)(x, **kw, norm=norm)
    got = host(getattr(fnp.fft, name)(x, **kw, norm=norm))
    want_dt = np.dtype(np.complex64 if want.dtype.kind == "c" else np.float32) if dtype == np.float32 else want.dtype
    assert got.dtype == want_dt and got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4 if dtype == np.float32 else 1e-10,
                               atol=1e-4 if dtype == np.float32 else 1e-10)


@pytest.mark.parametrize("row", ROWS[::3], ids=_id)
def test_jit_and_numpy_protocol(row):
    name, kw, kind = row
    x = _input(kind, (5, 6), np.float64, 1)
    want = getattr(np.fft, name)(x, **kw, norm="ortho")
    np.testing.assert_allclose(host(ft.jit(lambda v: getattr(np.fft, name)(v, **kw, norm="ortho"))(x)), want,
                               rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("row", ROWS[::2], ids=_id)
def test_vmap(row):
    name, kw, kind = row
    xs = _input(kind, (3, 5, 6), np.float64, 2)
    f = lambda v: getattr(fnp.fft, name)(v, **kw)  # noqa: E731
    got = host(ft.vmap(f, in_axes=2)(xs))
    want = np.stack([getattr(np.fft, name)(xs[:, :, i], **kw) for i in range(6)])
    np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_check_grads(row, dtype):
    name, kw, kind = row
    x = _input(kind, (5, 4), dtype, 3)
    tol = dict(rtol=2e-3, eps=1e-3) if dtype == np.float32 else dict(rtol=1e-6, eps=1e-5)
    check_grads(lambda v: getattr(fnp.fft, name)(v, **kw, norm="ortho"), (x,), order=2, modes=("fwd", "rev"), **tol)


def test_grad_of_power_spectrum_matches_jax():
    # jax 0.10.2 (x64): jax.grad(lambda z: jnp.sum(jnp.abs(jnp.fft.fft(z))**2))([1., 2., -1.])
    g = ft.grad(lambda z: fnp.sum(fnp.abs(fnp.fft.fft(z)) ** 2))(np.array([1.0, 2.0, -1.0]))
    np.testing.assert_allclose(host(g), [6.0, 12.0, -6.0], rtol=1e-12)
    # Parseval through rfft (odd and even lengths): the gradient of sum |rfft x|^2 weights the doubled bins.
    for n in (6, 7):
        x = np.random.default_rng(n).standard_normal(n)
        f = lambda v: fnp.sum(fnp.abs(fnp.fft.rfft(v)) ** 2)  # noqa: E731
        spec = np.fft.rfft(x)
        fd = np.array([(np.sum(np.abs(np.fft.rfft(x + 1e-6 * e)) ** 2) - np.sum(np.abs(spec) ** 2)) / 1e-6
                       for e in np.eye(n)])
        np.testing.assert_allclose(host(ft.grad(f)(x)), fd, rtol=1e-4, atol=1e-4)


def test_helpers():
    np.testing.assert_allclose(host(fnp.fft.fftfreq(7, 0.5)), np.fft.fftfreq(7, 0.5))
    np.testing.assert_allclose(host(fnp.fft.rfftfreq(8)), np.fft.rfftfreq(8))
    w = np.arange(5.0)
    np.testing.assert_allclose(host(ft.grad(lambda d: fnp.sum(fnp.fft.fftfreq(5, d) * w))(0.5)),
                               -np.sum(np.fft.fftfreq(5) * w) / 0.25)
    x = np.arange(15).reshape(3, 5)
    for axes in (None, 0, (1,), (0, 1)):
        np.testing.assert_array_equal(host(fnp.fft.fftshift(x, axes)), np.fft.fftshift(x, axes))
        np.testing.assert_array_equal(host(fnp.fft.ifftshift(x, axes)), np.fft.ifftshift(x, axes))
        shifted = ft.jit(lambda v, a=axes: np.fft.fftshift(v, a))(x)
        np.testing.assert_array_equal(host(shifted), np.fft.fftshift(x, axes))


def test_dtypes_and_errors():
    assert host(fnp.fft.fft(np.arange(4))).dtype == np.complex128  # integers compute in double, as NumPy
    assert host(fnp.fft.rfft(np.ones(4, np.float32))).dtype == np.complex64
    assert host(fnp.fft.irfft(np.ones(3, np.complex64))).dtype == np.float32
    with pytest.raises(TypeError, match="real input"):
        fnp.fft.rfft(np.ones(4, complex))
    with pytest.raises(ValueError, match="norm"):
        fnp.fft.fft(np.ones(4), norm="bogus")
    with pytest.raises(ft.errors.FunctraceError, match="at least 1"):
        fnp.fft.fft(np.ones(4), n=0)
