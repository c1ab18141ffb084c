"""torch implementations of the decompositions family (``functrace/ops/linalg_decompositions.py``)."""

from __future__ import annotations

from typing import Any

import torch

from functrace.ops import linalg_decompositions as LD


def _t_cholesky(a):
    L, info = torch.linalg.cholesky_ex(a)
    bad = (info != 0)[..., None, None]
    return torch.where(bad, torch.full_like(L, float("nan")), L)


def _t_triangular_solve(a, b, *, left_side, lower, transpose_a, unit_diagonal):
    if transpose_a:  # op(a) = aᵀ is triangular of the other kind
        a, lower = a.transpose(-1, -2), not lower
    return torch.linalg.solve_triangular(a, b, upper=not lower, left=left_side, unitriangular=unit_diagonal)


def _t_solve(a, b):
    """nan for singular matrices (as the NumPy backend), rather than an error."""
    x, info = torch.linalg.solve_ex(a, b)
    return torch.where((info != 0)[..., None, None], torch.full_like(x, float("nan")), x)


def _column_signs(v):
    """+1/-1 per column, the sign of its largest-magnitude entry (as the NumPy backend's rule)."""
    if v.shape[-2] == 0:
        return torch.ones(v.shape[:-2] + v.shape[-1:], dtype=v.dtype, device=v.device)
    idx = torch.argmax(torch.abs(v), dim=-2, keepdim=True)
    top = torch.take_along_dim(v, idx, dim=-2)[..., 0, :]
    return torch.where(top < 0, -torch.ones_like(top), torch.ones_like(top))


def _t_eigh(a, *, lower):
    w, v = torch.linalg.eigh(a, UPLO="L" if lower else "U")
    return [v * _column_signs(v)[..., None, :], w]


def _t_svd(a, *, full_matrices):
    u, s, vh = torch.linalg.svd(a, full_matrices=full_matrices)
    k = s.shape[-1]
    su = _column_signs(u)
    sv = torch.cat([su[..., :k], _column_signs(vh[..., k:, :].transpose(-1, -2))], dim=-1)
    return [s, u * su[..., None, :], vh * sv[..., :, None]]


def _lu(a: torch.Tensor) -> list:
    m, n = a.shape[-2:]
    k = min(m, n)
    if a.numel() == 0:
        lead = a.shape[:-2]
        return [a.clone(), torch.zeros(lead + (k,), dtype=torch.int32, device=a.device),
                torch.arange(m, dtype=torch.int32, device=a.device).expand(lead + (m,)).clone()]
    lu, pivots, _ = torch.linalg.lu_factor_ex(a)
    pivots = (pivots - 1).to(torch.int32)
    flat = pivots.reshape(-1, k)
    perm = torch.arange(m, dtype=torch.int32, device=a.device).repeat(flat.shape[0], 1)
    rows = torch.arange(flat.shape[0], device=a.device)
    for j in range(k):  # apply the row swaps in order
        p = flat[:, j].long()
        pj, pp = perm[rows, j].clone(), perm[rows, p].clone()
        perm[rows, j], perm[rows, p] = pp, pj
    return [lu, pivots, perm.reshape(a.shape[:-2] + (m,))]


def _complex(dtype: torch.dtype) -> torch.dtype:
    return torch.complex64 if dtype in (torch.float32, torch.complex64) else torch.complex128


def _eig(a: torch.Tensor, *, vectors: bool) -> list:
    dt = _complex(a.dtype)
    if not vectors:
        return [torch.linalg.eigvals(a).to(dt)]
    w, v = torch.linalg.eig(a)
    v = v.to(dt)
    if v.shape[-1]:  # the phase numpy_linalg_decompositions._eig fixes: largest entry real, positive
        big = torch.gather(v, -2, torch.argmax(v.abs(), dim=-2, keepdim=True))
        mag = big.abs()
        v = v * (big.conj() / torch.where(mag == 0, torch.ones_like(mag), mag))
    return [w.to(dt), v]


def _sqrtm(a: torch.Tensor) -> torch.Tensor:
    dt = _complex(a.dtype)
    wide = a.to(torch.complex128)
    w, v = torch.linalg.eig(wide)
    if not a.is_complex():  # a negative eigenvalue of a real matrix is on the cut: take +i, as SciPy
        w = torch.where(w.imag.abs() <= 1e-12 * w.abs(), torch.complex(w.real, torch.zeros_like(w.real)), w)
    root = (v * torch.sqrt(w)[..., None, :]) @ torch.linalg.inv(v)
    n = a.shape[-1]
    scale = torch.linalg.matrix_norm(wide).clamp_min(1e-300)[..., None, None]
    residual = torch.linalg.matrix_norm(root @ root - wide)[..., None, None] / scale
    bad = ~(residual <= 1e-8 * max(n, 1))
    root = torch.where(bad, torch.full_like(root, complex(float("nan"), float("nan"))), root)
    return root.to(dt)


def impls(device: Any) -> dict:
    return {
        LD.cholesky_p: _t_cholesky, LD.triangular_solve_p: _t_triangular_solve, LD.solve_p: _t_solve,
        LD.det_p: torch.linalg.det, LD.slogdet_p: lambda a: list(torch.linalg.slogdet(a)),
        LD.qr_p: lambda a, *, full_matrices: list(torch.linalg.qr(a, mode="complete" if full_matrices else "reduced")),
        LD.eigh_p: _t_eigh, LD.svd_p: _t_svd, LD.lu_p: _lu, LD.eig_p: _eig, LD.sqrtm_p: _sqrtm,
    }
