"""Operators and methods on traced values, and NumPy's dispatch protocols.

``np.sin(x)`` on a tracer reaches ``Tracer.__array_ufunc__``; ``np.sum(x)`` reaches
``Tracer.__array_function__``. Both route to the ``functrace.numpy`` function of the same name,
so plain NumPy code traces exactly as ``fnp`` code does.
"""

from __future__ import annotations

import inspect
import sys
from functools import lru_cache
from typing import Any

import numpy as np

from functrace.errors import ConcretizationError, UnsupportedNumpyFunctionError
from functrace.numpy._core import user_error
from functrace.tracing import Tracer, located


def install(fnp: Any) -> None:
    """Give ``Tracer`` NumPy's operators and methods, implemented by the ``fnp`` namespace."""
    from functrace.numpy import _indexing

    def swap(f):
        return lambda self, other: f(other, self)

    ops = {
        "__add__": fnp.add, "__radd__": swap(fnp.add),
        "__sub__": fnp.subtract, "__rsub__": swap(fnp.subtract),
        "__mul__": fnp.multiply, "__rmul__": swap(fnp.multiply),
        "__truediv__": fnp.true_divide, "__rtruediv__": swap(fnp.true_divide),
        "__floordiv__": fnp.floor_divide, "__rfloordiv__": swap(fnp.floor_divide),
        "__divmod__": fnp.divmod, "__rdivmod__": swap(fnp.divmod),
        "__mod__": fnp.remainder, "__rmod__": swap(fnp.remainder),
        "__pow__": fnp.power, "__rpow__": swap(fnp.power),
        "__matmul__": fnp.matmul, "__rmatmul__": swap(fnp.matmul),
        "__and__": fnp.bitwise_and, "__rand__": swap(fnp.bitwise_and),
        "__or__": fnp.bitwise_or, "__ror__": swap(fnp.bitwise_or),
        "__xor__": fnp.bitwise_xor, "__rxor__": swap(fnp.bitwise_xor),
        "__lshift__": fnp.left_shift, "__rlshift__": swap(fnp.left_shift),
        "__rshift__": fnp.right_shift, "__rrshift__": swap(fnp.right_shift),
        "__eq__": fnp.equal, "__ne__": fnp.not_equal, "__lt__": fnp.less, "__le__": fnp.less_equal,
        "__gt__": fnp.greater, "__ge__": fnp.greater_equal,
        "__neg__": fnp.negative, "__pos__": fnp.positive, "__abs__": fnp.abs, "__invert__": fnp.invert,
        "__getitem__": _indexing.getitem, "__setitem__": _indexing.setitem_error,
    }
    for name, f in ops.items():
        setattr(Tracer, name, f)
    Tracer.__hash__ = object.__hash__

    methods = {
        "sum": fnp.sum, "mean": fnp.mean, "prod": fnp.prod, "max": fnp.max, "min": fnp.min,
        "var": fnp.var, "std": fnp.std, "argmax": fnp.argmax, "argmin": fnp.argmin, "all": fnp.all,
        "any": fnp.any, "cumsum": fnp.cumsum, "ravel": fnp.ravel, "flatten": fnp.ravel,
        "squeeze": fnp.squeeze, "swapaxes": fnp.swapaxes, "dot": fnp.dot, "clip": fnp.clip,
        "astype": fnp.astype, "round": fnp.round, "copy": fnp.copy, "take": fnp.take,
        "repeat": fnp.repeat, "trace": fnp.trace, "diagonal": lambda self, offset=0: fnp.diag(self, offset),
        "conj": fnp.conj, "conjugate": fnp.conj,
        # JAX's array methods: sort and argsort return new arrays (NumPy's ndarray.sort sorts in place)
        "sort": fnp.sort, "argsort": fnp.argsort, "cumprod": fnp.cumprod, "nonzero": fnp.nonzero,
        "searchsorted": fnp.searchsorted,
    }
    for name, f in methods.items():
        setattr(Tracer, name, f)

    def reshape(self, *shape, order="C"):
        return fnp.reshape(self, shape[0] if len(shape) == 1 else shape, order=order)

    def transpose(self, *axes):
        return fnp.transpose(self, axes[0] if len(axes) == 1 and not isinstance(axes[0], int) else (axes or None))

    Tracer.reshape = reshape
    Tracer.transpose = transpose
    Tracer.__round__ = _round
    Tracer.__format__ = _format
    Tracer.T = property(lambda self: fnp.transpose(self))
    Tracer.mT = property(lambda self: fnp.swapaxes(self, -1, -2))
    Tracer.real = property(fnp.real)
    Tracer.imag = property(fnp.imag)

    ufuncs, functions = _dispatch_tables(fnp)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if kwargs.get("out") is not None:
            raise user_error(TypeError(f"numpy.{ufunc.__name__}(..., out=...) cannot write into a traced array"))
        kwargs.pop("out", None)
        if method == "__call__":
            f = ufuncs.get(ufunc) or _scipy_special(ufunc)
            if f is not None and not kwargs:
                return f(*inputs)
            if f is not None and set(kwargs) <= {"dtype"}:
                if kwargs.get("dtype") is None:
                    return f(*inputs)
                # NumPy computes in the requested dtype: the inputs are cast, not the result.
                dt = kwargs["dtype"]
                return f(*[x if isinstance(x, (bool, int, float, complex)) else fnp.astype(x, dt) for x in inputs])
        elif method == "reduce":
            red = {np.add: fnp.sum, np.multiply: fnp.prod, np.maximum: fnp.max, np.minimum: fnp.min,
                   np.logical_and: fnp.all, np.logical_or: fnp.any}.get(ufunc)
            if red is not None:
                kw = {k: v for k, v in kwargs.items() if k in ("axis", "keepdims")}
                kw.setdefault("axis", 0)
                return red(*inputs, **kw)
        special = sys.modules.get("scipy.special")
        if special is not None and getattr(special, ufunc.__name__, None) is ufunc:
            raise located(UnsupportedNumpyFunctionError(
                f"scipy.special.{ufunc.__name__} has no traced equivalent (functrace.scipy.special has "
                f"{', '.join(_SCIPY_SPECIAL)}); rewrite it with functrace.numpy functions"))
        raise located(UnsupportedNumpyFunctionError(
            f"numpy.{ufunc.__name__}{'' if method == '__call__' else '.' + method} has no traced equivalent "
            f"in functrace.numpy{' with arguments ' + str(sorted(kwargs)) if kwargs else ''}; "
            "rewrite it with functrace.numpy functions"))

    def __array_function__(self, func, types, args, kwargs):
        f = functions.get(func)
        if f is None:
            mod = getattr(func, "__module__", "numpy") or "numpy"
            mod = "numpy" if mod.startswith("numpy._core") or mod == "numpy.core" else mod
            raise located(UnsupportedNumpyFunctionError(
                f"{mod}.{func.__name__} has no traced equivalent in functrace.numpy; rewrite this line "
                "with functrace.numpy operations (or compute it outside the transformed function)"))
        return f(*args, **_traceable_kwargs(func, f, kwargs))

    Tracer.__array_ufunc__ = __array_ufunc__
    Tracer.__array_function__ = __array_function__


