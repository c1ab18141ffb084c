"""``functrace.numpy.linalg``: norms (composed from primitives, so they differentiate)."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace.avals import is_float
from functrace.errors import FunctraceError
from functrace.numpy._core import _as_operand, abs, asarray, astype, multiply, not_equal, power, sqrt, user_error
from functrace.numpy._reductions import max, min, sum
from functrace.ops.complex_parts import real_dtype
from functrace.tracing import get_aval, located

Array = Any


def _abs2(x: Array) -> Array:
    """|x|**2 elementwise, real for complex x (as JAX's norm: real(x * conj(x)))."""
    if get_aval(x).dtype.kind == "c":
        from functrace.numpy._complex import conj, real

        return real(multiply(conj(x), x))
    return multiply(x, x)


def norm(x: Array, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Array:  # noqa: A002
    """Vector norms (``ord`` None/2, 1, inf, -inf, 0, p) and the Frobenius norm of matrices.

    The gradient of the 2-norm at 0 is nan (it divides by the norm), as in NumPy-based autograd.
    """
    x = _as_operand(x)
    x = asarray(x) if isinstance(x, (int, float)) else x
    if not is_float(get_aval(x).dtype):  # NumPy computes norms of integers and booleans in float64
        x = astype(x, np.float64)
    nd = get_aval(x).ndim
    if axis is None and ord is None:
        return sqrt(sum(_abs2(x), axis=None, keepdims=keepdims))
    if axis is None:
        axis = tuple(range(nd)) if nd <= 2 else None
        if nd == 1:
            axis = 0
    if isinstance(axis, tuple) and len(axis) == 2:
        if ord in (None, "fro"):
            return sqrt(sum(_abs2(x), axis=axis, keepdims=keepdims))
        raise user_error(NotImplementedError(f"matrix norm ord={ord!r} is not supported (only 'fro')"))
    if isinstance(axis, tuple) and len(axis) == 1:
        axis = axis[0]
    if ord is None or ord == 2:
        return sqrt(sum(_abs2(x), axis=axis, keepdims=keepdims))
    if ord == np.inf:
        return max(abs(x), axis=axis, keepdims=keepdims)
    if ord == -np.inf:
        return min(abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return sum(astype(not_equal(x, 0), real_dtype(get_aval(x).dtype)), axis=axis, keepdims=keepdims)
    if ord == 1:
        return sum(abs(x), axis=axis, keepdims=keepdims)
    try:
        p = float(ord)
    except (TypeError, ValueError):
        raise located(FunctraceError(f"invalid norm order {ord!r} for vectors")) from None
    return power(sum(power(abs(x), p), axis=axis, keepdims=keepdims), 1.0 / p)
