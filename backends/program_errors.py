"""An error raised while a compiled or planned program runs names the equation that raised it and
the user's line that recorded that equation, as errors raised while tracing do.

The plan (``backends.plan``) knows which step failed. Compiled code is Python source that
``backends.lowering`` wrote, one line per equation: it registers here, for each generated file,
which line holds which equation, and ``jit`` calls ``add_equation_note`` on the way out of a
failed call, which finds the innermost generated line in the traceback. Entries are removed
with the compiled function (``lowering._forget_source``), so the table never outgrows the
programs alive.
"""

from __future__ import annotations

from typing import Any

from functrace.util import format_frame

# generated file name -> (line number -> equation index, the equations, the program's name)
_lines: dict[str, tuple[dict[int, int], list, str]] = {}


def equation_note(eqn: Any, i: int, name: str) -> str:
    """The note an error raised by the ``i``-th equation of program ``name`` gets."""
    return (f"functrace: raised by `{eqn.primitive.name}` (equation {i} of the program `{name}`), "
            f"recorded at {format_frame(eqn.source_info)}")


def register(filename: str, lines: dict[int, int], eqns: list, name: str) -> None:
    if lines:
        _lines[filename] = (lines, eqns, name)


def forget(filename: str) -> None:
    _lines.pop(filename, None)


def add_equation_note(e: BaseException) -> None:
    """Note on ``e`` the equation of the innermost generated line its traceback passes through
    (none when it passes through none), unless a note already names it."""
    found = None
    tb = e.__traceback__
    while tb is not None:
        entry = _lines.get(tb.tb_frame.f_code.co_filename)
        if entry is not None:
            i = entry[0].get(tb.tb_lineno)
            if i is not None:
                found = entry[1][i], i, entry[2]
        tb = tb.tb_next
    if found is not None:
        note = equation_note(*found)
        if note not in getattr(e, "__notes__", ()):
            e.add_note(note)


__all__ = ["equation_note", "register", "forget", "add_equation_note"]