def _round(self: Tracer, ndigits: int | None = None) -> Any:
    """``round(x)`` and ``round(x, n)`` as in JAX: arrays, traceable (no concrete value needed);
    without ``ndigits`` the rounded value is cast to the default integer, as Python's ``round``
    returns an int."""
    from functrace import numpy as fnp

    out = fnp.round(self, ndigits or 0)
    return out if ndigits is not None else fnp.astype(out, int)


def _format(self: Tracer, spec: str) -> str:
    """``f"{x:.3f}"``: the concrete value formatted as NumPy formats it (a rank-0 value as its
    scalar, as JAX does). Reading a value drops no derivative. Inside jit the value is abstract:
    the error says how to print it when the program runs."""
    if not spec:
        return str(self)
    if self.val is None:
        raise located(ConcretizationError(
            f"formatting a traced {self.aval.str_short()} with {spec!r} needs its value, which is abstract here "
            f"(inside jit or make_jaxpr); print it when the program runs with "
            f"ft.debug.print('{{x:{spec}}}', x=x)"))
    v = self.to_host(f"formatting with {spec!r}")
    return format(v[()] if v.ndim == 0 else v, spec)


# scipy.special's ufuncs that functrace.scipy.special implements (its polygamma, multigammaln and
# zeta are Python functions, not ufuncs: NumPy's protocol never hands them a traced value).
_SCIPY_SPECIAL = ("erf", "erfc", "erfinv", "expit", "logit", "gammaln", "gamma", "digamma", "psi",
                  "betaln", "betainc", "gammainc", "gammaincc", "ndtr", "ndtri", "log_ndtr", "xlogy",
                  "xlog1py", "entr", "i0e", "i1e", "i0", "i1")


