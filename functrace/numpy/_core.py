"""NumPy-style promotion (NEP 50), broadcasting and the elementwise functions."""

from __future__ import annotations

from typing import Any

import numpy as np

from functrace import lax
from functrace.avals import broadcast_shapes, canonical_dtype, concrete_aval, is_bool, is_float, is_int
from functrace.errors import DTypeError, FunctraceError
from functrace.ops.custom_jvp import custom_jvp
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


def _unary_float(name: str, op, doc: str):
    def f(x: Array) -> Array:
        if isinstance(x, Tracer) and x.aval.dtype.kind == "f":  # the common case, traced
            return op(x)
        x = _as_operand(x)
        dt = _float_dtype(np.result_type(_dtype_key(x)))
        return op(_cast(x, dt))

    f.__name__ = name
    f.__doc__ = doc
    return f


sin = _unary_float("sin", lax.sin, "Elementwise sine. ``fnp.sin(x)`` as ``np.sin(x)``.")
cos = _unary_float("cos", lax.cos, "Elementwise cosine.")
tan = _unary_float("tan", lax.tan, "Elementwise tangent.")
arcsin = _unary_float("arcsin", lax.asin, "Elementwise inverse sine.")
arccos = _unary_float("arccos", lax.acos, "Elementwise inverse cosine.")
arctan = _unary_float("arctan", lax.atan, "Elementwise inverse tangent.")
sinh = _unary_float("sinh", lax.sinh, "Elementwise hyperbolic sine.")
cosh = _unary_float("cosh", lax.cosh, "Elementwise hyperbolic cosine.")
tanh = _unary_float("tanh", lax.tanh, "Elementwise hyperbolic tangent.")
arcsinh = _unary_float("arcsinh", lax.asinh, "Elementwise inverse hyperbolic sine.")
arccosh = _unary_float("arccosh", lax.acosh, "Elementwise inverse hyperbolic cosine.")
arctanh = _unary_float("arctanh", lax.atanh, "Elementwise inverse hyperbolic tangent.")
exp = _unary_float("exp", lax.exp, "Elementwise e**x.")
exp2 = _unary_float("exp2", lax.exp2, "Elementwise 2**x.")
expm1 = _unary_float("expm1", lax.expm1, "Elementwise e**x - 1, accurate for small x.")
log = _unary_float("log", lax.log, "Elementwise natural logarithm.")
log1p = _unary_float("log1p", lax.log1p, "Elementwise log(1 + x), accurate for small x.")
sqrt = _unary_float("sqrt", lax.sqrt, "Elementwise square root.")
log2 = _unary_float("log2", lambda x: lax.div(lax.log(x), _cast(float(np.log(2)), get_aval(x).dtype)),
                    "Elementwise base-2 logarithm (log(x) / log(2)).")
log10 = _unary_float("log10", lambda x: lax.div(lax.log(x), _cast(float(np.log(10)), get_aval(x).dtype)),
                     "Elementwise base-10 logarithm (log(x) / log(10)).")


def _rounding(name: str, op):
    def f(x: Array) -> Array:
        x = _as_operand(x)
        return op(x) if is_float(_dtype_key(x) if not isinstance(x, _PY_SCALARS) else np.result_type(x)) \
            else asarray(x) if not isinstance(x, Tracer) else x

    f.__name__ = name
    f.__doc__ = f"Elementwise {name}; integers are returned unchanged."
    return f


floor = _rounding("floor", lax.floor)
ceil = _rounding("ceil", lax.ceil)
_round_keep_int = _rounding("rint", lax.round)


def rint(x: Array) -> Array:
    """Elementwise round half to even; integers give floats, as ``numpy.rint`` does."""
    x = _as_operand(x)
    return lax.round(_cast(x, _float_dtype(np.result_type(_dtype_key(x)))))


def trunc(x: Array) -> Array:
    """Elementwise rounding toward zero."""
    x = _as_operand(x)
    return where(x < 0, ceil(x), floor(x))


def round(x: Array, decimals: int = 0) -> Array:  # noqa: A001
    """Round half to even, to ``decimals`` places (as ``numpy.round``)."""
    dt = result_type(x)
    if decimals == 0 or (decimals > 0 and not is_float(dt)):
        return _round_keep_int(x)
    if not is_float(dt):  # integers to tens, hundreds, ...: in float64, then back
        return astype(round(astype(x, np.float64), decimals), dt)
    if decimals > 0:
        scale = 10.0 ** decimals
        return true_divide(_round_keep_int(multiply(x, scale)), scale)
    scale = 10.0 ** -decimals  # divide by an exact power of ten, as NumPy does
    return multiply(_round_keep_int(true_divide(x, scale)), scale)


