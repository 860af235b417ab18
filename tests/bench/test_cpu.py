"""``make bench``'s CPU per process: read from /proc, summed per name, per record with a total."""

from __future__ import annotations

import os
import sys
import time

import pytest

from tests.bench import cpu

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc (Linux)")


def _burn(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        sum(range(1000))


def test_cpu_of_this_process_grows_with_the_work_it_does() -> None:
    before = cpu.snapshot({"me": [os.getpid()]})
    _burn(0.3)
    after = cpu.snapshot({"me": [os.getpid()]})
    assert before is not None and after is not None
    used = cpu.per_record(before, after, 1000)
    assert 200 <= used["me"] <= 1000  # 0.3 s over 1,000 records, in clock ticks of 10 ms
    assert used["total"] == used["me"]


def test_a_process_that_cannot_be_read_leaves_the_figures_out() -> None:
    assert cpu.cpu_seconds(2**22 + 12345) is None  # above pid_max's default: no such process
    assert cpu.snapshot({"gone": [2**22 + 12345]}) is None
    assert cpu.snapshot({"none": []}) is None
    assert cpu.per_record(None, {"a": 1.0}, 10) == {}
    assert cpu.per_record({"a": 1.0, "b": 2.0}, {"a": 3.0, "b": 2.5}, 1000) == {
        "a": 2000.0,
        "b": 500.0,
        "total": 2500.0,
    }
