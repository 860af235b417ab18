"""The sink ledger: what a partner's sink applied, so that deduplication and a record's life survive restarts.

One SQLite file (WAL, ``synchronous=FULL``: a committed row is on disk), three tables, no personal data:

- ``applied``: every message id applied, with the operation it got (its receipt says it again on redelivery);
- ``records``: per record key (``lifecycle.record_key``) the version held, the delivery that brought it,
  its retention end, and whether it is erased. An erased record stays as a tombstone (version and ids, never
  content), so an older version redelivered after the erasure is not applied again;
- ``erasures``: erasure receipts owed for records whose retention ended (``purge``), until they are sent.

``delivered`` is the table of message ids noted by ``CallbackSink`` before records had a life (read only: an id
there counts as applied, operation OTHER).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from services.kernel.sqlstore import SqlStore
from services.partner.lifecycle import Delivery, Held, Operation

_DDL = """
CREATE TABLE IF NOT EXISTS delivered (message_id TEXT PRIMARY KEY, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS applied (message_id TEXT PRIMARY KEY, operation TEXT NOT NULL, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    record_key TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    envelope_sha256 {blob} NOT NULL,
    erased INTEGER NOT NULL,
    retention_end TEXT,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_retention ON records (retention_end) WHERE erased = 0 AND retention_end IS NOT NULL;
CREATE TABLE IF NOT EXISTS erasures (
    message_id TEXT PRIMARY KEY, correlation_id TEXT NOT NULL, envelope_sha256 {blob} NOT NULL, at TEXT NOT NULL
)
"""


class SinkLedger:
    """The ledger at ``path`` (created with its directory). Every method is one short transaction; database
    errors raise TransientError (the batch is retried)."""

    def __init__(self, path: Path) -> None:
        self._db = SqlStore(str(path), "", _DDL, "partner sink ledger")

    def applied(self, message_id: str) -> Operation | None:
        """The operation ``message_id`` got when it was applied, or None when it never was."""
        with self._db.tx() as tx:
            row = tx.execute("SELECT operation FROM applied WHERE message_id = ?", (message_id,)).fetchone()
            if row is None:
                row = tx.execute("SELECT 'OTHER' FROM delivered WHERE message_id = ?", (message_id,)).fetchone()
        return None if row is None else Operation(row[0])

    def held(self, key: str) -> Held | None:
        """What is held of the record ``key`` (a tombstone when erased), or None when it was never seen."""
        with self._db.tx() as tx:
            row = tx.execute(
                "SELECT version, message_id, correlation_id, envelope_sha256, erased, retention_end"
                " FROM records WHERE record_key = ?",
                (key,),
            ).fetchone()
        return None if row is None else _held(row)

    def note(self, delivery: Delivery, operation: Operation, key: str | None = None, held: Held | None = None) -> None:
        """Note, in one transaction, that ``delivery`` was applied with ``operation`` and, given ``key`` and
        ``held``, that the record ``key`` is now held as ``held``."""
        at = dt.datetime.now(dt.UTC).isoformat()
        with self._db.tx() as tx:
            if key is not None and held is not None:
                _put(tx, key, held, at)
            tx.execute(
                "INSERT INTO applied VALUES (?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
                (delivery.message_id, operation.value, at),
            )

    def expired(self, today: dt.date) -> list[tuple[str, Held]]:
        """The records held (not erased) whose retention end is ``today`` or earlier, with their keys."""
        with self._db.tx() as tx:
            rows = tx.execute(
                "SELECT record_key, version, message_id, correlation_id, envelope_sha256, erased, retention_end"
                " FROM records WHERE erased = 0 AND retention_end IS NOT NULL AND retention_end <= ?",
                (today.isoformat(),),
            ).fetchall()
        return [(str(row[0]), _held(row[1:])) for row in rows]

    def erase(self, key: str, held: Held) -> None:
        """Note that the record ``key`` (held as ``held``) was erased because its retention ended, and that an
        erasure receipt for the delivery that brought it is owed, in one transaction."""
        at = dt.datetime.now(dt.UTC).isoformat()
        tombstone = Held(held.version, held.delivery, erased=True)
        with self._db.tx() as tx:
            _put(tx, key, tombstone, at)
            tx.execute(
                "INSERT INTO erasures VALUES (?, ?, ?, ?) ON CONFLICT (message_id) DO NOTHING",
                (held.delivery.message_id, held.delivery.correlation_id, held.delivery.envelope_sha256, at),
            )

    def owed(self) -> list[Delivery]:
        """The deliveries whose erasure receipt is owed (``erase``) and not yet noted as sent (``sent``)."""
        with self._db.tx() as tx:
            rows = tx.execute("SELECT message_id, correlation_id, envelope_sha256 FROM erasures ORDER BY at").fetchall()
        return [Delivery(str(row[0]), str(row[1]), bytes(row[2])) for row in rows]

    def sent(self, message_ids: Iterable[str]) -> None:
        """Note that the erasure receipts of ``message_ids`` were sent (acknowledged by the broker)."""
        with self._db.tx() as tx:
            tx.executemany("DELETE FROM erasures WHERE message_id = ?", [(m,) for m in message_ids])

    def close(self) -> None:
        """Close the ledger. Idempotent."""
        self._db.close()


def _held(row: Sequence[Any]) -> Held:
    version, message_id, correlation_id, sha, erased, retention_end = row
    delivery = Delivery(str(message_id), str(correlation_id), bytes(sha))
    end = dt.date.fromisoformat(str(retention_end)) if retention_end is not None else None
    return Held(int(version), delivery, bool(erased), end)


def _put(tx: Any, key: str, held: Held, at: str) -> None:
    """Insert or replace the row of the record ``key``."""
    end = held.retention_end.isoformat() if held.retention_end is not None else None
    d = held.delivery
    tx.execute(
        "INSERT INTO records VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (record_key) DO UPDATE SET"
        " version = excluded.version, message_id = excluded.message_id, correlation_id = excluded.correlation_id,"
        " envelope_sha256 = excluded.envelope_sha256, erased = excluded.erased,"
        " retention_end = excluded.retention_end, at = excluded.at",
        (key, held.version, d.message_id, d.correlation_id, d.envelope_sha256, int(held.erased), end, at),
    )
