"""Windowed reductions (``lax.reduce_window``), pooling (``ft.nn.max_pool``/``avg_pool``) and
``fnp.convolve``/``fnp.correlate``: values against direct loops and NumPy, derivatives with the
tie rule (recorded from JAX 0.10.2 in ``fixtures/conv_jax.npz``), jit and vmap."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import ShapeError

check_grads = ft.test_util.check_grads
FIXTURES = np.load(Path(__file__).parent / "fixtures" / "conv_jax.npz")
GRAD_TOL = {np.float32: dict(atol=1e-2, rtol=1e-2, eps=1e-3), np.float64: dict(atol=1e-6, rtol=1e-6, eps=1e-5)}


def reference_reduce_window(x, init, op, dims, strides, padding, base_dilation=None, window_dilation=None):
    """XLA's reduce_window written out: padding and dilation holes are skipped, ``init`` starts
    every window."""
    x = np.asarray(x)
    nd = x.ndim
    base = base_dilation or (1,) * nd
    wdil = window_dilation or (1,) * nd
    if isinstance(padding, str):
        pads = []
        for d, w, s, r in zip(x.shape, dims, strides, wdil, strict=True):
            eff = (w - 1) * r + 1
            total = max(0, (-(-d // s) - 1) * s + eff - d)
            pads.append((total // 2, total - total // 2) if padding == "SAME" else
                        (total - total // 2, total // 2) if padding == "SAME_LOWER" else (0, 0))
    else:
        pads = list(padding)
    # Positions of the padded, dilated axis that hold a real element: index -> source index.
    real = []
    for d, b, (lo, hi) in zip(x.shape, base, pads, strict=True):
        size = ((d - 1) * b + 1 if d else 0) + lo + hi
        real.append((size, {lo + i * b: i for i in range(d)}))
    out_shape = [max(0, (size - ((w - 1) * r + 1)) // s + 1) if size >= (w - 1) * r + 1 else 0
                 for (size, _), w, s, r in zip(real, dims, strides, wdil, strict=True)]
    out = np.full(out_shape, init, dtype=np.result_type(x.dtype, np.asarray(init).dtype))
    for pos in np.ndindex(*out_shape):
        acc = init
        for off in np.ndindex(*dims):
            src = []
            for p, o, s, r, (_, where) in zip(pos, off, strides, wdil, real, strict=True):
                src.append(where.get(p * s + o * r))
            if None not in src:
                acc = op(acc, x[tuple(src)])
        out[pos] = acc
    return out.astype(x.dtype)


WINDOW_TABLE = [
    ("pool2x2", (2, 6, 5, 3), (1, 2, 2, 1), (1, 2, 2, 1), "VALID", {}),
    ("pool3x3_stride2_same", (2, 7, 6, 2), (1, 3, 3, 1), (1, 2, 2, 1), "SAME", {}),
    ("same_lower", (9,), (4,), (3,), "SAME_LOWER", {}),
    ("pairs_negative", (6, 5), (2, 2), (1, 2), [(1, -1), (2, 1)], {}),
    ("base_dilation", (4, 3), (2, 2), (1, 1), [(1, 0), (0, 1)], dict(base_dilation=(2, 3))),
    ("window_dilation", (9, 4), (3, 2), (2, 1), "VALID", dict(window_dilation=(2, 2))),
    ("3d", (4, 5, 3), (2, 3, 2), (2, 1, 1), "SAME", {}),
    ("all_padding_window", (3,), (2,), (1,), [(3, 0)], {}),
]
OPS = {"sum": (lax.add, np.add, 0.0), "max": (lax.max, np.maximum, -np.inf), "min": (lax.min, np.minimum, np.inf)}


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int32], ids=lambda d: d.__name__)
@pytest.mark.parametrize("kind", list(OPS))
@pytest.mark.parametrize("name,shape,dims,strides,padding,kw", WINDOW_TABLE, ids=[r[0] for r in WINDOW_TABLE])
def test_reduce_window_matches_reference(name, shape, dims, strides, padding, kw, kind, dtype):
    lax_op, np_op, init = OPS[kind]
    if dtype == np.int32:
        init = {"sum": 0, "max": np.iinfo(np.int32).min, "min": np.iinfo(np.int32).max}[kind]
        x = np.random.default_rng(0).integers(-50, 50, shape).astype(dtype)
    else:
        x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    want = reference_reduce_window(x, np.asarray(init, dtype), np_op, dims, strides, padding, **kw)
    got = lax.reduce_window(x, init, lax_op, dims, strides, padding, **kw)
    assert_close(got, want, rtol=1e-5 if dtype == np.float32 else None)
    jitted = ft.jit(lambda v: lax.reduce_window(v, init, lax_op, dims, strides, padding, **kw))(x)
    assert_close(jitted, want, rtol=1e-5 if dtype == np.float32 else None)


@pytest.mark.parametrize("kind,init", [("sum", 1.5), ("max", 0.25), ("min", -0.5)])
def test_reduce_window_general_init_value(kind, init):
    """A non-identity init starts each window once; padding takes no part (as XLA/JAX)."""
    lax_op, np_op, _ = OPS[kind]
    x = np.random.default_rng(1).standard_normal((5, 4))
    args = ((2, 3), (2, 1), [(1, 1), (2, 0)])
    want = reference_reduce_window(x, init, np_op, *args, base_dilation=(1, 2))
    assert_close(lax.reduce_window(x, init, lax_op, *args, base_dilation=(1, 2)), want)


def test_reduce_window_named_wrappers_and_other_computations():
    x = np.arange(12.0).reshape(3, 4)
    assert_close(lax.reduce_window_sum(x, (2, 2), (1, 2)), np.array([[10.0, 18.0], [26.0, 34.0]]))
    assert_close(lax.reduce_window_max(x, (2, 2), (1, 2)), np.array([[5.0, 7.0], [9.0, 11.0]]))
    assert_close(lax.reduce_window_min(x, (3, 1)), x[:1])
    with pytest.raises(NotImplementedError, match="lax.add, lax.max and lax.min"):
        lax.reduce_window(x, 1.0, lax.mul, (2, 2), (1, 1), "VALID")


@pytest.mark.parametrize("kind", ["max", "min"])
@pytest.mark.parametrize("layout", ["pool", "overlap"])
def test_max_min_derivative_goes_to_the_first_extremum(kind, layout):
    """Tie rule (as JAX): each window's derivative goes to the first element, in row-major order
    within the window, that attains the max (min); the others get none. Both modes."""
    lax_op, _, init = OPS[kind]
    dims, strides = ((2, 2), (2, 2)) if layout == "pool" else ((2, 3), (1, 1))
    t = FIXTURES["ties_x"]
    f = lambda v: lax.reduce_window(v, init, lax_op, dims, strides, "VALID")
    y, vjp = ft.vjp(f, t)
    (g,) = host(vjp(np.ones(host(y).shape)))
    np.testing.assert_array_equal(g, FIXTURES[f"ties_{kind}_{layout}_grad"])
    _, tangent = ft.jvp(f, (t,), (np.arange(t.size, dtype=float).reshape(t.shape),))
    np.testing.assert_array_equal(host(tangent), FIXTURES[f"ties_{kind}_{layout}_jvp"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
@pytest.mark.parametrize("kind", list(OPS))
def test_reduce_window_check_grads(kind, dtype):
    lax_op, _, init = OPS[kind]
    rng = np.random.default_rng(2)
    x = (rng.permutation(30).reshape(5, 6) * 0.3 - 4.0).astype(dtype)  # distinct: no ties
    f = lambda v: lax.reduce_window(v, init, lax_op, (2, 3), (1, 2), [(1, 0), (1, 1)], window_dilation=(2, 1))
    check_grads(f, (x,), order=2, modes=("fwd", "rev"), **GRAD_TOL[dtype])


@pytest.mark.parametrize("kind", list(OPS))
def test_reduce_window_vmap_and_grad_of_vmap(kind):
    lax_op, np_op, init = OPS[kind]
    xs = np.random.default_rng(3).standard_normal((3, 5, 4))
    f = lambda v: lax.reduce_window(v, init, lax_op, (2, 2), (2, 1), "SAME")
    got = host(ft.vmap(f, in_axes=1, out_axes=1)(xs.transpose(1, 0, 2)))
    want = np.stack([reference_reduce_window(x, init, np_op, (2, 2), (2, 1), "SAME") for x in xs], axis=1)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    g = host(ft.grad(lambda v: fnp.sum(ft.vmap(f)(v) ** 2))(xs))
    g_loop = np.stack([host(ft.grad(lambda v: fnp.sum(f(v) ** 2))(x)) for x in xs])
    np.testing.assert_allclose(g, g_loop, rtol=1e-12)


def test_reduce_window_errors():
    x = np.ones((4, 4))
    with pytest.raises(ShapeError, match="one entry per axis"):
        lax.reduce_window(x, 0.0, lax.add, (2,), (1,), "VALID")
    with pytest.raises(ShapeError, match="positive"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (0, 1), "VALID")
    with pytest.raises(ShapeError, match="padding must be"):
        lax.reduce_window(x, 0.0, lax.add, (2, 2), (1, 1), "FULL")


# ---------------------------------------------------------------------------- pooling
def pool_reference(x, window, strides, padding, how, count_include_pad=True):
    """flax's pooling written out on (batch, H, W, C) with explicit loops."""
    strides = strides or (1,) * len(window)
    dims, steps = (1,) + tuple(window) + (1,), (1,) + tuple(strides) + (1,)
    pads = padding if isinstance(padding, str) else [(0, 0)] + list(padding) + [(0, 0)]
    if how == "max":
        return reference_reduce_window(x, -np.inf, np.maximum, dims, steps, pads)
    sums = reference_reduce_window(x, 0.0, np.add, dims, steps, pads)
    if count_include_pad:
        return sums / np.prod(window)
    counts = reference_reduce_window(np.ones(x.shape[:-1] + (1,)), 0.0, np.add, dims, steps, pads)
    return sums / counts


