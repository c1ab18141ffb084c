"""``lax`` functions composed of primitives (``functrace/ops/composites.py``): values and shapes
against NumPy, derivatives (check_grads, both modes, second order), jit and vmap, and JAX's
conventions where they are its own (clamp's derivative at a tie: recorded from JAX 0.10.2)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import ShapeError

check_grads = ft.test_util.check_grads
X = np.arange(6.0).reshape(2, 3) - 2.5
M = np.random.default_rng(0).standard_normal((2, 3, 4))

VALUES = {  # name: (call, NumPy's result)
    "broadcast": (lambda: lax.broadcast(X, (4,)), np.broadcast_to(X, (4, 2, 3))),
    "broadcast_to_rank": (lambda: lax.broadcast_to_rank(X, 4), X.reshape(1, 1, 2, 3)),
    "broadcasted_iota": (lambda: lax.broadcasted_iota(np.int32, (2, 3), 1),
                         np.broadcast_to(np.arange(3, dtype=np.int32), (2, 3))),
    "expand_dims": (lambda: lax.expand_dims(X, (0, -1)), X[None, :, :, None]),
    "squeeze": (lambda: lax.squeeze(X.reshape(1, 2, 1, 3), (0, 2)), X),
    "collapse": (lambda: lax.collapse(M, 1), M.reshape(2, 12)),
    "full_like": (lambda: lax.full_like(X, 7.0, np.float32), np.full((2, 3), 7.0, np.float32)),
    "empty": (lambda: lax.empty((2,), np.int32), np.zeros(2, np.int32)),
    "square": (lambda: lax.square(X), X * X),
    "rsqrt": (lambda: lax.rsqrt(np.abs(X) + 1), 1 / np.sqrt(np.abs(X) + 1)),
    "reciprocal": (lambda: lax.reciprocal(X), 1 / X),
    "cbrt": (lambda: lax.cbrt(X), np.cbrt(X)),
    "clamp": (lambda: lax.clamp(-1.0, X, 1.5), np.clip(X, -1.0, 1.5)),
    "clamp_nan": (lambda: lax.clamp(0.0, np.array([np.nan, -1.0]), 1.0), np.array([np.nan, 0.0])),
    "dot_vv": (lambda: lax.dot(X[0], X[1]), X[0] @ X[1]),
    "dot_mv": (lambda: lax.dot(X, X[0]), X @ X[0]),
    "dot_mm": (lambda: lax.dot(X, X.T), X @ X.T),
    "batch_matmul": (lambda: lax.batch_matmul(M, np.swapaxes(M, 1, 2)), M @ np.swapaxes(M, 1, 2)),
    "tile": (lambda: lax.tile(X, (2, 3)), np.tile(X, (2, 3))),
    "select_n_bool": (lambda: lax.select_n(X > 0, X, -X), np.where(X > 0, -X, X)),
    "select_n_int": (lambda: lax.select_n(np.array([[0, 1, 2], [2, 1, 0]], np.int32), X, 2 * X, 3 * X),
                     np.choose(np.array([[0, 1, 2], [2, 1, 0]]), [X, 2 * X, 3 * X])),
    "split": (lambda: lax.split(X, (1, 2), axis=1), np.split(X, [1], axis=1)),
    "stack": (lambda: lax.stack([X, X + 1], axis=1), np.stack([X, X + 1], axis=1)),
    "unstack": (lambda: lax.unstack(X, axis=1), tuple(X[:, i] for i in range(3))),
    "scatter_sub": (lambda: lax.scatter_sub(np.zeros(4), np.array([1, 1, 3]), np.array([1.0, 2.0, 5.0]), 0),
                    np.array([0.0, -3.0, 0.0, -5.0])),
    "nextafter": (lambda: lax.nextafter(X, np.inf), np.nextafter(X, np.inf)),
    "approx_max_k": (lambda: lax.approx_max_k(X, 2), (np.sort(X, 1)[:, ::-1][:, :2], np.argsort(-X, 1)[:, :2])),
    "approx_min_k": (lambda: lax.approx_min_k(X, 1, reduction_dimension=0), (X.min(0, keepdims=True),
                                                                             X.argmin(0)[None].astype(np.int32))),
    "optimization_barrier": (lambda: lax.optimization_barrier(X), X),
}


@pytest.mark.parametrize("name", sorted(VALUES))
def test_values_match_numpy(name):
    f, want = VALUES[name]
    for got in (f(), ft.jit(f)()):
        if isinstance(want, (tuple, list)):
            assert len(got) == len(want)
            for g, w in zip(got, want, strict=True):
                np.testing.assert_allclose(host(g), w)
        else:
            assert_close(got, want, check_dtype=name not in ("approx_max_k",))


def test_shape_computations():
    assert lax.broadcast_shapes((2, 1), (1, 3)) == (2, 3)
    assert lax.reduce_window_shape_tuple((5, 7), (2, 3), (1, 2), ((0, 0), (1, 1))) == (4, 4)
    assert lax.conv_shape_tuple((2, 3, 8, 9), (4, 3, 3, 2), (1, 2), ((1, 1), (0, 0))) == (2, 4, 8, 4)
    got = lax.conv_general_shape_tuple((2, 8, 9, 3), (3, 2, 3, 4), (1, 2), "SAME", ("NHWC", "HWIO", "NHWC"))
    assert got == (2, 8, 5, 4)  # JAX 0.10.2's
    with pytest.raises(ShapeError, match="do not add up"):
        lax.split(X, (1, 1), axis=1)
    with pytest.raises(ShapeError, match="not all of size 1"):
        lax.squeeze(X, (0,))


GRADS = {
    "square": (lax.square, (X,)),
    "rsqrt": (lambda v: lax.rsqrt(v), (np.abs(X) + 1,)),
    "reciprocal": (lax.reciprocal, (X,)),
    "cbrt": (lax.cbrt, (X,)),
    "clamp": (lambda lo, v, hi: lax.clamp(lo, v, hi), (np.full((2, 3), -1.2), X, np.full((2, 3), 1.3))),
    "tile": (lambda v: lax.tile(v, (2, 1)), (X,)),
    "batch_matmul": (lax.batch_matmul, (M, np.swapaxes(M, 1, 2))),
    "dot": (lax.dot, (X, X.T)),
    "select_n": (lambda a, b: lax.select_n(np.array([[0, 1, 0], [1, 1, 0]], np.int32), a, b), (X, X * 2)),
    "split_stack": (lambda v: lax.stack(lax.split(v, (2, 1), axis=1)[::-1][0:1] * 2, axis=0), (X,)),
    "expand_squeeze": (lambda v: lax.squeeze(lax.expand_dims(v, (1,)), (1,)) * v, (X,)),
}


@pytest.mark.parametrize("name", sorted(GRADS))
def test_derivatives(name):
    f, args = GRADS[name]
    check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_clamp_derivative_at_ties_is_jaxs():
    """JAX's clamp: no derivative at a tie (x == min or x == max) to any operand; min's where
    x < min < max, max's where max < x (recorded from JAX 0.10.2)."""
    xs = np.array([-1.0, 0.0, 1.5, 2.0, -3.0])
    assert_close(ft.grad(lambda v: fnp.sum(lax.clamp(-1.0, v, 1.5)))(xs), np.array([0.0, 1.0, 0.0, 0.0, 0.0]))
    lo, v, hi = np.array([0.0, 1.0, -1.0]), np.array([0.0, 0.5, -2.0]), np.array([1.0, 0.5, 1.0])
    want = [np.array([0.0, 0.0, 1.0]), np.zeros(3), np.zeros(3)]
    for i in range(3):
        got = ft.grad(lambda a, b, c: fnp.sum(lax.clamp(a, b, c)), argnums=i)(lo, v, hi)
        assert_close(got, want[i])


