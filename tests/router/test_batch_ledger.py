"""The router reads and writes its disclosure ledger once per batch: the versions of one record in one batch
are decided in order, each seeing the ones before it, exactly as when each comes in its own batch; a batch
of N notifications costs one read and one write transaction; nothing is written when the batch fails."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from schemas import AUDIT_EVENT
from schemas.records import CriminalRecord
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.errors import TransientError
from services.kernel.kafka import OutRecord
from services.keys.ring import KeyRing
from services.ledger.lifecycle import STALE_VERSION
from services.ledger.store import DisclosureLedger
from tests.ledger.test_lifecycle import record
from tests.router.batches import on_records, router


def decisions(settings: Settings, outputs: list[OutRecord]) -> list[tuple[Any, ...]]:
    """Each audit event's decision: type, recipients, rule, reason, record version and message type."""
    events = [codec(AUDIT_EVENT).decode(o.value) for o in outputs if o.topic == settings.topic("audit")]
    return [
        (e["event_type"], tuple(e["recipients"]), e["rule"], e["reason"], e["record_version"], e["message_type"])
        for e in events
    ]


def ledger_rows(ledger: DisclosureLedger) -> list[tuple[Any, ...]]:
    return [(r.record_key, r.recipient, r.version, r.message_type, r.agreement, r.retention_end) for r in ledger.rows()]


def life() -> list[CriminalRecord]:
    """v1 to FR and PL; v2 (an FR national only: PL gets it as an earlier holder); v2 again; a stale v1; the
    deletion v3."""
    return [
        record(1), record(2, "UPDATE", ("FR",)), record(2, "UPDATE", ("FR",)), record(1),
        record(3, "DELETION", ("FR",)),
    ]  # fmt: skip


async def test_one_batch_decides_as_one_batch_per_record(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    records = life()
    alone_ledger = DisclosureLedger(str(tmp_path / "alone.sqlite3"))
    alone = router(settings, keyring, alone_ledger)
    one_by_one = []
    for rec in records:
        one_by_one += decisions(settings, await alone.handle(on_records(settings, keyring, [rec])))
    batch_ledger = DisclosureLedger(str(tmp_path / "batch.sqlite3"))
    outputs = await router(settings, keyring, batch_ledger).handle(on_records(settings, keyring, records))
    batched = decisions(settings, outputs)

    assert batched == one_by_one
    assert [(d[0], d[3], d[4]) for d in batched if d[0] == "REFUSAL"] == [("REFUSAL", STALE_VERSION, 1)]
    update_to = {d[1] for d in batched if d[0] == "DISCLOSURE" and d[4] == 2}
    assert update_to == {("FR",), ("PL",)}  # PL found as an earlier holder of v1 decided in the same batch
    assert [d for d in batched if d[4] == 2][:2] == [d for d in batched if d[4] == 2][2:]  # the repeat: as before
    assert ledger_rows(batch_ledger) == ledger_rows(alone_ledger)
    assert {(r[1], r[2], r[3]) for r in ledger_rows(batch_ledger)} >= {("FR", 3, "DELETION"), ("PL", 3, "DELETION")}


class Counted:
    """Counts the transactions of a ledger's store."""

    def __init__(self, ledger: DisclosureLedger) -> None:
        self.count = 0
        store = ledger._db  # its transactions are what is counted
        tx = store.tx

        @contextmanager
        def counted() -> Iterator[Any]:
            self.count += 1
            with tx() as db:
                yield db

        store.tx = counted  # type: ignore[method-assign]


async def test_a_batch_of_notifications_is_one_read_and_one_write(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    ledger = DisclosureLedger(str(tmp_path / "ledger.sqlite3"))
    batch = on_records(settings, keyring, [record(1, record_id=f"DE-BZR-SYNTH-2024-{i:06d}") for i in range(20)])
    handler = router(settings, keyring, ledger)
    counted = Counted(ledger)
    outputs = await handler.handle(batch)
    assert counted.count == 2
    assert ledger.size() == 40 and sum(o.topic.startswith(settings.topic("out.")) for o in outputs) == 40


async def test_a_batch_not_written_produces_nothing(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """When the batch's write fails the handler raises (nothing of the batch is produced; the batch loop does it
    again) and the batch done again decides as the first time would have."""
    ledger = DisclosureLedger(str(tmp_path / "ledger.sqlite3"))
    handler = router(settings, keyring, ledger)
    batch = on_records(settings, keyring, [record(1), record(2, "UPDATE", ("FR",))])
    add = ledger.add

    def failing(rows: Any) -> None:
        raise TransientError("disclosure ledger database: OperationalError")

    ledger.add = failing  # type: ignore[method-assign]
    with pytest.raises(TransientError):
        await handler.handle(batch)
    assert ledger.size() == 0
    ledger.add = add  # type: ignore[method-assign]
    again = decisions(settings, await handler.handle(batch))
    assert [(d[0], d[1], d[4]) for d in again] == [
        ("DISCLOSURE", ("FR",), 1), ("DISCLOSURE", ("PL",), 1), ("DISCLOSURE", ("FR",), 2), ("DISCLOSURE", ("PL",), 2),
    ]  # fmt: skip
    assert ledger.size() == 4
