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
from functrace.ops import complex_parts as CP
from functrace.ops import cumulative as CU
from functrace.ops import debugging as DB
from functrace.ops import dynamic_slicing as DS
from functrace.ops import fft as FT
from functrace.ops import linalg_decompositions as LD
from functrace.ops import scatter as SC
from functrace.ops import sorting as SO
from functrace.ops import special as SP

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
    if x.dtype.is_complex:  # x / |x|, 0 at 0 (as NumPy 2 and JAX)
        return torch.sgn(x)
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
    """A cast; float -> int truncates toward zero and nonzero (nan too) -> True, as NumPy;
    complex -> real keeps the real part (as NumPy and JAX, without torch's warning)."""
    if x.dtype.is_complex and np.dtype(new_dtype).kind != "c":
        x = torch.real(x)
    return x.to(torch_dtype(new_dtype))


# ---------------------------------------------------------------------------- reductions
def _reduction(fn: Callable) -> Callable:
    """Wrap a torch reduction taking ``dim``: an empty axis list is the identity.

    torch reads ``dim=()`` as "every axis", NumPy as "no axis".
    """

    def impl(x, *, axes):
        if not axes:
            return x.clone()  # a new tensor, as from every reduction (see fresh_results)
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


# ---------------------------------------------------------------------------- convolution
def _conv_general_dilated(lhs, rhs, *, window_strides, padding, lhs_dilation, rhs_dilation, dimension_numbers,
                          feature_group_count, batch_group_count, precision, preferred_element_type):
    """torch.nn.functional.conv1d/2d/3d in the (N, C, spatial...) layout: the input's dilation and
    any asymmetric or negative padding are applied first (``_pad``), batch groups become
    feature groups, and a convolution with no spatial axis gets one of length 1. Integer
    convolutions, which torch lacks, and those of more than three spatial axes are sums over
    the kernel's taps (``_conv_by_taps``)."""
    lspec, rspec, ospec = dimension_numbers
    n = lhs.ndim - 2
    if preferred_element_type is not None:
        lhs, rhs = lhs.to(torch_dtype(preferred_element_type)), rhs.to(torch_dtype(preferred_element_type))
    by_taps = not lhs.dtype.is_floating_point or n > 3  # what torch's convolutions do not cover
    x = lhs.permute(lspec)
    w = rhs.permute(rspec)
    symmetric = all(lo == hi >= 0 for lo, hi in padding) and not by_taps
    if any(d != 1 for d in lhs_dilation) or not symmetric:
        cfg = ((0, 0, 0), (0, 0, 0)) + tuple((lo, hi, d - 1) for (lo, hi), d in zip(padding, lhs_dilation,
                                                                                     strict=True))
        x = _pad(x, 0, padding_config=cfg)
        pads = (0,) * n
    else:
        pads = tuple(lo for lo, _ in padding)
    groups = feature_group_count
    if batch_group_count > 1:  # N = (B, N/B) -> C = (B, C): batch groups as feature groups
        b = batch_group_count
        x = x.reshape((b, x.shape[0] // b) + tuple(x.shape[1:])).transpose(0, 1)
        x = x.reshape((x.shape[0], b * x.shape[2]) + tuple(x.shape[3:]))
        groups = b
    strides, dil = tuple(window_strides), tuple(rhs_dilation)
    if n == 0:
        x, w, strides, pads, dil = x[..., None], w[..., None], (1,), (0,), (1,)
    spatial = x.shape[2:]
    eff = [(k - 1) * d + 1 for k, d in zip(w.shape[2:], dil, strict=True)]
    if any(s + 2 * p < e for s, p, e in zip(spatial, pads, eff, strict=True)) or 0 in x.shape or 0 in w.shape:
        out_sp = [max(0, (s + 2 * p - e) // st + 1) if s + 2 * p >= e else 0
                  for s, p, e, st in zip(spatial, pads, eff, strides, strict=True)]
        out = torch.zeros([x.shape[0], w.shape[0]] + out_sp, dtype=x.dtype, device=x.device)
    elif by_taps:
        out = _conv_by_taps(x, w, strides, dil, groups)
    else:
        conv = (torch.nn.functional.conv1d, torch.nn.functional.conv2d, torch.nn.functional.conv3d)[len(spatial) - 1]
        out = conv(x, w, None, strides, pads, dil, groups)
    if n == 0:
        out = out[..., 0]
    inverse = [0] * lhs.ndim
    for canonical, axis in enumerate(ospec):
        inverse[axis] = canonical
    return out.permute(inverse)


def _conv_by_taps(x, w, strides, dilation, groups):
    """A convolution of the padded ``x`` (N, C, spatial...) with ``w`` (O, I, kernel...) as one
    broadcast product and sum per kernel tap (a loop over taps, not pixels): for integers, which
    torch does not convolve, exactly; and for more than three spatial axes."""
    import itertools

    n, (o, i), kernel = x.ndim - 2, w.shape[:2], tuple(w.shape[2:])
    out_sp = [(s - ((k - 1) * d + 1)) // st + 1 for s, k, d, st in zip(x.shape[2:], kernel, dilation, strides,
                                                                          strict=True)]
    xg = x.reshape((x.shape[0], groups, i) + tuple(x.shape[2:]))  # (N, G, I, spatial...)
    wg = w.reshape((groups, o // groups, i) + kernel)  # (G, O/G, I, kernel...)
    out = torch.zeros((x.shape[0], groups, o // groups) + tuple(out_sp), dtype=x.dtype, device=x.device)
    for tap in itertools.product(*(range(k) for k in kernel)):
        window = xg[(slice(None),) * 3 + tuple(slice(t * d, t * d + (m - 1) * st + 1, st) for t, d, m, st
                                               in zip(tap, dilation, out_sp, strides, strict=True))]
        taps = wg[(slice(None),) * 3 + tap].reshape((1, groups, o // groups, i) + (1,) * n)
        out += (window[:, :, None] * taps).sum(dim=3)
    return out.reshape((x.shape[0], o) + tuple(out_sp))


def _reduce_window(kind):
    """A windowed reduction: torch's pooling kernels where the geometry allows (``_pool_plan``),
    else a strided view (``as_strided``) of the padded operand reduced over the window axes."""
    reduce = {"sum": torch.sum, "max": torch.amax, "min": torch.amin}[kind] if torch is not None else None

    def impl(x, *, window_dimensions, window_strides, padding, base_dilation, window_dilation):
        pooled = _pooled_reduce_window(x, kind, dict(window_dimensions=window_dimensions, window_strides=window_strides,
                                                     padding=padding, base_dilation=base_dilation,
                                                     window_dilation=window_dilation))
        if pooled is not None:
            return pooled
        if x.dtype.is_floating_point:
            ident = {"sum": 0.0, "max": -float("inf"), "min": float("inf")}[kind]
        else:
            info = torch.iinfo(x.dtype)
            ident = {"sum": 0, "max": info.min, "min": info.max}[kind]
        cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(padding, base_dilation, strict=True))
        if any(c != (0, 0, 0) for c in cfg):
            x = _pad(x, ident, padding_config=cfg)
        nd = x.ndim
        out_shape = []
        for d, w, s, r in zip(x.shape, window_dimensions, window_strides, window_dilation, strict=True):
            eff = (w - 1) * r + 1
            out_shape.append(0 if d < eff else (d - eff) // s + 1)
        if 0 in out_shape:
            return torch.full(out_shape, ident, dtype=x.dtype, device=x.device)
        x = x.contiguous()
        st = x.stride()
        view = x.as_strided(tuple(out_shape) + tuple(window_dimensions),
                            tuple(a * b for a, b in zip(st, window_strides, strict=True))
                            + tuple(a * b for a, b in zip(st, window_dilation, strict=True)))
        if kind == "sum":  # torch sums small integers in int64
            return reduce(view, dim=tuple(range(nd, 2 * nd)), dtype=x.dtype)
        return reduce(view, dim=tuple(range(nd, 2 * nd)))

    impl.__name__ = f"reduce_window_{kind}"
    return impl


def _pool_plan(shape, params, sums: bool = False):
    """How a windowed reduction maps onto torch's 2-d/3-d pooling kernels, or None: the axes that
    pool (1 to 3 of them, symmetric padding of at most half the window, no base dilation; for
    sums no window dilation) go last, the others are flattened into one leading axis."""
    wd, ws, pad, bd, wdil = (params[k] for k in ("window_dimensions", "window_strides", "padding", "base_dilation",
                                                 "window_dilation"))
    if any(b != 1 for b in bd) or 0 in shape:
        return None
    active = [i for i in range(len(shape)) if (wd[i], ws[i], tuple(pad[i]), wdil[i]) != (1, 1, (0, 0), 1)]
    if not 1 <= len(active) <= 3 or (sums and any(wdil[i] != 1 for i in active)):
        return None
    for i in active:
        eff = (wd[i] - 1) * wdil[i] + 1
        lo, hi = pad[i]
        if lo != hi or lo < 0 or lo > wd[i] // 2 or shape[i] + 2 * lo < eff:
            return None
    rest = [i for i in range(len(shape)) if i not in active]
    lead = (1,) * (2 - len(active)) if len(active) < 2 else ()
    pick = lambda v, one: tuple(one for _ in lead) + tuple(v[i] for i in active)  # noqa: E731
    return dict(perm=rest + active, rest=tuple(shape[i] for i in rest), lead=lead,
                spatial=tuple(shape[i] for i in active), kernel=pick(wd, 1), stride=pick(ws, 1),
                padding=tuple(0 for _ in lead) + tuple(pad[i][0] for i in active), dilation=pick(wdil, 1))


def _to_pool(x, plan):
    """(batch, channel, spatial...) when two axes do not pool: a permuted view, which torch pools
    in its channels-last kernels without a copy; otherwise the others flattened into one axis."""
    if len(plan["rest"]) == 2 and not plan["lead"]:
        return x.permute(plan["perm"])
    b = int(np.prod(plan["rest"], dtype=np.int64))
    return x.permute(plan["perm"]).reshape((b,) + plan["lead"] + plan["spatial"])


def _from_pool(y, plan):
    nd = len(plan["perm"])
    y = y.reshape(plan["rest"] + tuple(y.shape[y.ndim - len(plan["perm"]) + len(plan["rest"]):]))
    inverse = [0] * nd
    for i, axis in enumerate(plan["perm"]):
        inverse[axis] = i
    return y.permute(inverse)


def _max_pool(xt, plan, indices: bool):
    fn = torch.nn.functional.max_pool3d if len(plan["kernel"]) == 3 else torch.nn.functional.max_pool2d
    return fn(xt, plan["kernel"], plan["stride"], plan["padding"], plan["dilation"], return_indices=indices)


def _pooled_reduce_window(x, kind, params):
    """``reduce_window_*`` by torch's pooling kernels where the geometry allows, else None."""
    if not x.dtype.is_floating_point:
        return None
    plan = _pool_plan(tuple(x.shape), params, sums=kind == "sum")
    if plan is None:
        return None
    xt = _to_pool(x, plan)
    if kind == "sum":
        fn = torch.nn.functional.avg_pool3d if len(plan["kernel"]) == 3 else torch.nn.functional.avg_pool2d
        y = fn(xt, plan["kernel"], plan["stride"], plan["padding"], False, True, 1)
    else:
        y = _max_pool(xt if kind == "max" else -xt, plan, False)
        y = y if kind == "max" else -y
    return _from_pool(y, plan)


def _pooled_selection(v, x, kind, params, scatter: bool):
    """The selections by torch's max pooling with indices (first maximum of each window, as
    functrace's rule; a minimum is the maximum of -x), else None."""
    if not x.dtype.is_floating_point:
        return None
    plan = _pool_plan(tuple(x.shape), params)
    if plan is None:
        return None
    xt = _to_pool(x if kind == "max" else -x, plan)
    out, idx = _max_pool(xt, plan, True)
    k = len(plan["kernel"])
    if scatter:
        backward = (torch.ops.aten.max_pool3d_with_indices_backward if k == 3
                    else torch.ops.aten.max_pool2d_with_indices_backward)
        vt = v.permute(plan["perm"]).reshape(out.shape)
        g = backward(vt, xt, list(plan["kernel"]), list(plan["stride"]), list(plan["padding"]),
                     list(plan["dilation"]), False, idx)
        return _from_pool(g, plan)
    vt = _to_pool(v, plan)
    picked = vt.flatten(start_dim=-k).gather(-1, idx.flatten(start_dim=-k)).reshape(out.shape)
    return _from_pool(picked, plan)


_SELECT_INDEX_CACHE: dict = {}


def _selected(x, kind, params):
    """Flat indices, in the padded and dilated operand, of each window's first max (min): a
    strided view of every window, one argmax over the window axis (``ops.convolution.select_layout``
    has the index arithmetic)."""
    from functrace.ops import convolution as C

    wd, ws, pad, bd, wdil = (params[k] for k in ("window_dimensions", "window_strides", "padding", "base_dilation",
                                                 "window_dilation"))
    pshape, out, starts, offsets, disjoint = C.select_layout(tuple(x.shape), wd, ws, pad, bd, wdil)
    if 0 in out:
        return None, pshape, out, disjoint
    key = (id(starts), x.device)
    cached = _SELECT_INDEX_CACHE.get(key)
    if cached is None or cached[0] is not starts:
        if len(_SELECT_INDEX_CACHE) > 256:
            _SELECT_INDEX_CACHE.clear()
        cached = _SELECT_INDEX_CACHE[key] = (starts, torch.from_numpy(np.array(starts)).to(x.device),
                                             torch.from_numpy(np.array(offsets)).to(x.device))
    _, t_starts, t_offsets = cached
    cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(pad, bd, strict=True))
    if any(c != (0, 0, 0) for c in cfg):
        ident = -float("inf") if kind == "max" else float("inf")
        if not x.dtype.is_floating_point:
            info = torch.iinfo(x.dtype)
            ident = info.min if kind == "max" else info.max
        x = _pad(x, ident, padding_config=cfg)
    x = x.contiguous()
    st = x.stride()
    view = x.as_strided(tuple(out) + tuple(wd), tuple(a * b for a, b in zip(st, ws, strict=True))
                        + tuple(a * b for a, b in zip(st, wdil, strict=True)))
    cols = view.reshape(tuple(out) + (len(offsets),))
    pick = cols.argmax(dim=-1) if kind == "max" else cols.argmin(dim=-1)
    return t_starts + t_offsets[pick], pshape, out, disjoint


def _select_and_gather_add(t, x, *, kind, **params):
    pooled = _pooled_selection(t, x, kind, params, scatter=False)
    if pooled is not None:
        return pooled
    flat, pshape, out, _ = _selected(x, kind, params)
    if flat is None:
        return torch.zeros(out, dtype=t.dtype, device=t.device)
    cfg = tuple((lo, hi, b - 1) for (lo, hi), b in zip(params["padding"], params["base_dilation"], strict=True))
    if any(c != (0, 0, 0) for c in cfg):
        t = _pad(t, 0, padding_config=cfg)
    return t.reshape(-1)[flat]


def _select_and_scatter_add(ct, x, *, kind, **params):
    from functrace.ops import convolution as C

    pooled = _pooled_selection(ct, x, kind, params, scatter=True)
    if pooled is not None:
        return pooled
    flat, pshape, out, disjoint = _selected(x, kind, params)
    if flat is None:
        return torch.zeros(tuple(x.shape), dtype=ct.dtype, device=ct.device)
    buf = torch.zeros(int(np.prod(pshape)), dtype=ct.dtype, device=ct.device)
    if disjoint:  # every padded position is chosen at most once: a plain assignment
        buf[flat.reshape(-1)] = ct.reshape(-1)
    else:
        buf.index_add_(0, flat.reshape(-1), ct.reshape(-1))
    buf = buf.reshape(pshape)
    if tuple(pshape) == tuple(x.shape):
        return buf
    result = torch.zeros(tuple(x.shape), dtype=ct.dtype, device=ct.device)
    where = C.unpad_slices(tuple(x.shape), pshape, params["padding"], params["base_dilation"])
    if where is not None:
        result[where[0]] = buf[where[1]]
    return result


def _conv_table() -> dict:
    from functrace.ops import convolution as C

    return {
        C.conv_general_dilated_p: _conv_general_dilated,
        C.reduce_window_sum_p: _reduce_window("sum"),
        C.reduce_window_max_p: _reduce_window("max"),
        C.reduce_window_min_p: _reduce_window("min"),
        C.select_and_gather_add_p: _select_and_gather_add,
        C.select_and_scatter_add_p: _select_and_scatter_add,
    }


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


def _linalg_table() -> dict:
    return {
        LD.cholesky_p: _t_cholesky, LD.triangular_solve_p: _t_triangular_solve, LD.solve_p: _t_solve,
        LD.det_p: torch.linalg.det, LD.slogdet_p: lambda a: list(torch.linalg.slogdet(a)),
        LD.qr_p: lambda a, *, full_matrices: list(torch.linalg.qr(a, mode="complete" if full_matrices else "reduced")),
        LD.eigh_p: _t_eigh, LD.svd_p: _t_svd,
    }


def _family_table() -> dict:
    return {
        **_linalg_table(),
        SO.sort_p: _sort,
        SC.scatter_p: _scatter, SC.scatter_mul_p: _scatter_reduce("prod"),
        SC.scatter_min_p: _scatter_reduce("amin"), SC.scatter_max_p: _scatter_reduce("amax"),
        DS.dynamic_slice_p: _dynamic_slice,
        DS.dynamic_update_slice_p: _dynamic_update_slice,
        CU.cumprod_p: _cumulative(_via_int64(_cumprod)),
        CU.cummax_p: _cumulative(_cumextremum(torch.cummax)),
        CU.cummin_p: _cumulative(_cumextremum(torch.cummin)),
        CU.cumlogsumexp_p: _cumulative(lambda x, axis: torch.logcumsumexp(x, dim=axis)),
        CP.real_p: lambda x: torch.real(x).clone(), CP.imag_p: lambda x: torch.imag(x).clone(),
        CP.conj_p: lambda x: torch.conj(x).resolve_conj(), CP.complex_p: _complex,
        FT.fft_p: _fft,
        SP.lgamma_p: torch.lgamma, SP.digamma_p: torch.digamma,
        SP.polygamma_p: lambda x, *, m: torch.special.polygamma(m, x), SP.erfc_p: torch.special.erfc,
        SP.bessel_i0e_p: torch.special.i0e, SP.bessel_i1e_p: torch.special.i1e,
        SP.igamma_p: _nan_in_nan_out(torch.special.gammainc), SP.igammac_p: _nan_in_nan_out(torch.special.gammaincc),
        SP.zeta_p: _zeta,
    }


def _zeta(x, q):
    """torch's Hurwitz zeta is nan where (n + q) ** -x underflows for huge x and q (x, q > 1);
    the value there is 0, as SciPy gives."""
    z = torch.special.zeta(x, q)
    return torch.where(torch.isnan(z) & (x > 1) & (q > 1), torch.zeros_like(z), z)


def _nan_in_nan_out(f):
    """torch's incomplete gamma returns 0 or 1 for some nan operands; NumPy (SciPy) and JAX give nan."""
    def g(a, x):
        return torch.where(torch.isnan(a) | torch.isnan(x), a + x, f(a, x))
    return g


def _fft(x, *, fft_type, fft_lengths):
    dims = tuple(range(x.ndim - len(fft_lengths), x.ndim))
    if fft_type == "FFT":
        return torch.fft.fftn(x, dim=dims)
    if fft_type == "IFFT":
        return torch.fft.ifftn(x, dim=dims)
    if fft_type == "RFFT":
        return torch.fft.rfftn(x, dim=dims)
    return torch.fft.irfftn(x, s=fft_lengths, dim=dims)


def _complex(x, y):
    x, y = torch.broadcast_tensors(x, y)
    return torch.complex(x, y)


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


# ---------------------------------------------------------------------------- random bits
# torch's uint32 tensors have no add, shift or comparison kernels on the CPU, so the bit
# primitives compute in int64, where every uint32 value is non-negative, and mask to 32 bits.
_M32 = 0xFFFFFFFF
_ROTATIONS = ((13, 15, 26, 6), (17, 29, 16, 24))
_THREEFRY_PARITY = 0x1BD11BDA


def _as_int64_bits(x):
    """The value of each element's bits as an unsigned number, in int64 (exact for <= 32 bits)."""
    if x.dtype == torch.uint64:
        return x.view(torch.int64)
    v = x.to(torch.int64)
    if x.dtype.is_signed:
        v = v & ((1 << (8 * x.element_size())) - 1)
    return v


def _threefry2x32(k1, k2, x1, x2):
    """Threefry-2x32, 20 rounds, in int64 with a 32-bit mask after every addition and rotation:
    the same bits as the NumPy backend's uint32 arithmetic. In place on two work tensors."""
    shape = torch.broadcast_shapes(k1.shape, k2.shape, x1.shape, x2.shape)
    dev = x1.device

    def full(t):
        return torch.empty(shape, dtype=torch.int64, device=dev).copy_(t.to(torch.int64).expand(shape))

    if k1.dim() == 0 and k2.dim() == 0:  # rank-0 keys stay rank 0 (and on the device)
        ka, kb = k1.to(torch.int64), k2.to(torch.int64)
    else:
        ka, kb = full(k1), full(k2)
    ks = (ka, kb, ka ^ kb ^ _THREEFRY_PARITY)
    a, b = full(x1), full(x2)
    t = torch.empty_like(a)
    a.add_(ks[0]).bitwise_and_(_M32)
    b.add_(ks[1]).bitwise_and_(_M32)
    for i in range(5):
        for r in _ROTATIONS[i % 2]:
            a.add_(b).bitwise_and_(_M32)
            torch.bitwise_left_shift(b, r, out=t).bitwise_and_(_M32)
            b.bitwise_right_shift_(32 - r).bitwise_or_(t).bitwise_xor_(a)
        a.add_(ks[(i + 1) % 3]).bitwise_and_(_M32)
        b.add_(ks[(i + 2) % 3]).add_(i + 1).bitwise_and_(_M32)
    return a.to(torch.uint32), b.to(torch.uint32)


def _from_int64_bits(v, dtype):
    """Back from unsigned bits held in int64 to ``dtype`` (wrapping into the signed range)."""
    if dtype == torch.uint64 or dtype == torch.int64:
        return v if dtype == torch.int64 else v.view(torch.uint64)
    nb = 8 * torch.empty((), dtype=dtype).element_size()
    if dtype.is_signed:
        v = torch.where(v >= (1 << (nb - 1)), v - (1 << nb), v)
    return v.to(dtype)


def _width(x):
    return 8 * x.element_size()


def _shift_left(x, y):
    nb = _width(x)
    xv, yv = _as_int64_bits(x), y.to(torch.int64)
    bad = (yv < 0) | (yv >= nb)
    r = xv << torch.where(bad, torch.zeros_like(yv), yv)
    if nb < 64:
        r = r & ((1 << nb) - 1)
    return _from_int64_bits(torch.where(bad, torch.zeros_like(r), r), x.dtype)


def _logical_right(v, s, nb):
    """v >> s for unsigned bits v held in int64 (s in [0, nb)); 64-bit values need a mask."""
    r = v >> s
    if nb == 64:  # torch's >> is arithmetic: clear the copies of the sign bit
        mask = torch.where(s == 0, torch.full_like(s, -1), (torch.ones_like(s) << (64 - s)) - 1)
        r = r & mask
    return r


def _shift_right_logical(x, y):
    nb = _width(x)
    xv, yv = _as_int64_bits(x), y.to(torch.int64)
    bad = (yv < 0) | (yv >= nb)
    r = _logical_right(xv, torch.where(bad, torch.zeros_like(yv), yv), nb)
    return _from_int64_bits(torch.where(bad, torch.zeros_like(r), r), x.dtype)


def _shift_right_arithmetic(x, y):
    if not x.dtype.is_signed:
        return _shift_right_logical(x, y)
    nb = _width(x)
    return (x.to(torch.int64) >> y.to(torch.int64).clamp(0, nb - 1)).to(x.dtype)


def _bitcast_convert_type(x, *, new_dtype):
    return x.contiguous().view(torch_dtype(new_dtype))


def _sort_indices(x, *, dimension):
    if x.dtype in (torch.uint32, torch.uint64, torch.uint16):
        x = _as_int64_bits(x) if x.dtype != torch.uint64 else x.view(torch.int64) ^ (-(1 << 63))
    return torch.argsort(x, dim=dimension, stable=True)


def _random_bits_table() -> dict[P.Primitive, Callable[..., Any]]:
    from functrace.ops import random_bits as RB

    return {
        RB.threefry2x32_p: _threefry2x32,
        RB.shift_left_p: _shift_left,
        RB.shift_right_logical_p: _shift_right_logical,
        RB.shift_right_arithmetic_p: _shift_right_arithmetic,
        RB.bitcast_convert_type_p: _bitcast_convert_type,
        RB.erf_inv_p: torch.erfinv,
        RB.sort_indices_p: _sort_indices,
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
        # New tensors of their own (see Backend.fresh_results): results a jit hands out uncopied.
        # Not the casts and integer powers, which may return their operand as it is.
        self.fresh_results = frozenset(p for p in P.all_primitives.values() if p.elementwise) - {
            P.stop_gradient_p, P.convert_element_type_p, P.integer_pow_p} | {
            P.dot_general_p, P.cumsum_p, P.concatenate_p, P.gather_p, P.scatter_add_p, P.argmax_p, P.argmin_p,
            P.reduce_sum_p, P.reduce_prod_p, P.reduce_max_p, P.reduce_min_p, P.reduce_and_p, P.reduce_or_p}
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
    from functrace.backends import torch_linalg_decompositions, torch_special

    tables = (_impl_table(b.device), _family_table(), _random_bits_table(), _conv_table(), _DEBUGGING,
              torch_linalg_decompositions.impls(b.device), torch_special.impls(b.device))
    for prim, impl in {k: v for table in tables for k, v in table.items()}.items():
        b.register(prim, impl)
    # The registry adds the backend-neutral implementations (control flow) and then checks
    # that every primitive is covered.
    register_aval_handler(torch.Tensor, _tensor_aval)
    return b
