"""Adapter throughput: records/s and MB/s of every registered adapter over its own samples, one core.

Run alone with ``python -m tests.bench.adapters``; ``make bench`` prints it with the end-to-end figures.
"""

from __future__ import annotations

import datetime as dt
import time

from adapters.base import ParseContext, available, get_adapter

SECONDS_PER_ADAPTER = 1.5


def adapter_rates(seconds: float = SECONDS_PER_ADAPTER) -> dict[str, tuple[float, float, int]]:
    """Adapter name -> (records/s, MB/s of input, sample count), parsing its samples round-robin."""
    rates: dict[str, tuple[float, float, int]] = {}
    received = dt.datetime.now(dt.UTC)
    for name in available():
        adapter = get_adapter(name)
        work = [(payload, ParseContext(file.split("-", 1)[0], received)) for file, payload in adapter.samples()]
        records = size = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for payload, ctx in work:
                records += len(adapter.parse(payload, ctx))
                size += len(payload)
        elapsed = time.perf_counter() - started
        rates[name] = (records / elapsed, size / elapsed / 1e6, len(work))
    return rates


def report(rates: dict[str, tuple[float, float, int]]) -> None:
    """Print one line per adapter."""
    print("adapters (parse + normalise, one core, over each adapter's samples):")
    for name, (per_s, mb_s, samples) in rates.items():
        print(f"  {name:<14} {per_s:>8,.0f} records/s  {mb_s:6.1f} MB/s  ({samples} samples)")


if __name__ == "__main__":
    report(adapter_rates())
