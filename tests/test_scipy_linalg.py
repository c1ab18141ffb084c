"""functrace.scipy.linalg against SciPy: values (float32 and float64, batches where SciPy has
none), derivatives with check_grads to order 2 in both modes where JAX differentiates, jit and
vmap. Runs on both backends."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import assert_close, host

import functrace as ft
from functrace.scipy import linalg as fl
from functrace.test_util import check_grads

sl = pytest.importorskip("scipy.linalg")

TOL = {np.float32: 2e-5, np.float64: 1e-11}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _spd(n, rng):
    a = rng.standard_normal((n, n))
    return a @ a.T + n * np.eye(n)


def _cond(n, rng):
    return 0.4 * rng.standard_normal((n, n)) + 2 * np.eye(n)


# ---------------------------------------------------------------------------- values
# name, functrace call, SciPy call, operands (rng -> tuple)
VALUE_CASES = [
    ("det", fl.det, sl.det, lambda r: (r.standard_normal((4, 4)),)),
    ("inv", fl.inv, sl.inv, lambda r: (_cond(3, r),)),
    ("solve[gen]", fl.solve, sl.solve, lambda r: (_cond(4, r), r.standard_normal(4))),
    ("solve[gen,matrix]", fl.solve, sl.solve, lambda r: (_cond(3, r), r.standard_normal((3, 2)))),
    ("solve[sym]", lambda a, b: fl.solve(a, b, assume_a="sym"), lambda a, b: sl.solve(a, b, assume_a="sym"),
     lambda r: (_spd(3, r), r.standard_normal(3))),
    ("solve[pos,lower]", lambda a, b: fl.solve(a, b, assume_a="pos", lower=True),
     lambda a, b: sl.solve(a, b, assume_a="pos", lower=True), lambda r: (_spd(4, r), r.standard_normal((4, 2)))),
    ("expm[small]", fl.expm, sl.expm, lambda r: (0.01 * r.standard_normal((3, 3)),)),
    ("expm[unit]", fl.expm, sl.expm, lambda r: (r.standard_normal((4, 4)),)),
    ("expm[large]", fl.expm, sl.expm, lambda r: (4 * r.standard_normal((3, 3)),)),
    ("expm[1x1]", fl.expm, sl.expm, lambda r: (np.array([[0.7]]),)),
    ("expm[zero]", fl.expm, sl.expm, lambda r: (np.zeros((2, 2)),)),
    ("expm[upper_triangular]", lambda a: fl.expm(a, upper_triangular=True), sl.expm,
     lambda r: (np.triu(r.standard_normal((4, 4))),)),
    ("lu_factor", lambda a: fl.lu_factor(a)[0], lambda a: sl.lu_factor(a)[0], lambda r: (r.standard_normal((5, 5)),)),
    ("lu_solve[0]", lambda a, b: fl.lu_solve(fl.lu_factor(a), b), lambda a, b: sl.lu_solve(sl.lu_factor(a), b),
     lambda r: (r.standard_normal((4, 4)), r.standard_normal(4))),
    ("lu_solve[1,matrix]", lambda a, b: fl.lu_solve(fl.lu_factor(a), b, trans=1),
     lambda a, b: sl.lu_solve(sl.lu_factor(a), b, trans=1), lambda r: (r.standard_normal((4, 4)),
                                                                       r.standard_normal((4, 3)))),
    ("lu_solve[2]", lambda a, b: fl.lu_solve(fl.lu_factor(a), b, trans=2),
     lambda a, b: sl.lu_solve(sl.lu_factor(a), b, trans=2), lambda r: (r.standard_normal((3, 3)),
                                                                       r.standard_normal(3))),
    ("eigh[eigvals_only,lower]", lambda a: fl.eigh(a, eigvals_only=True),
     lambda a: sl.eigh(a, eigvals_only=True), lambda r: (np.tril(_spd(4, r)),)),
    ("eigh[eigvals_only,upper]", lambda a: fl.eigh(a, lower=False, eigvals_only=True),
     lambda a: sl.eigh(a, lower=False, eigvals_only=True), lambda r: (np.triu(_spd(4, r)),)),
    ("svd[values]", lambda a: fl.svd(a, compute_uv=False), lambda a: sl.svd(a, compute_uv=False),
     lambda r: (r.standard_normal((5, 3)),)),
    ("qr[r]", lambda a: np.abs(host(fl.qr(a, mode="r")[0])), lambda a: np.abs(sl.qr(a, mode="r")[0]),
     lambda r: (r.standard_normal((5, 3)),)),
    ("cholesky", fl.cholesky, sl.cholesky, lambda r: (_spd(4, r),)),
    ("cho_solve", lambda a, b: fl.cho_solve(fl.cho_factor(a, lower=True), b),
     lambda a, b: sl.cho_solve(sl.cho_factor(a, lower=True), b), lambda r: (_spd(3, r), r.standard_normal(3))),
]

for _shape in [(4, 4), (5, 3), (3, 5), (1, 1)]:
    VALUE_CASES += [
        (f"lu{_shape}", fl.lu, sl.lu, lambda r, s=_shape: (r.standard_normal(s),)),
        (f"lu[permute_l]{_shape}", lambda a: fl.lu(a, permute_l=True), lambda a: sl.lu(a, permute_l=True),
         lambda r, s=_shape: (r.standard_normal(s),)),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,f,ref,make", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_values_match_scipy(name, f, ref, make, dtype):
    args = tuple(a.astype(dtype) for a in make(_rng()))
    want = ref(*[a.astype(np.float64) for a in args])
    got = f(*args)
    got, want = (got, want) if isinstance(want, tuple) else ((got,), (want,))
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        scale = max(1.0, float(np.abs(w).max()))
        tol = TOL[dtype] * (50 if name.startswith("expm[large]") else 1)
        assert_close(g, np.asarray(w).astype(dtype), rtol=tol, atol=tol * scale, check_dtype=not name.startswith("qr"))


def test_lu_factor_pivots_are_scipys():
    a = _rng(1).standard_normal((6, 6))
    lu, piv = fl.lu_factor(a)
    assert host(piv).dtype == np.int32
    np.testing.assert_array_equal(host(piv), sl.lu_factor(a)[1])


def test_eigh_vectors_and_svd_qr_reconstruct():
    r = _rng(2)
    s = _spd(4, r)
    w, v = host(fl.eigh(s))
    np.testing.assert_allclose(v @ np.diag(w) @ v.T, s, atol=1e-10)
    np.testing.assert_allclose(w, sl.eigh(s)[0], atol=1e-10)
    a = r.standard_normal((5, 3))
    for full in (True, False):
        u, sv, vh = host(fl.svd(a, full_matrices=full))
        assert u.shape == ((5, 5) if full else (5, 3))
        np.testing.assert_allclose(u[:, :3] * sv @ vh, a, atol=1e-10)
    for mode, qshape in (("full", (5, 5)), ("economic", (5, 3))):
        q, rr = host(fl.qr(a, mode=mode))
        assert q.shape == qshape
        np.testing.assert_allclose(q @ rr, a, atol=1e-10)


SQRTM_CASES = [
    ("spd", lambda r: _spd(3, r)), ("general", lambda r: r.standard_normal((4, 4))),
    ("negative_eigenvalue", lambda r: np.diag([-4.0, 9.0])), ("1x1", lambda r: np.array([[2.0]])),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,make", SQRTM_CASES, ids=[c[0] for c in SQRTM_CASES])
def test_sqrtm_matches_scipy_and_is_complex(name, make, dtype):
    a = make(_rng(6))
    cdt = np.complex64 if dtype == np.float32 else np.complex128
    want = sl.sqrtm(a).astype(cdt)
    tol = 1e-5 if dtype == np.float32 else 1e-11
    assert_close(fl.sqrtm(a.astype(dtype)), want, rtol=tol, atol=tol * np.abs(want).max())


def test_sqrtm_of_defective_matrix():
    a = np.array([[1.0, 1.0], [0.0, 1.0]])  # one Jordan block: SciPy's Schur method handles it
    got = host(fl.sqrtm(a))
    if ft.get_backend() == "torch":  # no Schur decomposition in torch: the eigenvector route says nan
        assert np.isnan(got).all()
    else:
        np.testing.assert_allclose(got, sl.sqrtm(a), atol=1e-12)
    with pytest.raises(NotImplementedError, match="blocksize"):
        fl.sqrtm(a, blocksize=2)


def test_lax_eig_matches_numpy():
    a = _rng(7).standard_normal((2, 4, 4))
    w, v = host(ft.lax.linalg.eig(a))
    assert w.dtype == np.complex128 and v.dtype == np.complex128
    np.testing.assert_allclose(a @ v, v * w[..., None, :], atol=1e-12)  # a v = v diag(w)
    np.testing.assert_allclose(np.linalg.norm(v, axis=-2), 1.0, rtol=1e-12)
    want = np.linalg.eigvals(a)
    eigvals = host(ft.lax.linalg.eig(a, compute_right_eigenvectors=False)[0])
    np.testing.assert_allclose(np.sort_complex(eigvals.ravel()), np.sort_complex(want.ravel()), atol=1e-12)
    assert host(ft.lax.linalg.eig(a.astype(np.float32))[0]).dtype == np.complex64


def test_sqrtm_and_eig_are_forward_only():
    a = _spd(3, _rng(8))
    with pytest.raises(ft.errors.MissingRuleError, match="sqrtm forward only"):
        ft.grad(lambda m: ft.numpy.sum(ft.numpy.real(fl.sqrtm(m))))(a)
    # eig differentiates its eigenvalues only, as JAX (tests/test_eig.py)
    with pytest.raises(ft.errors.MissingRuleError, match="not its eigenvectors"):
        ft.jvp(lambda m: ft.lax.linalg.eig(m)[0], (a,), (a,))
    # under jit and vmap they run
    assert_close(ft.jit(fl.sqrtm)(a), sl.sqrtm(a).astype(np.complex128), rtol=1e-11, atol=1e-11)
    got = host(ft.vmap(fl.sqrtm)(np.stack([a, 2 * a])))
    np.testing.assert_allclose(got[1], sl.sqrtm(2 * a), rtol=1e-11)


def test_block_diag_matches_scipy_with_promotion():
    args = (np.ones(2, np.float32), np.float32(3.0), np.arange(4.0, dtype=np.float32).reshape(2, 2), np.ones((2, 1)))
    assert_close(fl.block_diag(*args), sl.block_diag(*args))
    assert_close(fl.block_diag(np.ones((1, 2), np.float32)), sl.block_diag(np.ones((1, 2), np.float32)))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the 16 squarings overflow, as the nan says
def test_expm_is_nan_past_max_squarings_and_batches():
    assert np.isnan(host(fl.expm(np.full((2, 2), 1e6)))).all()
    r = _rng(3)
    a = r.standard_normal((3, 2, 2))
    assert_close(fl.expm(a), np.stack([sl.expm(m) for m in a]), rtol=1e-11, atol=1e-11)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="assume_a"):
        fl.solve(np.eye(2), np.ones(2), assume_a="banded")
    with pytest.raises(NotImplementedError, match="pivoting"):
        fl.qr(np.eye(2), pivoting=True)
    with pytest.raises(ValueError, match="mode"):
        fl.qr(np.eye(2), mode="raw")
    with pytest.raises(NotImplementedError, match="b=None"):
        fl.eigh(np.eye(2), np.eye(2))
    with pytest.raises(ValueError, match="trans"):
        fl.lu_solve(fl.lu_factor(np.eye(2)), np.ones(2), trans=3)
    with pytest.raises(ft.errors.ShapeError):
        fl.expm(np.ones((2, 3)))


# ---------------------------------------------------------------------------- derivatives
GRAD_CASES = [
    ("expm", fl.expm, lambda r: (r.standard_normal((3, 3)),)),
    ("expm[scaled]", fl.expm, lambda r: (3 * r.standard_normal((3, 3)),)),
    ("expm[upper]", lambda a: fl.expm(a, upper_triangular=True), lambda r: (np.triu(r.standard_normal((3, 3))),)),
    ("lu", lambda a: fl.lu(a)[1:], lambda r: (r.standard_normal((4, 4)),)),
    ("lu[permute_l,tall]", lambda a: fl.lu(a, permute_l=True), lambda r: (r.standard_normal((4, 3)),)),
    ("lu_solve", lambda a, b: fl.lu_solve(fl.lu_factor(a), b), lambda r: (_cond(3, r), r.standard_normal(3))),
    ("lu_solve[trans]", lambda a, b: fl.lu_solve(fl.lu_factor(a), b, trans=1),
     lambda r: (_cond(3, r), r.standard_normal((3, 2)))),
    ("solve[pos]", lambda a, b: fl.solve(a, b, assume_a="pos"), lambda r: (_spd(3, r), r.standard_normal(3))),
    ("det", fl.det, lambda r: (_cond(3, r),)),
    ("inv", fl.inv, lambda r: (_cond(3, r),)),
    # eigh reads one triangle, but its derivative (as JAX's) is along symmetric directions
    ("eigh[values]", lambda a: fl.eigh((a + a.T) / 2, eigvals_only=True), lambda r: (_spd(3, r),)),
    ("eigh[vectors]", lambda a: fl.eigh((a + a.T) / 2, lower=False)[1], lambda r: (_spd(3, r),)),
    ("svd[values]", lambda a: fl.svd(a, compute_uv=False), lambda r: (r.standard_normal((4, 3)),)),
    ("qr[economic]", lambda a: fl.qr(a, mode="economic"), lambda r: (r.standard_normal((4, 3)),)),
    ("block_diag", lambda a, b: fl.block_diag(a, b), lambda r: (r.standard_normal((2, 2)), r.standard_normal(3))),
]


@pytest.mark.parametrize("name,f,make", GRAD_CASES, ids=[c[0] for c in GRAD_CASES])
def test_derivatives(name, f, make):
    check_grads(f, make(_rng(4)), order=2, modes=("fwd", "rev"))


def test_expm_gradient_matches_jax():
    # jax.grad(lambda a: jax.scipy.linalg.expm(a).sum()) at this matrix (jax 0.10.2, float64)
    a = np.array([[4.0, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 2]])
    want = [[158.46941062, 116.08931982, 71.57112837], [116.08931982, 83.96487243, 50.3426144],
            [71.57112837, 50.3426144, 28.28556555]]
    np.testing.assert_allclose(host(ft.grad(lambda m: ft.numpy.sum(fl.expm(m)))(a)), want, rtol=1e-8)


def test_lu_gradient_matches_jax():
    # jax.grad(lambda a: lu(a)[1].sum() + lu(a)[2].sum()) (jax 0.10.2, float64)
    a = np.array([[4.0, 1, 0.5], [1, 3, 0.2], [0.5, 0.2, 2]])
    want = [[1.02471074, 0.71024793, 0.63181818], [-0.11929752, 0.99082645, 0.97272727],
            [0.04090909, 0.33636364, 1.0]]
    got = ft.grad(lambda m: ft.numpy.sum(fl.lu(m)[1]) + ft.numpy.sum(fl.lu(m)[2]))(a)
    np.testing.assert_allclose(host(got), want, rtol=1e-7, atol=1e-8)


# ---------------------------------------------------------------------------- jit, vmap
@pytest.mark.parametrize("name,f,make", [c for c in GRAD_CASES if c[0] != "block_diag"],
                         ids=[c[0] for c in GRAD_CASES if c[0] != "block_diag"])
def test_jit_and_vmap_agree_with_eager(name, f, make):
    r = _rng(5)
    args = [make(r) for _ in range(2)]
    eager = [host(f(*a)) for a in args]
    for got, want in zip([host(ft.jit(f)(*a)) for a in args], eager, strict=True):
        ft.tree_util.tree_map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-9, atol=1e-10), got, want)
    stacked = [np.stack(xs) for xs in zip(*args, strict=True)]
    batched = host(ft.vmap(f)(*stacked))
    for i, want in enumerate(eager):
        ft.tree_util.tree_map(lambda g, w, i=i: np.testing.assert_allclose(g[i], w, rtol=1e-9, atol=1e-10),
                              batched, want)
