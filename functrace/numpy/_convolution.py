"""``numpy.convolve`` and ``numpy.correlate``: one-dimensional, as one ``conv_general_dilated``."""

from __future__ import annotations

from typing import Any

from functrace import lax
from functrace.errors import DTypeError, ShapeError
from functrace.numpy._core import _as_operand, _cast, _float_dtype, result_type
from functrace.numpy._core import asarray as fnp_asarray
from functrace.tracing import get_aval, located

Array = Any


def _operands(a: Any, v: Any, name: str) -> tuple[Any, Any, int, int]:
    """Both operands promoted to one dtype (booleans to floats), checked to be non-empty 1-D."""
    a, v = _as_operand(a), _as_operand(v)
    dt = result_type(a, v)
    a, v = fnp_asarray(_cast(a, dt)), fnp_asarray(_cast(v, dt))
    if dt.kind == "c":
        raise located(DTypeError(f"{name}: complex arrays are not supported yet; convolve their real and "
                                 "imaginary parts"))
    if dt.kind == "b":
        a, v = lax.convert_element_type(a, _float_dtype(dt)), lax.convert_element_type(v, _float_dtype(dt))
    sa, sv = get_aval(a).shape, get_aval(v).shape
    if len(sa) != 1 or len(sv) != 1:
        raise located(ShapeError(f"{name} takes two one-dimensional arrays, got shapes {sa} and {sv}"))
    if sa[0] == 0 or sv[0] == 0:
        raise located(ShapeError(f"{name}: {'a' if sa[0] == 0 else 'v'} cannot be empty"))
    return a, v, sa[0], sv[0]


def _correlation(a: Any, v: Any, n: int, m: int, mode: str, name: str) -> Any:
    """``c[k] = sum_j a[j + k - (m - 1)] * v[j]`` for every overlap (length ``n + m - 1``), then
    the part NumPy's ``mode`` keeps: ``"same"`` keeps ``max(n, m)`` entries, centred with the
    odd one at the start; ``"valid"`` those where one array lies inside the other."""
    full = lax.reshape(lax.conv_general_dilated(lax.reshape(a, (1, 1, n)), lax.reshape(v, (1, 1, m)), (1,),
                                                [(m - 1, m - 1)]), (n + m - 1,))
    if mode == "full":
        return full
    if mode == "same":
        length, start = max(n, m), (min(n, m) - 1) // 2
    elif mode == "valid":
        length, start = max(n, m) - min(n, m) + 1, min(n, m) - 1
    else:
        raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")
    return lax.slice(full, (start,), (start + length,))


def _check_mode(mode: str, name: str) -> None:
    if mode not in ("full", "same", "valid"):
        raise ValueError(f"{name}: mode must be 'full', 'same' or 'valid', got {mode!r}")


def convolve(a: Array, v: Array, mode: str = "full") -> Array:
    """The discrete linear convolution of two 1-D arrays, as ``numpy.convolve`` (``mode``
    ``"full"``, ``"same"`` or ``"valid"``); the longer array slides over the shorter, as in NumPy."""
    _check_mode(mode, "convolve")
    a, v, n, m = _operands(a, v, "convolve")
    if n < m:
        a, v, n, m = v, a, m, n
    return _correlation(a, lax.rev(v, (0,)), n, m, mode, "convolve")


def correlate(a: Array, v: Array, mode: str = "valid") -> Array:
    """The cross-correlation ``c[k] = sum_n a[n + k] * v[n]`` of two 1-D arrays, as
    ``numpy.correlate`` (default ``mode="valid"``). When ``v`` is the longer, NumPy computes the
    correlation of ``v`` with ``a`` and reverses it, and so does this (which moves the centre
    of ``"same"`` for even lengths)."""
    _check_mode(mode, "correlate")
    a, v, n, m = _operands(a, v, "correlate")
    if n < m:
        return lax.rev(_correlation(v, a, m, n, mode, "correlate"), (0,))
    return _correlation(a, v, n, m, mode, "correlate")
