"""functrace.numpy.linalg and functrace.lax.linalg against numpy.linalg: values on a table of
shapes (batches, tall/wide, float32/float64, empty batches), reconstructions and invariants
where signs are the backend's choice (eigenvectors, singular vectors, QR), derivatives with
check_grads in both modes, jit and vmap, and NumPy's dispatch (``np.linalg.inv`` on a tracer)."""

from __future__ import annotations

import numpy as np
import pytest
from cases_linalg import conditioned, spd, spread
from helpers import assert_close, host

import functrace as ft
import functrace.numpy as fnp
from functrace import lax
from functrace.errors import ShapeError

check_grads = ft.test_util.check_grads
GRAD_TOL = {np.float32: dict(rtol=2e-2, atol=2e-2, eps=1e-3), np.float64: dict(rtol=1e-5, atol=1e-6, eps=1e-5)}
VAL_TOL = {np.float32: 2e-4, np.float64: 1e-9}
DTYPES = [np.float32, np.float64]
rng0 = np.random.default_rng(0)


def _mk(maker, shape, dt, seed=0):
    return maker(shape)(np.random.default_rng(seed), dt)


def _close(got, want, dt, what=""):
    assert_close(got, np.asarray(want, dt), rtol=VAL_TOL[dt], atol=VAL_TOL[dt] * 10, what=what)


# ---------------------------------------------------------------------------- values vs NumPy
SQUARE = [(3, 3), (1, 1), (2, 4, 4), (2, 1, 3, 3), (0, 3, 3)]
RECT = [(5, 3), (3, 5), (2, 4, 2), (2, 2, 4), (4, 4)]


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SQUARE, ids=str)
@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "solve", "solve_vec", "matrix_power3", "matrix_power-2",
                                  "cond", "cond1", "condinf", "eigvalsh", "cholesky"])
def test_square_functions_match_numpy(name, shape, dt):
    a = _mk(spd if name in ("cholesky", "eigvalsh") else conditioned, shape, dt)
    b = np.random.default_rng(1).standard_normal(shape[:-1] + (2,)).astype(dt)
    fns = {
        "inv": lambda m: m.inv(a), "det": lambda m: m.det(a), "slogdet": lambda m: tuple(m.slogdet(a)),
        "solve": lambda m: m.solve(a, b),
        "solve_vec": lambda m: m.solve(a[(0,) * (a.ndim - 2)], b[(0,) * (a.ndim - 2)][:, 0])
        if a.size else m.solve(a, b),
        "matrix_power3": lambda m: m.matrix_power(a, 3), "matrix_power-2": lambda m: m.matrix_power(a, -2),
        "cond": lambda m: m.cond(a), "cond1": lambda m: m.cond(a, 1), "condinf": lambda m: m.cond(a, np.inf),
        "eigvalsh": lambda m: m.eigvalsh(a), "cholesky": lambda m: m.cholesky(a),
    }
    got, want = fns[name](fnp.linalg), fns[name](np.linalg)
    if isinstance(want, tuple):
        for g, w in zip(got, want, strict=True):
            _close(g, w, dt, name)
    else:
        _close(got, want, dt, name)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", RECT, ids=str)
def test_decompositions_reconstruct(shape, dt):
    a = _mk(spread, shape, dt)
    tol = VAL_TOL[dt] * 10
    for full in (True, False):
        u, s, vh = host(fnp.linalg.svd(a, full_matrices=full))
        k = min(shape[-2:])
        np.testing.assert_allclose(s, np.linalg.svd(a, compute_uv=False), rtol=tol, atol=tol)
        np.testing.assert_allclose((u[..., :k] * s[..., None, :]) @ vh[..., :k, :], a, rtol=tol, atol=tol)
        np.testing.assert_allclose(np.swapaxes(u, -1, -2) @ u, np.broadcast_to(np.eye(u.shape[-1]), u.shape[:-2]
                                   + (u.shape[-1],) * 2), atol=tol)
    for mode in ("reduced", "complete"):
        q, r = host(fnp.linalg.qr(a, mode=mode))
        np.testing.assert_allclose(q @ r, a, rtol=tol, atol=tol)
        np.testing.assert_allclose(np.tril(r, -1), 0, atol=tol)
        assert q.shape == np.linalg.qr(a, mode=mode)[0].shape and r.shape == np.linalg.qr(a, mode=mode)[1].shape
    np.testing.assert_allclose(np.abs(host(fnp.linalg.qr(a, mode="r"))), np.abs(np.linalg.qr(a, mode="r")),
                               rtol=tol, atol=tol)
    _close(fnp.linalg.svdvals(a), np.linalg.svd(a, compute_uv=False), dt)
    _close(fnp.linalg.pinv(a), np.linalg.pinv(a), dt)
    np.testing.assert_array_equal(host(fnp.linalg.matrix_rank(a)), np.linalg.matrix_rank(a))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(4, 4), (2, 3, 3), (1, 1)], ids=str)