around = round


@_weak_arithmetic
def negative(x: Array) -> Array:
    """Elementwise -x."""
    (x,), dt = promote("negative", x)
    if is_bool(dt):
        raise located(DTypeError("negative is not defined for booleans; use logical_not"))
    return lax.neg(x)


def positive(x: Array) -> Array:
    """Elementwise +x (a copy)."""
    return asarray(_as_operand(x)) if not isinstance(x, Tracer) else x


@_weak_arithmetic
def abs(x: Array) -> Array:  # noqa: A001
    """Elementwise absolute value."""
    (x,), dt = promote("abs", x)
    return x if is_bool(dt) else lax.abs(x)


absolute = abs


def sign(x: Array) -> Array:
    """Elementwise sign: -1, 0 or +1 (nan for nan)."""
    (x,), dt = promote("sign", x)
    if is_bool(dt):
        raise located(DTypeError("sign is not defined for booleans"))
    return lax.sign(x)


def _no_bool(dt: np.dtype) -> np.dtype:
    """``dt``, or int8 for bool: NumPy computes ufuncs that have no boolean loop in int8."""
    return np.dtype(np.int8) if is_bool(dt) else dt


def square(x: Array) -> Array:
    """Elementwise x * x."""
    (x,), _ = promote("square", x, dtype=_no_bool(result_type(x)))
    return lax.integer_pow(x, 2)


def reciprocal(x: Array) -> Array:
    """Elementwise 1 / x (integer division for integers, truncating toward zero, as NumPy's)."""
    dt = _no_bool(result_type(x))
    if not is_int(dt):
        return true_divide(1.0, x)
    (x,), _ = promote("reciprocal", x, dtype=dt)
    return lax.div(_cast(1, dt), x)


def _binary(name: str, op, doc: str):
    def f(x: Array, y: Array) -> Array:
        (x, y), _ = promote(name, x, y)
        return op(x, y)

    f.__name__ = name
    f.__doc__ = doc
    return f


def _arith(name: str, op, bool_op, doc: str):
    """A binary arithmetic function; on booleans it is ``bool_op`` (logical or / and), as in NumPy."""
    def f(x: Array, y: Array) -> Array:
        (px, py), dt = promote(name, x, y)
        if is_bool(dt):
            if bool_op is None:
                raise located(DTypeError(f"{name} is not defined for booleans; use logical_xor or cast to int"))
            return _keep_weak(bool_op(px, py), x, y)
        out = op(px, py)
        # Inline test of the common case (a strong traced x) first: this is every +, -, *.
        if x.aval.weak_type if isinstance(x, Tracer) else type(x) in _PY_SCALARS:
            return _keep_weak(out, x, y)
        return out

    f.__name__ = name
    f.__doc__ = doc
    return f


add = _arith("add", lax.add, lax.bitwise_or, "Elementwise x + y with NumPy broadcasting and promotion.")
subtract = _arith("subtract", lax.sub, None, "Elementwise x - y.")
multiply = _arith("multiply", lax.mul, lax.bitwise_and, "Elementwise x * y.")
maximum = _binary("maximum", lax.max, "Elementwise maximum (nan propagates).")
minimum = _binary("minimum", lax.min, "Elementwise minimum (nan propagates).")
equal = _binary("equal", lax.eq, "Elementwise x == y.")
not_equal = _binary("not_equal", lax.ne, "Elementwise x != y.")
less = _binary("less", lax.lt, "Elementwise x < y.")
less_equal = _binary("less_equal", lax.le, "Elementwise x <= y.")
greater = _binary("greater", lax.gt, "Elementwise x > y.")
greater_equal = _binary("greater_equal", lax.ge, "Elementwise x >= y.")


def _bool_or_int_binary(name: str, op):
    def f(x: Array, y: Array) -> Array:
        (x, y), dt = promote(name, x, y)
        if is_float(dt):
            raise located(DTypeError(f"{name} is not defined for floating arrays ({dt.name})"))
        return op(x, y)

    f.__name__ = name
    f.__doc__ = f"Elementwise {name} of boolean or integer arrays."
    return f


