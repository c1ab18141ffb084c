"""The PyTorch backend: one implementation per primitive, on CUDA when available, else CPU.

The NumPy backend defines what each primitive means; this module reproduces those semantics
with torch operations. Where torch differs from NumPy (integer division, ``sign(nan)``,
reductions over an empty axis list, type promotion, ...) a small helper below says why it is
written the way it is. Every operand a primitive sees already has the dtype the abstract-eval
rule in ``functrace.primitives`` expects, so no implementation may promote or demote.

torch is optional: importing this module never fails, and ``make_backend`` raises a
``BackendError`` that says how to install torch when it is missing. ``FUNCTRACE_DEVICE=cpu``,
``cuda`` or ``cuda:N`` picks the device.
"""

from __future__ import annotations

import os
import warnings
from functools import partial
from typing import Any, Callable

import numpy as np

from functrace import ops as P
from functrace.avals import ShapedArray, canonical_dtype, register_aval_handler
from functrace.backends.base import Backend
from functrace.errors import BackendError, DTypeError
from functrace.ops import cumulative as CU
from functrace.ops import debugging as DB
from functrace.ops import dynamic_slicing as DS
from functrace.ops import scatter as SC
from functrace.ops import sorting as SO

try:  # torch is an optional dependency: only this module may import it.
    import torch
except ImportError:  # pragma: no cover - exercised by a test that hides torch
    torch = None  # type: ignore[assignment]

# The same two commands as the README's "PyTorch (optional)" (a test keeps them equal).
_INSTALL_HINT = ("the torch backend needs PyTorch, which is not installed. For the CPU-only build (a few hundred MB): "
                 "`pip install torch==2.13.0 --index-url \"$TORCH_CPU_INDEX\"`, with TORCH_CPU_INDEX set to PyTorch's "
                 "CPU wheel index (see the README); for CUDA on Linux "
                 "(several GB): `pip install torch==2.13.0` (PyPI's default build, which "
                 "`pip install functrace[torch]` also takes). 2.13.0 is the release functrace is tested with "
                 "(see the README). Or use FUNCTRACE_BACKEND=numpy")

# ---------------------------------------------------------------------------- dtypes
_NP_TO_TORCH: dict[np.dtype, Any] = {}
_TORCH_TO_NP: dict[Any, np.dtype] = {}
if torch is not None:
    for _np_name, _torch_name in [
        ("bool", "bool"), ("int8", "int8"), ("int16", "int16"), ("int32", "int32"),
        ("int64", "int64"), ("uint8", "uint8"), ("uint16", "uint16"), ("uint32", "uint32"),
        ("uint64", "uint64"), ("float16", "float16"), ("float32", "float32"),
        ("float64", "float64"), ("complex64", "complex64"), ("complex128", "complex128"),
    ]:
        if hasattr(torch, _torch_name):  # uint16/32/64 exist from torch 2.3 on
            _NP_TO_TORCH[np.dtype(_np_name)] = getattr(torch, _torch_name)
            _TORCH_TO_NP[getattr(torch, _torch_name)] = np.dtype(_np_name)


def torch_dtype(dtype: Any) -> Any:
    """The torch dtype for a NumPy dtype (anything ``np.dtype`` accepts, or a torch dtype)."""
    dt = canonical_dtype(dtype)
    if not dt.isnative:
        dt = dt.newbyteorder("=")
    try:
        return _NP_TO_TORCH[dt]
    except KeyError:
        raise DTypeError(f"the torch backend has no dtype matching NumPy's {dt.name}") from None


def numpy_dtype(dtype: Any) -> np.dtype:
    """The NumPy dtype for a torch dtype; torch-only dtypes (bfloat16, ...) are refused."""
    try:
        return _TORCH_TO_NP[dtype]
    except KeyError:
        raise DTypeError(
            f"functrace has no dtype matching torch's {dtype}; convert the tensor first "
            "(for example with .float())"
        ) from None


def _tensor_aval(x: Any) -> ShapedArray:
    """Abstract value of a torch tensor, so tracing accepts tensors as inputs."""
    return ShapedArray(tuple(x.shape), numpy_dtype(x.dtype))


def _is_int(x: Any) -> bool:
    return not x.dtype.is_floating_point and not x.dtype.is_complex and x.dtype != torch.bool


