"""``functrace.scipy.signal``: ``convolve``, ``correlate``, ``convolve2d`` and ``correlate2d`` as
``jax.scipy.signal``'s (SciPy's output shapes and alignments for ``mode`` "full", "same" and
"valid"; inputs promoted together by NumPy's rules, then integers and booleans to float64, as
JAX computes them in a floating type where SciPy keeps integers).

The direct method is one ``conv_general_dilated`` (a cross-correlation, so the kernel is
reversed) over the whole full-mode output, then cropped; complex operands take four real
convolutions. ``method="fft"`` multiplies FFTs of the zero-padded inputs instead. Both
differentiate in both inputs (the convolution primitive's rules, or the FFT's)."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace import numpy as fnp
from functrace.numpy._core import user_error
from functrace.tracing import get_aval

Array = Any

_MODES = ("full", "same", "valid")


def _operands(name: str, in1: Array, in2: Array) -> tuple:
    in1, in2 = fnp.asarray(in1), fnp.asarray(in2)
    dt = np.result_type(get_aval(in1).dtype, get_aval(in2).dtype)  # NumPy's promotion, as functrace.numpy
    dt = dt if dt.kind in "fc" else np.dtype(np.float64)
    if get_aval(in1).ndim != get_aval(in2).ndim:
        raise user_error(ValueError(f"{name}: in1 and in2 must have the same number of dimensions, got shapes "
                                    f"{get_aval(in1).shape} and {get_aval(in2).shape}"))
    return fnp.astype(in1, dt), fnp.astype(in2, dt)


def _check_mode(name: str, mode: str) -> None:
    if mode not in _MODES:
        raise user_error(ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}"))


def _real_full(a: Array, v: Array) -> Array:
    """The full-mode convolution of two real arrays of one rank, through the conv primitive."""
    s1, s2 = get_aval(a).shape, get_aval(v).shape
    lhs = fnp.reshape(a, (1, 1) + tuple(s1))
    rhs = fnp.reshape(fnp.flip(v), (1, 1) + tuple(s2))
    out = lax.conv_general_dilated(lhs, rhs, (1,) * len(s1), [(k - 1, k - 1) for k in s2])
    return fnp.reshape(out, tuple(i + k - 1 for i, k in zip(s1, s2, strict=True)))


def _direct_full(a: Array, v: Array) -> Array:
    if get_aval(a).ndim == 0:
        return fnp.multiply(a, v)
    if any(d == 0 for d in tuple(get_aval(a).shape) + tuple(get_aval(v).shape)):
        raise user_error(ValueError("convolve: inputs must not be empty"))
    if get_aval(a).dtype.kind != "c":
        return _real_full(a, v)
    ar, ai, vr, vi = fnp.real(a), fnp.imag(a), fnp.real(v), fnp.imag(v)
    re = fnp.subtract(_real_full(ar, vr), _real_full(ai, vi))
    im = fnp.add(_real_full(ar, vi), _real_full(ai, vr))
    return lax.complex(re, im)


def _fft_full(a: Array, v: Array) -> Array:
    if get_aval(a).ndim == 0:
        return fnp.multiply(a, v)
    s1, s2 = get_aval(a).shape, get_aval(v).shape
    full = tuple(i + k - 1 for i, k in zip(s1, s2, strict=True))
    axes = tuple(range(len(full)))
    if get_aval(a).dtype.kind == "c":
        return fnp.fft.ifftn(fnp.fft.fftn(a, full, axes) * fnp.fft.fftn(v, full, axes), full, axes)
    return fnp.fft.irfftn(fnp.fft.rfftn(a, full, axes) * fnp.fft.rfftn(v, full, axes), full, axes)


def _crop(full: Array, s1: tuple, s2: tuple, mode: str) -> Array:
    """SciPy's alignment: "same" is centred on in1 (``(len2 - 1) // 2`` cut from the start);
    "valid" keeps the positions where the smaller input lies wholly inside the larger."""
    if mode == "full":
        return full
    if mode == "same":
        starts = [(k - 1) // 2 for k in s2]
        sizes = list(s1)
    else:
        starts = [min(i, k) - 1 for i, k in zip(s1, s2, strict=True)]
        sizes = [abs(i - k) + 1 for i, k in zip(s1, s2, strict=True)]
    return full[tuple(slice(b, b + n) for b, n in zip(starts, sizes, strict=True))]


def _convolve(name: str, in1: Array, in2: Array, mode: str, method: str) -> Array:
    _check_mode(name, mode)
    if method not in ("auto", "direct", "fft"):
        raise user_error(ValueError(f"{name}: method must be 'auto', 'direct' or 'fft', got {method!r}"))
    s1, s2 = tuple(get_aval(in1).shape), tuple(get_aval(in2).shape)
    if mode == "valid":
        if not (all(i >= k for i, k in zip(s1, s2, strict=True)) or all(k >= i for i, k in zip(s1, s2, strict=True))):
            raise user_error(ValueError(f"{name}: with mode='valid' one input must be at least as large as the other "
                                        f"in every dimension, got shapes {s1} and {s2}"))
    full = (_fft_full if method == "fft" else _direct_full)(in1, in2)
    return _crop(full, s1, s2, mode)


def _conj(x: Array) -> Array:
    return fnp.conj(x) if get_aval(x).dtype.kind == "c" else x


def _reverse_conj(x: Array) -> Array:
    x = fnp.flip(x) if get_aval(x).ndim else x
    return fnp.conj(x) if get_aval(x).dtype.kind == "c" else x


def convolve(in1: Array, in2: Array, mode: str = "full", method: str = "auto", precision: Any = None) -> Array:
    """The N-dimensional convolution of two arrays of one rank (``mode`` "full", "same": the
    shape of ``in1``, "valid"); ``method`` "auto"/"direct" or "fft"."""
    in1, in2 = _operands("convolve", in1, in2)
    return _convolve("convolve", in1, in2, mode, method)


def correlate(in1: Array, in2: Array, mode: str = "full", method: str = "auto", precision: Any = None) -> Array:
    """The N-dimensional cross-correlation ``z[k] = sum_n in1[n + k] * conj(in2[n])``, aligned
    as SciPy's: the convolution of ``in1`` with ``in2`` reversed and conjugated."""
    in1, in2 = _operands("correlate", in1, in2)
    return _convolve("correlate", in1, _reverse_conj(in2), mode, method)