POOL_TABLE = [((2, 2), None, "VALID"), ((2, 2), (2, 2), "VALID"), ((3, 3), (2, 2), "SAME"),
              ((2, 3), (1, 2), [(1, 0), (1, 1)])]


@pytest.mark.parametrize("window,strides,padding", POOL_TABLE, ids=str)
def test_max_pool_and_avg_pool(window, strides, padding):
    x = np.random.default_rng(4).standard_normal((2, 7, 6, 3)).astype(np.float32)
    assert_close(ft.nn.max_pool(x, window, strides, padding), pool_reference(x, window, strides, padding, "max"))
    assert_close(ft.nn.avg_pool(x, window, strides, padding),
                 pool_reference(x, window, strides, padding, "avg").astype(np.float32), rtol=1e-5)
    assert_close(ft.nn.avg_pool(x, window, strides, padding, count_include_pad=False),
                 pool_reference(x, window, strides, padding, "avg", False).astype(np.float32), rtol=1e-5)


def test_pooling_shapes_like_flax():
    """No batch axis, several batch axes, 1-D windows; min_pool is -max_pool(-x)."""
    x = np.random.default_rng(5).standard_normal((5, 4, 3))
    assert host(ft.nn.max_pool(x, (2, 2))).shape == (4, 3, 3)  # a single (H, W, C) example
    assert host(ft.nn.avg_pool(np.ones((2, 3, 8, 4)), (2,), (2,))).shape == (2, 3, 4, 4)
    np.testing.assert_allclose(host(ft.nn.min_pool(x, (2, 2), (1, 1), "SAME")),
                               -host(ft.nn.max_pool(-x, (2, 2), (1, 1), "SAME")))
    with pytest.raises(ShapeError, match="rank"):
        ft.nn.max_pool(np.ones((4, 4)), (2, 2))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=lambda d: d.__name__)
