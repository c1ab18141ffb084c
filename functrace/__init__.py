"""functrace: a small JAX-like functional transformation framework.

Trace pure functions into a jaxpr-style IR, transform it (grad, jvp, vjp, ...), and run it on
NumPy or PyTorch. This module is the facade: it re-exports the core (``functrace``), the
transforms (``functrace.transforms``) and the backends (``functrace.backends``). Names from the last two are
loaded on first use (PEP 562), so importing any module of the three packages first never
runs into an import cycle through this facade.
"""

import importlib as _importlib
from typing import Any as _Any

# _layout first: it lets a source tree import functrace.transforms and functrace.backends.
from functrace import _layout, lax, nn, numpy, peephole, tree_util  # noqa: F401
from functrace.api import (
    ShapeDtypeStruct,
    block_until_ready,
    device_get,
    device_put,
    eval_jaxpr,
    eval_shape,
    make_jaxpr,
)
from functrace.errors import (  # noqa: F401
    AxisError,
    BackendError,
    ConcretizationError,
    DTypeError,
    FunctraceError,
    GradError,
    ShapeError,
    TracerArrayConversionError,
    UnexpectedTracerError,
    UnsupportedNumpyFunctionError,
)
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var  # noqa: F401
from functrace.tracing import set_backend_resolver as _set_backend_resolver


def _first_backend_lookup() -> _Any:
    """Install the registry's resolver on first use (the core never imports a backend)."""
    from functrace.backends import registry

    _set_backend_resolver(registry.active_backend)
    return registry.active_backend()


_set_backend_resolver(_first_backend_lookup)

# Public name -> (module, attribute or None for the module itself), imported on first access.
_LAZY: dict[str, tuple[str, str | None]] = {
    "grad": ("functrace.transforms.autodiff", "grad"),
    "value_and_grad": ("functrace.transforms.autodiff", "value_and_grad"),
    "vjp": ("functrace.transforms.autodiff", "vjp"),
    "jvp": ("functrace.transforms.autodiff", "jvp"),
    "linearize": ("functrace.transforms.autodiff", "linearize"),
    "jacfwd": ("functrace.transforms.jacobians", "jacfwd"),
    "jacrev": ("functrace.transforms.jacobians", "jacrev"),
    "hessian": ("functrace.transforms.jacobians", "hessian"),
    "stop_gradient": ("functrace.transforms.autodiff", "stop_gradient"),
    "jit": ("functrace.transforms.jit", "jit"),
    "vmap": ("functrace.transforms.batching", "vmap"),
    "jet": ("functrace.transforms.jet", "jet"),
    "derivatives": ("functrace.transforms.jet", "derivatives"),
    "custom_jvp": ("functrace.ops.custom_jvp", "custom_jvp"),
    "custom_vjp": ("functrace.ops.custom_vjp", "custom_vjp"),
    "test_util": ("functrace.test_util", None),
    "scipy": ("functrace.scipy", None),
    "optim": ("functrace.optim", None),
    "flatten_util": ("functrace.flatten_util", None),
    "random": ("functrace.random", None),
    "distributed": ("functrace.distributed", None),
    "get_backend": ("functrace.backends.registry", "get_backend"),
    "use_backend": ("functrace.backends.registry", "use_backend"),
    "backend_names": ("functrace.backends.registry", "backend_names"),
    "config": ("functrace.config", None),
    "disable_jit": ("functrace.config", "disable_jit"),
    "debug": ("functrace.debug", None),
    "checkpoint": ("functrace.ops.remat", "checkpoint"),
    "remat": ("functrace.ops.remat", "remat"),
    "checkpoint_policies": ("functrace.ops.remat", "checkpoint_policies"),
    "checkpoint_name": ("functrace.ops.remat", "checkpoint_name"),
}


def __getattr__(name: str) -> _Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'functrace' has no attribute {name!r}") from None
    mod = _importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__version__ = "0.1.0"

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacfwd", "jacrev", "hessian", "stop_gradient",
    "jit", "vmap", "jet", "derivatives", "custom_jvp", "custom_vjp", "test_util", "make_jaxpr", "eval_jaxpr",
    "device_get", "device_put", "eval_shape", "ShapeDtypeStruct",
    "get_backend",
    "use_backend", "backend_names", "block_until_ready",
    "lax", "nn", "numpy", "scipy", "tree_util", "ClosedJaxpr", "Jaxpr",
]