def test_eigh_invariants(shape, dt):
    a = _mk(spd, shape, dt)
    w, v = host(fnp.linalg.eigh(a))
    tol = VAL_TOL[dt] * 100
    np.testing.assert_allclose(w, np.linalg.eigvalsh(a), rtol=tol, atol=tol)
    np.testing.assert_allclose((v * w[..., None, :]) @ np.swapaxes(v, -1, -2), a, rtol=tol, atol=tol)
    vl, wl = host(lax.linalg.eigh(a))  # lax order: (vectors, values)
    np.testing.assert_allclose(wl, w, rtol=tol, atol=tol)
    # Only the lower triangle is read without symmetrization.
    junk = np.triu(np.full(shape, 7.0, dt), 1)
    np.testing.assert_allclose(host(lax.linalg.eigh(np.tril(a) + junk, symmetrize_input=False)[1]), w, rtol=tol,
                               atol=tol)


def test_rank_deficient_and_singular_cases():
    a = np.array([[1.0, 2.0], [2.0, 4.0]])
    assert host(fnp.linalg.matrix_rank(a)) == 1
    assert host(fnp.linalg.det(a)) == pytest.approx(0.0, abs=1e-12)
    sign, logdet = host(fnp.linalg.slogdet(a))
    assert sign == 0 and logdet == -np.inf
    np.testing.assert_allclose(host(fnp.linalg.pinv(a)), np.linalg.pinv(a), atol=1e-12)
    assert np.isnan(host(fnp.linalg.cholesky(-np.eye(2)))).all()  # JAX gives nan, NumPy raises
    assert not np.isfinite(host(fnp.linalg.inv(np.zeros((2, 2))))).all()


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("ord", [None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf])
@pytest.mark.parametrize("axis", [(0, 1), (1, 0), (-1, 0), (2, 1)])
def test_matrix_norms_match_numpy(ord, axis, dt):
    x = np.random.default_rng(2).standard_normal((3, 4, 5)).astype(dt)
    if axis == (0, 1) or axis == (1, 0):
        x = x[0]
    for keepdims in (False, True):
        _close(fnp.linalg.norm(x, ord, axis, keepdims), np.linalg.norm(x, ord, axis, keepdims), dt, f"{ord} {axis}")
    _close(fnp.linalg.matrix_norm(x, ord="fro" if ord is None else ord),
           np.linalg.matrix_norm(x, ord="fro" if ord is None else ord), dt)


@pytest.mark.parametrize("ord", [None, 1, 2, 3, 0.5, 0, np.inf, -np.inf, -1])
def test_vector_norms_match_numpy(ord):
    x = np.array([[3.0, -4.0, 0.0], [1.0, 2.0, -2.0]])
    _close(fnp.linalg.norm(x, ord, axis=1), np.linalg.norm(x, ord, axis=1), np.float64)
    _close(fnp.linalg.norm(x[0], ord), np.linalg.norm(x[0], ord), np.float64)
    _close(fnp.linalg.vector_norm(x, ord=2 if ord is None else ord),
           np.linalg.vector_norm(x, ord=2 if ord is None else ord), np.float64)