# ---------------------------------------------------------------------------- elementwise
def _sign(x):
    """torch.sign(nan) is 0; NumPy (and JAX) return nan."""
    s = torch.sign(x)
    return torch.where(torch.isnan(x), x, s) if x.dtype.is_floating_point else s


def _safe_int_divisor(y):
    """Replace divisors that would crash or raise (0, and -1 which traps on INT_MIN) by 1.

    torch raises ``ZeroDivisionError`` for an integer division by zero on CPU, and dividing
    INT_MIN by -1 kills the process with SIGFPE; NumPy returns 0 and wraps instead.
    """
    bad = y == 0
    if y.dtype.is_signed:
        bad = bad | (y == -1)
    return torch.where(bad, torch.ones_like(y), y)


def _div(x, y):
    """Float division keeps the dtype; integer division truncates toward zero (C / lax.div).

    NumPy's reference gives 0 for x / 0 and wraps INT_MIN / -1 to INT_MIN; so do we, by
    dividing by a safe divisor and patching those positions (no host round-trip).
    """
    if not _is_int(x):
        return torch.div(x, y)
    q = torch.div(x, _safe_int_divisor(y), rounding_mode="trunc")
    if y.dtype.is_signed:
        q = torch.where(y == -1, torch.neg(x), q)
    return torch.where(y == 0, torch.zeros_like(q), q)


_FMOD_STEP = {torch.float64: 2.0**1000, torch.float32: 2.0**100} if torch is not None else {}


def _float_fmod(x, y):
    """C fmod for floats. torch's vectorised CPU kernel returns nan when x / y overflows
    (fmod(1.0, 5e-324), fmod(1e300, 1e-300)); C's fmod (and NumPy) return the exact remainder.

    So on CPU reduce in steps: fmod(x, y * 2**2k) then fmod(., y * 2**k) then fmod(., y), each
    with a finite ratio. Scaling by a power of two is exact, and so is every fmod, so the
    result is exactly fmod(x, y), sign of x included. CUDA's fmod is exact already.
    """
    step = _FMOD_STEP.get(x.dtype)
    if step is None or x.device.type != "cpu":
        return torch.fmod(x, y)
    coarse = y * step
    return torch.fmod(torch.fmod(torch.fmod(x, coarse * step), coarse), y)


def _rem(x, y):
    """C fmod: the sign of x. For ints, x % 0 is 0 (as NumPy) and x % -1 never traps."""
    if not _is_int(x):
        return _float_fmod(x, y)
    # fmod(x, 1) == 0 == NumPy's fmod(x, 0) == fmod(x, -1), so the safe divisor is the answer.
    return torch.fmod(x, _safe_int_divisor(y))


def _max(x, y):
    """torch.maximum propagates nan like np.maximum and accepts bools (logical or)."""
    return torch.maximum(x, y)


def _min(x, y):
    return torch.minimum(x, y)


def _integer_pow(x, *, y: int):
    """x ** y for a Python int y, in x's dtype; ints to negative powers are an error (as NumPy)."""
    if y < 0 and _is_int(x):
        raise ValueError("integers cannot be raised to negative integer powers")
    if y == 0:
        return torch.ones_like(x)
    if y == 1:
        return x
    return torch.pow(x, y)


def _not(x):
    """Logical not for bools, bitwise not for ints: torch.bitwise_not does both."""
    return torch.bitwise_not(x)


def _logistic(x):
    return torch.sigmoid(x)


def _convert_element_type(x, *, new_dtype):
    """A cast; float -> int truncates toward zero and nonzero (nan too) -> True, as NumPy."""
    return x.to(torch_dtype(new_dtype))


# ---------------------------------------------------------------------------- reductions
def _reduction(fn: Callable) -> Callable:
    """Wrap a torch reduction taking ``dim``: an empty axis list is the identity.

    torch reads ``dim=()`` as "every axis", NumPy as "no axis".
    """

    def impl(x, *, axes):
        if not axes:
            return x
        return fn(x, axes)

    return impl


def _via_int64(fn: Callable) -> Callable:
    """Run an integer reduction of a uint64 tensor in int64: torch has no uint64 sum, prod or
    cumsum kernels on the CPU, and two's-complement wrapping gives the same bits as NumPy's
    modular uint64 arithmetic."""

    def impl(x, *args, **kw):
        if x.dtype == torch.uint64:
            return fn(x.view(torch.int64), *args, **kw).view(torch.uint64)
        return fn(x, *args, **kw)

    return impl