def test_under_vmap():
    got = ft.vmap(lambda r: lax.clamp(-1.0, r, 1.0))(X)
    assert_close(got, np.clip(X, -1, 1))
    got = ft.vmap(lambda a, b: lax.dot(a, b))(M, np.swapaxes(M, 1, 2))
    assert_close(got, M @ np.swapaxes(M, 1, 2))
    got = ft.vmap(lambda r: lax.tile(r, (2,)))(X)
    assert_close(got, np.tile(X, (1, 2)))



# jax.lax.population_count and jax.lax.clz, jax 0.10.2 (x64), at [0, 1, -1 (max for unsigned),
# min, max, 96]
_BIT_COUNTS_JAX = {
    np.int8: ([0, 1, 8, 1, 7, 2], [8, 7, 0, 0, 1, 1]),
    np.int32: ([0, 1, 32, 1, 31, 2], [32, 31, 0, 0, 1, 25]),
    np.int64: ([0, 1, 64, 1, 63, 2], [64, 63, 0, 0, 1, 57]),
    np.uint8: ([0, 1, 8, 0, 8, 2], [8, 7, 0, 8, 0, 1]),
    np.uint64: ([0, 1, 64, 0, 64, 2], [64, 63, 0, 64, 0, 57]),
}
_INTEGER_TYPES = [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]