def test_pooling_gradients_jit_and_vmap(dtype):
    rng = np.random.default_rng(6)
    x = (rng.permutation(2 * 5 * 4 * 2).reshape(2, 5, 4, 2) * 0.1).astype(dtype)
    f = lambda v: fnp.concatenate([fnp.ravel(ft.nn.max_pool(v, (2, 2), (1, 2), "SAME")),
                                   fnp.ravel(ft.nn.avg_pool(v, (3, 2), (2, 1), "SAME", count_include_pad=False))])
    check_grads(f, (x,), order=2, modes=("fwd", "rev"), **GRAD_TOL[dtype])
    np.testing.assert_allclose(host(ft.jit(f)(x)), host(f(x)), rtol=1e-6)
    per_example = host(ft.vmap(f)(x[:, None]))
    np.testing.assert_allclose(per_example, np.stack([host(f(x[i:i + 1])) for i in range(2)]), rtol=1e-6)


def test_max_pool_gradient_with_ties_goes_to_one_element():
    x = np.zeros((1, 4, 4, 1))
    g = host(ft.grad(lambda v: fnp.sum(ft.nn.max_pool(v, (2, 2), (2, 2))))(x))[0, :, :, 0]
    np.testing.assert_array_equal(g, [[1, 0, 1, 0], [0, 0, 0, 0], [1, 0, 1, 0], [0, 0, 0, 0]])


