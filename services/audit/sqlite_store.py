"""The audit log in one SQLite file (the default backend): WAL, append-only triggers, one writer at a time.

Writers serialise on ``BEGIN IMMEDIATE`` (SQLite's one write lock per file), so even two processes never
interleave leaf indexes. Triggers refuse UPDATE and DELETE on every table; someone with write access to
the file can drop them, which ``verify`` then catches (see ``tree_store``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.audit.tree_store import DEFAULT_ORIGIN, POSTGRES_SCHEMES, TreeStore
from services.audit.tree_verify import Row
from services.kernel.errors import ConfigError, TransientError

TABLES = ("leaves", "nodes", "checkpoints")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS leaves (
    idx INTEGER PRIMARY KEY CHECK (idx >= 0),
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    submission_id TEXT,
    message_id TEXT,
    recipients TEXT NOT NULL,
    outcome TEXT NOT NULL,
    leaf BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS leaves_submission ON leaves(submission_id);
CREATE INDEX IF NOT EXISTS leaves_message ON leaves(message_id);
CREATE INDEX IF NOT EXISTS leaves_event_type ON leaves(event_type);
CREATE TABLE IF NOT EXISTS nodes (
    level INTEGER NOT NULL CHECK (level >= 0),
    idx INTEGER NOT NULL CHECK (idx >= 0),
    hash BLOB NOT NULL,
    PRIMARY KEY (level, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY CHECK (size > 0),
    root BLOB NOT NULL,
    note TEXT NOT NULL
);
""" + "".join(
    f"CREATE TRIGGER IF NOT EXISTS {table}_no_{op.lower()} BEFORE {op} ON {table} "
    f"BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;\n"
    for table in TABLES
    for op in ("UPDATE", "DELETE")
)


class SqliteAuditStore(TreeStore):
    """One audit log in one SQLite file (``":memory:"`` for a throwaway one)."""

    driver_errors = (sqlite3.Error,)

    def __init__(self, path: str, *, origin: str = DEFAULT_ORIGIN) -> None:
        super().__init__(origin)
        if path.startswith(POSTGRES_SCHEMES):
            raise ConfigError("the audit store is a PostgreSQL URI: open it with services.audit.store.open_store")
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'log'").fetchone():
                raise ConfigError(f"{path} holds the old hash-chain audit log; move it aside to start a new log")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise TransientError(f"audit store: {type(exc).__name__}") from None

    def close(self) -> None:
        """Close the database once no other thread is inside a statement or transaction (a reader in a worker
        thread must never have the connection closed under it: sqlite3 then crashes the process). Later uses
        raise TransientError. Idempotent."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise TransientError(f"audit store: {type(exc).__name__}") from None

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        with self._lock:
            self._db.execute("BEGIN")
            try:
                yield
            finally:
                if self._db.in_transaction:
                    self._db.execute("COMMIT")

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            with self._lock:
                return self._db.execute(sql, tuple(params)).fetchall()
        except sqlite3.Error as exc:
            raise TransientError(f"audit store: {type(exc).__name__}") from None

    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Generator[Row, None, None]:
        yield from self._db.execute(sql, tuple(params))

    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self._db.executemany(sql, rows)  # rows of any sequence type: not copied

    def _storage_problem(self) -> str | None:
        try:
            with self._lock:
                result = self._db.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.Error as exc:
            return f"database unreadable: {type(exc).__name__}"
        return None if result == "ok" else "database integrity check failed"