bitwise_and = _bool_or_int_binary("bitwise_and", lax.bitwise_and)
bitwise_or = _bool_or_int_binary("bitwise_or", lax.bitwise_or)
bitwise_xor = _bool_or_int_binary("bitwise_xor", lax.bitwise_xor)


def _to_bool(x: Array) -> Array:
    x = _as_operand(x)
    if isinstance(x, _PY_SCALARS):
        return np.bool_(x)
    return x if is_bool(get_aval(x).dtype) else not_equal(x, 0)


def logical_and(x: Array, y: Array) -> Array:
    """Elementwise truth of x and y."""
    return bitwise_and(_to_bool(x), _to_bool(y))


def logical_or(x: Array, y: Array) -> Array:
    """Elementwise truth of x or y."""
    return bitwise_or(_to_bool(x), _to_bool(y))


def logical_xor(x: Array, y: Array) -> Array:
    """Elementwise truth of x xor y."""
    return bitwise_xor(_to_bool(x), _to_bool(y))


def logical_not(x: Array) -> Array:
    """Elementwise not x."""
    return lax.bitwise_not(_to_bool(x))


def invert(x: Array) -> Array:
    """Elementwise bitwise not (logical not for booleans)."""
    (x,), dt = promote("invert", x)
    if is_float(dt):
        raise located(DTypeError(f"invert is not defined for floating arrays ({dt.name})"))
    return lax.bitwise_not(x)


@_weak_arithmetic
def true_divide(x: Array, y: Array) -> Array:
    """Elementwise x / y; integer inputs give floats, as in NumPy."""
    dt = result_type(x, y)
    (x, y), _ = promote("divide", x, y, dtype=None if is_float(dt) else np.float64)  # NumPy: ints -> float64
    return lax.div(x, y)


divide = true_divide


@_weak_arithmetic
def floor_divide(x: Array, y: Array) -> Array:
    """Elementwise floor(x / y) (``x // y``)."""
    (x, y), dt = promote("floor_divide", x, y, dtype=_no_bool(result_type(x, y)))
    if is_float(dt):
        return _float_floor_divide(x, y, dt)
    q = lax.div(x, y)
    adjust = lax.bitwise_and(lax.ne(lax.rem(x, y), _cast(0, dt)), lax.ne(lax.lt(x, _cast(0, dt)),
                                                                          lax.lt(y, _cast(0, dt))))
    return lax.sub(q, lax.convert_element_type(adjust, dt))


def _float_floor_divide(x: Array, y: Array, dt: np.dtype) -> Array:
    """NumPy's float ``x // y``: ``(x - fmod(x, y)) / y``, corrected to the floor, so that
    ``x // y`` and ``x % y`` agree (``-2.5 // inf`` is -1, ``inf // 1`` is nan). Piecewise
    constant, so its derivative is zero: the result goes through ``stop_gradient``."""
    zero, one = _cast(0, dt), _cast(1, dt)
    mod = lax.rem(x, y)
    div = lax.div(lax.sub(x, mod), y)
    # The remainder must take the sign of y; when it does not, the quotient is one too big.
    wrong_sign = lax.bitwise_and(lax.ne(mod, zero), lax.ne(lax.lt(y, zero), lax.lt(mod, zero)))
    div = lax.select(wrong_sign, lax.sub(div, one), div)
    floored = lax.floor(div)
    floored = lax.select(lax.gt(lax.sub(div, floored), _cast(0.5, dt)), lax.add(floored, one), floored)
    quotient = lax.div(x, y)
    signed_zero = lax.mul(quotient, zero)  # 0 with the sign of x / y
    floored = lax.select(lax.eq(div, zero), signed_zero, floored)
    return lax.stop_gradient(lax.select(lax.eq(y, zero), quotient, floored))


@_weak_arithmetic
def remainder(x: Array, y: Array) -> Array:
    """Elementwise x - floor(x / y) * y, with the sign of y (``x % y``)."""
    (x, y), dt = promote("remainder", x, y, dtype=_no_bool(result_type(x, y)))
    r = lax.rem(x, y)
    zero = _cast(0, dt)
    fix = lax.bitwise_and(lax.ne(r, zero), lax.ne(lax.lt(r, zero), lax.lt(y, zero)))
    return lax.select(fix, lax.add(r, y), r)


mod = remainder


def divmod(x: Array, y: Array) -> tuple[Array, Array]:  # noqa: A001
    """``(x // y, x % y)``, as ``numpy.divmod``."""
    return floor_divide(x, y), remainder(x, y)


