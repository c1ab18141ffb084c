"""Convolutions and windowed reductions: values against a direct (slow) reference written here,
against SciPy and NumPy where they overlap, and against recorded JAX outputs
(``fixtures/conv_jax.npz``, made by ``fixtures/make_conv_fixtures.py`` with JAX 0.10.2);
derivatives (check_grads, tie rule), jit, vmap and the errors. Derivatives of each primitive
are also in the shared table (``cases_convolution.py``)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import DTypeError, ShapeError

check_grads = ft.test_util.check_grads
FIXTURES = np.load(Path(__file__).parent / "fixtures" / "conv_jax.npz")
TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-12, atol=1e-12)}
GRAD_TOL = {np.float32: dict(atol=1e-2, rtol=1e-2, eps=1e-3), np.float64: dict(atol=1e-6, rtol=1e-6, eps=1e-5)}


# ---------------------------------------------------------------------------- the reference
def _specs(ndim, dimension_numbers):
    """The three (batch/out-feature, feature/in-feature, spatial...) permutations, by hand."""
    if dimension_numbers is None:
        return [tuple(range(ndim))] * 3
    if isinstance(dimension_numbers[0], str):
        lhs, rhs, out = dimension_numbers
        spatial = [c for c in rhs if c not in "OI"]
        return [tuple([s.index(a), s.index(b)] + [s.index(c) for c in spatial])
                for s, (a, b) in zip((lhs, rhs, out), ("NC", "OI", "NC"), strict=True)]
    return [tuple(s) for s in dimension_numbers]


def _pads(in_sp, k_sp, strides, padding):
    if not isinstance(padding, str):
        return list(padding)
    if padding == "VALID":
        return [(0, 0)] * len(in_sp)
    pads = []
    for d, k, s in zip(in_sp, k_sp, strides, strict=True):
        total = max(0, (-(-d // s) - 1) * s + k - d)
        small = total // 2
        pads.append((small, total - small) if padding == "SAME" else (total - small, small))
    return pads


def reference_conv(lhs, rhs, strides, padding, lhs_dilation=None, rhs_dilation=None, dimension_numbers=None,
                   feature_group_count=1, batch_group_count=1):
    """XLA's convolution written out: a loop over output positions of the explicit sum."""
    lhs, rhs = np.asarray(lhs, np.float64), np.asarray(rhs, np.float64)
    ls, rs, os_ = _specs(lhs.ndim, dimension_numbers)
    x, w = lhs.transpose(ls), rhs.transpose(rs)  # (N, C, S...), (O, I, K...)
    n = x.ndim - 2
    ld = lhs_dilation or (1,) * n
    rd = rhs_dilation or (1,) * n
    k_eff = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], rd, strict=True)]
    pads = _pads(x.shape[2:], k_eff, strides, padding)
    dil = np.zeros(x.shape[:2] + tuple((s - 1) * d + 1 for s, d in zip(x.shape[2:], ld, strict=True)))
    dil[(slice(None), slice(None)) + tuple(slice(None, None, d) for d in ld)] = x
    xp = np.pad(dil, [(0, 0), (0, 0)] + [(max(lo, 0), max(hi, 0)) for lo, hi in pads])
    xp = xp[(slice(None), slice(None)) + tuple(slice(-min(lo, 0), xp.shape[2 + i] + min(hi, 0))
                                               for i, (lo, hi) in enumerate(pads))]
    out_sp = [max(0, (p - e) // s + 1) if p >= e else 0 for p, e, s in zip(xp.shape[2:], k_eff, strides, strict=True)]
    (N, _), (O, I) = x.shape[:2], w.shape[:2]
    n_out = N // batch_group_count
    out = np.zeros((n_out, O) + tuple(out_sp))
    for b, o in itertools.product(range(n_out), range(O)):
        g = o // (O // feature_group_count)
        src = (o // (O // batch_group_count)) * n_out + b
        for pos in np.ndindex(*out_sp):
            window = tuple(slice(p * s, p * s + e, d) for p, s, e, d in zip(pos, strides, k_eff, rd, strict=True))
            out[(b, o) + pos] = np.sum(xp[(src, slice(g * I, (g + 1) * I)) + window] * w[o])
    inverse = np.argsort(os_)
    return out.transpose(inverse)


# ---------------------------------------------------------------------------- values
# (lhs shape, rhs shape, strides, padding, keyword arguments)
CONV_TABLE = [
    ("1d_valid", (2, 3, 9), (4, 3, 3), (1,), "VALID", {}),
    ("1d_same_stride2", (2, 3, 9), (4, 3, 4), (2,), "SAME", {}),
    ("1d_same_lower_stride3", (1, 2, 10), (2, 2, 4), (3,), "SAME_LOWER", {}),
    ("1d_pairs_negative", (2, 2, 8), (3, 2, 3), (1,), [(-2, 3)], {}),
    ("1d_lhs_dilation", (2, 2, 5), (3, 2, 3), (1,), [(2, 2)], dict(lhs_dilation=(3,))),
    ("1d_rhs_dilation_stride", (2, 2, 11), (3, 2, 3), (2,), "SAME", dict(rhs_dilation=(3,))),
    ("2d_nchw_same", (2, 3, 6, 5), (4, 3, 3, 3), (1, 1), "SAME", {}),
    ("2d_nhwc_hwio", (2, 6, 5, 3), (3, 2, 3, 4), (2, 1), "SAME", dict(dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ("2d_mixed_layouts", (5, 2, 6, 3), (4, 3, 2, 2), (1, 2), [(1, 0), (0, 2)],
     dict(dimension_numbers=("HNWC", "OIWH", "CWNH"))),
    ("2d_tuple_specs", (2, 6, 5, 3), (3, 2, 3, 4), (1, 1), "VALID", dict(dimension_numbers=((0, 3, 1, 2),
                                                                                              (3, 2, 0, 1),
                                                                                              (0, 3, 1, 2)))),
    ("2d_both_dilations", (1, 2, 5, 4), (3, 2, 2, 3), (2, 1), [(1, 2), (2, 1)],
     dict(lhs_dilation=(2, 1), rhs_dilation=(1, 2))),
    ("2d_groups", (2, 6, 5, 5), (4, 3, 3, 2), (1, 1), "SAME", dict(feature_group_count=2)),
    ("2d_depthwise", (2, 5, 5, 4), (3, 3, 1, 8), (1, 1), "SAME",
     dict(dimension_numbers=("NHWC", "HWIO", "NHWC"), feature_group_count=4)),
    ("2d_batch_groups", (4, 3, 5, 4), (6, 3, 2, 2), (1, 1), "VALID", dict(batch_group_count=2)),
    ("2d_batch_groups_strided", (6, 2, 7, 5), (3, 2, 3, 2), (2, 2), [(1, 1), (0, 1)], dict(batch_group_count=3)),
    ("3d_same", (1, 2, 4, 5, 3), (3, 2, 2, 3, 2), (1, 2, 1), "SAME", {}),
    ("3d_ndhwc_groups", (2, 3, 4, 4, 4), (2, 2, 2, 2, 2), (1, 1, 1), [(1, 0), (0, 0), (1, 1)],
     dict(dimension_numbers=("NDHWC", "DHWIO", "NDHWC"), feature_group_count=2)),
    ("4d_spatial", (1, 2, 3, 4, 3, 3), (2, 2, 2, 1, 2, 2), (1, 2, 1, 1), "SAME", {}),
    ("0d_matmul", (3, 4), (5, 4), (), [], {}),
    ("1d_window_larger_than_input", (1, 1, 2), (1, 1, 4), (1,), "VALID", {}),
    # one input feature: the NumPy backend copies the window matrix window element first
    ("1d_one_feature", (3, 1, 9), (2, 1, 4), (1,), "VALID", {}),
    ("2d_one_feature_strided_dilated", (2, 7, 6, 1), (3, 2, 1, 3), (2, 1), "SAME",
     dict(rhs_dilation=(1, 2), dimension_numbers=("NHWC", "HWIO", "NHWC"))),
    ("3d_one_feature", (2, 1, 4, 5, 3), (3, 1, 2, 3, 2), (1, 2, 1), [(1, 0), (1, 1), (0, 1)], {}),
]


def _conv_args(lhs_shape, rhs_shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(lhs_shape).astype(dtype), rng.standard_normal(rhs_shape).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("name,ls,rs,strides,padding,kw", CONV_TABLE, ids=[r[0] for r in CONV_TABLE])
def test_conv_matches_reference(name, ls, rs, strides, padding, kw, dtype):
    x, w = _conv_args(ls, rs, dtype)
    want = reference_conv(x, w, strides, padding, **kw).astype(dtype)
    got = lax.conv_general_dilated(x, w, strides, padding, **kw)
    assert_close(got, want, **TOL[dtype])
    jitted = ft.jit(lambda a, b: lax.conv_general_dilated(a, b, strides, padding, **kw))(x, w)
    assert_close(jitted, want, **TOL[dtype])


@pytest.mark.parametrize("name,ls,rs,strides,padding,kw", CONV_TABLE[:16:3], ids=[r[0] for r in CONV_TABLE[:16:3]])
def test_conv_gradients_against_reference(name, ls, rs, strides, padding, kw):
    """The VJP of the primitive equals the transpose of the reference's (linear) map."""
    x, w = _conv_args(ls, rs, np.float64, seed=1)
    y, vjp = ft.vjp(lambda a, b: lax.conv_general_dilated(a, b, strides, padding, **kw), x, w)
    ct = np.random.default_rng(2).standard_normal(host(y).shape)
    gx, gw = host(vjp(ct))
    # <ct, conv(x, w)> is linear in each: its gradient wrt x is the sum of ct-weighted basis responses.
    eye_x = np.eye(x.size).reshape((x.size,) + x.shape)
    want_gx = np.array([np.sum(ct * reference_conv(e, w, strides, padding, **kw)) for e in eye_x]).reshape(x.shape)
    eye_w = np.eye(w.size).reshape((w.size,) + w.shape)
    want_gw = np.array([np.sum(ct * reference_conv(x, e, strides, padding, **kw)) for e in eye_w]).reshape(w.shape)
    np.testing.assert_allclose(gx, want_gx, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(gw, want_gw, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode", ["valid", "full", "same"])
@pytest.mark.parametrize("op", ["correlate", "convolve"])
def test_conv_matches_scipy_signal(op, mode):
    """Single-channel 2-D: lax.conv is scipy.signal.correlate; with a flipped kernel, convolve."""
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(3)
    img, k = rng.standard_normal((7, 6)), rng.standard_normal((3, 4))
    kernel = k if op == "correlate" else k[::-1, ::-1]
    # Output j of each mode is offset j + start - (k - 1) of the full correlation.
    start = {"full": lambda n, m: 0, "valid": lambda n, m: m - 1, "same": lambda n, m: (m - 1) // 2}[mode]
    length = {"full": lambda n, m: n + m - 1, "valid": lambda n, m: n - m + 1, "same": lambda n, m: n}[mode]
    pads = [(m - 1 - start(n, m), length(n, m) + start(n, m) - n) for n, m in zip(img.shape, k.shape, strict=True)]
    got = lax.conv_general_dilated(img[None, None], np.ascontiguousarray(kernel)[None, None], (1, 1), pads)
    want = getattr(signal, op)(img, k, mode=mode)
    assert_close(lax.reshape(got, want.shape), want)


def test_conv_3d_matches_scipy_correlate():
    signal = pytest.importorskip("scipy.signal")
    rng = np.random.default_rng(4)
    vol, k = rng.standard_normal((5, 4, 6)), rng.standard_normal((2, 3, 2))
    got = lax.conv(vol[None, None], k[None, None], (1, 1, 1), "VALID")
    assert_close(lax.reshape(got, (4, 2, 5)), signal.correlate(vol, k, mode="valid"))


def test_conv_is_differentiable_to_second_order_in_each_layout():
    x, w = _conv_args((1, 4, 3, 2), (2, 2, 1, 2), np.float64, seed=5)
    f = lambda a, b: lax.conv_general_dilated(a, b, (1, 1), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                              feature_group_count=2)
    check_grads(f, (x, w), order=2, modes=("fwd", "rev"), **GRAD_TOL[np.float64])


def test_numpy_backend_splits_a_large_window_matrix(monkeypatch):
    """Past a memory bound the NumPy backend convolves a few examples at a time: same numbers."""
    if ft.get_backend() != "numpy":
        pytest.skip("a property of the NumPy backend's lowering")
    from functrace.backends import numpy_convolution

    x, w = _conv_args((5, 2, 6, 5), (4, 1, 3, 3), np.float64)
    want = reference_conv(x, w, (1, 2), "SAME", feature_group_count=2)
    monkeypatch.setattr(numpy_convolution, "_IM2COL_BYTES", 600)  # about two examples per chunk
    assert_close(lax.conv_general_dilated(x, w, (1, 2), "SAME", feature_group_count=2), want)


KERNEL_LARGER_THAN_OUTPUT = [  # (lhs NCH.., rhs OIK.., strides, padding, rhs_dilation): kernels' gradients
    ((3, 4, 9), (2, 4, 7), (1,), [(1, 1)], (1,)),
    ((4, 3, 6, 6), (5, 3, 5, 5), (1, 1), [(1, 1), (0, 2)], (1, 1)),
    ((2, 3, 9, 8), (4, 3, 6, 4), (1, 2), [(2, 2), (1, 1)], (2, 1)),  # strided, dilated: a strided conv's kernel
    ((2, 2, 5, 5, 5), (3, 2, 4, 4, 3), (1, 1, 1), [(1, 1), (0, 0), (1, 1)], (1, 1, 1)),
    ((2, 3, 9, 7), (2, 3, 6, 5), (2, 1), [(0, 0), (0, 0)], (1, 1)),  # the transposed kernel would not fit: not taken
]


@pytest.mark.parametrize("ls, rs, strides, padding, dil", KERNEL_LARGER_THAN_OUTPUT)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_conv_with_a_kernel_larger_than_its_output(ls, rs, strides, padding, dil, dtype, monkeypatch):
    """A convolution whose kernel is larger than its output (what a kernel's gradient is) matches
    the reference; the torch backend computes it as the kernel gradient of the convolution it
    transposes, where that convolution's geometry fits."""
    x, w = _conv_args(ls, rs, dtype, seed=3)
    want = reference_conv(x, w, strides, padding, rhs_dilation=dil).astype(dtype)
    routed = []
    if ft.get_backend() == "torch":
        from functrace.backends import torch_convolution

        real = torch_convolution._as_kernel_gradient
        monkeypatch.setattr(torch_convolution, "_as_kernel_gradient",
                            lambda *a: routed.append(real(*a)) or routed[-1])
    got = lax.conv_general_dilated(x, w, strides, padding, rhs_dilation=dil)
    assert_close(got, want, **TOL[dtype])
    jitted = ft.jit(lambda a, b: lax.conv_general_dilated(a, b, strides, padding, rhs_dilation=dil))(x, w)
    assert_close(jitted, want, **TOL[dtype])
    if ft.get_backend() == "torch":
        fits = (ls, rs) != KERNEL_LARGER_THAN_OUTPUT[-1][:2]
        assert len(routed) == 2 and all((r is not None) == fits for r in routed)


# ---------------------------------------------------------------------------- wrappers
def test_conv_dimension_numbers():
    dn = lax.conv_dimension_numbers((2, 8, 8, 3), (3, 3, 3, 16), ("NHWC", "HWIO", "NHWC"))
    assert dn == lax.ConvDimensionNumbers((0, 3, 1, 2), (3, 2, 0, 1), (0, 3, 1, 2))
    assert lax.conv_dimension_numbers((1, 2, 3), (1, 2, 3), None) == ((0, 1, 2),) * 3
    # spatial axes follow the kernel's order
    assert lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), ("NCHW", "OIWH", "NWHC")).lhs_spec == (0, 1, 3, 2)
    assert lax.conv_dimension_numbers((1, 1, 1, 1), (1, 1, 1, 1), dn) is dn


def test_conv_and_conv_with_general_padding():
    x, w = _conv_args((2, 3, 6, 5), (4, 3, 2, 3), np.float64)
    assert_close(lax.conv(x, w, (2, 1), "SAME"), reference_conv(x, w, (2, 1), "SAME"))
    got = lax.conv_with_general_padding(x, w, (1, 2), [(1, 0), (2, 2)], (2, 1), (1, 2))
    assert_close(got, reference_conv(x, w, (1, 2), [(1, 0), (2, 2)], (2, 1), (1, 2)))


@pytest.mark.parametrize("key,args,kw", [
    ("ct_same", ((2, 1), "SAME"), {}),
    ("ct_valid", ((2, 2), "VALID"), dict(rhs_dilation=(1, 2))),
    ("ct_pairs", ((1, 2), [(1, 2), (0, 1)]), {}),
    ("ct_consistent", ((2, 2), [(1, 1), (0, 1)]), dict(use_consistent_padding=True)),
])
def test_conv_transpose_matches_jax(key, args, kw):
    got = lax.conv_transpose(FIXTURES["ct_x"], FIXTURES["ct_w"], *args, **kw)
    assert_close(got, FIXTURES[key], rtol=1e-12, atol=1e-12)


def test_conv_transpose_kernel_matches_jax():
    w = np.swapaxes(FIXTURES["ct_w"], 2, 3)[..., :3, :]
    got = lax.conv_transpose(FIXTURES["ct_x"], w, (2, 1), "SAME", transpose_kernel=True)
    assert_close(got, FIXTURES["ct_kernel"], rtol=1e-12, atol=1e-12)


def test_conv_transpose_is_the_gradient_of_conv():
    """With consistent padding, conv_transpose(y, flipped kernel) is the input gradient of conv."""
    x, w = _conv_args((1, 7, 6, 2), (3, 3, 2, 4), np.float64, seed=6)
    dn = ("NHWC", "HWIO", "NHWC")
    fwd = lambda a: lax.conv_general_dilated(a, w, (2, 2), [(1, 1), (1, 1)], dimension_numbers=dn)
    y, vjp = ft.vjp(fwd, x)
    ct = np.random.default_rng(7).standard_normal(host(y).shape)
    (gx,) = host(vjp(ct))
    got = lax.conv_transpose(ct, w, (2, 2), [(1, 1), (1, 1)], dimension_numbers=dn, transpose_kernel=True,
                             use_consistent_padding=True)
    # An even width leaves the last column out of the transposed shape (torch's output_padding).
    assert host(got).shape == (1, 7, 5, 2)
    np.testing.assert_allclose(host(got), gx[:, :, :5], rtol=1e-12, atol=1e-12)


def test_conv_general_dilated_patches_matches_jax():
    p = FIXTURES["patches_x"]
    assert_close(lax.conv_general_dilated_patches(p, (2, 3), (1, 2), "SAME"), FIXTURES["patches_nchw"])
    got = lax.conv_general_dilated_patches(np.moveaxis(p, 1, -1), (3, 2), (2, 1), [(1, 0), (0, 1)],
                                           rhs_dilation=(1, 2), dimension_numbers=("NHWC", "OIHW", "NHWC"))
    assert_close(got, FIXTURES["patches_nhwc"])


def test_preferred_element_type_and_precision():
    x, w = _conv_args((1, 2, 5), (3, 2, 2), np.float32)
    got = lax.conv_general_dilated(x, w, (1,), "VALID", precision="highest", preferred_element_type=np.float64)
    assert_close(got, reference_conv(x, w, (1,), "VALID"), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- vmap and jit
@pytest.mark.parametrize("kw", [{}, dict(feature_group_count=2), dict(batch_group_count=2),
                                dict(dimension_numbers=("HWCN", "OHWI", "WNCH"), feature_group_count=2)],
                         ids=["plain", "feature_groups", "batch_groups", "odd_layout_groups"])
@pytest.mark.parametrize("axes", [(0, None), (None, 0), (0, 0), (2, 1)], ids=str)
def test_vmap_over_images_and_kernels(axes, kw):
    rng = np.random.default_rng(8)
    dn = kw.get("dimension_numbers")
    grouped = kw.get("feature_group_count", 1) > 1
    lshape, rshape = ((4, 4, 4, 4), (4, 2 if grouped else 4, 2, 2)) if dn is None else ((4, 3, 4, 4), (4, 2, 2, 2))
    f = lambda a, b: lax.conv_general_dilated(a, b, (1, 2), [(1, 0), (0, 1)], rhs_dilation=(2, 1), **kw)
    xs = rng.standard_normal(lshape[:axes[0]] + (3,) + lshape[axes[0]:]) if axes[0] is not None \
        else rng.standard_normal(lshape)
    ws = rng.standard_normal(rshape[:axes[1]] + (3,) + rshape[axes[1]:]) if axes[1] is not None \
        else rng.standard_normal(rshape)
    got = host(ft.vmap(f, in_axes=axes)(xs, ws))
    take = lambda a, ax, i: a if ax is None else np.take(a, i, axis=ax)
    want = np.stack([reference_conv(take(xs, axes[0], i), take(ws, axes[1], i), (1, 2), [(1, 0), (0, 1)],
                                    rhs_dilation=(2, 1), **kw) for i in range(3)])
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_vmap_of_grad_and_jit_of_grad():
    """Per-example kernel gradients through vmap(grad) equal a loop; jit gives the same."""
    rng = np.random.default_rng(9)
    xs, w = rng.standard_normal((3, 2, 2, 5, 5)), rng.standard_normal((4, 2, 3, 3))
    loss = lambda w, x: fnp.sum(fnp.tanh(lax.conv(x, w, (1, 1), "SAME")) ** 2)
    per = host(ft.vmap(ft.grad(loss), in_axes=(None, 0))(w, xs))
    loop = np.stack([host(ft.grad(loss)(w, x)) for x in xs])
    np.testing.assert_allclose(per, loop, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(host(ft.jit(ft.grad(loss))(w, xs[0])), loop[0], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call,match", [
    (lambda: lax.conv(np.ones((1, 3, 5)), np.ones((2, 2, 3)), (1,), "VALID"), "features"),
    (lambda: lax.conv_general_dilated(np.ones((1, 4, 5)), np.ones((3, 2, 3)), (1,), "VALID", feature_group_count=2),
     "multiple of feature_group_count"),
    (lambda: lax.conv_general_dilated(np.ones((3, 2, 5)), np.ones((2, 2, 3)), (1,), "VALID", batch_group_count=2),
     "batch_group_count=2 must divide"),
    (lambda: lax.conv(np.ones((1, 2, 5)), np.ones((2, 2, 3, 3)), (1,), "VALID"), "equal rank"),
    (lambda: lax.conv(np.ones((1, 2, 5)), np.ones((2, 2, 3)), (1, 1), "VALID"), "one entry per spatial axis"),
    (lambda: lax.conv(np.ones((1, 2, 5)), np.ones((2, 2, 3)), (1,), "FULL"), "padding must be"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 5)), np.ones((2, 2, 3)), (1,), [(-4, -3)]), "negative padding"),
    (lambda: lax.conv_general_dilated(np.ones((1, 5, 2)), np.ones((3, 2, 2)), (1,), "VALID",
                                      dimension_numbers=("NHC", "HIX", "NHC")), "must contain"),
    (lambda: lax.conv_general_dilated(np.ones((1, 5, 2)), np.ones((3, 2, 2)), (1,), "VALID",
                                      dimension_numbers=("NHC", "HIO")), "three specs"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 5)), np.ones((2, 2, 3)), (0,), "VALID"), "positive"),
    (lambda: lax.conv_general_dilated(np.ones((1, 2, 5)), np.ones((2, 2, 3)), (1,), "SAME", lhs_dilation=(2,)),
     "lhs_dilation"),
])
def test_conv_shape_errors(call, match):
    with pytest.raises(ShapeError, match=match):
        call()


def test_conv_dtype_errors():
    with pytest.raises(DTypeError, match="one dtype"):
        lax.conv(np.ones((1, 2, 5), np.float32), np.ones((2, 2, 3)), (1,), "VALID")
    with pytest.raises(DTypeError, match="floating or integer"):
        lax.conv(np.ones((1, 2, 5), bool), np.ones((2, 2, 3), bool), (1,), "VALID")


def test_conv_error_names_the_users_line():
    with pytest.raises(ShapeError) as e:
        ft.jit(lambda x: lax.conv(x, np.ones((2, 3, 3)), (1,), "VALID"))(np.ones((1, 2, 5)))
    assert "test_convolution.py" in str(e.value)


def test_result_is_the_users_to_modify():
    x, w = _conv_args((1, 1, 4), (1, 1, 1), np.float64)
    y = host(lax.conv(x, w, (1,), "VALID"))
    y[...] = 0.0
    assert np.all(x != 0.0)
