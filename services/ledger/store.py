"""The disclosure ledger: which version of which record went to which recipient, under which agreement, when,
and until when the recipient may keep it. No personal data: records are named by their opaque key.

The router writes it in the step that decides a disclosure (so a correction or an erasure can always find
every earlier recipient) and reads it to refuse stale versions, both once per batch (``services.ledger.view``).
SQLite ``ledger.sqlite3`` in the data directory by default, PostgreSQL when ``ledger_db`` is a
``postgresql://`` URI. Every row is also in the audit log (the DISCLOSURE event carries record key, version,
recipient, rule and retention end), which is how the ledger is rebuilt when lost (``rebuild``). Every database
error is a TransientError.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from services.kernel.config import Settings
from services.kernel.sqlstore import SqlStore

_DDL = """
CREATE TABLE IF NOT EXISTS {schema}disclosures (
    record_key TEXT NOT NULL,
    recipient TEXT NOT NULL,
    version INTEGER NOT NULL,
    message_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    agreement TEXT,
    disclosed_at DOUBLE PRECISION NOT NULL,
    retention_end TEXT,
    PRIMARY KEY (record_key, recipient, version, message_type)
);
CREATE INDEX IF NOT EXISTS disclosures_recipient ON {schema}disclosures (recipient, retention_end)
"""
_COLUMNS = "record_key, recipient, version, message_id, message_type, agreement, disclosed_at, retention_end"
DELETION = "DELETION"
_KEYS_PER_QUERY = 500  # bound parameters per statement (SQLite allows 32766, PostgreSQL 65535)


@dataclass(frozen=True)
class Disclosure:
    """One version of one record disclosed to one recipient."""

    record_key: str
    recipient: str
    version: int
    message_id: str
    message_type: str  # NOTIFICATION, UPDATE or DELETION
    agreement: str | None
    disclosed_at: dt.datetime
    retention_end: dt.date | None


@dataclass(frozen=True)
class Holding:
    """What one recipient holds of one record, as far as crx knows: the latest version it was sent, and
    whether that was a deletion."""

    recipient: str
    version: int
    deleted: bool
    retention_end: dt.date | None


@dataclass(frozen=True)
class Entry:
    """One recorded disclosure of one record, as a decision needs it (its primary key and retention end)."""

    recipient: str
    version: int
    message_type: str
    retention_end: dt.date | None


def holdings_of(entries: Iterable[Entry]) -> list[Holding]:
    """Per recipient of ``entries`` (one record's): its latest version, a deletion counting as later than the
    content of the same version; sorted by recipient."""
    latest: dict[str, Holding] = {}
    for e in sorted(entries, key=lambda e: (e.recipient, e.version, e.message_type == DELETION)):
        latest[e.recipient] = Holding(e.recipient, e.version, e.message_type == DELETION, e.retention_end)
    return [latest[r] for r in sorted(latest)]


class DisclosureLedger:
    """The ledger over one store. Thread-safe; every method is one short transaction."""

    def __init__(self, location: str, pg_schema: str = "crx_ledger") -> None:
        self._db = SqlStore(location, pg_schema, _DDL, "disclosure ledger")

    @classmethod
    def open(cls, settings: Settings) -> DisclosureLedger:
        """The ledger ``settings`` name: ``ledger_db``, else ``ledger.sqlite3`` in the data directory."""
        return cls(settings.ledger_db or str(settings.data_dir / "ledger.sqlite3"), settings.ledger_pg_schema)

    def add(self, rows: Iterable[Disclosure]) -> None:
        """Record disclosures; one recorded already (a batch done again) is kept as it was."""
        values = [
            (r.record_key, r.recipient, r.version, r.message_id, r.message_type, r.agreement,
             r.disclosed_at.timestamp(), r.retention_end.isoformat() if r.retention_end else None)
            for r in rows
        ]  # fmt: skip
        if not values:
            return
        insert = (
            f"INSERT INTO {{schema}}disclosures ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "  # noqa: S608
            "ON CONFLICT (record_key, recipient, version, message_type) DO NOTHING"
        )
        with self._db.tx() as db:
            db.executemany(self._db.q(insert), values)

    def holdings(self, record_key: str) -> list[Holding]:
        """Per recipient that was ever sent this record: its latest version (a deletion counts as later than
        the content of the same version), sorted by recipient."""
        return holdings_of(self.entries([record_key]).get(record_key, []))

    def latest_version(self, record_key: str) -> int | None:
        """The highest version of this record disclosed to anyone, or None when it never was."""
        return max((e.version for e in self.entries([record_key]).get(record_key, [])), default=None)

    def entries(self, record_keys: Collection[str]) -> dict[str, list[Entry]]:
        """What is recorded of each of ``record_keys`` (a key never disclosed is absent), in one read
        transaction: what a batch of the router decides with (``services.ledger.view``)."""
        keys = sorted(set(record_keys))
        found: dict[str, list[Entry]] = {}
        with self._db.tx() as db:
            for start in range(0, len(keys), _KEYS_PER_QUERY):
                chunk = keys[start : start + _KEYS_PER_QUERY]
                query = (
                    "SELECT record_key, recipient, version, message_type, retention_end FROM {schema}disclosures "  # noqa: S608
                    f"WHERE record_key IN ({', '.join('?' * len(chunk))})"
                )
                for key, recipient, version, message_type, end in db.execute(self._db.q(query), chunk).fetchall():
                    entry = Entry(
                        str(recipient), int(version), str(message_type), dt.date.fromisoformat(end) if end else None
                    )
                    found.setdefault(str(key), []).append(entry)
        return found

    def rows(self) -> list[Disclosure]:
        """Every recorded disclosure, ordered by record key, recipient, version and message type."""
        query = f"SELECT {_COLUMNS} FROM {{schema}}disclosures ORDER BY record_key, recipient, version, message_type"  # noqa: S608
        with self._db.tx() as db:
            found = db.execute(self._db.q(query)).fetchall()
        return [
            Disclosure(str(r[0]), str(r[1]), int(r[2]), str(r[3]), str(r[4]), r[5],
                       dt.datetime.fromtimestamp(float(r[6]), dt.UTC), dt.date.fromisoformat(r[7]) if r[7] else None)
            for r in found
        ]  # fmt: skip

    def size(self) -> int:
        """How many disclosures are recorded."""
        with self._db.tx() as db:
            return int(db.execute(self._db.q("SELECT COUNT(*) FROM {schema}disclosures")).fetchone()[0])

    def close(self) -> None:
        """Close the database connection. Idempotent."""
        self._db.close()
