"""Complex-number functions of ``functrace.numpy``: parts, conjugate, angle and the tests.

``real``/``imag``/``conj`` of a complex array bind the ``lax`` primitives (linear, with JAX's
transposes); of a real array, ``real`` and ``conj`` are the array itself and ``imag`` is zeros,
as in NumPy.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.api import device_get
from functrace.errors import ConcretizationError
from functrace.numpy._core import _as_operand, asarray, result_type
from functrace.tracing import Tracer, get_aval, located

Array = Any

__all__ = ["real", "imag", "conj", "conjugate", "angle", "real_if_close", "iscomplex", "isreal", "iscomplexobj"]


def _operand(x: Array) -> Array:
    return x if isinstance(x, Tracer) else asarray(_as_operand(x))


def _is_complex(x: Array) -> bool:
    return get_aval(x).dtype.kind == "c"


def real(val: Array) -> Array:
    """The real part (a real array; for a real input, the input itself)."""
    x = _operand(val)
    return lax.real(x) if _is_complex(x) else x


def imag(val: Array) -> Array:
    """The imaginary part (a real array; zeros for a real input)."""
    x = _operand(val)
    if _is_complex(x):
        return lax.imag(x)
    a = get_aval(x)
    return lax.full(a.shape, 0, a.dtype)


def conjugate(x: Array) -> Array:
    """The complex conjugate, elementwise (a real input is returned as it is)."""
    x = _operand(x)
    return lax.conj(x) if _is_complex(x) else x


conj = conjugate


def angle(z: Array, deg: bool = False) -> Array:
    """The counterclockwise angle from the positive real axis, in radians (degrees with ``deg``).

    Integer inputs give floats, as in NumPy; the derivative is ``atan2``'s.
    """
    x = _operand(z)
    dt = get_aval(x).dtype
    if dt.kind in "biu":
        x = lax.convert_element_type(x, result_type(dt, np.float16))
    re, im = real(x), imag(x)
    out = lax.atan2(im, re)
    return lax.mul(out, np.asarray(180 / np.pi, get_aval(out).dtype)[()]) if deg else out


def real_if_close(a: Array, tol: float = 100) -> Array:
    """The real part when every imaginary part is within ``tol`` machine epsilons of zero (as
    ``numpy.real_if_close``). The result's dtype depends on the values, so a traced complex
    input is refused: use ``functrace.numpy.real`` there."""
    x = _operand(a)
    if not _is_complex(x):
        return x
    if isinstance(x, Tracer):
        raise located(ConcretizationError(
            "real_if_close of a traced complex array: its result dtype depends on the values; "
            "use functrace.numpy.real(x) (or decide outside the traced function)"))
    host = np.asarray(device_get(x))
    eps = np.finfo(host.real.dtype).eps
    return lax.real(x) if np.all(np.abs(host.imag) < tol * eps) else x


def iscomplex(x: Array) -> Array:
    """Elementwise: is the imaginary part nonzero (False for real dtypes)."""
    x = _operand(x)
    if not _is_complex(x):
        a = get_aval(x)
        return lax.full(a.shape, False, np.dtype(bool))
    im = lax.imag(x)
    return lax.ne(im, np.zeros((), get_aval(im).dtype)[()])


def isreal(x: Array) -> Array:
    """Elementwise: is the imaginary part zero (True for real dtypes)."""
    x = _operand(x)
    if not _is_complex(x):
        a = get_aval(x)
        return lax.full(a.shape, True, np.dtype(bool))
    im = lax.imag(x)
    return lax.eq(im, np.zeros((), get_aval(im).dtype)[()])


def iscomplexobj(x: Any) -> bool:
    """Whether ``x`` has a complex dtype (a Python bool; no values are read)."""
    if isinstance(x, Tracer):
        return x.aval.dtype.kind == "c"
    return bool(np.iscomplexobj(x))
