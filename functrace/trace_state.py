"""The state every tracing module shares: the thread-local trace stack and the user's line that
equations are attributed to, the active backend's resolver, and the helpers that put the user's
line into errors. Split out of ``functrace.tracing`` (which re-exports these names) so that the
tracer type and the trace can both read it.

Interpreters that re-bind a jaxpr's equations (jvp, vmap, transpose, jet) attribute each to its
equation's user line with ``interpreting()``; nothing outside the tracing modules reads
``_state`` itself.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Callable, Iterator

from functrace.errors import FunctraceError
from functrace.util import format_frame, user_frame

if TYPE_CHECKING:
    from functrace.tracing import Trace


class _TraceState(threading.local):
    def __init__(self) -> None:
        self.stack: list[Trace] = []
        self.source: tuple[str, int] | None = None  # set by interpreters re-binding an eqn
        self.purpose: str | None = None  # the transform tracing now (``tracing_for``), named in errors


_state = _TraceState()

# The backend is chosen by backends/registry.py; the facade installs this resolver so the core
# never imports a backend.
_backend_resolver: Callable[[], Any] | None = None


def set_backend_resolver(fn: Callable[[], Any]) -> None:
    global _backend_resolver
    _backend_resolver = fn


def current_backend():
    if _backend_resolver is None:
        raise RuntimeError("no backend resolver installed; import functrace rather than its submodules")
    return _backend_resolver()


def located(e: FunctraceError) -> FunctraceError:
    e.add_location(format_frame(_state.source or user_frame()))
    return e


@contextmanager
def source_info(info: tuple[str, int] | None) -> Iterator[None]:
    """Attribute equations recorded inside to ``info`` (the user's line that caused them)."""
    saved = _state.source
    _state.source = info
    try:
        yield
    finally:
        _state.source = saved


def _attribute(info: tuple[str, int] | None) -> None:
    _state.source = info


@contextmanager
def interpreting() -> Iterator[Callable[[tuple[str, int] | None], None]]:
    """For an interpreter that re-binds a jaxpr's equations one by one: yields ``at``, and
    ``at(eqn.source_info)`` attributes what is recorded or raised next to that equation's user
    line. The attribution in force before is restored on exit. (A function rather than one
    ``with`` per equation: it costs one call per equation.)"""
    saved = _state.source
    try:
        yield _attribute
    finally:
        _state.source = saved


@contextmanager
def tracing_for(purpose: str) -> Iterator[None]:
    """Name the transform whose traces open inside (``"inside jit"``, ``"under vmap"``), so that
    an error about an abstract value names the transform actually active."""
    saved = _state.purpose
    _state.purpose = purpose
    try:
        yield
    finally:
        _state.purpose = saved


def current_source() -> tuple[str, int] | None:
    return _state.source or user_frame()


def user_error(e: Exception) -> Exception:
    """``e`` with the user's file:line in front of its message (for built-in exception types too)."""
    if isinstance(e, FunctraceError):
        return located(e)
    if e.args:
        e.args = (f"{format_frame(current_source())}: {e.args[0]}",) + tuple(e.args[1:])
    return e
