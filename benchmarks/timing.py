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
    """Seconds per call: the median and the best of ``repeats`` repeats of ``number`` calls each.

    ``cores``: the process's CPU time over the wall time, across all repeats: about 1.0 for
    single-threaded code, more where a library ran threads of its own (XLA, a BLAS pool).
    """

    median: float
    best: float
    repeats: int
    number: int
    cores: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _loop(fn: Callable[[], Any], number: int) -> float:
    start = time.perf_counter()
    for _ in range(number):
        fn()
    return time.perf_counter() - start


def _timed_loop(fn: Callable[[], Any], number: int) -> tuple[float, float]:
    """Wall seconds and process CPU seconds of ``number`` calls."""
    cpu = time.process_time()
    wall = _loop(fn, number)
    return wall, time.process_time() - cpu


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
    """Time ``fn()`` alone: ``warmup`` untimed calls, then ``repeat`` repeats of a calibrated call count."""
    for _ in range(warmup):
        fn()
    return interleaved([fn], repeat=repeat, min_time=min_time, slow=slow)[0]


def interleaved(fns: list[Callable[[], Any]], repeat: int = 7, min_time: float = 0.05, slow: float = 0.5
                ) -> list[Timing]:
    """Time several functions round-robin: repeat 1 of each, then repeat 2 of each, and so on.

    On a shared machine the load drifts over seconds; interleaving spreads that drift evenly
    over the implementations being compared, so their *ratios* stay meaningful even when the
    absolute times move. A function slower than ``slow`` seconds per call gets at most 3
    repeats: its noise is small relative to its length, and 7 repeats of a multi-second call
    would dominate the whole run.
    """
    plans = []
    for fn in fns:
        number, per_call = calibrate(fn, min_time)  # also a warm-up
        plans.append((fn, number, min(repeat, 3) if per_call > slow else repeat))
    samples: list[list[float]] = [[] for _ in fns]
    cpu = [0.0 for _ in fns]
    for r in range(max(repeat, 1)):
        for i, ((fn, number, reps), out) in enumerate(zip(plans, samples, strict=True)):
            if r < max(reps, 1):
                wall, cpu_s = _timed_loop(fn, number)
                out.append(wall / number)
                cpu[i] += cpu_s
    return [Timing(statistics.median(s), min(s), len(s), number, c / sum(s) / number if sum(s) > 0 else None)
            for s, c, (_, number, _) in zip(samples, cpu, plans, strict=True)]


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
