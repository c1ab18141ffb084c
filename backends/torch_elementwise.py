"""torch implementations of the elementwise family (``functrace/ops/elementwise.py``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from functrace import ops as P
from functrace.backends import select_by_bits
from functrace.backends.torch_backend import is_int, torch_dtype


def _sign(x):
    """torch.sign(nan) is 0; NumPy (and JAX) return nan."""
    if x.dtype.is_complex:  # x / |x|, 0 at 0 (as NumPy 2 and JAX)
        return torch.sgn(x)
    s = torch.sign(x)
    # nan stays nan and a zero keeps its sign (-0.0 -> -0.0, as XLA, JAX and the NumPy backend)
    return torch.where(torch.isnan(x) | (x == 0), x, s) if x.dtype.is_floating_point else s


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
    if not is_int(x):
        return torch.div(x, y)
    if x.dtype in (torch.uint16, torch.uint32):  # torch divides no unsigned type but uint8: in int64, exactly
        return _div(x.to(torch.int64), y.to(torch.int64)).to(x.dtype)
    q = torch.div(x, _safe_int_divisor(y), rounding_mode="trunc")
    if y.dtype.is_signed:
        q = torch.where(y == -1, torch.neg(x), q)
    return torch.where(y == 0, torch.zeros_like(q), q)


_FMOD_STEP = {torch.float64: 2.0**1000, torch.float32: 2.0**100}


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
    if not is_int(x):
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
    if y < 0 and is_int(x):
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
    """A cast; float -> int truncates toward zero, saturated at the type's limits with nan to 0
    (as the NumPy backend's ``_saturating_int``, XLA and JAX; uint64 is cast as torch casts);
    nonzero (nan too) -> True; complex -> real keeps the real part (as NumPy and JAX, without
    torch's warning)."""
    dt = np.dtype(new_dtype)
    if x.dtype.is_complex and dt.kind != "c":
        x = torch.real(x)
    if x.dtype.is_floating_point and dt.kind in "iu" and dt != np.uint64:
        info = np.iinfo(dt)
        high, low = float(info.max) + 1.0, float(info.min)
        if x.dtype in (torch.float16, torch.bfloat16):  # the limits would round to inf in these
            x = x.to(torch.float32)
        above, below = x >= high, x < low
        safe = torch.where(above | below | torch.isnan(x), torch.zeros_like(x), x)
        wide = torch.where(above, info.max, torch.where(below, info.min, safe.to(torch.int64)))
        return wide.to(torch_dtype(dt))
    return x.to(torch_dtype(dt))


_BITS = {1: torch.int8, 2: torch.int16, 4: torch.int32, 8: torch.int64}


def _select(pred, on_true, on_false):
    """``torch.where``, or on large CPU tensors the same bits without a branch per element
    (``backends/select_by_bits.py``); on a GPU ``torch.where`` does not branch."""
    if not isinstance(pred, torch.Tensor) or pred.numel() < select_by_bits.MIN_SIZE or pred.device.type != "cpu" \
            or not isinstance(on_true, torch.Tensor) and not isinstance(on_false, torch.Tensor):
        return torch.where(pred, on_true, on_false)
    dtype = torch.result_type(on_true, on_false)
    size = pred.numel()
    if not select_by_bits.worth_it(size, dtype.itemsize) or dtype.is_complex or \
            tuple(pred.shape) != torch.broadcast_shapes(pred.shape, torch.Size(np.shape(on_true)),
                                                        torch.Size(np.shape(on_false))):
        return torch.where(pred, on_true, on_false)
    if dtype.itemsize == 8:
        mask = pred.reshape(-1)
        if not select_by_bits.changes_often(size, 8, int(torch.count_nonzero(mask[1:] != mask[:-1]))):
            return torch.where(pred, on_true, on_false)
    bits = _BITS[dtype.itemsize]
    f = torch.as_tensor(on_false, dtype=dtype).view(bits)
    out = torch.bitwise_xor(torch.as_tensor(on_true, dtype=dtype).view(bits), f)
    if out.shape != pred.shape:  # both branches broadcast: the result has the mask's shape
        out = out.expand(pred.shape).clone()
    out.mul_(pred)
    out.bitwise_xor_(f)
    return out.view(dtype)


def _identity(x):
    return x


def impls(device: Any) -> dict:
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
        P.select_p: _select,
        P.convert_element_type_p: _convert_element_type,
    }
