"""The intake's memory of submissions by ``Idempotency-Key``, so a retried submission is not published twice.

Keyed by (jurisdiction, key); each entry remembers the digest of the body and the response given. A retry
with the same key and body gets the same answer without publishing again; the same key with another body
is a conflict. Entries live ``ttl`` (default 7 days), then the key may be reused.

Crash window: the entry is written after the broker acknowledged the submission. A crash in between makes
the client's retry publish again, with the same submission id (it derives from the key), which every
consumer downstream treats as a duplicate (stable message and audit event ids).
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

DEFAULT_TTL = dt.timedelta(days=7)
PURGE_EVERY = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    jurisdiction TEXT NOT NULL,
    key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (jurisdiction, key)
)
"""


@dataclass(frozen=True)
class Remembered:
    """A response given earlier for the same key."""

    body_sha256: str
    status: int
    response: str


class IdempotencyStore:
    """SQLite-backed (a file in the data directory; ``:memory:`` for tests). Thread-safe."""

    def __init__(self, path: str | Path, ttl: dt.timedelta = DEFAULT_TTL) -> None:
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(_SCHEMA)
        self._ttl = ttl
        self._lock = threading.Lock()
        self._puts = 0

    def get(self, jurisdiction: str, key: str, now: dt.datetime) -> Remembered | None:
        """The remembered response for (jurisdiction, key), unless expired."""
        with self._lock:
            row = self._db.execute(
                "SELECT body_sha256, status, response, created_at FROM idempotency WHERE jurisdiction=? AND key=?",
                (jurisdiction, key),
            ).fetchone()
        if row is None or dt.datetime.fromisoformat(row[3]) + self._ttl < now:
            return None
        return Remembered(row[0], int(row[1]), row[2])

    def put(self, jurisdiction: str, key: str, body_sha256: str, status: int, response: str, now: dt.datetime) -> None:
        """Remember the response (replacing an expired entry); every ``PURGE_EVERY`` puts, drop expired ones."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?)",
                (jurisdiction, key, body_sha256, status, response, now.isoformat()),
            )
            self._puts += 1
            if self._puts % PURGE_EVERY == 0:
                self._db.execute("DELETE FROM idempotency WHERE created_at < ?", ((now - self._ttl).isoformat(),))

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
