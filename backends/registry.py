"""Which backend is active: ``FUNCTRACE_BACKEND`` at first use, ``use_backend`` to switch."""

from __future__ import annotations

import importlib
import os
import threading
from contextlib import contextmanager
from typing import Iterator

from functrace.backends.base import Backend
from functrace.errors import BackendError
from functrace.primitives import all_primitives

_MODULES = {"numpy": "functrace.backends.numpy_backend", "torch": "functrace.backends.torch_backend"}
_instances: dict[str, Backend] = {}
_default: list[Backend] = []


class _Local(threading.local):
    def __init__(self) -> None:
        self.stack: list[Backend] = []


_local = _Local()


def backend_names() -> list[str]:
    return list(_MODULES)


def load_backend(name: str) -> Backend:
    """The backend called ``name``, created on first request."""
    b = _instances.get(name)
    if b is not None:
        return b
    if name not in _MODULES:
        raise BackendError(
            f"unknown backend {name!r}; valid backends are: {', '.join(repr(n) for n in _MODULES)} "
            "(set FUNCTRACE_BACKEND or call functrace.use_backend)"
        )
    module = importlib.import_module(_MODULES[name])
    b = module.make_backend()
    # Control flow and custom-derivative primitives are defined in the core with backend-neutral
    # implementations (they interpret their sub-jaxprs); every backend gets them.
    from functrace.ops import generic_impls as core_impls

    for prim, impl in core_impls.items():
        b.impls.setdefault(prim, impl)
    missing = sorted(p.name for p in all_primitives.values() if p not in b.impls)
    if missing:
        raise NotImplementedError(f"the {name} backend lacks implementations of {missing}")
    _instances[name] = b
    return b


def active_backend() -> Backend:
    stack = _local.stack
    if stack:
        return stack[-1]
    if not _default:
        _default.append(load_backend(os.environ.get("FUNCTRACE_BACKEND", "numpy").strip().lower() or "numpy"))
    return _default[0]


def get_backend() -> str:
    """The name of the active backend: ``"numpy"`` or ``"torch"``."""
    return active_backend().name


@contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Run the body on backend ``name`` (in this thread), then switch back."""
    b = load_backend(name)
    _local.stack.append(b)
    try:
        yield b
    finally:
        _local.stack.pop()