@pytest.mark.parametrize("dtype", _INTEGER_TYPES, ids=lambda d: np.dtype(d).name)
def test_population_count_and_clz(dtype):
    """Counted on the two's-complement pattern, in the operand's dtype, as JAX: against Python's
    own bit counts on edge and random values, and JAX's recorded outputs."""
    info, bits = np.iinfo(dtype), np.dtype(dtype).itemsize * 8
    edges = [0, 1, -1 if info.min < 0 else info.max, info.min, info.max, 96]
    rng = np.random.default_rng(bits)
    x = np.concatenate([np.array(edges, dtype=dtype), rng.integers(info.min, info.max, 20, dtype=dtype, endpoint=True)])
    patterns = [int(v) % (1 << bits) for v in x]
    counts = np.array([p.bit_count() for p in patterns], dtype=dtype)
    leading = np.array([bits - p.bit_length() for p in patterns], dtype=dtype)
    if dtype in _BIT_COUNTS_JAX:
        np.testing.assert_array_equal(counts[:6], _BIT_COUNTS_JAX[dtype][0])
        np.testing.assert_array_equal(leading[:6], _BIT_COUNTS_JAX[dtype][1])
    xs = ft.device_put(x)
    for run in (lambda f: f(xs), lambda f: ft.jit(f)(xs)):
        for f, want in ((lax.population_count, counts), (lax.clz, leading)):
            got = host(run(f))
            assert got.dtype == np.dtype(dtype)
            np.testing.assert_array_equal(got, want)


def test_bit_counts_refuse_floating_operands():
    for f in (lax.population_count, lax.clz):
        with pytest.raises(ft.errors.DTypeError, match="needs an integer operand, got float64"):
            f(np.ones(3))


_V = np.array([[3.0, 1.0, 4.0], [1.0, 5.0, 9.0]])


def _argmax_pairs(a, b):
    return fnp.maximum(a[0], b[0]), fnp.where(a[0] >= b[0], a[1], b[1])


# name: (call, result), results recorded from jax.lax (jax 0.10.2, x64)
_REDUCE_JAX = {
    "reduce_xor_ints": (lambda: lax.reduce_xor(np.arange(1, 25, dtype=np.int32).reshape(2, 3, 4), (0, 2)),
                        np.array([24, 8, 8], np.int32)),
    "reduce_xor_bools": (lambda: lax.reduce_xor(np.array([[True, False, True]]), (1,)), np.array([False])),
    "reduce_add_with_init": (lambda: lax.reduce(np.arange(6.0).reshape(2, 3), 10.0, lax.add, (1,)),
                             np.array([13.0, 22.0])),
    "reduce_by_a_function": (lambda: lax.reduce(np.arange(6.0).reshape(2, 3), 1.0, lambda a, b: a * b + 0 * a, (0,)),
                             np.array([0.0, 4.0, 10.0])),
    "reduce_pairs": (lambda: lax.reduce((_V, np.broadcast_to(np.arange(3), (2, 3))), (-np.inf, 0), _argmax_pairs,
                                        (1,)), (np.array([4.0, 9.0]), np.array([2, 2]))),
    "reduce_empty_axis": (lambda: lax.reduce(np.zeros((2, 0)), 7.0, lax.add, (1,)), np.array([7.0, 7.0])),
}


@pytest.mark.parametrize("name", list(_REDUCE_JAX))
def test_generic_reductions_match_jax(name):
    call, want = _REDUCE_JAX[name]
    for got in (call(), ft.jit(call)()):
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,),
                        strict=True):
            assert host(g).dtype == w.dtype
            np.testing.assert_array_equal(host(g), w)


@pytest.mark.parametrize("axes", [(0,), (1,), (2,), (0, 2), (0, 1, 2), ()])
def test_generic_reductions_match_numpy_on_odd_lengths(axes):
    ints = np.random.default_rng(1).integers(-1000, 1000, (5, 7, 3)).astype(np.int64)
    floats = np.random.default_rng(2).standard_normal((5, 7, 3))
    np.testing.assert_array_equal(host(ft.jit(lambda v: lax.reduce_xor(v, axes))(ints)),
                                  np.bitwise_xor.reduce(ints, axis=axes) if axes else ints)
    by_function = ft.jit(lambda v: lax.reduce(v, -np.inf, lambda a, b: fnp.maximum(a, b), axes))(floats)
    np.testing.assert_array_equal(host(by_function), np.max(floats, axis=axes) if axes else floats)
    assert_close(lax.reduce(floats, 0.5, lax.add, axes), np.sum(floats, axis=axes) + 0.5, rtol=1e-12)


