"""The chaos suite's fast subset (``make chaos`` runs every fault, with 1,000 records, on both brokers).

Each test is one row of ``python -m tools.chaos``: a fresh embedded broker of its own, every service and
three partner clients as separate ``crx`` processes with their own key stores, 300 submissions from DE and
FR over the intake's HTTP API and its drop directory, one fault at a seeded point of the stream; the row
must be exact (every accepted submission delivered, refused or dead-lettered as planned, each delivery at
its partner once, no duplicate receipt or audit event, every process healthy, settled in time).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tools.chaos.brokers import EmbeddedBackend
from tools.chaos.faults import FAULTS, FaultOptions
from tools.chaos.parties import Parties
from tools.chaos.run import RowOptions, run_row
from tools.chaos.table import EXACT, render

pytestmark = pytest.mark.integration

OPTIONS = RowOptions(records=300, rate=50.0, seed=12, settle_timeout=40.0, faults=FaultOptions(pause_seconds=10.0))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Parties:
    """The parties' key stores and intake tokens, made once (with the crx commands) and copied per test."""
    why = EmbeddedBackend().unavailable()
    if why is not None:
        pytest.skip(why)
    return Parties.create(tmp_path_factory.mktemp("chaos") / "template")


@pytest.mark.parametrize(
    "fault",
    [
        "kill-router",
        "broker-pause",
        "broker-crash",
    ],
)
async def test_one_fault_leaves_every_accepted_submission_settled_exactly_once(
    fault: str, template: Parties, tmp_path: Path
) -> None:
    """Under ``fault`` (the router killed with SIGKILL and restarted; the broker frozen for 10 s; the broker
    killed and restarted empty on the same port), the row is exact: the table's numbers match the plan, no
    duplicates, every service healthy, settled within 40 s of the stream's end and the fault's clearing."""
    row = await run_row(FAULTS[fault], EmbeddedBackend(), template, OPTIONS, tmp_path)
    assert row.result == EXACT, render([row])
    assert row.pushed == row.accepted == OPTIONS.records
