"""The intake's memory of submissions by ``Idempotency-Key``, so a retried submission is not published twice.

Keyed by (jurisdiction, key); each entry remembers the digest of the body and the response given. A retry
with the same key and body gets the same answer without publishing again; the same key with another body
is a conflict. Entries live ``ttl`` (default 7 days), then the key may be reused: each use after the time to
live is a new *generation* of the key, a new submission with a new submission id (``publisher.keyed``), so
it is not taken downstream for a repeat of the first. An expired entry keeps only its key and generation
(about 100 bytes per distinct key): dropping it would give the key's next use the first use's id again.

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
_EXPIRED = "FROM idempotency WHERE created_at < ? AND response != ''"  # entries still keeping their answer
_FORGET = "UPDATE idempotency SET body_sha256 = '', response = '' WHERE created_at < ? AND response != ''"  # keys stay

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    jurisdiction TEXT NOT NULL,
    key TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    created_at TEXT NOT NULL,
    generation INTEGER NOT NULL DEFAULT 0,
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
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(idempotency)")}
        if "generation" not in columns:  # a store written before generations
            self._db.execute("ALTER TABLE idempotency ADD COLUMN generation INTEGER NOT NULL DEFAULT 0")
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

    def generation(self, jurisdiction: str, key: str, now: dt.datetime) -> int:
        """The generation of a use of (jurisdiction, key) now: 0 for its first use, the same while its entry
        lives, one more once the entry has expired."""
        with self._lock:
            row = self._db.execute(
                "SELECT generation, created_at FROM idempotency WHERE jurisdiction=? AND key=?", (jurisdiction, key)
            ).fetchone()
        if row is None:
            return 0
        return int(row[0]) + (1 if dt.datetime.fromisoformat(row[1]) + self._ttl < now else 0)

    def put(
        self,
        jurisdiction: str,
        key: str,
        body_sha256: str,
        status: int,
        response: str,
        now: dt.datetime,
        generation: int = 0,
    ) -> None:
        """Remember the response of the ``generation``-th use (replacing an expired entry); every
        ``PURGE_EVERY`` puts, empty the expired entries (their key and generation stay)."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO idempotency VALUES (?, ?, ?, ?, ?, ?, ?)",
                (jurisdiction, key, body_sha256, status, response, now.isoformat(), generation),
            )
            self._puts += 1
            if self._puts % PURGE_EVERY == 0:
                self._db.execute(
                    _FORGET,
                    ((now - self._ttl).isoformat(),),
                )

    def forget_older(self, now: dt.datetime, days: float, *, forget: bool) -> int:
        """How many entries older than ``days`` (and than the time to live: a live entry keeps its answer) at
        ``now`` still keep their body digest and answer; with ``forget``, empty them now (their key and
        generation stay, as every ``PURGE_EVERY`` puts)."""
        cutoff = (now - max(self._ttl, dt.timedelta(days=days))).isoformat()
        with self._lock:
            count = int(self._db.execute(f"SELECT COUNT(*) {_EXPIRED}", (cutoff,)).fetchone()[0])
            if forget and count:
                self._db.execute(
                    _FORGET,
                    (cutoff,),
                )
        return count

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()