def test_lstsq_multi_dot_tensor_functions():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((6, 3)), rng.standard_normal((6, 2))
    for got, want in zip(fnp.linalg.lstsq(a, b), np.linalg.lstsq(a, b), strict=True):
        np.testing.assert_allclose(host(got), want, atol=1e-10)
    np.testing.assert_allclose(host(fnp.linalg.lstsq(a, b[:, 0])[0]), np.linalg.lstsq(a, b[:, 0])[0], atol=1e-10)
    wide = rng.standard_normal((2, 4))
    np.testing.assert_allclose(host(fnp.linalg.lstsq(wide, b[:2])[0]), np.linalg.lstsq(wide, b[:2])[0], atol=1e-10)
    mats = [rng.standard_normal(4), rng.standard_normal((4, 3)), rng.standard_normal((3, 5)), rng.standard_normal(5)]
    np.testing.assert_allclose(host(fnp.linalg.multi_dot(mats)), np.linalg.multi_dot(mats))
    t = rng.standard_normal((2, 3, 6)) + np.eye(6).reshape(2, 3, 6)
    y = rng.standard_normal((2, 3))
    np.testing.assert_allclose(host(fnp.linalg.tensorsolve(t, y)), np.linalg.tensorsolve(t, y), atol=1e-10)
    t4 = (np.eye(6) + 0.1 * rng.standard_normal((6, 6))).reshape(2, 3, 6)
    np.testing.assert_allclose(host(fnp.linalg.tensorinv(t4, 2)), np.linalg.tensorinv(t4, 2), atol=1e-10)
    t5 = rng.standard_normal((6, 2, 3)) + np.eye(6).reshape(6, 2, 3)
    np.testing.assert_allclose(host(fnp.linalg.tensorsolve(t5, y.reshape(6), axes=None)),
                               np.linalg.tensorsolve(t5, y.reshape(6)), atol=1e-10)
    np.testing.assert_allclose(host(fnp.linalg.matrix_transpose(t)), np.swapaxes(t, -1, -2))


def test_errors_name_the_problem():
    with pytest.raises(ShapeError, match="square"):
        fnp.linalg.inv(np.ones((2, 3)))
    with pytest.raises(ShapeError, match="at least 2"):
        fnp.linalg.svd(np.ones(3))
    with pytest.raises(ValueError, match="mode"):
        fnp.linalg.qr(np.eye(2), mode="economic")


# ---------------------------------------------------------------------------- derivatives
GRAD_FNS = {
    "inv": (lambda a: fnp.linalg.inv(a), conditioned, (3, 3)),
    "solve_vec": (lambda a: fnp.linalg.solve(a, fnp.arange(3.0, dtype=a.dtype)), conditioned, (3, 3)),
    "det_batch": (lambda a: fnp.linalg.det(a), conditioned, (2, 3, 3)),
    "slogdet": (lambda a: fnp.linalg.slogdet(a).logabsdet, conditioned, (3, 3)),
    "pinv": (lambda a: fnp.linalg.pinv(a), spread, (4, 2)),
    "lstsq": (lambda a: fnp.linalg.lstsq(a, fnp.ones(4, dtype=a.dtype))[0], spread, (4, 2)),
    "norm_nuc": (lambda a: fnp.linalg.norm(a, "nuc"), spread, (3, 4)),
    "norm_2": (lambda a: fnp.linalg.norm(a, 2), spread, (3, 3)),
    "cond": (lambda a: fnp.linalg.cond(a), spread, (3, 3)),
    "matrix_power": (lambda a: fnp.linalg.matrix_power(a, 3), conditioned, (3, 3)),
    "cholesky_upper": (lambda a: fnp.linalg.cholesky(a, upper=True), spd, (3, 3)),
    "eigvalsh": (lambda a: fnp.linalg.eigvalsh(a), spd, (3, 3)),
    "eigh_vectors": (lambda a: fnp.linalg.eigh(a).eigenvectors, spd, (3, 3)),
    "qr_reduced": (lambda a: fnp.linalg.qr(a).Q, spread, (4, 3)),
    "svd_wide": (lambda a: fnp.linalg.svd(a, full_matrices=False).U, spread, (2, 4)),
}


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("name", GRAD_FNS)
def test_linalg_derivatives(name, dt):
    f, maker, shape = GRAD_FNS[name]
    check_grads(f, (_mk(maker, shape, dt),), order=1 if dt == np.float32 else 2, modes=("fwd", "rev"),
                **GRAD_TOL[dt])


def test_derivatives_refuse_where_jax_does():
    with pytest.raises(NotImplementedError, match="qr"):
        ft.jacfwd(lambda a: fnp.linalg.qr(a, mode="complete").Q)(np.ones((4, 2)))
    with pytest.raises(NotImplementedError, match="full_matrices"):
        ft.jacfwd(lambda a: fnp.linalg.svd(a).U)(np.ones((4, 2)))


# ---------------------------------------------------------------------------- jit, vmap, NumPy dispatch
@pytest.mark.parametrize("name", ["inv", "det", "slogdet", "eigh", "svd", "qr", "cholesky", "solve", "pinv",
                                  "norm2", "triangular_solve"])
