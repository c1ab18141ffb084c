"""The named-axis environment of the collectives: which names a running ``vmap`` binds (a stack
of ``AxisFrame``, one per thread) and which a process group binds (``functrace.distributed``), and
the checks every collective wrapper makes on its ``axis_name`` before it binds a primitive.

Kept apart from ``collectives`` (the primitives and their rules) so the batching interpreter and
the backends read the environment without the rules.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Hashable, Iterator

import numpy as np

from functrace.errors import AxisError, UnboundAxisError
from functrace.tracing import current_level, located, user_error


# ---------------------------------------------------------------------------- the axis environment
@dataclass(frozen=True)
class AxisFrame:
    """A vmap in progress: its axis name (None for an unnamed vmap) and its size."""

    name: Hashable | None
    size: int
    level: int = 0  # the level of the innermost trace when the vmap began: its own traces are deeper


class _AxisEnv(threading.local):
    def __init__(self) -> None:
        self.frames: list[AxisFrame] = []


_env = _AxisEnv()

# name -> the process group it is bound to (``functrace.distributed.ProcessAxis``); filled by
# ``functrace.distributed.initialize``, emptied by ``shutdown``.
process_axes: dict[Hashable, Any] = {}


@contextmanager
def axis_frame(name: Hashable | None, size: int) -> Iterator[AxisFrame]:
    """Bind ``name`` to a vmap of ``size`` members while the block runs (the innermost binding wins)."""
    frame = AxisFrame(name, int(size), current_level())
    _env.frames.append(frame)
    try:
        yield frame
    finally:
        _env.frames.pop()


def current_frame() -> AxisFrame | None:
    """The frame of the vmap whose interpreter is running (the innermost one)."""
    return _env.frames[-1] if _env.frames else None


def _vmap_frame(name: Hashable) -> AxisFrame | None:
    for f in reversed(_env.frames):
        if f.name == name:
            return f
    return None


def names_of(axis_name: Any) -> tuple:
    """``axis_name`` as a tuple of names (JAX accepts one name or a tuple/list of them)."""
    names = tuple(axis_name) if isinstance(axis_name, (tuple, list)) else (axis_name,)
    for n in names:
        if n is None or isinstance(n, (int, np.integer)):
            raise located(AxisError(f"collectives take axis names (strings), got {n!r}; name the axis with "
                                    "vmap(..., axis_name=...) or functrace.distributed.initialize(axis_name=...)"))
    return names


def _unbound(name: Hashable) -> UnboundAxisError:
    bound = [f.name for f in _env.frames if f.name is not None] + list(process_axes)
    return located(UnboundAxisError(
        f"unbound axis name {name!r}: no enclosing vmap(..., axis_name={name!r}) and no process group "
        f"initialised with functrace.distributed.initialize(axis_name={name!r})"
        + (f" (bound here: {bound})" if bound else "")))


def axis_size(axis_name: Any) -> int:
    """The number of members of the named axis (the product, for a tuple of names), as
    ``jax.lax.axis_size``: a vmap's batch size, or the number of processes."""
    size = 1
    for n in names_of(axis_name):
        frame = _vmap_frame(n)
        if frame is not None:
            size *= frame.size
        elif n in process_axes:
            size *= process_axes[n].size
        else:
            raise _unbound(n)
    return size


def split_names(names: tuple) -> tuple[int, tuple]:
    """(product of the sizes of the vmap axes among ``names``, the process-axis names among them)."""
    size, procs = 1, []
    for n in names:
        frame = _vmap_frame(n)
        if frame is not None:
            size *= frame.size
        elif n in process_axes:
            procs.append(n)
        else:
            raise _unbound(n)
    return size, tuple(procs)


def process_axis(name: Hashable) -> Any:
    """The process group bound to ``name`` (for the backends' implementations)."""
    if name not in process_axes:
        raise _unbound(name)
    return process_axes[name]




def _no_groups(what: str, axis_index_groups: Any) -> None:
    if axis_index_groups is not None:
        raise user_error(NotImplementedError(
            f"{what}: axis_index_groups (collectives within subgroups of the axis) is not supported; "
            "nest two named vmaps instead, or gather with all_gather and combine the members you need"))


def _one_name(what: str, axis_name: Any) -> tuple:
    names = names_of(axis_name)
    if len(names) != 1:
        raise located(AxisError(f"{what} takes one axis name, got {names!r}"))
    axis_size(names)  # bound?
    return names


# ---------------------------------------------------------------------------- shared by the backends
def vmap_names_only(names: tuple) -> bool:
    return all(_vmap_frame(n) is not None for n in names)


def not_computable_here(prim: str, names: tuple) -> UnboundAxisError:
    """An implementation reached with a vmap axis whose result differs per member."""
    return located(UnboundAxisError(
        f"{prim} over the vmap axis {names!r} of a value that is not mapped by that vmap cannot be computed "
        "per member here; pass the value through the vmapped function's arguments instead"))