def _scipy_special(ufunc: Any) -> Any:
    """``functrace.scipy.special``'s function for one of ``scipy.special``'s ufuncs, else None.
    SciPy is never imported here: a SciPy ufunc can only arrive once the user has imported it."""
    special = sys.modules.get("scipy.special")
    name = getattr(ufunc, "__name__", "")
    if special is None or name not in _SCIPY_SPECIAL or getattr(special, name, None) is not ufunc:
        return None
    from functrace.scipy import special as ft_special

    return getattr(ft_special, name)


# Keyword values that change nothing about the result (hints, or NumPy's own defaults spelled
# out), so a traced call may drop them when the functrace.numpy function has no such argument.
_NEUTRAL = {"out": (None,), "where": (True,), "casting": ("same_kind",), "order": ("K", "C", "A"),
            "subok": (True,), "like": (None,)}
_ANY = ("optimize",)


@lru_cache(maxsize=None)
def _parameters(fn: Any) -> tuple[frozenset | None, dict]:
    """The keyword names ``fn`` accepts (None when it takes ``**kwargs``) and its defaults."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None, {}
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None, {}
    names = frozenset(p.name for p in params if p.kind is not p.POSITIONAL_ONLY)
    return names, {p.name: p.default for p in params if p.default is not p.empty}


def _traceable_kwargs(func: Any, f: Any, kwargs: dict) -> dict:
    """``kwargs`` of NumPy's ``func`` that the functrace.numpy ``f`` understands.

    Arguments ``f`` lacks are dropped when they have no effect (``out=None``, NumPy's default
    value, an ``optimize`` hint); any other value raises an error that names the argument.
    """
    accepted, _ = _parameters(f)
    if accepted is None:
        return kwargs
    _, np_defaults = _parameters(func)
    out = {}
    for k, v in kwargs.items():
        if k in accepted:
            out[k] = v
            continue
        default = np_defaults.get(k, inspect.Parameter.empty)
        neutral = k in _ANY or v is default or any(v is n or (type(v) is type(n) and v == n)
                                                   for n in _NEUTRAL.get(k, ()))
        if not neutral:
            raise located(UnsupportedNumpyFunctionError(
                f"numpy.{func.__name__}(..., {k}={v!r}) has no traced equivalent in functrace.numpy "
                f"(functrace.numpy.{f.__name__} has no {k!r} argument); leave it out or rewrite this line"))
    return out


_UFUNC_ALIASES = {
    "absolute": "abs", "divide": "true_divide", "conjugate": "conj",
}


def _dispatch_tables(fnp: Any) -> tuple[dict, dict]:
    ufuncs: dict = {}
    functions: dict = {}
    for name in fnp.__all__:
        target = getattr(fnp, name)
        np_obj = getattr(np, name, None)
        if isinstance(np_obj, np.ufunc):
            ufuncs[np_obj] = target
        elif callable(np_obj):
            functions[np_obj] = target
    for np_name, fnp_name in _UFUNC_ALIASES.items():
        if fnp_name is not None:
            ufuncs[getattr(np, np_name)] = getattr(fnp, fnp_name)
    for name in getattr(fnp.linalg, "__all__", ["norm"]):
        functions[getattr(np.linalg, name)] = getattr(fnp.linalg, name)
    for name in fnp.fft.__all__:
        functions[getattr(np.fft, name)] = getattr(fnp.fft, name)
    return ufuncs, functions