# ---------------------------------------------------------------------------- convolve / correlate
SIZES = [(n, m) for n, m in itertools.product([1, 2, 5, 6], [1, 3, 4, 7])]


@pytest.mark.parametrize("mode", ["full", "same", "valid"])
@pytest.mark.parametrize("op", ["convolve", "correlate"])
def test_convolve_correlate_match_numpy(op, mode):
    rng = np.random.default_rng(7)
    for n, m in SIZES:
        a, v = rng.standard_normal(n), rng.standard_normal(m)
        assert_close(getattr(fnp, op)(a, v, mode), getattr(np, op)(a, v, mode), what=f"{op}{(n, m)} {mode}: ")


def test_convolve_dtypes_and_defaults():
    assert_close(fnp.convolve([1, 2, 3], [0, 1, 0.5]), np.convolve([1, 2, 3], [0, 1, 0.5]))
    assert_close(fnp.correlate(np.float32([1, 2, 3]), [1, 1]), np.correlate(np.float32([1, 2, 3]), [1, 1]))
    i3, i2 = np.int32([1, 2, 3]), np.int32([4, 5])
    assert_close(fnp.convolve(i3, i2), np.convolve(i3, i2))
    big, small = np.array([2**52 + 1, 3], np.int64), np.array([2**8, 1], np.int64)  # beyond float64's integers
    assert_close(fnp.correlate(big, small, "full"), np.correlate(big, small, "full"))
    with pytest.raises(ShapeError, match="one-dimensional"):
        fnp.convolve(np.ones((2, 2)), np.ones(2))
    with pytest.raises(ShapeError, match="empty"):
        fnp.correlate(np.ones(3), np.ones(0))
    with pytest.raises(ValueError, match="mode"):
        fnp.convolve(np.ones(3), np.ones(2), "circular")


def test_numpy_dispatch_on_traced_values():
    """np.convolve / np.correlate inside a traced function call the functrace versions."""
    w = np.array([0.25, 0.5, 0.25])
    f = lambda a: np.sum(np.convolve(a, w, mode="same") ** 2) + np.correlate(a, w)[0]
    a = np.random.default_rng(8).standard_normal(6)
    assert_close(ft.jit(f)(a), f(a), rtol=1e-12)
    check_grads(f, (a,), order=2, modes=("fwd", "rev"), **GRAD_TOL[np.float64])
    g = host(ft.grad(lambda v: np.sum(np.convolve(a, v)))(w))
    np.testing.assert_allclose(g, np.full(3, a.sum()), rtol=1e-12)