@_via_int64
def _sum(x, axes):
    """Sum in x's own dtype: torch would widen int32 (and bool) to int64."""
    return torch.sum(x, dim=axes, dtype=x.dtype)


@_via_int64
def _prod(x, axes):
    """torch.prod reduces one axis at a time: move ``axes`` last and flatten them into one."""
    keep = [i for i in range(x.ndim) if i not in axes]
    kept_shape = [x.shape[i] for i in keep]
    n = 1
    for a in axes:
        n *= x.shape[a]
    flat = x.permute(keep + list(axes)).reshape(kept_shape + [n])
    return torch.prod(flat, dim=-1, dtype=x.dtype)


def _amax(x, axes):
    """torch.amax propagates nan like np.max, and reduces bools too."""
    return torch.amax(x, dim=axes)


def _amin(x, axes):
    return torch.amin(x, dim=axes)


def _all(x, axes):
    return torch.all(x, dim=axes)


def _any(x, axes):
    return torch.any(x, dim=axes)


def _arg_reduction(fn: Callable) -> Callable:
    """torch.argmax/argmin give the first of tied (and the first nan) like NumPy, but refuse
    bools; the index is cast to the requested ``index_dtype``."""

    def impl(x, *, axis, index_dtype):
        if x.dtype == torch.bool:
            x = x.to(torch.uint8)
        return fn(x, dim=axis).to(torch_dtype(index_dtype))

    return impl


@_via_int64
def _cumsum(x, *, axis, reverse):
    """Inclusive cumulative sum in x's dtype (torch would widen ints to int64)."""
    if x.dtype == torch.bool:  # NumPy's bool sum is a logical or; torch has no bool cumsum kernel
        return _cumsum(x.to(torch.int64), axis=axis, reverse=reverse) > 0
    if reverse:
        return torch.flip(torch.cumsum(torch.flip(x, (axis,)), dim=axis, dtype=x.dtype), (axis,))
    return torch.cumsum(x, dim=axis, dtype=x.dtype)


# ---------------------------------------------------------------------------- shapes
def _broadcast_in_dim(x, *, shape, broadcast_dimensions):
    expanded = [1] * len(shape)
    for i, d in enumerate(broadcast_dimensions):
        expanded[d] = x.shape[i]
    return x.reshape(expanded).expand(shape)


def _slice(x, *, start_indices, limit_indices, strides):
    return x[tuple(slice(s, e, st) for s, e, st in zip(start_indices, limit_indices, strides, strict=True))]


def _pad(x, padval, *, padding_config):
    """Pad with (low, high, interior) per axis; negative low/high crop, as in lax.pad.

    torch.nn.functional.pad knows no interior padding, so: fill a fresh array with the padding
    value (on the device, without reading it on the host), write x at a stride of
    ``interior + 1``, then crop the negative edges.
    """
    lows = [max(lo, 0) for lo, _, _ in padding_config]
    shape = [lo + max(hi, 0) + d + max(0, d - 1) * i
             for lo, (_, hi, i), d in zip(lows, padding_config, x.shape, strict=True)]
    out = torch.empty(shape, dtype=x.dtype, device=x.device)
    out.fill_(padval)
    out[tuple(slice(lo, lo + (d - 1) * (i + 1) + 1 if d else lo, i + 1)
              for lo, d, (_, _, i) in zip(lows, x.shape, padding_config, strict=True))] = x
    crop = tuple(slice(-min(lo, 0), n + min(hi, 0)) for (lo, hi, _), n in zip(padding_config, shape, strict=True))
    return out[crop]


def _index_vector(idx, n: int):
    """Indices as a flat int64 vector with negative ones wrapped (as numpy.take does)."""
    flat = idx.reshape(-1)
    if flat.dtype != torch.int64:
        flat = flat.to(torch.int64)
    return torch.where(flat < 0, flat + n, flat)


def _gather(x, idx, *, axis):
    """numpy.take(x, idx, axis): index_select on the flattened indices, then restore idx's shape."""
    out = torch.index_select(x, axis, _index_vector(idx, x.shape[axis]))
    return out.reshape(x.shape[:axis] + idx.shape + x.shape[axis + 1:])


