"""CPU time of the bench's processes, read from ``/proc`` (Linux): where a run's CPU went, per process.

``make bench`` snapshots every process of the pipeline (the broker, each service, the intake's pusher and the
bench process with the three partner clients) when the push starts and once the last copy is decrypted; the
difference per record says which part of the pipeline costs what above the floor. Elsewhere (no ``/proc``)
the figures are left out, never guessed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (its threads included, not its children), or None
    when ``/proc`` does not say (another OS, a process gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and parentheses
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of proc(5)


def snapshot(pids: Mapping[str, list[int]]) -> dict[str, float] | None:
    """CPU seconds per name (the sum over its processes), or None when any process cannot be read."""
    out: dict[str, float] = {}
    for name, group in pids.items():
        seconds = [cpu_seconds(pid) for pid in group]
        if not group or any(s is None for s in seconds):
            return None
        out[name] = sum(s for s in seconds if s is not None)
    return out


def per_record(before: dict[str, float] | None, after: dict[str, float] | None, records: int) -> dict[str, float]:
    """CPU µs per record per name between two snapshots, with their ``total``; empty when either is missing."""
    if before is None or after is None or records <= 0 or set(before) != set(after):
        return {}
    used = {name: round((after[name] - before[name]) * 1e6 / records, 1) for name in before}
    return used | {"total": round(sum(used.values()), 1)}
