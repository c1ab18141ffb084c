"""The complex-number primitives: ``real``, ``imag``, ``conj`` and ``complex`` (as ``lax``'s).

All four are linear (over the reals), so their JVPs apply them to the tangents. Their
transposes follow JAX's convention, which pairs a complex cotangent ``c`` with a tangent ``t``
as ``Re(c * t)`` (no conjugation): the transpose of ``real`` is ``complex(ct, 0)``, of ``imag``
is ``complex(0, -ct)``, of ``conj`` is ``conj``, and of ``complex(x, y)`` is
``(real(ct), -imag(ct))``. With these, ``grad`` of a real-valued function of a complex input
is the conjugate of ``df/dx + i df/dy``, as JAX documents.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import ShapedArray
from functrace.errors import DTypeError
from functrace.primitives import check_kind, def_primitive, elementwise_shape, same_dtype
from functrace.rules import Zero, aval_of, deflinear, is_undefined, unbroadcast
from functrace.tracing import bind

Array = Any

_REAL_OF = {np.dtype(np.complex64): np.dtype(np.float32), np.dtype(np.complex128): np.dtype(np.float64)}
_COMPLEX_OF = {v: k for k, v in _REAL_OF.items()}


def real_dtype(dtype: Any) -> np.dtype:
    """The real dtype of the parts of ``dtype`` (itself when it is not complex)."""
    return _REAL_OF.get(np.dtype(dtype), np.dtype(dtype))


def complex_dtype(dtype: Any) -> np.dtype:
    """The complex dtype whose parts are ``dtype`` (float16 widens to complex64)."""
    dt = np.dtype(dtype)
    if dt.kind == "c":
        return dt
    return _COMPLEX_OF.get(dt, np.dtype(np.complex64) if dt == np.float16 else np.dtype(np.complex128))


def _part_rule(name: str):
    def rule(x: ShapedArray) -> ShapedArray:
        check_kind(name, x.dtype, "c")
        return x.update(dtype=_REAL_OF[x.dtype])

    return rule


def _conj_rule(x: ShapedArray) -> ShapedArray:
    check_kind("conj", x.dtype, "c")
    return x


def _complex_rule(x: ShapedArray, y: ShapedArray) -> ShapedArray:
    dt = same_dtype("complex", x, y)
    if dt not in _COMPLEX_OF:
        raise DTypeError(f"complex needs float32 or float64 parts, got {dt.name}")
    return ShapedArray(elementwise_shape("complex", x, y), _COMPLEX_OF[dt])


real_p = def_primitive("real", _part_rule("real"), elementwise=True, linear=(0,))
imag_p = def_primitive("imag", _part_rule("imag"), elementwise=True, linear=(0,))
conj_p = def_primitive("conj", _conj_rule, elementwise=True, linear=(0,))
complex_p = def_primitive("complex", _complex_rule, elementwise=True, linear=(0, 1))


def real(x: Array) -> Array:
    """The real part of a complex array (as ``lax.real``)."""
    return bind(real_p, x)


def imag(x: Array) -> Array:
    """The imaginary part of a complex array (as ``lax.imag``)."""
    return bind(imag_p, x)


def conj(x: Array) -> Array:
    """The complex conjugate of a complex array (as ``lax.conj``)."""
    return bind(conj_p, x)


def complex(x: Array, y: Array) -> Array:  # noqa: A001
    """``x + i*y`` from two real arrays of one dtype (as ``lax.complex``)."""
    return bind(complex_p, x, y)


def _zeros(aval: ShapedArray) -> Array:
    return lax.full(aval.shape, 0, aval.dtype)


def _real_transpose(ct, x):
    if isinstance(ct, Zero):
        return [Zero(aval_of(x))]
    return [complex(ct, _zeros(aval_of(ct)))]


def _imag_transpose(ct, x):
    if isinstance(ct, Zero):
        return [Zero(aval_of(x))]
    return [complex(_zeros(aval_of(ct)), lax.neg(ct))]


def _conj_transpose(ct, x):
    return [Zero(aval_of(x)) if isinstance(ct, Zero) else conj(ct)]


def _complex_transpose(ct, x, y):
    if isinstance(ct, Zero):
        return [Zero(aval_of(x)) if is_undefined(x) else None, Zero(aval_of(y)) if is_undefined(y) else None]
    return [unbroadcast(real(ct), aval_of(x)) if is_undefined(x) else None,
            unbroadcast(lax.neg(imag(ct)), aval_of(y)) if is_undefined(y) else None]


deflinear(real_p, _real_transpose)
deflinear(imag_p, _imag_transpose)
deflinear(conj_p, _conj_transpose)
deflinear(complex_p, _complex_transpose)
