"""The intake's outbox: every accepted submission kept until the audit log shows it settled.

A 202 is a promise, and Kafka can lose acknowledged records (a broker that keeps them in memory, an unclean
leader election, a lost volume). So the intake keeps what it produces for each submission (the sealed feed
envelope and its COLLECTION event, or a dead letter and its event: ciphertext and ids only, no personal data
in clear) before it sends them, so before it answers; a submission sent again (a client's retry after a 503,
a drop-directory file claimed again) is sent with the bytes kept, never sealed a second time, so every
stage downstream sees one envelope per submission id. The reconciler
(``reconciler.py``) re-publishes what is still unsettled after a while, with the same bytes and so the same
ids (every consumer downstream is idempotent), and deletes what is settled.

SQLite in the data directory by default (``intake-outbox.sqlite3``, WAL, synchronous=FULL: a row is on disk
before the 202), PostgreSQL when ``intake_db`` is a ``postgresql://`` URI (table ``outbox`` in
``intake_pg_schema``). Bounded: ``room`` refuses a batch that would take it over ``outbox_max_submissions``;
the intake then answers 503 rather than promise what it cannot keep.
"""

from __future__ import annotations

import json
from base64 import b64decode, b64encode
from collections.abc import Sequence
from dataclasses import dataclass

from services.kernel.config import Settings
from services.kernel.errors import CrxError
from services.kernel.kafka import OutRecord
from services.kernel.sqlstore import SqlStore

_COLUMNS = "submission_id, jurisdiction, accepted_at, next_check, attempts, state, records, result"
_INSERT = f"INSERT INTO {{table}} ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (submission_id) DO NOTHING"  # noqa: S608
_DUE = f"SELECT {_COLUMNS} FROM {{table}} WHERE state <> 'settled' AND next_check <= ? ORDER BY next_check LIMIT ?"  # noqa: S608
_GIVE_UP = "UPDATE {table} SET records = ?, state = ?, attempts = 0, next_check = ? WHERE submission_id = ?"
_DDL = """
CREATE TABLE IF NOT EXISTS {schema}outbox (
    submission_id TEXT PRIMARY KEY,
    jurisdiction TEXT NOT NULL,
    accepted_at DOUBLE PRECISION NOT NULL,
    next_check DOUBLE PRECISION NOT NULL,
    attempts INTEGER NOT NULL,
    state TEXT NOT NULL,
    records {blob} NOT NULL,
    result TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_next ON {schema}outbox (next_check)
"""

OPEN, GIVEN_UP, SETTLED = "open", "given_up", "settled"  # a settled row keeps its id and result, not its bytes


class OutboxFull(CrxError, retriable=True, dead_letter=False, reason_code="OUTBOX_FULL"):
    """The outbox holds ``outbox_max_submissions`` unsettled submissions: nothing more is accepted until the
    reconciler settles some (answered 503 with Retry-After)."""


@dataclass(frozen=True)
class Kept:
    """One kept submission: its outputs, when it was accepted, how often it was re-published."""

    submission_id: str
    jurisdiction: str
    accepted_at: float  # Unix seconds
    next_check: float
    attempts: int
    state: str  # OPEN, or GIVEN_UP once its records are the intake's dead letter
    records: tuple[OutRecord, ...]
    result: str = ""  # what the intake answered: "" accepted, else the reason it was dead-lettered at the door


@dataclass(frozen=True)
class Stored:
    """A submission the outbox knows: its kept outputs (none once settled) and the answer it was given."""

    records: tuple[OutRecord, ...]
    result: str
    settled: bool


def encode_records(records: Sequence[OutRecord]) -> bytes:
    """A submission's outputs as stored (JSON, bytes in base64)."""

    def b(value: bytes | None) -> str | None:
        return None if value is None else b64encode(value).decode()

    return json.dumps(
        [{"t": r.topic, "k": b(r.key), "v": b(r.value), "h": [[n, b(v)] for n, v in r.headers or ()]} for r in records]
    ).encode()


def decode_records(data: bytes) -> tuple[OutRecord, ...]:
    """The inverse of ``encode_records``."""

    def b(value: str | None) -> bytes | None:
        return None if value is None else b64decode(value)

    return tuple(
        OutRecord(r["t"], b64decode(r["v"]), key=b(r["k"]), headers=[(n, b(v) or b"") for n, v in r["h"]])
        for r in json.loads(data)
    )


