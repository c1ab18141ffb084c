"""NumPy-style promotion (NEP 50) and broadcasting of operands, weak types, and the conversion
of inputs to arrays (``asarray``), for every function of ``functrace.numpy``."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import broadcast_shapes, canonical_dtype, is_bool, is_float
from functrace.errors import DTypeError, FunctraceError
from functrace.tracing import Tracer, current_backend, current_source, get_aval, located
from functrace.util import format_frame, normalize_axis

Array = Any
_PY_SCALARS = (bool, int, float, complex)


def asarray(x: Any, dtype: Any = None) -> Array:
    """``numpy.asarray``: traced values pass through (cast if ``dtype``); others become backend arrays."""
    if dtype is not None:
        dtype = as_dtype(dtype)  # (a torch dtype too)
    if isinstance(x, Tracer):  # a dtype makes even a Python scalar's weak value strong, as in NumPy
        return x if dtype is None else lax.convert_element_type(x, dtype).with_weak_type(False)
    if isinstance(x, (list, tuple)) and any(isinstance(e, Tracer) for e in _flat(x)):
        from functrace.numpy._shape import stack

        return stack([asarray(e, dtype) for e in x])
    backend = current_backend()
    if backend.is_native(x) and dtype is None:
        return x
    if backend.is_native(x):
        return lax.convert_element_type(x, dtype)
    arr = np.asarray(backend.to_numpy(x) if hasattr(x, "detach") else x, dtype=dtype)
    if arr.dtype == object:
        raise DTypeError(f"cannot make an array from {type(x).__name__} (it holds non-numeric objects)")
    return backend.asarray(arr)


array = asarray


def user_error(e: Exception) -> Exception:
    """``e`` with the user's file:line in front of its message.

    ``located`` does this for functrace's own exceptions; this also accepts the built-in types
    (``TypeError``, ``ValueError``, ...) that NumPy raises for the same misuse, so the type a
    user catches stays NumPy's.
    """
    if isinstance(e, FunctraceError):
        return located(e)
    if e.args:
        e.args = (f"{format_frame(current_source())}: {e.args[0]}",) + tuple(e.args[1:])
    return e


def _flat(xs):
    stack, out = [xs], []
    while stack:
        e = stack.pop()
        if isinstance(e, (list, tuple)):
            stack.extend(e)
        else:
            out.append(e)
    return out


def check_axis(axis: Any, of: Any) -> int:
    """``axis`` as a non-negative axis of ``of`` (an array, or a number of dimensions).

    A bad axis raises ``AxisError`` naming the user's line, the axis and the array's shape.
    """
    aval = None if isinstance(of, (int, np.integer)) else get_aval(_as_operand(of))
    ndim = int(of) if aval is None else aval.ndim
    try:
        return normalize_axis(axis, ndim)
    except FunctraceError as e:
        if aval is not None:
            e.args = (f"{e.args[0]} (an array of shape {aval.shape})",)
        raise located(e) from None


def _as_operand(x: Any) -> Any:
    """Python scalars stay weak (they adapt to the other operand's dtype); lists become arrays."""
    if isinstance(x, (Tracer, np.ndarray, np.generic) + _PY_SCALARS):
        return x
    if current_backend().is_native(x):
        return x
    return asarray(x)


# A Python scalar of each kind, standing for a weak value in np.result_type.
_WEAK_STAND_IN = {"b": False, "i": 0, "u": 0, "f": 0.0, "c": 0j}


def _aval_key(aval: Any) -> Any:
    """What stands for a value of abstract value ``aval`` in np.result_type."""
    return _WEAK_STAND_IN[aval.dtype.kind] if aval.weak_type else aval.dtype


def _dtype_key(x: Any) -> Any:
    return x if isinstance(x, _PY_SCALARS) else _aval_key(get_aval(x))


def _is_weak(x: Any) -> bool:
    """A Python scalar, or a traced value standing for one (``jit(f)(x, 2.0)``'s ``2.0``)."""
    return type(x) in _PY_SCALARS or (isinstance(x, Tracer) and x.aval.weak_type)


def _weak_arithmetic(f):
    """``f`` with ``_keep_weak`` applied to its result: for the operators Python scalars have."""
    def g(*operands: Any) -> Any:
        return _keep_weak(f(*operands), *operands)

    g.__name__, g.__qualname__, g.__doc__, g.__wrapped__ = f.__name__, f.__qualname__, f.__doc__, f
    return g


def _keep_weak(out: Any, *operands: Any) -> Any:
    """Arithmetic on weak values only is weak, as Python arithmetic on Python scalars stays a
    Python scalar in eager code (``lr * 2.0`` then meets a float32 array as a float would)."""
    if isinstance(out, Tracer) and all(_is_weak(a) for a in operands):
        return out.with_weak_type(True)
    return out


def as_dtype(dtype: Any) -> np.dtype:
    """A user's ``dtype=`` argument as a NumPy dtype (a torch dtype too); an unsupported one is a
    ``DTypeError`` naming the user's line."""
    try:
        return canonical_dtype(dtype)
    except FunctraceError as e:
        raise located(e) from None


def _is_dtype_like(x: Any) -> bool:
    t = type(x)
    return (isinstance(x, (np.dtype, str)) or (isinstance(x, type) and issubclass(x, np.generic))
            or (t.__module__ == "torch" and t.__name__ == "dtype"))


def result_type(*args: Any) -> np.dtype:
    """NumPy 2 promotion: Python scalars are weak and do not widen arrays; dtypes may be given."""
    return np.result_type(*[as_dtype(a) if _is_dtype_like(a) else _dtype_key(_as_operand(a)) for a in args])


def _cast(x: Any, dtype: np.dtype) -> Any:
    if isinstance(x, _PY_SCALARS):
        try:
            return np.asarray(x, dtype=dtype)[()]
        except OverflowError as e:
            raise located(DTypeError(f"Python integer {x} does not fit in {dtype.name}")) from e
    return lax.convert_element_type(x, dtype)


def _broadcast_to_shape(x: Any, shape: tuple[int, ...]) -> Any:
    a = get_aval(x)
    if a.shape == shape or a.ndim == 0:
        return x
    nd = len(shape)
    return lax.broadcast_in_dim(x, shape, tuple(range(nd - a.ndim, nd)))


def _promote_traced_pair(x: Any, y: Any) -> tuple[list, np.dtype] | None:
    """The two commonest cases of ``promote`` on traced values, without the general machinery:
    two of one shape and dtype, or a floating one with a Python float or int (which takes its
    dtype, NEP 50). None: take the general path."""
    ax = x.aval if isinstance(x, Tracer) else None
    ay = y.aval if isinstance(y, Tracer) else None
    if ax is not None:
        if ay is not None:
            return ([x, y], ax.dtype) if ax is ay or ax == ay else None
        ty = type(y)
        if (ty is float or ty is int) and ax.dtype.kind == "f":
            return [x, _cast(y, ax.dtype)], ax.dtype
    elif ay is not None:
        tx = type(x)
        if (tx is float or tx is int) and ay.dtype.kind == "f":
            return [_cast(x, ay.dtype), y], ay.dtype
    return None


def promote(name: str, *args: Any, dtype: Any = None) -> tuple[list, np.dtype]:
    """Cast ``args`` to one dtype (``dtype`` or the NEP 50 result) and broadcast to one shape.

    Rank-0 operands are left unbroadcast: primitives accept scalars alongside arrays. This runs
    for every operator on a traced value, so it reads each abstract value once.
    """
    if dtype is None and len(args) == 2:
        fast = _promote_traced_pair(*args)
        if fast is not None:
            return fast
    args = [_as_operand(a) for a in args]
    avals = [None if isinstance(a, _PY_SCALARS) else get_aval(a) for a in args]
    if dtype is not None:
        dt = np.dtype(dtype)
    else:
        dt = np.result_type(*[a if av is None else _aval_key(av) for a, av in zip(args, avals, strict=True)])
    shapes = {av.shape for av in avals if av is not None and av.shape}
    if len(shapes) <= 1:
        shape = shapes.pop() if shapes else ()
    else:
        try:
            shape = broadcast_shapes(*(() if av is None else av.shape for av in avals))
        except FunctraceError as e:
            e.args = (f"{name}: {e.args[0]}",)
            raise located(e) from None
    out = []
    for a, av in zip(args, avals, strict=True):
        if av is None:
            out.append(_cast(a, dt))
            continue
        if av.dtype != dt:
            a = lax.convert_element_type(a, dt)
        if av.ndim and av.shape != shape:
            a = lax.broadcast_in_dim(a, shape, tuple(range(len(shape) - av.ndim, len(shape))))
        out.append(a)
    return out, dt


def _float_dtype(dt: np.dtype) -> np.dtype:
    """The float type NumPy computes a transcendental of ``dt`` in (int8 -> float16, int32 -> float64)."""
    return dt if is_float(dt) else np.result_type(dt, np.float16)


def _no_bool(dt: np.dtype) -> np.dtype:
    """``dt``, or int8 for bool: NumPy computes ufuncs that have no boolean loop in int8."""
    return np.dtype(np.int8) if is_bool(dt) else dt
