"""The derivative rules of the matrix decompositions (``functrace.ops.linalg_decompositions``):
JVP rules after JAX's (``jax/_src/lax/linalg.py``), and the transposes of the two solves, which
are linear in their right-hand side. Imported at the end of the family module, which declares
the primitives and the matrix helpers these rules share.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.errors import MissingRuleError
from functrace.ops.linalg_decompositions import (
    _cols,
    _diagonal,
    _half_eye,
    _masked,
    _mm,
    _mT,
    _rows,
    _symmetrize,
    _tril,
    _triu,
    cholesky_p,
    det_p,
    eig_p,
    eigh_p,
    lu_p,
    qr_p,
    slogdet_p,
    solve_p,
    sqrtm_p,
    svd_p,
    triangular_solve_p,
)
from functrace.rules import Zero, def_jvp_rule, def_transpose_rule, instantiate, is_undefined
from functrace.tracing import bind, get_aval, located

Array = Any


# ---------------------------------------------------------------------------- JVP rules
def _cholesky_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    L = bind(cholesky_p, x)
    if isinstance(t, Zero):
        return L, Zero(get_aval(L))
    sigma = _symmetrize(t)
    tmp = bind(triangular_solve_p, L, sigma, left_side=False, lower=True, transpose_a=True, unit_diagonal=False)
    inner = bind(triangular_solve_p, L, tmp, left_side=True, lower=True, transpose_a=False, unit_diagonal=False)
    a = get_aval(L)
    halve = np.where(np.eye(a.shape[-1], dtype=bool), 0.5, 1.0).astype(a.dtype)
    phi = lax.mul(_tril(inner), np.broadcast_to(halve, a.shape))
    return L, _mm(L, phi)


def_jvp_rule(cholesky_p, _cholesky_jvp)


def _triangular_solve_jvp(primals, tangents, *, left_side, lower, transpose_a, unit_diagonal):
    a, b = primals
    ta, tb = tangents
    params = dict(left_side=left_side, lower=lower, transpose_a=transpose_a, unit_diagonal=unit_diagonal)
    x = bind(triangular_solve_p, a, b, **params)
    out = Zero(get_aval(x))
    if not isinstance(tb, Zero):
        out = bind(triangular_solve_p, a, tb, **params)
    if not isinstance(ta, Zero):
        n = get_aval(a).shape[-1]
        k = -1 if unit_diagonal else 0
        mask = np.tri(n, n, k, dtype=bool) if lower else ~np.tri(n, n, -1 - k, dtype=bool)
        da = _masked(ta, mask)
        da = _mT(da) if transpose_a else da
        rhs = _mm(da, x) if left_side else _mm(x, da)
        term = lax.neg(bind(triangular_solve_p, a, rhs, **params))
        out = term if isinstance(out, Zero) else lax.add(out, term)
    return x, out


def _triangular_solve_transpose(ct, a, b, *, left_side, lower, transpose_a, unit_diagonal):
    if is_undefined(a):
        raise ValueError("triangular_solve is linear in its right-hand side only")
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    return [None, bind(triangular_solve_p, a, ct, left_side=left_side, lower=lower,
                       transpose_a=not transpose_a, unit_diagonal=unit_diagonal)]


def_jvp_rule(triangular_solve_p, _triangular_solve_jvp)
def_transpose_rule(triangular_solve_p, _triangular_solve_transpose)


def _solve_jvp(primals, tangents):
    a, b = primals
    ta, tb = tangents
    x = bind(solve_p, a, b)
    if isinstance(ta, Zero) and isinstance(tb, Zero):
        return x, Zero(get_aval(x))
    rhs = instantiate(tb, get_aval(b))
    if not isinstance(ta, Zero):
        rhs = lax.sub(rhs, _mm(ta, x))
    return x, bind(solve_p, a, rhs)


def _solve_transpose(ct, a, b):
    if is_undefined(a):
        raise ValueError("solve is linear in its right-hand side only")
    if isinstance(ct, Zero):
        return [None, Zero(b.aval)]
    return [None, bind(solve_p, _mT(a), ct)]


def_jvp_rule(solve_p, _solve_jvp)
def_transpose_rule(solve_p, _solve_transpose)


def _trace_solve(a: Array, t: Array) -> Array:
    """``trace(a⁻¹ t)`` per matrix: the derivative of log|det a| along ``t``."""
    nd = get_aval(a).ndim
    return lax.reduce_sum(_diagonal(bind(solve_p, a, t)), (nd - 2,))


def _det_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    d = bind(det_p, a)
    if isinstance(t, Zero):
        return d, Zero(get_aval(d))
    return d, lax.mul(d, _trace_solve(a, t))


def _slogdet_jvp(primals, tangents):
    (a,), (t,) = primals, tangents
    sign, logabsdet = bind(slogdet_p, a)
    zero = Zero(get_aval(sign))
    if isinstance(t, Zero):
        return [sign, logabsdet], [zero, Zero(get_aval(logabsdet))]
    return [sign, logabsdet], [zero, _trace_solve(a, t)]


def_jvp_rule(det_p, _det_jvp)
def_jvp_rule(slogdet_p, _slogdet_jvp)


def _qr_jvp(primals, tangents, *, full_matrices):
    (x,), (dx,) = primals, tangents
    q, r = bind(qr_p, x, full_matrices=full_matrices)
    if isinstance(dx, Zero):
        return [q, r], [Zero(get_aval(q)), Zero(get_aval(r))]
    m, n = get_aval(x).shape[-2:]
    if m < n or (full_matrices and m != n):
        raise NotImplementedError("the derivative of qr is defined for matrices with at least as many rows as "
                                  "columns, with full_matrices=False (or square matrices), as in JAX")
    dx_rinv = bind(triangular_solve_p, r, dx, left_side=False, lower=False, transpose_a=False, unit_diagonal=False)
    qt_dx_rinv = _mm(_mT(q), dx_rinv)
    low = _tril(qt_dx_rinv, -1)
    do = lax.sub(low, _mT(low))
    dq = lax.add(_mm(q, lax.sub(do, qt_dx_rinv)), dx_rinv)
    dr = _mm(lax.sub(qt_dx_rinv, do), r)
    return [q, r], [dq, dr]


def_jvp_rule(qr_p, _qr_jvp)


def _eigh_jvp(primals, tangents, *, lower):
    (x,), (dx,) = primals, tangents
    v, w = bind(eigh_p, x, lower=lower)
    if isinstance(dx, Zero):
        return [v, w], [Zero(get_aval(v)), Zero(get_aval(w))]
    a = get_aval(v)
    n, dt = a.shape[-1], a.dtype
    dx = _symmetrize(dx)
    vt_dx_v = _mm(_mT(v), _mm(dx, v))
    eye = _half_eye(n, a.shape, dt)
    # F[i, j] = 1 / (w[j] - w[i]) off the diagonal, 0 on it.
    diffs = lax.sub(_rows(w, a.shape), _cols(w, a.shape))
    fmat = lax.sub(lax.div(np.asarray(1, dt)[()], lax.add(diffs, eye)), eye)
    dv = _mm(v, lax.mul(fmat, vt_dx_v))
    return [v, w], [dv, _diagonal(vt_dx_v)]


def_jvp_rule(eigh_p, _eigh_jvp)


def _svd_jvp(primals, tangents, *, full_matrices):
    (x,), (dx,) = primals, tangents
    s, u, vt = bind(svd_p, x, full_matrices=full_matrices)
    if isinstance(dx, Zero):
        return [s, u, vt], [Zero(get_aval(s)), Zero(get_aval(u)), Zero(get_aval(vt))]
    m, n = get_aval(x).shape[-2:]
    if full_matrices and m != n:
        raise NotImplementedError("the derivative of svd with full_matrices=True is defined for square matrices "
                                  "only (as in JAX); pass full_matrices=False")
    v = _mT(vt)
    kshape = get_aval(vt).shape[:-2] + (get_aval(s).shape[-1],) * 2
    dt = get_aval(s).dtype
    eye = _half_eye(kshape[-1], kshape, dt)
    ds_mat = _mm(_mT(u), _mm(dx, v))
    ds = _diagonal(ds_mat)
    s_row, s_col = _rows(s, kshape), _cols(s, kshape)
    s_diffs = lax.mul(lax.add(s_row, s_col), lax.sub(s_row, s_col))  # s_j² - s_i²
    fmat = lax.sub(lax.div(np.asarray(1, dt)[()], lax.add(s_diffs, eye)), eye)
    dss = lax.mul(s_row, ds_mat)
    sds = lax.mul(s_col, ds_mat)
    du = _mm(u, lax.mul(fmat, lax.add(dss, _mT(dss))))
    dv = _mm(v, lax.mul(fmat, lax.add(sds, _mT(sds))))
    if m > n:
        dav = _mm(dx, v)
        proj = lax.sub(dav, _mm(u, _mm(_mT(u), dav)))
        du = lax.add(du, lax.div(proj, _rows(s, get_aval(proj).shape)))
    elif n > m:
        dahu = _mm(_mT(dx), u)
        proj = lax.sub(dahu, _mm(v, _mm(vt, dahu)))
        dv = lax.add(dv, lax.div(proj, _rows(s, get_aval(proj).shape)))
    return [s, u, vt], [ds, du, _mT(dv)]


def_jvp_rule(svd_p, _svd_jvp)


def _permutation_matrix(perm: Array, dt: Any) -> Array:
    """The (..., m, m) matrix ``P`` with ``P[i, perm[i]] = 1``, so ``P @ x`` is ``x[perm]``."""
    shape = get_aval(perm).shape + (get_aval(perm).shape[-1],)
    nd = len(shape)
    cols = lax.broadcast_in_dim(perm, shape, tuple(range(nd - 1)))
    return lax.convert_element_type(lax.eq(cols, lax.iota(np.int32, shape, nd - 1)), dt)


def _eye_block(rows: int, cols: int, offset: int, lead: tuple, dt: Any) -> np.ndarray:
    return np.broadcast_to(np.eye(rows, cols, offset, dtype=dt), lead + (rows, cols))


def _lu_jvp(primals, tangents):
    """``x[perm] = L U``, so ``L⁻¹ dx[perm] U⁻¹ = L⁻¹dL + dU U⁻¹``: the first term is strictly lower
    (unit diagonal), the second upper. Rectangular factors are completed to square triangular
    matrices with identity blocks, so both solves are square."""
    (x,), (dx,) = primals, tangents
    packed, pivots, perm = bind(lu_p, x)
    zeros = [Zero(get_aval(pivots)), Zero(get_aval(perm))]
    if isinstance(dx, Zero):
        return [packed, pivots, perm], [Zero(get_aval(packed))] + zeros
    a = get_aval(x)
    m, n, dt, lead = a.shape[-2], a.shape[-1], a.dtype, a.shape[:-2]
    nd = a.ndim
    k = min(m, n)
    x_perm = _mm(_permutation_matrix(perm, dt), dx)
    lower = _tril(lax.slice(packed, (0,) * nd, lead + (m, k)), -1)
    if m > k:
        lower = lax.concatenate([lower, lax.full(lead + (m, m - k), 0, dt)], nd - 1)
    lower = lax.add(lower, _eye_block(m, m, 0, lead, dt))
    upper = _triu(lax.slice(packed, (0,) * nd, lead + (k, n)))
    if n > k:
        upper = lax.concatenate([upper, _eye_block(n - k, n, k, lead, dt)], nd - 2)
    la = bind(triangular_solve_p, lower, x_perm, left_side=True, lower=True, transpose_a=False, unit_diagonal=True)
    lau = bind(triangular_solve_p, upper, la, left_side=False, lower=False, transpose_a=False, unit_diagonal=False)
    d_packed = lax.add(_mm(lower, _tril(lau, -1)), _mm(_triu(lau), upper))
    return [packed, pivots, perm], [d_packed] + zeros


def_jvp_rule(lu_p, _lu_jvp)


def _forward_only(name: str, why: str):
    def rule(primals, tangents, **params):
        raise located(MissingRuleError(f"functrace computes {name} forward only ({why}); differentiate a "
                                       "function that does not go through it, or stop its gradient with "
                                       "ft.stop_gradient"))
    return rule


def_jvp_rule(sqrtm_p, _forward_only("sqrtm", "as JAX, whose Schur decomposition has no derivative"))


def _eig_jvp(primals, tangents, *, vectors):
    """The eigenvalues' tangent ``dw_i = (V^-1 dA V)_ii`` (JAX's rule, eq. 4.60 of
    arXiv:1701.00392): linear in ``dA``, through a solve with the eigenvectors, which are
    computed again here. The eigenvectors' derivative is not defined, as in JAX; and since this
    rule computes eigenvectors, the eigenvalues have a first derivative only."""
    if vectors:
        raise located(MissingRuleError(
            "functrace differentiates eig's eigenvalues, not its eigenvectors (as JAX): differentiate the "
            "eigenvalues computed alone, fnp.linalg.eigvals(a) or lax.linalg.eig(a, compute_right_eigenvectors="
            "False), and only once (their derivative is computed from the eigenvectors), or stop the gradient "
            "with ft.stop_gradient"))
    (a,), (da,) = primals, tangents
    w, v = bind(eig_p, a, vectors=True)
    if isinstance(da, Zero):
        return [w], [Zero(get_aval(w))]
    dt = get_aval(v).dtype
    da = da if get_aval(da).dtype == dt else lax.convert_element_type(da, dt)
    vinv_da = bind(solve_p, v, da)
    return [w], [lax.reduce_sum(lax.mul(vinv_da, _mT(v)), (get_aval(v).ndim - 1,))]


def_jvp_rule(eig_p, _eig_jvp)
