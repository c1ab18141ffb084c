"""Timing helpers: the median of several repeats after a warm-up, with ``time.perf_counter``.

Why the median: on a shared 2-core machine a single slow repeat (another process, a GC pass)
should not move the headline number; the minimum is recorded too, as the noise-free floor.
Garbage collection stays enabled while timing (unlike ``timeit``), because the cost of the
cyclic garbage an eager tracer leaves behind is part of what a user pays.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable


@dataclass(frozen=True)
class Timing:
    """Seconds per call: the median and the best of ``repeats`` repeats of ``number`` calls each."""

    median: float
    best: float
    repeats: int
    number: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _loop(fn: Callable[[], Any], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def calibrate(fn: Callable[[], Any], min_time: float, max_number: int = 1 << 20) -> tuple[int, float]:
    """The number of calls that makes one repeat last at least ``min_time`` s, and the seconds per call."""
    number = 1
    while True:
        elapsed = _loop(fn, number)
        if elapsed >= min_time or number >= max_number:
            return number, elapsed / number
        # Grow towards the target in one step when the estimate is reliable, else tenfold.
        guess = int(number * min_time / elapsed * 1.1) + 1 if elapsed > 1e-4 else number * 10
        number = min(max(guess, number * 2), max_number)


def measure(fn: Callable[[], Any], repeat: int = 7, min_time: float = 0.05, warmup: int = 1,
            slow: float = 0.5) -> Timing:
    """Time ``fn()``: ``warmup`` untimed calls, then ``repeat`` repeats of a calibrated call count.

    A call slower than ``slow`` seconds gets at most 3 repeats: its noise is small relative to
    its length, and 7 repeats of a multi-second call would dominate the whole run.
    """
    for _ in range(warmup):
        fn()
    number, per_call = calibrate(fn, min_time)
    if per_call > slow:
        repeat = min(repeat, 3)
    samples = [_loop(fn, number) / number for _ in range(max(repeat, 1))]
    return Timing(statistics.median(samples), min(samples), len(samples), number)


def measure_fresh(make_and_call: Callable[[], Any], repeat: int = 5) -> Timing:
    """Time a call that must start cold each time (a fresh closure, jit and first call).

    ``make_and_call`` builds everything it times from scratch, so no cache of the framework under
    test can serve a later repeat; each repeat is one call.
    """
    samples = [_loop(make_and_call, 1) for _ in range(max(repeat, 1))]
    return Timing(statistics.median(samples), min(samples), len(samples), 1)


def fmt_time(seconds: float | None) -> str:
    """A duration with a unit that keeps three significant digits: ``812 µs``, ``1.27 ms``, ``2.05 s``."""
    if seconds is None:
        return "n/a"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{_sig3(seconds / scale)} {unit}"
    return f"{_sig3(seconds / 1e-9)} ns"


def _sig3(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    return f"{x:.2f}"
