"""Wall-clock bounds that prove "refused fast" without flaking on a slow or loaded machine.

Some adapter tests assert that a hostile document (an entity bomb, a 100 MB payload, deep nesting) is refused
within a time bound: the point is that the work is linear and bounded, not exponential, and any such bound is
orders of magnitude below what an expansion would take. A fixed bound, though, flakes on a loaded 2-core CI
runner. ``wallclock_limit(seconds)`` therefore scales the bound a test states for the reference machine:

1. by how slow this machine is right now: ``CALIBRATION_RUNS`` runs of a fixed pure-Python workload are
   timed once per session, and their median is divided by ``REFERENCE_SECONDS``, the median on the reference
   machine (a 2-core AMD EPYC CI VM, Python 3.11, idle: about 20 ms). A faster machine never gets a tighter
   bound (the factor is at least 1);
2. by ``CRX_WALLCLOCK_SCALE`` (default 1): raise it where timing is known to be slow (emulation, coverage
   tracing); 0 skips the wall-clock tests, with the reason shown in pytest's summary.

Tests using it carry ``@pytest.mark.wallclock`` (``-m "not wallclock"`` deselects them), and call it before
the timed work, so a skip costs nothing and the calibration is not timed.
"""

from __future__ import annotations

import functools
import os
import statistics
import time

import pytest

SCALE_VARIABLE = "CRX_WALLCLOCK_SCALE"
REFERENCE_SECONDS = 0.020
CALIBRATION_RUNS = 5


def _workload() -> int:
    """A fixed CPU-bound task of about 20 ms on the reference machine."""
    total = 0
    for i in range(300_000):
        total += i * i % 7
    return total


@functools.cache
def machine_factor() -> float:
    """How many times slower than the reference this machine runs the workload now; at least 1."""
    timings = []
    for _ in range(CALIBRATION_RUNS):
        started = time.perf_counter()
        _workload()
        timings.append(time.perf_counter() - started)
    return max(1.0, statistics.median(timings) / REFERENCE_SECONDS)


def wallclock_limit(seconds: float) -> float:
    """``seconds`` (the bound on the reference machine) times ``machine_factor()`` times CRX_WALLCLOCK_SCALE.

    Skips the calling test when CRX_WALLCLOCK_SCALE is 0. Raises ValueError when it is not a number >= 0.
    """
    raw = os.environ.get(SCALE_VARIABLE, "1")
    try:
        scale = float(raw)
    except ValueError:
        raise ValueError(f"{SCALE_VARIABLE} must be a number >= 0, not {raw!r}") from None
    if scale < 0:
        raise ValueError(f"{SCALE_VARIABLE} must be a number >= 0, not {raw!r}")
    if scale == 0:
        pytest.skip(f"wall-clock bound not checked: {SCALE_VARIABLE}=0")
    return seconds * machine_factor() * scale