def fmod(x: Array, y: Array) -> Array:
    """Elementwise C remainder, with the sign of x."""
    (x, y), _ = promote("fmod", x, y, dtype=_no_bool(result_type(x, y)))
    return lax.rem(x, y)


def arctan2(y: Array, x: Array) -> Array:
    """Elementwise angle of the point (x, y)."""
    dt = result_type(y, x)
    (y, x), _ = promote("arctan2", y, x, dtype=_float_dtype(dt))
    return lax.atan2(y, x)


def _is_integral_scalar(y: Any) -> bool:
    if isinstance(y, bool):
        return False
    if isinstance(y, (int, np.integer)):
        return True
    return isinstance(y, float) and y.is_integer() and abs(y) <= 64


@_weak_arithmetic
def power(x: Array, y: Array) -> Array:
    """Elementwise x ** y. Integer exponents known at trace time use ``integer_pow``."""
    if _is_integral_scalar(y):
        (x,), dt = promote("power", x, dtype=result_type(x, y))
        if is_int(dt) and int(y) < 0:
            raise user_error(ValueError("Integers to negative integer powers are not allowed."))
        return lax.integer_pow(x, int(y))
    (x, y), dt = promote("power", x, y, dtype=_no_bool(result_type(x, y)))
    if is_float(dt):
        return lax.pow(x, y)
    return _integer_power(x, y, dt)


def _integer_power(x: Array, y: Array, dt: np.dtype) -> Array:
    """``x ** y`` for integer arrays, by repeated squaring over the bits of ``y`` (NumPy's
    algorithm, so overflow wraps around as NumPy's does). The loop stops when every exponent is
    used up: small exponents take a few steps.

    A negative exponent whose value is known when ``power`` is called (eager code, and eager
    derivatives) raises ValueError, as in NumPy; one that is abstract (under ``jit`` or
    ``vmap``) cannot, and gives ``x ** y`` rounded toward zero: 1 for x = 1, ±1 for x = -1, 0
    otherwise."""
    from functrace.lax import while_loop

    known = y.val if isinstance(y, Tracer) else y
    if known is not None and np.any(np.asarray(current_backend().to_numpy(known)) < 0):
        raise user_error(ValueError("Integers to negative integer powers are not allowed."))
    shape = broadcast_shapes(get_aval(x).shape, get_aval(y).shape)
    x, y = _broadcast_to_shape(x, shape), _broadcast_to_shape(y, shape)
    if get_aval(x).shape != shape:  # rank 0, left unbroadcast by promote
        x = lax.broadcast_in_dim(x, shape, ())
    if get_aval(y).shape != shape:
        y = lax.broadcast_in_dim(y, shape, ())
    zero, one, two = _cast(0, dt), _cast(1, dt), _cast(2, dt)
    axes = tuple(range(len(shape)))

    def more(carry):
        return lax.reduce_or(lax.gt(carry[2], zero), axes)

    def step(carry):
        acc, base, e = carry
        acc = lax.select(lax.ne(lax.rem(e, two), zero), lax.mul(acc, base), acc)
        return acc, lax.mul(base, base), lax.div(e, two)

    acc, _, _ = while_loop(more, step, (lax.full(shape, 1, dt), x, lax.max(y, zero)))
    if dt.kind == "u":
        return acc
    odd = lax.ne(lax.rem(y, two), zero)
    minus_one = _cast(-1, dt)
    inverse = lax.select(lax.eq(x, one), lax.full(shape, 1, dt),
                         lax.select(lax.eq(x, minus_one), lax.select(odd, lax.full(shape, -1, dt),
                                                                     lax.full(shape, 1, dt)),
                                    lax.full(shape, 0, dt)))
    return lax.select(lax.lt(y, zero), inverse, acc)


def float_power(x: Array, y: Array) -> Array:
    """x ** y computed in float64."""
    return power(asarray(x, np.float64) if not isinstance(x, _PY_SCALARS) else float(x),
                 asarray(y, np.float64) if not isinstance(y, _PY_SCALARS) else float(y))


def clip(a: Array, a_min: Array | None = None, a_max: Array | None = None, *, min: Array | None = None,  # noqa: A002
         max: Array | None = None) -> Array:  # noqa: A002
    """Limit values to [a_min, a_max] (either may be None): ``minimum(maximum(a, a_min), a_max)``.

    ``min``/``max`` are NumPy 2's keyword spellings (``x.clip(min=0)``).
    """
    a_min = min if a_min is None else a_min
    a_max = max if a_max is None else a_max
    if a_min is not None:
        a = maximum(a, a_min)
    if a_max is not None:
        a = minimum(a, a_max)
    return a