def test_generic_reduction_derivatives_and_vmap():
    f = lambda v: lax.reduce(v, 0.0, lambda a, b: a + b * 1.0, (0, 2))  # noqa: E731 -- the tree, not a monoid
    check_grads(f, (M,), order=2, modes=("fwd", "rev"))
    check_grads(lambda v: lax.reduce(v, 1.0, lax.mul, (1,)), (M,), order=2, modes=("fwd", "rev"))
    assert_close(ft.vmap(f)(np.stack([M, 2 * M])), np.stack([M.sum((0, 2)), 2 * M.sum((0, 2))]), rtol=1e-12)
    with pytest.raises(ft.errors.DTypeError, match="reduce_xor needs a boolean or integer operand"):
        lax.reduce_xor(M, (0,))


# jax.lax.mulhi, jax 0.10.2 (x64), at x = [0, 1, -1 (max for unsigned), min, max, 96, max // 3],
# y = [5, max, 7, min, max, -100 (200 for unsigned), 12345 % max]
_MULHI_JAX = {
    np.int8: [0, 0, -1, 64, 63, -38, 4],
    np.uint8: [0, 0, 6, 0, 254, 75, 34],
    np.int16: [0, 0, -1, 16384, 16383, -1, 2057],
    np.int32: [0, 0, -1, 1073741824, 1073741823, -1, 2057],
    np.uint32: [0, 0, 6, 0, 4294967294, 0, 4114],
    np.int64: [0, 0, -1, 4611686018427387904, 4611686018427387903, -1, 2057],
    np.uint64: [0, 0, 6, 0, 18446744073709551614, 0, 4114],
}


@pytest.mark.parametrize("dtype", _INTEGER_TYPES, ids=lambda d: np.dtype(d).name)
def test_mulhi(dtype):
    """The high half of the double-width product, signed for signed types, as JAX: against
    Python's exact products on edge and random values, and JAX's recorded outputs."""
    info, bits = np.iinfo(dtype), np.dtype(dtype).itemsize * 8
    signed = info.min < 0
    x = [0, 1, -1 if signed else info.max, info.min, info.max, 96, info.max // 3]
    y = [5, info.max, 7, info.min, info.max, -100 if signed else 200, 12345 % info.max]
    rng = np.random.default_rng(bits + signed)
    x = np.concatenate([np.array(x, dtype), rng.integers(info.min, info.max, 30, dtype=dtype, endpoint=True)])
    y = np.concatenate([np.array(y, dtype), rng.integers(info.min, info.max, 30, dtype=dtype, endpoint=True)])
    want = np.array([((int(a) * int(b)) >> bits) % (1 << bits) for a, b in zip(x, y, strict=True)],
                    dtype=np.uint64).astype(dtype)
    if dtype in _MULHI_JAX:
        np.testing.assert_array_equal(want[:7], np.array(_MULHI_JAX[dtype], dtype))
    xs, ys = ft.device_put(x), ft.device_put(y)
    for got in (lax.mulhi(xs, ys), ft.jit(lax.mulhi)(xs, ys)):
        assert host(got).dtype == np.dtype(dtype)
        np.testing.assert_array_equal(host(got), want)


def test_mulhi_refuses_floats_and_mixed_types():
    with pytest.raises(ft.errors.DTypeError, match="mulhi needs an integer operand"):
        lax.mulhi(np.ones(2), np.ones(2))
    with pytest.raises(ft.errors.DTypeError, match="one dtype, got int32 and int64"):
        lax.mulhi(np.ones(2, np.int32), np.ones(2, np.int64))


@pytest.mark.parametrize("dtype", _INTEGER_TYPES, ids=lambda d: np.dtype(d).name)
def test_numpy_bitwise_count_counts_the_magnitude_in_a_few_operations(dtype):
    """``fnp.bitwise_count`` is NumPy's (the bits of ``|x|``, uint8), through population_count:
    a few dozen equations for any width (it was one step per bit: 702 equations for int64)."""
    info = np.iinfo(dtype)
    x = np.array([0, 1, info.max, info.min, 96, info.max // 3] + ([-1, -5] if info.min < 0 else []), dtype)
    for got in (fnp.bitwise_count(ft.device_put(x)), ft.jit(fnp.bitwise_count)(ft.device_put(x))):
        assert host(got).dtype == np.uint8
        np.testing.assert_array_equal(host(got), np.bitwise_count(x))
    assert len(ft.make_jaxpr(fnp.bitwise_count)(x).eqns) < 40
