"""The intake's outbox on SQLite and on PostgreSQL: kept, due, rescheduled, given up, settled, bounded."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from services.intake.outbox import GIVEN_UP, OPEN, Outbox, OutboxFull, Stored, decode_records, encode_records
from services.kernel.config import Settings
from services.kernel.kafka import OutRecord
from tests.fixtures.postgres import postgres_dsn  # noqa: F401 - the fixture

RECORDS = [
    OutRecord("crx.feed.DE", b"\x00sealed\xff", key=b"k" * 16, headers=[("crx-channel", b"feed.DE")]),
    OutRecord("crx.audit", b"event", key=None),
]


def test_records_survive_the_round_trip() -> None:
    assert decode_records(encode_records(RECORDS)) == tuple(RECORDS)


@pytest.fixture(params=["sqlite", "postgresql"])
def outbox(request: pytest.FixtureRequest, settings: Settings, tmp_path: Path) -> Iterator[Outbox]:
    """An outbox of 3 at most, in a SQLite file or in a PostgreSQL schema of its own (dropped after)."""
    if request.param == "sqlite":
        box = Outbox(settings.replace(outbox_max_submissions=3, intake_db=str(tmp_path / "outbox.sqlite3")))
        yield box
        box.close()
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"crx_t_{uuid.uuid4().hex[:12]}"
    box = Outbox(settings.replace(outbox_max_submissions=3, intake_db=dsn, intake_pg_schema=schema))
    try:
        yield box
    finally:
        box.close()
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def test_kept_submissions_come_due_in_order_and_leave_when_settled(outbox: Outbox) -> None:
    outbox.keep([("s1", "DE", RECORDS, ""), ("s2", "FR", RECORDS[:1], "")], now=100.0, first_check=5.0)
    outbox.keep([("s1", "DE", RECORDS[:1], "")], now=101.0, first_check=5.0)  # a retry keeps the first row
    assert outbox.due(104.0, 10) == []
    due = outbox.due(105.0, 10)
    assert [(k.submission_id, k.jurisdiction, k.state, k.attempts) for k in due] == [
        ("s1", "DE", OPEN, 0),
        ("s2", "FR", OPEN, 0),
    ]
    assert due[0].records == tuple(RECORDS) and due[0].accepted_at == 100.0
    outbox.reschedule("s1", 200.0, 1)
    assert [k.submission_id for k in outbox.due(150.0, 10)] == ["s2"]
    outbox.give_up("s2", RECORDS[1:], 300.0)
    [s1, s2] = outbox.due(300.0, 10)
    assert (s1.submission_id, s1.attempts) == ("s1", 1)
    assert (s2.state, s2.attempts, s2.records) == (GIVEN_UP, 0, tuple(RECORDS[1:]))
    assert outbox.oldest() == 100.0 and outbox.size() == 2
    assert outbox.stored(["s1", "nope"]) == {"s1": Stored(tuple(RECORDS), "", settled=False)}
    outbox.settle(["s1", "s2"], forget_at=1000.0)
    assert outbox.size() == 0 and outbox.oldest() is None and outbox.due(1e12, 10) == []
    assert outbox.stored(["s1"]) == {"s1": Stored((), "", settled=True)}  # the answer stands, the bytes are gone
    outbox.purge(999.0)
    assert set(outbox.stored(["s1", "s2"])) == {"s1", "s2"}
    outbox.purge(1000.0)
    assert outbox.stored(["s1", "s2"]) == {}


def test_a_full_outbox_refuses_before_anything_is_published(outbox: Outbox) -> None:
    outbox.room(3)
    outbox.keep([("a", "DE", RECORDS, ""), ("b", "DE", RECORDS, "UNKNOWN_ADAPTER")], now=1.0, first_check=1.0)
    outbox.room(1)
    with pytest.raises(OutboxFull):
        outbox.room(2)
    outbox.settle(["a"], forget_at=10.0)
    outbox.size()  # what the reconciler's pass does: the count is refreshed
    outbox.room(2)