def where(condition: Array, x: Array | None = None, y: Array | None = None) -> Array:
    """Elementwise ``x if condition else y`` with broadcasting (the three-argument form)."""
    if x is None or y is None:
        raise user_error(TypeError(
            "functrace.numpy.where needs three arguments (condition, x, y); the one-argument form "
            "has a data-dependent shape: use numpy.nonzero on a concrete array instead"))
    c = _to_bool(condition)
    (x, y), dt = promote("where", x, y)
    shape = broadcast_shapes(*(get_aval(a).shape for a in (c, x, y)))
    c, x, y = (_broadcast_to_shape(a, shape) for a in (c, x, y))
    return lax.select(c, x, y)


def isfinite(x: Array) -> Array:
    """Elementwise test for finite values (integers are always finite)."""
    x = _as_operand(x)
    dt = np.result_type(_dtype_key(x))
    if not is_float(dt):
        return equal(x, x)  # all True (traced when x is)
    return lax.is_finite(asarray(x) if isinstance(x, _PY_SCALARS) else x)


def isnan(x: Array) -> Array:
    """Elementwise test for nan."""
    return not_equal(x, x)


def isinf(x: Array) -> Array:
    """Elementwise test for +-inf."""
    return logical_and(logical_not(isfinite(x)), equal(x, x))


def logaddexp(x: Array, y: Array) -> Array:
    """log(exp(x) + exp(y)) without overflow, with derivatives exact to every order.

    The value is ``max(x, y) + log1p(exp(-|x - y|))``, whose max and |x - y| are kinked where
    x == y: differentiated as composed, its second derivative there would be 0 instead of 1/4
    (the Hessian of a logistic loss at zero weights would vanish). So the derivative comes from a
    rule (``custom_jvp``, as in JAX): ``tx * sigmoid(x - y) + ty * sigmoid(y - x)``, smooth
    everywhere. Outside any transform the formula is evaluated directly.
    """
    (x, y), dt = promote("logaddexp", x, y, dtype=_float_dtype(result_type(x, y)))
    if not isinstance(x, Tracer) and not isinstance(y, Tracer):
        return _logaddexp_value(asarray(x), asarray(y))
    return _logaddexp(x, y)


def _logaddexp_value(x: Array, y: Array) -> Array:
    # Where x == y the difference is 0; said explicitly, so that inf - inf gives no nan.
    delta = where(equal(x, y), _cast(0, get_aval(x).dtype), subtract(x, y))
    return add(maximum(x, y), log1p(exp(negative(abs(delta)))))


@custom_jvp
def _logaddexp(x: Array, y: Array) -> Array:
    return _logaddexp_value(x, y)


@_logaddexp.defjvp
def _logaddexp_jvp(primals: tuple, tangents: tuple) -> tuple:
    (x, y), (tx, ty) = primals, tangents
    # The weights are exp(x - out) = sigmoid(x - y) and sigmoid(y - x): 1/2 each at a tie, also of
    # equal infinities (where x - y alone would be nan); the select keeps x - y (and so its
    # derivative) at every finite tie.
    delta = where(logical_and(isinf(x), equal(x, y)), _cast(0, get_aval(x).dtype), subtract(x, y))
    tangent = add(multiply(tx, lax.logistic(delta)), multiply(ty, lax.logistic(negative(delta))))
    return _logaddexp(x, y), tangent


def copy(x: Array) -> Array:
    """A copy (traced values are immutable, so this is the identity on them)."""
    return x if isinstance(x, Tracer) else asarray(np.array(current_backend().to_numpy(x)))


def shape(x: Array) -> tuple[int, ...]:
    return get_aval(_as_operand(x)).shape


def ndim(x: Array) -> int:
    return get_aval(_as_operand(x)).ndim


def size(x: Array) -> int:
    return get_aval(_as_operand(x)).size


def astype(x: Array, dtype: Any, copy: bool = True) -> Array:
    """Cast to ``dtype`` (``copy`` is accepted for NumPy compatibility; arrays are immutable)."""
    return lax.convert_element_type(asarray(x) if not isinstance(x, Tracer) else x, as_dtype(dtype))


def concrete_aval_of(x: Any):
    return concrete_aval(x)