class Outbox:
    """The kept submissions. Thread-safe; every method is one short transaction.

    Raises TransientError when the database does not answer (the caller answers 503 or retries later).
    """

    def __init__(self, settings: Settings) -> None:
        self._limit = settings.outbox_max_submissions
        location = settings.intake_db or str(settings.data_dir / "intake-outbox.sqlite3")
        self._db = SqlStore(location, settings.intake_pg_schema, _DDL, "intake outbox")
        self._table = f"{self._db.prefix}outbox"
        self._tx = self._db.tx
        self._count = self.size()

    def _q(self, query: str) -> str:
        return self._db.q(query.replace("{table}", self._table))

    def room(self, count: int) -> None:
        """Raises OutboxFull unless ``count`` more submissions fit (by this process's count, refreshed by
        every ``size``)."""
        if self._count + count > self._limit:
            raise OutboxFull(f"the intake keeps {self._limit} unsettled submissions at most")

    def keep(
        self, submissions: Sequence[tuple[str, str, Sequence[OutRecord], str]], now: float, first_check: float
    ) -> None:
        """Keep (submission id, jurisdiction, outputs, result) of each submission, first checked at
        ``now + first_check``. A submission kept already (a retry) keeps its first row."""
        rows = [
            (sid, jur, now, now + first_check, 0, OPEN, encode_records(recs), result)
            for sid, jur, recs, result in submissions
        ]
        if not rows:
            return
        with self._tx() as db:
            db.executemany(self._q(_INSERT), rows)
        self._count += len(rows)

    def stored(self, submission_ids: Sequence[str]) -> dict[str, Stored]:
        """Those of ``submission_ids`` that are here, unsettled (their kept outputs: a retried submission is
        sent again with its first bytes, never sealed a second time) or settled within ``idempotency_ttl``
        (nothing to send: the answer stands)."""
        found: dict[str, Stored] = {}
        ids = list(dict.fromkeys(submission_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT submission_id, records, result, state FROM {{table}} WHERE submission_id IN ({marks})"  # noqa: S608
            with self._tx() as db:
                rows = db.execute(self._q(query), chunk).fetchall()
            for sid, records, result, state in rows:
                settled = state == SETTLED
                found[str(sid)] = Stored(() if settled else decode_records(bytes(records)), str(result), settled)
        return found

    def submitted(self, submission_id: str) -> tuple[str, float] | None:
        """(jurisdiction, accepted at in Unix seconds) of a submission kept here (unsettled, or settled and not
        yet purged), else None: who submitted it, before the audit log shows it."""
        with self._tx() as db:
            query = self._q("SELECT jurisdiction, accepted_at FROM {table} WHERE submission_id = ?")
            row = db.execute(query, (submission_id,)).fetchone()
        return None if row is None else (str(row[0]), float(row[1]))

    def due(self, now: float, limit: int) -> list[Kept]:
        """Up to ``limit`` kept submissions whose next check is due, the longest waiting first."""
        with self._tx() as db:
            rows = db.execute(self._q(_DUE), (now, limit)).fetchall()
        return [Kept(r[0], r[1], r[2], r[3], r[4], r[5], decode_records(bytes(r[6])), r[7]) for r in rows]

    def settle(self, submission_ids: Sequence[str], forget_at: float) -> None:
        """Mark submissions settled: their bytes are dropped, their id and answer kept until ``forget_at``
        (a late retry is answered, not sealed again), then ``purge`` forgets them."""
        if submission_ids:
            rows = [(SETTLED, b"", forget_at, s) for s in submission_ids]
            with self._tx() as db:
                db.executemany(
                    self._q("UPDATE {table} SET state = ?, records = ?, next_check = ? WHERE submission_id = ?"), rows
                )
            self._count -= len(rows)

    def purge(self, now: float) -> None:
        """Forget the settled submissions whose time is up."""
        with self._tx() as db:
            db.execute(self._q("DELETE FROM {table} WHERE state = 'settled' AND next_check <= ?"), (now,))

    def past_retention(self, accepted_before: float, *, delete: bool) -> tuple[int, int]:
        """How many (settled, unsettled) submissions were accepted before ``accepted_before``; with ``delete``,
        the settled ones are deleted now (their id and answer: their bytes went when they were settled; a late
        retry of one is then published again, with the same submission id). Unsettled ones are never deleted
        here: each is a 202 whose delivery the log does not show yet, and deleting it would lose it."""
        count = "SELECT COUNT(*) FROM {table} WHERE accepted_at < ? AND state "
        with self._tx() as db:
            settled = int(db.execute(self._q(count + "= 'settled'"), (accepted_before,)).fetchone()[0])
            unsettled = int(db.execute(self._q(count + "<> 'settled'"), (accepted_before,)).fetchone()[0])
            if delete and settled:
                delete_rows = "DELETE FROM {table} WHERE accepted_at < ? AND state = 'settled'"
                db.execute(self._q(delete_rows), (accepted_before,))
        return settled, unsettled

    def reschedule(self, submission_id: str, next_check: float, attempts: int) -> None:
        """Set when ``submission_id`` is next checked and how often it was re-published."""
        with self._tx() as db:
            db.execute(
                self._q("UPDATE {table} SET next_check = ?, attempts = ? WHERE submission_id = ?"),
                (next_check, attempts, submission_id),
            )

    def give_up(self, submission_id: str, records: Sequence[OutRecord], next_check: float) -> None:
        """Replace a submission's outputs by its dead letter (state GIVEN_UP), kept until that is logged."""
        with self._tx() as db:
            db.execute(
                self._q(_GIVE_UP),
                (encode_records(records), GIVEN_UP, next_check, submission_id),
            )

    def size(self) -> int:
        """How many unsettled submissions are kept."""
        with self._tx() as db:
            self._count = int(
                db.execute(self._q("SELECT COUNT(*) FROM {table} WHERE state <> 'settled'")).fetchone()[0]
            )
        return self._count

    def oldest(self) -> float | None:
        """When the longest-kept submission was accepted (Unix seconds), or None when empty."""
        with self._tx() as db:
            row = db.execute(self._q("SELECT MIN(accepted_at) FROM {table} WHERE state <> 'settled'")).fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def close(self) -> None:
        """Close the database connection. Idempotent."""
        self._db.close()