def _check_2d(name: str, in1: Array, in2: Array, boundary: str, fillvalue: Any) -> None:
    if boundary != "fill" or fillvalue != 0:
        raise user_error(NotImplementedError(f"{name}: only boundary='fill' with fillvalue=0 is supported (as in "
                                             f"JAX), got boundary={boundary!r}, fillvalue={fillvalue!r}"))
    if get_aval(in1).ndim != 2 or get_aval(in2).ndim != 2:
        raise user_error(ValueError(f"{name}: in1 and in2 must be 2-D, got shapes {get_aval(in1).shape} and "
                                    f"{get_aval(in2).shape}"))


def convolve2d(in1: Array, in2: Array, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0,
               precision: Any = None) -> Array:
    """The 2-D convolution (``boundary="fill"``, ``fillvalue=0`` only, as JAX)."""
    in1, in2 = _operands("convolve2d", in1, in2)
    _check_2d("convolve2d", in1, in2, boundary, fillvalue)
    return _convolve("convolve2d", in1, in2, mode, "direct")


def correlate2d(in1: Array, in2: Array, mode: str = "full", boundary: str = "fill", fillvalue: Any = 0,
                precision: Any = None) -> Array:
    """The 2-D cross-correlation (``boundary="fill"``, ``fillvalue=0`` only, as JAX), aligned as
    SciPy's ``correlate2d``, which differs from ``correlate`` in two cases: "same" is centred
    from the end (the correlation of the reversed arrays, reversed), and "valid" with ``in2``
    the larger correlates ``in2`` with ``in1`` (conjugating ``in1``, not ``in2``)."""
    in1, in2 = _operands("correlate2d", in1, in2)
    _check_2d("correlate2d", in1, in2, boundary, fillvalue)
    s1, s2 = tuple(get_aval(in1).shape), tuple(get_aval(in2).shape)
    if mode == "same":
        return fnp.flip(_convolve("correlate2d", fnp.flip(in1), _conj(in2), mode, "direct"))
    if mode == "valid" and s1 != s2 and all(i <= k for i, k in zip(s1, s2, strict=True)):
        return _convolve("correlate2d", fnp.flip(in2), _conj(in1), mode, "direct")
    return _convolve("correlate2d", in1, _reverse_conj(in2), mode, "direct")


__all__ = ["convolve", "convolve2d", "correlate", "correlate2d"]
