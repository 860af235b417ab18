"""The audit store under test, once per backend (SQLite file, PostgreSQL schema), and an attacker's access to it."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.sqlite_store import TABLES, SqliteAuditStore
from services.audit.tree_store import DEFAULT_ORIGIN, TreeStore
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.translog.notes import NoteSigner

WHEN = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def events(n: int, offset: int = 0, *, prefix: str = "s") -> list[bytes]:
    """``n`` distinct COLLECTION events (the same bytes every call: fixed time, ids from the submission id)."""
    emitter = AuditEmitter("test", "crx.audit", b"secret")
    return [
        emitter.event(
            AuditEventType.COLLECTION, occurred_at=WHEN, actor="DE", outcome="ok", submission_id=f"{prefix}{i}"
        ).value
        for i in range(offset, offset + n)
    ]


@dataclass
class Backend:
    """A store backend: ``open()`` connects as the application; ``tamper(sql, params)`` acts as an attacker
    with write access to the database (SQLite: triggers dropped; PostgreSQL: the owner, triggers disabled).
    SQL uses ``?`` placeholders and the bare table names."""

    name: str
    _open: Callable[[], TreeStore]
    tamper: Callable[[str, Sequence[Any]], None]
    opened: list[TreeStore] = field(default_factory=list)

    def open(self) -> TreeStore:
        """A new connection to the test's log."""
        store = self._open()
        self.opened.append(store)
        return store

    def tamper_many(self, statements: Sequence[tuple[str, Sequence[Any]]]) -> None:
        """Several attacker statements."""
        for statement, params in statements:
            self.tamper(statement, params)


def _sqlite(path: Path) -> Backend:
    def tamper(statement: str, params: Sequence[Any]) -> None:
        db = sqlite3.connect(path)
        for table in TABLES:
            for op in ("update", "delete"):
                db.execute(f"DROP TRIGGER IF EXISTS {table}_no_{op}")
        db.execute(statement, tuple(params))
        db.commit()
        db.close()

    return Backend("sqlite", lambda: SqliteAuditStore(str(path)), tamper)


def _postgres(request: pytest.FixtureRequest) -> Backend:
    from psycopg import sql

    from services.audit.postgres_store import PostgresAuditStore
    from tests.fixtures.postgres import PgLog

    log: PgLog = request.getfixturevalue("pg_log")

    def tamper(statement: str, params: Sequence[Any]) -> None:
        with log.admin() as conn:
            for table in TABLES:
                conn.execute(sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table)))
            conn.execute(statement.replace("?", "%s"), tuple(params))
            for table in TABLES:
                conn.execute(sql.SQL("ALTER TABLE {} ENABLE TRIGGER USER").format(sql.Identifier(table)))

    return Backend("postgres", lambda: PostgresAuditStore(log.app_dsn, schema=log.schema, create=False), tamper)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each backend in turn; stores opened through it are closed after the test."""
    chosen = _sqlite(tmp_path / "audit.sqlite3") if request.param == "sqlite" else _postgres(request)
    yield chosen
    for store in chosen.opened:
        store.close()


@pytest.fixture
def note_signer() -> NoteSigner:
    """A fresh Ed25519 checkpoint key named after the default origin."""
    return NoteSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
