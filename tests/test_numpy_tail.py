"""The long tail of jax.numpy (functrace/numpy/_tail_math.py and _tail_shape.py) against NumPy:
one table of calls, each evaluated by NumPy and by functrace.numpy on the same inputs (NaN,
infinities, signed zeros, empty arrays, negative axes, integer/bool/float32/float64), under
jit where the result's shape is static; derivatives of the differentiable ones with
check_grads in both modes; vmap; and NumPy's dispatch (``np.hypot`` on a tracer)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp

check_grads = ft.test_util.check_grads
rng = np.random.default_rng(0)
F = rng.standard_normal((3, 4))
F32 = rng.standard_normal((2, 5)).astype(np.float32)
SPECIAL = np.array([0.0, -0.0, 1.5, -2.25, np.inf, -np.inf, np.nan, 1e-300, 3.0])
NANS = np.array([[1.0, np.nan, 3.0], [np.nan, np.nan, np.nan], [-1.0, 2.0, np.nan]])
I = np.array([[12, -18, 7, 0], [5, 64, -1, 3]], np.int32)
U8 = np.array([0, 1, 7, 200, 255], np.uint8)
SH = np.array([0, 1, 3, 7, 2], np.int32)
E0 = np.zeros((0,))
B = np.array([True, False, True])
V = np.array([1.0, 2.0, 2.0, 3.0, 5.0])

# name -> (function of a module m (numpy or functrace.numpy), jit-able)
CALLS = {
    "acos": (lambda m: m.acos(np.clip(F, -1, 1)), True),
    "atan2": (lambda m: m.atan2(F, F[::-1]), True),
    "pow": (lambda m: m.pow(np.abs(F), 1.5), True),
    "cbrt": (lambda m: m.cbrt(SPECIAL), True),
    "cbrt_f32": (lambda m: m.cbrt(F32), True),
    "hypot": (lambda m: m.hypot(SPECIAL, SPECIAL[::-1]), True),
    "hypot_big": (lambda m: m.hypot(np.array([1e300, 3.0]), np.array([1e300, 4.0])), True),
    "copysign": (lambda m: m.copysign(SPECIAL, SPECIAL[::-1]), True),
    "signbit": (lambda m: m.signbit(SPECIAL[~np.isnan(SPECIAL)]), True),
    "ldexp": (lambda m: m.ldexp(F, np.array([1, -2, 3, 0])), True),
    "frexp": (lambda m: m.frexp(np.array([0.0, 1.0, -3.5, 1024.0, 0.1, np.inf, -0.75, 1e-300])), True),
    "modf": (lambda m: m.modf(np.array([1.5, -2.25, 0.0, 3.0])), True),
    "logaddexp2": (lambda m: m.logaddexp2(F, F.T[:3, :4] if False else F[::-1]), True),
    "sinc": (lambda m: m.sinc(np.array([0.0, 0.5, -1.5, 2.0, 1e-9])), True),
    "heaviside": (lambda m: m.heaviside(SPECIAL, 0.5), True),
    "fmax": (lambda m: m.fmax(SPECIAL, SPECIAL[::-1]), True),
    "fmin": (lambda m: m.fmin(SPECIAL, SPECIAL[::-1]), True),
    "fmax_int": (lambda m: m.fmax(I, 3), True),
    "nan_to_num": (lambda m: m.nan_to_num(SPECIAL), True),
    "nan_to_num_args": (lambda m: m.nan_to_num(SPECIAL, nan=-1.0, posinf=9.0, neginf=-9.0), True),
    "i0": (lambda m: m.i0(np.array([0.0, 0.5, -3.0, 10.0, 14.9, 15.1, 30.0, -50.0])), True),
    "deg2rad": (lambda m: m.deg2rad(F), True),
    "rad2deg": (lambda m: m.rad2deg(F), True),
    "radians_int": (lambda m: m.radians(I), True),
    "isposinf": (lambda m: m.isposinf(SPECIAL), True),
    "isneginf": (lambda m: m.isneginf(SPECIAL), True),
    "spacing": (lambda m: m.spacing(np.array([1.0, -3.0, 1e10, 0.5])), True),
    "unwrap": (lambda m: m.unwrap(np.array([0.0, 3.0, 6.5, -1.0, 2.0, 9.0])), True),
    "angle": (lambda m: m.angle(np.array([1.0, -2.0, 0.0])), True),
    "fabs": (lambda m: m.fabs(I), True),
    "left_shift": (lambda m: m.left_shift(I, 3), True),
    "left_shift_u8": (lambda m: m.left_shift(U8, SH), True),
    "right_shift": (lambda m: m.right_shift(I, 2), True),
    "right_shift_u8": (lambda m: m.right_shift(U8, SH), True),
    "right_shift_31": (lambda m: m.right_shift(I, 31), True),
    "bitwise_count": (lambda m: m.bitwise_count(I), True),
    "bitwise_count_u8": (lambda m: m.bitwise_count(U8), True),
    "gcd": (lambda m: m.gcd(I, np.array([8, 6, 21, 0], np.int32)), True),
    "lcm": (lambda m: m.lcm(I, np.array([8, 6, 21, 0], np.int32)), True),
    "isclose": (lambda m: m.isclose(SPECIAL, SPECIAL + 1e-9), True),
    "isclose_nan": (lambda m: m.isclose(SPECIAL, SPECIAL, equal_nan=True), True),
    "allclose": (lambda m: m.allclose(F, F + 1e-9), True),
    "array_equal": (lambda m: m.array_equal(F, F), True),
    "array_equal_nan": (lambda m: m.array_equal(SPECIAL, SPECIAL, equal_nan=True), True),
    "array_equal_shape": (lambda m: m.array_equal(F, F[:1]), True),
    "array_equiv": (lambda m: m.array_equiv(F[:1], np.broadcast_to(F[:1], (3, 4))), True),
    "isin": (lambda m: m.isin(I, np.array([7, 0, 64])), True),
    "isin_invert": (lambda m: m.isin(V, np.array([2.0]), invert=True), True),
    "nansum": (lambda m: m.nansum(NANS, axis=-1), True),
    "nanprod": (lambda m: m.nanprod(NANS, axis=0), True),
    "nanmax": (lambda m: m.nanmax(NANS[[0, 2]], axis=1), True),
    "nanmin": (lambda m: m.nanmin(NANS[[0, 2]]), True),
    "nanmean": (lambda m: m.nanmean(NANS[[0, 2]], axis=-1, keepdims=True), True),
    "nanvar": (lambda m: m.nanvar(NANS[[0, 2]], axis=1, ddof=1), True),
    "nanstd": (lambda m: m.nanstd(NANS[[0, 2]]), True),
    "nanargmax": (lambda m: m.nanargmax(NANS[[0, 2]], axis=1), True),
    "nanargmin": (lambda m: m.nanargmin(NANS[[0, 2]], axis=-1), True),
    "average": (lambda m: m.average(F, axis=1, weights=np.arange(1.0, 5.0)), True),
    "average_returned": (lambda m: m.average(F, axis=0, returned=True), True),
    "ptp": (lambda m: m.ptp(F, axis=-1), True),
    "cov": (lambda m: m.cov(F), True),
    "cov_y": (lambda m: m.cov(F[0], F[1], rowvar=False, ddof=0), True),
    "cov_weights": (lambda m: m.cov(F, fweights=np.array([1, 2, 1, 3]), aweights=np.array([0.5, 1.0, 2.0, 1.0])),
                    True),
    "corrcoef": (lambda m: m.corrcoef(F), True),
    "bincount": (lambda m: m.bincount(np.array([0, 3, 3, 1, 7])), False),
    "bincount_w": (lambda m: m.bincount(np.array([0, 3, 3, 1]), weights=np.array([0.5, 1.0, 2.0, 1.0]),
                                        minlength=6), False),
    "histogram": (lambda m: m.histogram(V, bins=4), True),
    "histogram_range": (lambda m: m.histogram(F.ravel(), bins=5, range=(-1.0, 1.0), density=True), True),
    "histogram_bin_edges": (lambda m: m.histogram_bin_edges(V, bins=3), True),
    "histogram2d": (lambda m: m.histogram2d(F[0], F[1], bins=3), True),
    "interp": (lambda m: m.interp(np.array([-1.0, 0.5, 1.5, 2.0, 9.0]), np.array([0.0, 1.0, 2.0]),
                                  np.array([1.0, 3.0, 2.0])), True),
    "interp_lr": (lambda m: m.interp(np.array([-1.0, 9.0]), np.array([0.0, 1.0]), np.array([1.0, 3.0]), left=-5.0,
                                     right=5.0), True),
    "logspace": (lambda m: m.logspace(0.0, 2.0, 5), True),
    "geomspace": (lambda m: m.geomspace(1.0, 1000.0, 4), True),
    "atleast_2d": (lambda m: m.atleast_2d(V), True),
    "atleast_3d": (lambda m: m.atleast_3d(F), True),
    "block": (lambda m: m.block([[np.eye(2), np.zeros((2, 3))], [np.ones((1, 2)), np.full((1, 3), 2.0)]]), True),
    "column_stack": (lambda m: m.column_stack([V, V * 2]), True),
    "dstack": (lambda m: m.dstack([F, F]), True),
    "hsplit": (lambda m: m.hsplit(F, 2), True),
    "vsplit": (lambda m: m.vsplit(F, [1]), True),
    "dsplit": (lambda m: m.dsplit(F.reshape(3, 2, 2), 2), True),
    "rot90": (lambda m: m.rot90(F), True),
    "rot90_k3": (lambda m: m.rot90(F, 3, axes=(1, 0)), True),
    "rot90_k2": (lambda m: m.rot90(F, 2), True),
    "diagonal": (lambda m: m.diagonal(F, 1), True),
    "diagonal_3d": (lambda m: m.diagonal(F.reshape(3, 2, 2), -1, 2, 0), True),
    "diagflat": (lambda m: m.diagflat(F[:2, :2], -1), True),
    "tril_indices": (lambda m: m.tril_indices(3, 1, 4), True),
    "triu_indices_from": (lambda m: m.triu_indices_from(F), True),
    "diag_indices": (lambda m: m.diag_indices(3), True),
    "meshgrid": (lambda m: m.meshgrid(V[:2], V[:3]), True),
    "meshgrid_ij": (lambda m: m.meshgrid(V[:2], V[:3], V, indexing="ij"), True),
    "indices": (lambda m: m.indices((2, 3)), True),
    "ix_": (lambda m: m.ix_(np.array([0, 2]), np.array([1, 3])), True),
    "kron": (lambda m: m.kron(F[:2, :2], np.arange(6.0).reshape(2, 3)), True),
    "kron_1d": (lambda m: m.kron(V, F), True),
    "cross": (lambda m: m.cross(F[:, :3], F[::-1, 1:]), True),
    "cross_2": (lambda m: m.cross(F[:, :2], F[:, 2:]), True),
    "vander": (lambda m: m.vander(V, 3), True),
    "vander_inc": (lambda m: m.vander(V, increasing=True), True),
    "insert": (lambda m: m.insert(F, 1, 9.0, axis=1), True),
    "insert_many": (lambda m: m.insert(V, [1, 3, 3], np.array([7.0, 8.0, 9.0])), True),
    "delete": (lambda m: m.delete(F, [0, -1], axis=1), True),
    "delete_flat": (lambda m: m.delete(V, slice(1, 3)), True),
    "append": (lambda m: m.append(F, F[:1], axis=0), True),
    "append_flat": (lambda m: m.append(V, 4.0), True),
    "resize": (lambda m: m.resize(V, (2, 4)), True),
    "trim_zeros": (lambda m: m.trim_zeros(np.array([0.0, 0.0, 1.0, 0.0, 2.0, 0.0])), False),
    "trim_zeros_f": (lambda m: m.trim_zeros(np.array([0.0, 1.0, 0.0]), "f"), False),
    "select": (lambda m: m.select([F > 0.5, F < -0.5], [F, -F], 9.0), True),
    "piecewise": (lambda m: m.piecewise(V, [V < 2, V > 3], [lambda x: x * 10, 0.5, lambda x: -x]), True),
    "rollaxis": (lambda m: m.rollaxis(F.reshape(3, 2, 2), 2), True),
    "compress": (lambda m: m.compress(np.array([True, False, True]), F, axis=0), False),
    "extract": (lambda m: m.extract(F > 0, F), False),
    "choose": (lambda m: m.choose(np.array([0, 2, 1]), [V[:3], V[1:4], V[2:]]), True),
    "ravel_multi_index": (lambda m: m.ravel_multi_index((np.array([0, 2]), np.array([3, 1])), (3, 4)), True),
    "unravel_index": (lambda m: m.unravel_index(np.array([0, 5, 11]), (3, 4)), True),
    "polyval": (lambda m: m.polyval(np.array([1.0, -2.0, 0.5]), F), True),
    "polyadd": (lambda m: m.polyadd(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])), True),
    "polysub": (lambda m: m.polysub(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0])), True),
    "polymul": (lambda m: m.polymul(np.array([1.0, 2.0]), np.array([3.0, 4.0, 5.0])), True),
    "polydiv": (lambda m: m.polydiv(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 1.0]),
                                    **({"trim_leading_zeros": True} if m is fnp else {})), False),
    "polyder": (lambda m: m.polyder(np.array([1.0, 2.0, 3.0, 4.0]), 2), True),
    "polyint": (lambda m: m.polyint(np.array([3.0, 2.0, 1.0]), 2, 1.0), True),
    "poly": (lambda m: m.poly(np.array([1.0, -2.0, 3.0])), True),
    "roots": (lambda m: m.roots(np.array([1.0, -6.0, 11.0, -6.0])), False),
    "polyfit": (lambda m: m.polyfit(V, V ** 2 - 1, 2), True),
    "sets": (lambda m: (m.intersect1d(V, [2.0, 5.0, 9.0]), m.setdiff1d(V, [2.0]), m.setxor1d(V, [2.0, 7.0]),
                        m.union1d(V, [0.0])), False),
    "windows": (lambda m: (m.bartlett(5), m.blackman(4), m.hamming(3), m.hanning(6), m.kaiser(5, 2.0)), True),
    "mgrid": (lambda m: m.mgrid[0:3, 0:2], True),
    "r_": (lambda m: m.r_[V, 0:3, np.array([9.0])], True),
    "c_": (lambda m: m.c_[V, V], True),
    "empty": (lambda m: (m.nansum(E0), m.ptp(np.zeros((2, 0)), axis=0), m.isin(E0, V), m.atleast_2d(E0)), True),
    "apply_along_axis": (lambda m: m.apply_along_axis(lambda v: v[::-1] * v.sum(), 0, F), True),
    "apply_along_axis_scalar": (lambda m: m.apply_along_axis(lambda v: (v ** 2).sum(), -1, F), True),
    "apply_over_axes": (lambda m: m.apply_over_axes(m.sum, F.reshape(3, 2, 2), [0, 2]), True),
    "unstack": (lambda m: m.unstack(F, axis=-1) if m is fnp else tuple(np.moveaxis(F, -1, 0)), True),
    "fill_diagonal": (lambda m: m.fill_diagonal(F.copy(), 5.0, inplace=False) if m is fnp else
                      (lambda a: (np.fill_diagonal(a, 5.0), a)[1])(F.copy()), True),
    "put": (lambda m: m.put(F.copy(), [0, 5], [7.0, 8.0], inplace=False) if m is fnp else
            (lambda a: (np.put(a, [0, 5], [7.0, 8.0]), a)[1])(F.copy()), True),
    "place": (lambda m: m.place(V.copy(), V > 1.5, [7.0, 8.0], inplace=False) if m is fnp else
              (lambda a: (np.place(a, a > 1.5, [7.0, 8.0]), a)[1])(V.copy()), True),
    "vecdot": (lambda m: m.vecdot(F, F[::-1]), True),
    "matvec": (lambda m: m.matvec(F, V[:4]), True),
    "vecmat": (lambda m: m.vecmat(V[:3], F), True),
    "matrix_transpose": (lambda m: m.matrix_transpose(F.reshape(3, 2, 2)), True),
    "nextafter": (lambda m: m.nextafter(np.array([1.0, 1.0, 0.0, 0.0, -2.0, 8.0, 3.0, np.inf, 1e-320]),
                                        np.array([2.0, 0.0, 1.0, -1.0, 0.0, 0.0, 3.0, 0.0, 1.0])), True),
    "nextafter_f32": (lambda m: m.nextafter(np.float32([1.0, 0.5, -4.0]), np.float32([0.0, 1.0, -9.0])), True),
    "packbits": (lambda m: m.packbits(np.array([[1, 0, 1], [1, 1, 0]], np.uint8), axis=-1), True),
    "packbits_flat": (lambda m: m.packbits(np.arange(11) % 3 == 0, bitorder="little"), True),
    "unpackbits": (lambda m: m.unpackbits(np.array([[5, 255], [128, 0]], np.uint8), axis=1), True),
    "unpackbits_count": (lambda m: m.unpackbits(np.array([5, 7], np.uint8), count=10, bitorder="little"), True),
    "frombuffer": (lambda m: m.frombuffer(b"\x01\x02\x03\x04", dtype=np.uint8), False),
    "fromiter": (lambda m: m.fromiter(range(4), dtype=np.float32), False),
    "sort_complex": (lambda m: np.real(m.sort_complex(V[::-1])), False),
}


def _compare(got, want, name):
    if isinstance(want, (tuple, list)):
        assert len(got) == len(want), name
        for g, w in zip(got, want, strict=True):
            _compare(g, w, name)
        return
    g, w = host(got), np.asarray(want)
    assert g.shape == w.shape, f"{name}: shape {g.shape} != {w.shape}"
    if w.dtype.kind in "fc":
        np.testing.assert_allclose(g, w, rtol=2e-6 if g.dtype == np.float32 else 1e-10, atol=1e-12, equal_nan=True,
                                   err_msg=name)
    else:
        np.testing.assert_array_equal(g, w, err_msg=name)


@pytest.mark.parametrize("name", CALLS)
def test_tail_matches_numpy(name):
    f, jittable = CALLS[name]
    want = f(np)
    _compare(f(fnp), want, name)
    if jittable:
        _compare(ft.jit(lambda: f(fnp))(), want, name + " (jit)")


def test_dtypes_follow_numpy():
    assert host(fnp.left_shift(U8, SH.astype(np.uint8))).dtype == np.uint8
    assert host(fnp.left_shift(U8, SH)).dtype == np.left_shift(U8, SH).dtype
    assert host(fnp.bitwise_count(I)).dtype == np.uint8
    assert host(fnp.cbrt(F32)).dtype == np.float32
    assert host(fnp.hypot(F32, F32)).dtype == np.float32
    assert host(fnp.nanmean(F32)).dtype == np.float32
    assert host(fnp.frexp(F32)[1]).dtype == np.int32
    assert host(fnp.deg2rad(np.int8(3))).dtype == np.deg2rad(np.int8(3)).dtype


def test_value_dependent_sizes_need_concrete_inputs():
    from functrace.errors import ConcretizationError

    with pytest.raises(ConcretizationError, match="length="):
        ft.jit(fnp.bincount)(np.array([1, 2]))
    np.testing.assert_array_equal(host(ft.jit(lambda x: fnp.bincount(x, length=4))(np.array([1, 2, 2, 9]))),
                                  [0, 1, 2, 0])
    with pytest.raises(ConcretizationError):
        ft.jit(fnp.trim_zeros)(np.array([0.0, 1.0]))
    np.testing.assert_array_equal(host(ft.jit(lambda x: fnp.extract(x > 0, x, size=3))(np.array([1.0, -1, 2]))),
                                  [1.0, 2.0, 0.0])
    with pytest.raises(NotImplementedError, match="inplace=False"):
        fnp.fill_diagonal(F, 1.0)


GRADS = {
    "cbrt": (fnp.cbrt, (np.array([0.5, -2.0, 3.0]),)),
    "hypot": (fnp.hypot, (F[0], F[1])),
    "copysign": (fnp.copysign, (np.array([0.5, -2.0]), np.array([-1.0, 1.0]))),
    "ldexp": (lambda x: fnp.ldexp(x, np.array([1, -2, 3])), (V[:3],)),
    "logaddexp2": (fnp.logaddexp2, (F[0], F[1])),
    "sinc": (fnp.sinc, (np.array([0.3, -1.2, 2.5]),)),
    "fmax": (fnp.fmax, (np.array([1.0, 0.5, -1.0]), np.array([2.0, 3.0, -2.0]))),
    "fmin": (fnp.fmin, (np.array([1.0, 0.5, -1.0]), np.array([2.0, 3.0, -2.0]))),
    "i0": (fnp.i0, (np.array([0.5, -3.0, 20.0]),)),
    "nanmean": (lambda x: fnp.nanmean(fnp.where(x > 1.5, np.nan, x), axis=0), (F,)),
    "nanstd": (lambda x: fnp.nanstd(x, ddof=1), (F,)),
    "nanmax": (lambda x: fnp.nanmax(x, axis=1), (F,)),
    "average": (lambda x, w: fnp.average(x, axis=1, weights=w), (F, np.array([1.0, 2.0, 0.5, 1.5]))),
    "ptp": (lambda x: fnp.ptp(x, axis=0), (F,)),
    "cov": (fnp.cov, (F,)),
    "corrcoef": (fnp.corrcoef, (F,)),
    "interp": (lambda x, fp: fnp.interp(x, np.array([0.0, 1.0, 2.0]), fp), (np.array([0.3, 1.7]),
                                                                              np.array([1.0, 3.0, 2.0]))),
    "histogram_weights": (lambda w: fnp.histogram(V, bins=3, weights=w)[0], (np.arange(5.0),)),
    "kron": (fnp.kron, (F[:2, :2], F[1:, 2:])),
    "cross": (fnp.cross, (F[:, :3], F[:, 1:])),
    "vander": (lambda x: fnp.vander(x, 4), (V,)),
    "insert": (lambda x, v: fnp.insert(x, [1, 2], v), (V, np.array([9.0, 8.0]))),
    "delete": (lambda x: fnp.delete(x, 1, axis=0), (F,)),
    "rot90": (fnp.rot90, (F,)),
    "diagonal": (lambda x: fnp.diagonal(x, -1), (F,)),
    "block": (lambda a, b: fnp.block([[a, b], [b, a]]), (F[:2, :2], F[1:, 2:])),
    "polyval": (fnp.polyval, (np.array([1.0, -2.0, 0.5]), V)),
    "polyfit": (lambda y: fnp.polyfit(V, y, 2), (V ** 2,)),
    "polymul": (fnp.polymul, (V[:2], V[:3])),
    "polydiv": (lambda u: fnp.polydiv(u, np.array([2.0, 1.0])), (V[:4],)),
    "select": (lambda x: fnp.select([x > 0.5, x < -0.5], [x * 2, x ** 2], 1.0), (F,)),
    "apply_along_axis": (lambda x: fnp.apply_along_axis(lambda v: v * v.sum(), 1, x), (F,)),
    "vectorize": (lambda x, y: fnp.vectorize(lambda a, b: a * fnp.sin(b))(x, y), (F, F[0])),
}


@pytest.mark.parametrize("name", GRADS)
def test_tail_derivatives(name):
    f, args = GRADS[name]
    check_grads(f, args, order=2, modes=("fwd", "rev"))


def test_fmax_gradient_skips_nan_operands():
    x, y = np.array([1.0, np.nan, -1.0]), np.array([2.0, 3.0, np.nan])
    gx, gy = ft.grad(lambda a, b: fnp.fmax(a, b).sum(), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(host(gx), [0.0, 0.0, 1.0])
    np.testing.assert_array_equal(host(gy), [1.0, 1.0, 0.0])


def test_vectorize_signature_and_excluded():
    vf = fnp.vectorize(lambda a, b: fnp.dot(a, b), signature="(n),(n)->()")
    np.testing.assert_allclose(host(vf(F, V[:4])), F @ V[:4])
    ve = fnp.vectorize(lambda x, p: x ** p, excluded={1})
    np.testing.assert_allclose(host(ve(F, 2)), F ** 2)
    assert fnp.vectorize(np.sin).__name__ == "sin"


@pytest.mark.parametrize("name", ["hypot", "nanmean", "isclose", "kron", "cov", "rot90", "gcd"])
def test_vmap_matches_a_loop(name):
    fns = {
        "hypot": (lambda x: fnp.hypot(x, 2.0), F), "nanmean": (lambda x: fnp.nanmean(fnp.where(x > 1, np.nan, x)), F),
        "isclose": (lambda x: fnp.isclose(x, 0.5, atol=0.3), F), "kron": (lambda x: fnp.kron(x, x), F),
        "cov": (lambda x: fnp.cov(fnp.reshape(x, (2, 2))), F),
        "rot90": (lambda x: fnp.rot90(fnp.reshape(x, (2, 2))), F),
        "gcd": (lambda x: fnp.gcd(x, 12), I),
    }
    f, xs = fns[name]
    got = host(ft.vmap(f)(xs))
    want = np.stack([host(f(x)) for x in xs])
    np.testing.assert_allclose(got, want, equal_nan=True)


def test_numpy_functions_dispatch_on_tracers():
    def f(x):
        return (np.hypot(x, 1.0).sum() + np.nansum(x) + np.cbrt(x).sum() + np.ptp(x) + np.kron(x, x).sum()
                + np.average(x) + np.trapezoid(x) if hasattr(np, "trapezoid") else 0.0) + np.cov(x.reshape(2, 2)).sum()

    x = np.array([0.5, -1.0, 2.0, 3.0])
    np.testing.assert_allclose(host(ft.jit(f)(x)), f(x))
    assert host(ft.jit(lambda y: np.isclose(y, 0.5))(x)).tolist() == [True, False, False, False]
    assert host(ft.jit(lambda y: np.left_shift(y, 2))(I)).tolist() == np.left_shift(I, 2).tolist()


@pytest.mark.parametrize("shift", [2, -3, 7, 0, 5, -11])
def test_roll_with_a_traced_shift(shift):
    """A shift that is a traced value (an argument of a jitted function, or mapped by vmap) rolls
    as a static one does (JAX accepts both); an integer array is a shift too."""
    x = np.arange(10.0).reshape(2, 5)
    assert_close(ft.jit(lambda x, s: fnp.roll(x, s, axis=1))(x, shift), np.roll(x, shift, axis=1))
    assert_close(ft.jit(lambda x, s: fnp.roll(x, s))(x, np.int32(shift)), np.roll(x, shift))
    assert_close(fnp.roll(x, np.array(shift), axis=1), np.roll(x, shift, axis=1))
    both = ft.jit(lambda x, s: fnp.roll(x, s, axis=(0, 1)))(x, np.array([1, shift]))
    assert_close(both, np.roll(x, (1, shift), axis=(0, 1)))
    mapped = ft.vmap(lambda row, s: fnp.roll(row, s))(x, np.array([shift, 1]))
    assert_close(mapped, np.stack([np.roll(x[0], shift), np.roll(x[1], 1)]))
    w = np.arange(5.0)
    g = ft.jit(ft.grad(lambda x, s: fnp.sum(fnp.roll(x, s, axis=1) * w)))(x, shift)
    assert_close(g, np.broadcast_to(np.roll(w, -shift), x.shape))
    with pytest.raises(TypeError, match="shift must be integers"):
        fnp.roll(x, 1.5)


XS = np.linspace(0.1, 2.0, 6)
# Scalars JAX takes as traced values (arguments of a jitted function): tolerances, fill values,
# bounds, positions. (name: (function, its arguments, NumPy's))
TRACED_SCALARS = {
    "nan_to_num": (lambda x, v: fnp.nan_to_num(x, nan=v, posinf=v), (np.array([np.nan, 1.0, np.inf]), 5.0),
                   lambda x, v: np.nan_to_num(x, nan=v, posinf=v)),
    "isclose": (lambda x, y, t: fnp.isclose(x, y, rtol=t, atol=t), (XS, XS + 0.05, 0.03),
                lambda x, y, t: np.isclose(x, y, rtol=t, atol=t)),
    "allclose": (lambda x, y, t: fnp.allclose(x, y, atol=t), (XS, XS + 0.05, 0.1),
                 lambda x, y, t: np.allclose(x, y, atol=t)),
    "linspace": (lambda a, b: fnp.linspace(a, b, 5), (0.0, 2.0), lambda a, b: np.linspace(a, b, 5)),
    "clip": (lambda x, lo, hi: fnp.clip(x, lo, hi), (XS, 0.5, 1.5), np.clip),
    "pad": (lambda x, c: fnp.pad(x, 2, constant_values=c), (XS, 3.0), lambda x, c: np.pad(x, 2, constant_values=c)),
    "percentile": (fnp.percentile, (XS, 30.0), np.percentile),
    "interp": (fnp.interp, (0.7, XS, XS ** 2), np.interp),
    "heaviside": (lambda x, h: fnp.heaviside(x - 1, h), (XS, 0.5), lambda x, h: np.heaviside(x - 1, h)),
    "searchsorted": (fnp.searchsorted, (XS, 0.75), np.searchsorted),
    "histogram_range": (lambda x, lo, hi: fnp.histogram(x, bins=3, range=(lo, hi))[0], (XS, 0.0, 2.0),
                        lambda x, lo, hi: np.histogram(x, bins=3, range=(lo, hi))[0]),
    "geomspace": (lambda a, b: fnp.geomspace(a, b, 4), (1.0, 8.0), lambda a, b: np.geomspace(a, b, 4)),
}


@pytest.mark.parametrize("name", sorted(TRACED_SCALARS))
def test_traced_scalar_arguments(name):
    f, args, ref = TRACED_SCALARS[name]
    _compare(ft.jit(f)(*args), ref(*args), name)


RNG_W = np.random.default_rng(5)
A_W = RNG_W.standard_normal((3, 4))
M_W = RNG_W.random((3, 4)) < 0.6
ROW_W = np.array([True, False, True, True])
WHERE_CALLS = {  # reductions with where= / initial=, as NumPy (and JAX) take them
    "sum": lambda m: m.sum(A_W, where=M_W),
    "sum_axis_keepdims": lambda m: m.sum(A_W, axis=1, where=M_W, keepdims=True),
    "sum_initial_row_mask": lambda m: m.sum(A_W, axis=0, initial=2.0, where=ROW_W),
    "prod": lambda m: m.prod(A_W, axis=0, where=M_W),
    "max": lambda m: m.max(A_W, axis=1, where=M_W, initial=-5.0),
    "min": lambda m: m.min(A_W, where=M_W, initial=9.0),
    "max_initial": lambda m: m.max(A_W, initial=10.0),
    "all": lambda m: m.all(A_W > 0, axis=0, where=M_W),
    "any": lambda m: m.any(A_W > 1, where=M_W),
    "mean": lambda m: m.mean(A_W, axis=1, where=M_W),
    "mean_row_mask": lambda m: m.mean(A_W, where=ROW_W),
    "var_ddof": lambda m: m.var(A_W, axis=0, where=M_W, ddof=1),
    "std": lambda m: m.std(A_W, where=M_W),
    "mean_int": lambda m: m.mean(np.arange(12).reshape(3, 4), axis=0, where=M_W),
    "sum_int_initial": lambda m: m.sum(np.arange(4), initial=3),
}


@pytest.mark.parametrize("name", sorted(WHERE_CALLS))
def test_reductions_take_where_and_initial(name):
    f = WHERE_CALLS[name]
    with np.errstate(all="ignore"):
        want = f(np)
    _compare(f(fnp), want, name)
    _compare(ft.jit(lambda: f(fnp))(), want, name + " (jit)")


def test_where_reductions_errors_and_gradient():
    with pytest.raises(ValueError, match="needs initial="):
        fnp.max(A_W, where=M_W)
    with pytest.raises(TypeError, match="out= is not supported"):
        fnp.sum(A_W, out=np.zeros(()))
    g = host(ft.grad(lambda x: fnp.mean(x, where=M_W))(A_W))
    np.testing.assert_allclose(g, M_W / M_W.sum())
