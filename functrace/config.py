"""Global switches, as ``jax.config``: ``ft.config.update("debug_nans", True)``.

Each flag starts from its environment variable (``FUNCTRACE_DISABLE_JIT=1``,
``FUNCTRACE_DEBUG_NANS=1``, ``FUNCTRACE_DEBUG_INFS=1``). The flags are module attributes that the
code paths they affect read directly (one attribute load when off), so they are free when off.

>>> ft.config.update("disable_jit", True)   # doctest: +SKIP
>>> with ft.disable_jit():                   # the same, for a block
...     ft.jit(f)(x)                          # runs f eagerly: print() and pdb work inside
"""

from __future__ import annotations

import contextlib
import os
from typing import Any, Iterator

_ON = ("1", "true", "yes", "on")


def _env(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _ON


DISABLE_JIT: bool = _env("FUNCTRACE_DISABLE_JIT")
DEBUG_NANS: bool = _env("FUNCTRACE_DEBUG_NANS")
DEBUG_INFS: bool = _env("FUNCTRACE_DEBUG_INFS")
# Opt-in algebra that is not exact for every input (functrace.peephole): smaller higher-order
# derivatives, results that may differ in the last bits, or overflow where the written order does not.
INEXACT_REWRITES: bool = _env("FUNCTRACE_INEXACT_REWRITES")

CHECK_FLOATS: bool = DEBUG_NANS or DEBUG_INFS  # either check on: what the hot paths read
_IN_CHECKED_CALL: bool = False  # set while debug_nans runs a jitted function's compiled code

_FLAGS = {"disable_jit": "DISABLE_JIT", "debug_nans": "DEBUG_NANS", "debug_infs": "DEBUG_INFS",
          "inexact_rewrites": "INEXACT_REWRITES"}


def _attr(name: str) -> str:
    key = name[4:] if name.startswith("jax_") else name  # JAX spells them jax_debug_nans, ...
    try:
        return _FLAGS[key]
    except KeyError:
        raise ValueError(f"config: unknown option {name!r}; the options are {sorted(_FLAGS)}") from None


def update(name: str, value: Any) -> None:
    """Set option ``name`` (``disable_jit``, ``debug_nans``, ``debug_infs``, ``inexact_rewrites``; a ``jax_``
    prefix is accepted)."""
    if not isinstance(value, (bool, int)):
        raise TypeError(f"config.update({name!r}, ...): expected True or False, got {value!r}")
    global CHECK_FLOATS
    globals()[_attr(name)] = bool(value)
    CHECK_FLOATS = DEBUG_NANS or DEBUG_INFS


def read(name: str) -> bool:
    """The current value of option ``name``."""
    return globals()[_attr(name)]


@contextlib.contextmanager
def option(name: str, value: bool = True) -> Iterator[None]:
    """Within the block, option ``name`` is ``value``; afterwards it is what it was before.

    >>> with ft.config.option("inexact_rewrites"):   # doctest: +SKIP
    ...     ft.make_jaxpr(f)(x)
    """
    before = read(name)
    update(name, value)
    try:
        yield
    finally:
        update(name, before)


@contextlib.contextmanager
def disable_jit(disable: bool = True) -> Iterator[None]:
    """Within the block, ``jit(f)(...)`` calls ``f`` eagerly (as ``jax.disable_jit``): Python
    ``print``, breakpoints and value-dependent Python control flow work inside ``f``. Transforms
    other than ``jit`` (grad, vmap) still trace.

    >>> with ft.disable_jit():
    ...     ft.jit(lambda x: x * 2)(3.0)
    6.0
    """
    with option("disable_jit", disable):
        yield