def test_jit_and_vmap(name):
    a = _mk(spd, (3, 4, 4), np.float64)
    b = np.random.default_rng(4).standard_normal((3, 4, 2))
    fns = {
        "inv": fnp.linalg.inv, "det": fnp.linalg.det, "slogdet": lambda x: tuple(fnp.linalg.slogdet(x)),
        "eigh": lambda x: fnp.linalg.eigh(x).eigenvalues, "svd": fnp.linalg.svdvals,
        "qr": lambda x: fnp.abs(fnp.linalg.qr(x).R), "cholesky": fnp.linalg.cholesky,
        "solve": lambda x: fnp.linalg.solve(x, b[0]), "pinv": fnp.linalg.pinv, "norm2": lambda x: fnp.linalg.norm(x, 2),
        "triangular_solve": lambda x: lax.linalg.triangular_solve(x, b[0], left_side=True, lower=True),
    }
    f = fns[name]
    want = [host(f(a[i])) for i in range(3)]
    got_vmap = host(ft.vmap(f)(a))
    got_jit = host(ft.jit(ft.vmap(f))(a))
    got_batch_axis1 = host(ft.vmap(f, in_axes=1)(np.moveaxis(a, 0, 1)))
    for got in (got_vmap, got_jit, got_batch_axis1):
        stacked = ft.tree_util.tree_map(lambda *xs: np.stack(xs), *want)
        ft.tree_util.tree_map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-9), got, stacked)


def test_vmap_of_solve_with_unbatched_matrix_and_grad_of_vmap():
    a = _mk(conditioned, (3, 3), np.float64)
    bs = np.random.default_rng(5).standard_normal((4, 3))
    got = host(ft.vmap(lambda b: fnp.linalg.solve(a, b))(bs))
    np.testing.assert_allclose(got, np.linalg.solve(a, bs.T).T, atol=1e-12)
    g = ft.grad(lambda m: ft.vmap(lambda b: fnp.linalg.solve(m, b))(bs).sum())(a)
    check_grads(lambda m: ft.vmap(lambda b: fnp.linalg.solve(m, b))(bs), (a,), order=2, modes=("fwd", "rev"))
    assert host(g).shape == (3, 3)


def test_numpy_linalg_dispatches_to_functrace():
    a = _mk(conditioned, (3, 3), np.float64)

    def f(x):
        return np.linalg.det(np.linalg.inv(x)) + np.linalg.norm(x, "nuc") + np.linalg.slogdet(x)[1]

    want = np.linalg.det(np.linalg.inv(a)) + np.linalg.norm(a, "nuc") + np.linalg.slogdet(a)[1]
    np.testing.assert_allclose(host(ft.jit(f)(a)), want)
    check_grads(f, (a,), order=1, modes=("fwd", "rev"))


def test_lax_linalg_cholesky_solve_round_trip():
    a = _mk(spd, (2, 4, 4), np.float64)
    b = np.random.default_rng(6).standard_normal((2, 4, 3))
    L = lax.linalg.cholesky(a)
    y = lax.linalg.triangular_solve(L, b, left_side=True, lower=True)
    x = lax.linalg.triangular_solve(L, y, left_side=True, lower=True, transpose_a=True)
    np.testing.assert_allclose(host(x), np.linalg.solve(a, b), atol=1e-10)
    u, s, vh = lax.linalg.svd(a)
    np.testing.assert_allclose(host(s), np.linalg.svd(a, compute_uv=False), atol=1e-10)
    q, r = lax.linalg.qr(a[0])
    np.testing.assert_allclose(host(q) @ host(r), a[0], atol=1e-10)


@pytest.mark.parametrize("lower", [True, False])
def test_scipy_linalg_cho_solve_and_solve_triangular(lower):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    from functrace.scipy import linalg as fsl

    a = _mk(spd, (4, 4), np.float64)
    b = np.random.default_rng(7).standard_normal((4, 2))
    c = fsl.cho_factor(a, lower=lower)
    np.testing.assert_allclose(host(fsl.cho_solve(c, b)), scipy_linalg.cho_solve(scipy_linalg.cho_factor(a, lower),
                                                                                  b), atol=1e-10)
    np.testing.assert_allclose(host(fsl.cho_solve(c, b[:, 0])), np.linalg.solve(a, b[:, 0]), atol=1e-10)
    np.testing.assert_allclose(host(fsl.solve(a, b, assume_a="pos")), np.linalg.solve(a, b), atol=1e-10)
    for trans in (0, 1):
        for unit in (False, True):
            np.testing.assert_allclose(
                host(fsl.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit)),
                scipy_linalg.solve_triangular(a, b, trans=trans, lower=lower, unit_diagonal=unit), atol=1e-10)
    check_grads(lambda m, y: fsl.cho_solve(fsl.cho_factor(m, lower=lower), y), (a, b), order=2,
                modes=("fwd", "rev"))
