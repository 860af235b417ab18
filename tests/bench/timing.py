"""The timing loop the micro-benchmarks share: call a function again and again for a while, and count."""

from __future__ import annotations

from collections.abc import Callable


def timed_calls(fn: Callable[[], object], seconds: float, clock: Callable[[], float]) -> tuple[int, float]:
    """``(calls, elapsed)``: how many times ``fn`` ran in about ``seconds`` of ``clock``, after one warm-up call
    (not counted), and the ``clock`` seconds they took. ``clock`` is ``time.process_time`` for the CPU cost of
    the work itself, whatever else the machine runs, or ``time.perf_counter`` for wall time."""
    fn()
    count = 0
    started = clock()
    while (elapsed := clock() - started) < seconds:
        fn()
        count += 1
    return count, elapsed
