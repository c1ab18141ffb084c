"""Python's cyclic garbage collector around jit's tracing, optimising and lowering.

A separate module because it reaches into the interpreter's collector, which nothing else in
functrace touches (``gc.disable``, ``gc.freeze``).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

# A pause that leaves this many new objects or more behind (a program of a few thousand
# equations) moves them to the collector's oldest generation (see ``gc_paused``).
_PROMOTE_FROM_OBJECTS = 100_000


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a program is traced, optimised and lowered.

    Those steps allocate many long-lived objects (tracers, equations, variables) and few cycles;
    each allocation burst triggers collections that walk every live object again, which made
    the first call of a large program (100,000 equations) spend more than half its time in the
    collector. The collector resumes afterwards (only if it was on: nested jits and other
    threads leave it as they found it).

    What the pause leaves behind is the cached program, which lives as long as the jitted
    function. The collector takes new objects to die young and would walk each of them again in
    the first two or three collections after the pause (a fifth of the first call of a program of
    20,000 operations), so when the pause leaves many they go straight to its oldest generation
    (``gc.freeze`` then ``gc.unfreeze``), which only full collections walk. The young generation
    is collected as the pause starts, so what moves is what the pause made (with its few cycles,
    freed by the next full collection). Not done while the user has frozen objects of their own:
    ``unfreeze`` would release them.
    """
    if not gc.isenabled():
        yield
        return
    gc.collect(0)
    gc.disable()
    try:
        yield
    finally:
        if gc.get_count()[0] >= _PROMOTE_FROM_OBJECTS and not gc.get_freeze_count():
            gc.freeze()
            gc.unfreeze()
        gc.enable()


__all__ = ["gc_paused"]