def _scatter_add(x, idx, upd, *, axis):
    """A copy of x with upd added at idx along axis; repeated indices accumulate (index_add_)."""
    flat = _index_vector(idx, x.shape[axis])
    upd = upd.reshape(x.shape[:axis] + (flat.shape[0],) + x.shape[axis + 1:])
    out = x.clone(memory_format=torch.contiguous_format)
    if x.dtype == torch.bool:  # np.add.at on bools is a logical or
        acc = torch.zeros(out.shape, dtype=torch.int64, device=out.device)
        acc.index_add_(axis, flat, upd.to(torch.int64))
        return out | (acc != 0)
    return out.index_add_(axis, flat, upd)


_INT_MATMUL_BLOCK = 1 << 22  # elements of the (b, m, k, n) product formed at once


def int_matmul(a: Any, b: Any) -> Any:
    """Batched integer matmul (b, m, k) @ (b, k, n) without BLAS.

    CUDA (and some CPU builds) implement no integer matmul; multiply and sum instead, in
    chunks along k so the temporary stays at about ``_INT_MATMUL_BLOCK`` elements. Integer
    overflow wraps, as in NumPy.
    """
    nb, m, k = a.shape
    n = b.shape[2]
    per_k = max(1, nb * m * n)
    step = max(1, _INT_MATMUL_BLOCK // per_k)
    out = torch.zeros((nb, m, n), dtype=a.dtype, device=a.device)
    for s in range(0, k, step):
        e = min(k, s + step)
        prod = a[:, :, s:e, None] * b[:, None, s:e, :]
        out += torch.sum(prod, dim=2, dtype=a.dtype)
    return out


def _dot_general(lhs, rhs, *, dimension_numbers):
    """Transpose to (batch, free, contract) @ (batch, contract, free), one batched matmul."""
    (lc, rc), (lb, rb) = dimension_numbers
    lfree = [i for i in range(lhs.ndim) if i not in lc and i not in lb]
    rfree = [i for i in range(rhs.ndim) if i not in rc and i not in rb]
    bshape = [lhs.shape[i] for i in lb]
    mshape = [lhs.shape[i] for i in lfree]
    nshape = [rhs.shape[i] for i in rfree]
    b, m, n, k = (_size(s) for s in (bshape, mshape, nshape, [lhs.shape[i] for i in lc]))
    L = lhs.permute(list(lb) + lfree + list(lc)).reshape(b, m, k)
    R = rhs.permute(list(rb) + list(rc) + rfree).reshape(b, k, n)
    if _is_int(lhs) and lhs.device.type != "cpu":
        out = int_matmul(L, R)
    else:
        out = torch.matmul(L, R)
    return out.reshape(bshape + mshape + nshape)


def _size(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


def _iota(*, dtype, shape, dimension, device):
    """0, 1, ... along ``dimension``, broadcast to ``shape``; bools go through int64
    (torch.arange has no bool kernel)."""
    tdt = torch_dtype(dtype)
    if tdt == torch.bool:
        r = torch.arange(shape[dimension], device=device).to(torch.bool)
    else:
        r = torch.arange(shape[dimension], dtype=tdt, device=device)
    return r.reshape([-1 if i == dimension else 1 for i in range(len(shape))]).expand(shape)


# ---------------------------------------------------------------------------- sorting
def _sortable(k):
    """torch sorts no bools: as uint8 they order the same."""
    return k.to(torch.uint8) if k.dtype == torch.bool else k


def _sort(*operands, dimension, is_stable, num_keys):
    """Stable sorts from the last key to the first (NaN last; -0.0 and 0.0 tie, as in NumPy)."""
    perm = None
    for k in reversed(operands[:num_keys]):
        k = _sortable(k if perm is None else torch.take_along_dim(k, perm, dimension))
        _, p = torch.sort(k, dim=dimension, stable=True)
        perm = p if perm is None else torch.take_along_dim(perm, p, dimension)
    return [torch.take_along_dim(o, perm, dimension) for o in operands]


# ---------------------------------------------------------------------------- scatter
def _scatter_rows(x, idx, upd, axis):
    """A contiguous copy of x, the flat int64 indices, and the updates with one slice per index."""
    flat = idx.reshape(-1).to(torch.int64)
    u = upd.reshape(x.shape[:axis] + (flat.shape[0],) + x.shape[axis + 1:])
    return x.clone(memory_format=torch.contiguous_format), flat, u


def _scatter(x, idx, upd, *, axis):
    """Write the updates; of repeated indices the last one: every write to a position carries
    that position's last update (found with scatter_reduce), so the order of writes, which
    index_copy_ leaves to the device, cannot matter. No value is read on the host."""
    out, flat, u = _scatter_rows(x, idx, upd, axis)
    order = torch.arange(flat.shape[0], device=flat.device)
    last = torch.full((x.shape[axis],), -1, dtype=torch.int64, device=flat.device)
    last.scatter_reduce_(0, flat, order, reduce="amax")
    return out.index_copy_(axis, flat, torch.index_select(u, axis, last[flat]))


def _scatter_reduce(reduce: str):
    def impl(x, idx, upd, *, axis, **_):
        out, flat, u = _scatter_rows(x, idx, upd, axis)
        with warnings.catch_warnings():  # "index_reduce() is in beta": its results are tested here
            warnings.simplefilter("ignore", UserWarning)
            if x.dtype == torch.bool:  # and / or / and for prod / amin / amax
                return out.to(torch.uint8).index_reduce_(axis, flat, u.to(torch.uint8), reduce).to(torch.bool)
            return out.index_reduce_(axis, flat, u, reduce)

    return impl


# ---------------------------------------------------------------------------- dynamic slicing
def _block(x, starts, sizes) -> list:
    """Index vectors of the block along each axis, computed on the device (no host read): each
    start wrapped once if negative, then clamped so the block fits."""
    out = []
    for n, s, k in zip(x.shape, starts, sizes, strict=True):
        s = s.to(torch.int64)
        s = torch.clamp(torch.where(s < 0, s + n, s), 0, n - k)
        out.append(s + torch.arange(k, device=x.device))
    return out


def _dynamic_slice(x, *starts, slice_sizes):
    for axis, idx in enumerate(_block(x, starts, slice_sizes)):
        x = torch.index_select(x, axis, idx)
    return x


def _dynamic_update_slice(x, upd, *starts):
    out = x.clone(memory_format=torch.contiguous_format)
    idx = _block(x, starts, upd.shape)
    nd = x.ndim
    out.index_put_(tuple(v.reshape([-1 if j == i else 1 for j in range(nd)]) for i, v in enumerate(idx)), upd)
    return out


# ---------------------------------------------------------------------------- cumulative
def _cumulative(fn: Callable) -> Callable:
    def impl(x, *, axis, reverse):
        if reverse:
            return torch.flip(fn(torch.flip(x, (axis,)), axis), (axis,))
        return fn(x, axis)

    return impl


def _cumprod(x, axis):
    return torch.cumprod(x, dim=axis, dtype=x.dtype)


def _cumextremum(fn: Callable) -> Callable:
    def impl(x, axis):
        if x.numel() == 0:
            return x.clone()
        if x.dtype == torch.bool:
            return fn(x.to(torch.uint8), dim=axis).values.to(torch.bool)
        return fn(x, dim=axis).values

    return impl


def _family_table() -> dict:
    return {
        SO.sort_p: _sort,
        SC.scatter_p: _scatter, SC.scatter_mul_p: _scatter_reduce("prod"),
        SC.scatter_min_p: _scatter_reduce("amin"), SC.scatter_max_p: _scatter_reduce("amax"),
        DS.dynamic_slice_p: _dynamic_slice,
        DS.dynamic_update_slice_p: _dynamic_update_slice,
        CU.cumprod_p: _cumulative(_via_int64(_cumprod)),
        CU.cummax_p: _cumulative(_cumextremum(torch.cummax)),
        CU.cummin_p: _cumulative(_cumextremum(torch.cummin)),
        CU.cumlogsumexp_p: _cumulative(lambda x, axis: torch.logcumsumexp(x, dim=axis)),
    }


_DEBUGGING = {DB.debug_print_p: DB.host_print_impl(lambda t: t.detach().cpu().numpy())}


# ---------------------------------------------------------------------------- the table
def _identity(x):
    return x


def _impl_table(device: Any) -> dict[P.Primitive, Callable[..., Any]]:
    """primitive -> implementation on torch tensors (operands already tensors of one dtype)."""
    t = torch
    return {
        # unary
        P.neg_p: t.neg, P.sign_p: _sign, P.abs_p: t.abs, P.floor_p: t.floor, P.ceil_p: t.ceil,
        P.round_p: t.round,  # half to even, like np.round
        P.sin_p: t.sin, P.cos_p: t.cos, P.tan_p: t.tan, P.asin_p: t.asin, P.acos_p: t.acos,
        P.atan_p: t.atan, P.sinh_p: t.sinh, P.cosh_p: t.cosh, P.tanh_p: t.tanh,
        P.asinh_p: t.asinh, P.acosh_p: t.acosh, P.atanh_p: t.atanh, P.exp_p: t.exp,
        P.exp2_p: t.exp2, P.expm1_p: t.expm1, P.log_p: t.log, P.log1p_p: t.log1p,
        P.sqrt_p: t.sqrt, P.logistic_p: _logistic, P.erf_p: t.erf, P.not_p: _not, P.is_finite_p: t.isfinite,
        P.stop_gradient_p: _identity,
        # binary
        P.add_p: t.add, P.sub_p: t.sub, P.mul_p: t.mul, P.div_p: _div, P.rem_p: _rem,
        P.pow_p: t.pow, P.max_p: _max, P.min_p: _min, P.atan2_p: t.atan2,
        P.and_p: t.bitwise_and, P.or_p: t.bitwise_or, P.xor_p: t.bitwise_xor,
        P.eq_p: t.eq, P.ne_p: t.ne, P.lt_p: t.lt, P.le_p: t.le, P.gt_p: t.gt, P.ge_p: t.ge,
        # other
        P.integer_pow_p: _integer_pow,
        P.select_p: t.where,
        P.convert_element_type_p: _convert_element_type,
        P.reduce_sum_p: _reduction(_sum), P.reduce_prod_p: _reduction(_prod),
        P.reduce_max_p: _reduction(_amax), P.reduce_min_p: _reduction(_amin),
        P.reduce_and_p: _reduction(_all), P.reduce_or_p: _reduction(_any),
        P.argmax_p: _arg_reduction(t.argmax), P.argmin_p: _arg_reduction(t.argmin),
        P.cumsum_p: _cumsum,
        P.broadcast_in_dim_p: _broadcast_in_dim,
        P.reshape_p: lambda x, *, new_sizes: t.reshape(x, new_sizes),
        P.transpose_p: lambda x, *, permutation: t.permute(x, permutation),
        P.slice_p: _slice,
        P.rev_p: lambda x, *, dimensions: t.flip(x, dimensions),
        P.pad_p: _pad,
        P.concatenate_p: lambda *xs, dimension: t.cat(xs, dim=dimension),
        P.gather_p: _gather,
        P.scatter_add_p: _scatter_add,
        P.dot_general_p: _dot_general,
        P.iota_p: partial(_iota, device=device),
    }


# ---------------------------------------------------------------------------- device
def pick_device() -> Any:
    """``FUNCTRACE_DEVICE`` (cpu, cuda, cuda:N), else CUDA when available, else CPU."""
    want = os.environ.get("FUNCTRACE_DEVICE", "").strip().lower()
    if not want:
        want = "cuda" if torch.cuda.is_available() else "cpu"
    if want == "cpu":
        return torch.device("cpu")
    if want == "cuda" or want.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise BackendError(f"FUNCTRACE_DEVICE={want} but torch finds no CUDA device "
                               "(torch.cuda.is_available() is False); use FUNCTRACE_DEVICE=cpu")
        try:
            dev = torch.device(want)
        except RuntimeError:
            raise BackendError(f"FUNCTRACE_DEVICE={want!r} is not a valid device") from None
        # An explicit index, so that comparing with a tensor's device is exact.
        return dev if dev.index is not None else torch.device("cuda", torch.cuda.current_device())
    raise BackendError(f"FUNCTRACE_DEVICE={want!r} is not supported; use cpu, cuda or cuda:N")


# ---------------------------------------------------------------------------- the backend
_SCALAR_CACHE_LIMIT = 4096


class TorchBackend(Backend):
    """Runs primitives with torch on one device; every array it produces lives there."""

    name = "torch"
    implicit_broadcast = frozenset({P.add_p, P.sub_p, P.mul_p, P.pow_p, P.atan2_p})

    def __init__(self, device: Any) -> None:
        super().__init__()
        self.array_types = (torch.Tensor,)
        self.device = device
        # 0-d tensors for scalar literals, by (scalar type, bytes): a literal in the IR (``mul x 2.0``)
        # is copied to the device once, not at every operation. Like every array functrace
        # produces, they are never written to.
        self._scalars: dict[tuple[type, bytes], Any] = {}

    # -- conversion
    def is_native(self, x: Any) -> bool:
        """Tensors on this backend's device (others are moved by ``asarray``)."""
        return isinstance(x, torch.Tensor) and x.device == self.device

    def scalar(self, x: Any) -> Any:
        """A 0-d tensor on the device for a NumPy or Python scalar, cached by type and bytes
        (so 0.0 and -0.0, or float32 and float64 2.0, stay apart, and nan is found again)."""
        if not isinstance(x, np.generic):
            x = np.asarray(x)[()]  # Python scalars take NumPy's dtypes: int64, float64, bool
        key = (type(x), x.tobytes())
        t = self._scalars.get(key)
        if t is None:
            torch_dtype(x.dtype)  # a clear error for dtypes torch lacks
            if len(self._scalars) >= _SCALAR_CACHE_LIMIT:
                self._scalars.clear()
            t = torch.from_numpy(np.array(x)).to(self.device)
            self._scalars[key] = t
        return t

    def asarray(self, x: Any) -> Any:
        """NumPy arrays and scalars, Python scalars, lists and tensors -> a tensor on the device.

        The dtype is kept (float64 stays float64; Python scalars take NumPy's int64/float64/bool).
        """
        if isinstance(x, torch.Tensor):
            if x.device != self.device:
                x = x.to(self.device)
            return x
        if isinstance(x, (np.generic, bool, int, float, complex)):
            return self.scalar(x)
        arr = np.asarray(x)
        if arr.dtype == object:
            raise DTypeError(f"cannot make a torch tensor from {type(x).__name__} (it holds non-numeric objects)")
        tdt = torch_dtype(arr.dtype)
        if not arr.dtype.isnative:
            arr = arr.astype(arr.dtype.newbyteorder("="))
        # torch refuses negative strides and warns on read-only arrays (broadcast views).
        if not (arr.flags.c_contiguous and arr.flags.writeable):
            arr = np.array(arr, order="C", copy=True)
        return torch.from_numpy(arr).to(device=self.device, dtype=tdt)

    def to_numpy(self, x: Any) -> Any:
        if isinstance(x, torch.Tensor):
            return x.detach().cpu().numpy()
        return np.asarray(x)

    # -- implementations
    def register(self, prim: P.Primitive, impl: Callable[..., Any]) -> None:
        super().register(prim, self._lifted(impl))

    def _lifted(self, impl: Callable[..., Any]) -> Callable[..., Any]:
        """Operands may be scalar literals of the IR (np.float32(2.0), 3): make them 0-d tensors
        of their own dtype on the device (cached), so torch never promotes and never copies."""
        tensor, scalar = torch.Tensor, self.scalar

        def lifted(*args: Any, **params: Any) -> Any:
            for a in args:
                if not isinstance(a, tensor):
                    return impl(*[b if isinstance(b, tensor) else scalar(b) for b in args], **params)
            return impl(*args, **params)

        lifted.__name__ = getattr(impl, "__name__", "impl")
        lifted.__wrapped__ = impl  # type: ignore[attr-defined]
        return lifted


def make_backend() -> TorchBackend:
    """Create the torch backend on the device ``FUNCTRACE_DEVICE`` names (see ``pick_device``)."""
    if torch is None:
        raise BackendError(_INSTALL_HINT)
    b = TorchBackend(pick_device())
    for prim, impl in {**_impl_table(b.device), **_family_table(), **_DEBUGGING}.items():
        b.register(prim, impl)
    # The registry adds the backend-neutral implementations (control flow) and then checks
    # that every primitive is covered.
    register_aval_handler(torch.Tensor, _tensor_aval)
    return b
