"""SciPy's own non-ufunc functions called on traced values.

``scipy.special.logsumexp``, ``scipy.linalg.*``, ``scipy.stats.norm.logpdf`` ... are Python code
that converts its inputs with ``numpy.asarray``, which a traced value refuses (its derivative
would be lost). NumPy cannot dispatch that conversion, so the refusal in ``Tracer.__array__``
is the only place to catch it: there, when SciPy's code is on the stack, this module names the
SciPy function the user called, the functrace function to call instead, and the user's line
(not SciPy's file).
"""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any

from functrace.errors import TracerArrayConversionError
from functrace.util import _INTERNAL_DIRS, format_frame

_WRAPPERS = {"wrapper", "inner", "decorated", "wrapped", "fun", "func", "f"}


def _scipy_dir() -> str | None:
    scipy = sys.modules.get("scipy")
    path = getattr(scipy, "__file__", None)
    return os.path.dirname(path) + os.sep if path else None


def _public_name(frames: list[FrameType]) -> str | None:
    """The public SciPy name of the outermost call, as ``scipy.<subpackage>.<name>``: the first
    frame, from the outside in, whose function is exported by its subpackage (decorators'
    wrappers and private helpers are skipped); a method names the exported object it belongs to
    (``scipy.stats.norm``)."""
    for f in frames:
        module, name = f.f_globals.get("__name__", ""), f.f_code.co_name
        if name in _WRAPPERS:  # a decorator's wrapper: the function it wraps is in its closure
            wrapped = [f.f_locals.get(v) for v in f.f_code.co_freevars]
            w = next((w for w in wrapped if callable(w) and hasattr(w, "__name__")), None)
            module, name = (getattr(w, "__module__", module), w.__name__) if w is not None else (module, name)
        parts = module.split(".")
        if len(parts) < 2 or parts[0] != "scipy" or name.startswith("_") or name in _WRAPPERS:
            continue
        sub = ".".join(parts[:2])
        owner = f.f_locals.get("self")
        if owner is not None:  # a method of an object the subpackage exports (stats.norm, ...)
            names = [k for k, v in vars(sys.modules.get(sub, object)).items() if v is owner and not k.startswith("_")]
            if names:
                return f"{sub}.{names[0]}.{name}"
        if hasattr(sys.modules.get(sub), name):
            return f"{sub}.{name}"
    return None


def _functrace_twin(public: str) -> str | None:
    """``functrace.scipy...`` of the same name, if functrace has it."""
    from functrace import scipy as ft_scipy

    obj: Any = ft_scipy
    for part in public.split(".")[1:]:
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return "functrace." + public


def scipy_conversion_error(what: str) -> TracerArrayConversionError | None:
    """The error for a traced ``what`` converted by SciPy's code, or None when SciPy's code is not
    on the stack (then the generic conversion error applies)."""
    scipy_dir = _scipy_dir()
    if scipy_dir is None:
        return None
    f = sys._getframe(1)
    scipy_frames: list[FrameType] = []
    while f is not None:
        fn = f.f_code.co_filename
        if fn.startswith(scipy_dir):
            scipy_frames.append(f)
        elif not fn.startswith(_INTERNAL_DIRS) and scipy_frames:
            break  # the user's line that called into SciPy
        f = f.f_back
    if not scipy_frames:
        return None
    public = _public_name(scipy_frames[::-1])
    called = public or "a SciPy function"
    twin = _functrace_twin(public) if public else None
    advice = (f"call {twin} instead (it takes traced values and differentiates)" if twin else
              "functrace.scipy has no function of that name: rewrite it with functrace.numpy / functrace.scipy "
              "functions, or call it outside the transformed function, on concrete values")
    err = TracerArrayConversionError(
        f"{called} was called on a traced {what}: SciPy converts its inputs with numpy.asarray, which would cut "
        f"the value off from the trace and lose its derivative; {advice}")
    err.add_location(format_frame((f.f_code.co_filename, f.f_lineno) if f is not None else None))
    return err
