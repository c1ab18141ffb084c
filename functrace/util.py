"""Small helpers shared by the core: length-checked zip/map and locating the user's line."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Iterable

import numpy as _np


def safe_zip(*seqs: Iterable[Any]) -> list[tuple]:
    """``zip`` that refuses sequences of different lengths (a silent truncation hides bugs)."""
    lists = [list(s) for s in seqs]
    n = len(lists[0])
    for s in lists[1:]:
        if len(s) != n:
            raise ValueError(f"safe_zip: lengths differ ({[len(s) for s in lists]})")
    return list(zip(*lists, strict=True))


def safe_map(f: Callable, *seqs: Iterable[Any]) -> list:
    """``map`` over length-checked sequences, returning a list."""
    return [f(*args) for args in safe_zip(*seqs)]


def split_list(seq: list, n: int) -> tuple[list, list]:
    return list(seq[:n]), list(seq[n:])


def _package_dirs() -> tuple[str, ...]:
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(here)
    return (
        here + os.sep,
        os.path.join(root, "transforms") + os.sep,
        os.path.join(root, "backends") + os.sep,
        os.path.dirname(_np.__file__) + os.sep,
        os.path.dirname(os.__file__) + os.sep + "contextlib",
        os.path.dirname(os.__file__) + os.sep + "functools",
    )


_INTERNAL_DIRS = _package_dirs()


# file name -> whether it is functrace's own (or NumPy's, ...): asked for every frame that
# ``user_frame`` passes, several per traced operation. Bounded (generated code has many names).
_internal_files: dict[str, bool] = {}


def user_frame() -> tuple[str, int] | None:
    """The (file, line) of the innermost stack frame outside functrace itself.

    Recorded on every equation, and named in every error, so a user sees *their* line.
    """
    f = sys._getframe(1)
    known = _internal_files
    while f is not None:
        fn = f.f_code.co_filename
        internal = known.get(fn)
        if internal is None:
            internal = fn.startswith(_INTERNAL_DIRS)
            if len(known) >= 4096:
                known.clear()
            known[fn] = internal
        if not internal:
            return fn, f.f_lineno
        f = f.f_back
    return None


def format_frame(frame: tuple[str, int] | None) -> str:
    if frame is None:
        return "<unknown>"
    return f"{frame[0]}:{frame[1]}"


def normalize_axis(axis: int, ndim: int) -> int:
    """Turn a possibly negative axis into a non-negative one; bad axes raise AxisError."""
    from functrace.errors import AxisError

    if not isinstance(axis, (int, _np.integer)) or isinstance(axis, bool):
        raise _located(AxisError(f"axis must be an integer, got {axis!r}"))
    if not -ndim <= axis < max(ndim, 1) or (ndim == 0 and axis not in (0, -1)):
        raise _located(AxisError(f"axis {axis} is out of bounds for an array of dimension {ndim}"))
    return int(axis) % ndim if ndim else 0


def _located(err: Exception) -> Exception:
    """``err`` naming the user's line (``tracing.located``, imported late: tracing imports this module)."""
    from functrace.tracing import located

    return located(err)
