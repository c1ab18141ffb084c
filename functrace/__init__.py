"""functrace: a small JAX-like functional transformation framework.

Trace pure functions into a jaxpr-style IR, transform it (grad, jvp, vjp, ...), and run it on
NumPy or PyTorch. This module is the facade: it ties the core (``functrace``), the transforms
(``transforms``) and the backends (``backends``) together and re-exports the public API.
"""

import sys as _sys

from functrace import lax, nn, peephole, tree_util  # noqa: F401
from functrace import numpy  # noqa: F401
from functrace.api import device_get, eval_jaxpr, make_jaxpr
from functrace.errors import (  # noqa: F401
    AxisError, BackendError, ConcretizationError, DTypeError, FunctraceError, GradError, ShapeError,
    UnexpectedTracerError, UnsupportedNumpyFunctionError,
)
from functrace.ir import ClosedJaxpr, Jaxpr, JaxprEqn, Literal, Var  # noqa: F401
from functrace.tracing import set_backend_resolver as _set_backend_resolver

from backends import registry as _registry
from transforms import test_util  # noqa: F401
from transforms.autodiff import (  # noqa: F401
    grad, hessian, jacfwd, jacrev, jvp, linearize, stop_gradient, value_and_grad, vjp,
)

_set_backend_resolver(_registry.active_backend)
_sys.modules[__name__ + ".test_util"] = test_util  # so `from functrace.test_util import check_grads` works
get_backend = _registry.get_backend
use_backend = _registry.use_backend
backend_names = _registry.backend_names

__version__ = "0.1.0"

__all__ = [
    "grad", "value_and_grad", "vjp", "jvp", "linearize", "jacfwd", "jacrev", "hessian", "stop_gradient",
    "test_util", "make_jaxpr", "eval_jaxpr", "device_get", "get_backend", "use_backend", "backend_names",
    "lax", "nn", "numpy", "tree_util", "ClosedJaxpr", "Jaxpr",
]
