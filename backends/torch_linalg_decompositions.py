"""torch implementations of the newer ``linalg_decompositions`` primitives: ``lu`` (LAPACK's
getrf through ``torch.linalg.lu_factor_ex``, its 1-based pivots made 0-based and turned into
the permutation), ``eig`` (``torch.linalg.eig``, LAPACK's geev as NumPy's) and ``sqrtm``, which
torch lacks: ``V diag(sqrt(w)) V⁻¹`` from the eigendecomposition, nan for matrices where that
is not accurate (defective or nearly so: the residual ``|X X - A|`` is checked), where SciPy's
Schur method, used by the NumPy backend, still works."""

from __future__ import annotations

import torch

from functrace.ops import linalg_decompositions as LD


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


def _eig(a: torch.Tensor) -> list:
    w, v = torch.linalg.eig(a)
    dt = _complex(a.dtype)
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


def impls(device) -> dict:
    del device
    return {LD.lu_p: _lu, LD.eig_p: _eig, LD.sqrtm_p: _sqrtm}
