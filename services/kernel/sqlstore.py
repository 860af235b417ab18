"""One small SQL store shape for the broker's stateful parts: SQLite in the data directory by default,
PostgreSQL when a ``postgresql://`` URI is configured, the same SQL (``?`` placeholders) for both.

SQLite runs in WAL mode with ``synchronous=FULL`` (a committed row is on disk) and a busy timeout, so two
processes on one host (a service and the CLI, the router and the case service) can share one file.
PostgreSQL tables live in their own schema. Every database error is a ``TransientError``: the caller retries
(a batch, a periodic pass) or answers 503; it never dead-letters a record because its store was away.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.kernel.errors import ConfigError, TransientError

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}", re.ASCII)


def is_postgres(location: str) -> bool:
    """True when ``location`` is a PostgreSQL URI rather than a SQLite file path."""
    return location.startswith(("postgresql://", "postgres://"))


class SqlStore:
    """A connection, one transaction at a time (thread-safe), and the table names of one store.

    ``ddl`` is a ``;``-separated script with ``{schema}`` (``"<schema>".`` on PostgreSQL, empty on SQLite) and
    ``{blob}`` (BYTEA or BLOB) placeholders. ``what`` names the store in error messages.
    Raises ConfigError for a bad schema name, TransientError when the database does not answer.
    """

    def __init__(self, location: str, pg_schema: str, ddl: str, what: str) -> None:
        self._what = what
        self._lock = threading.Lock()
        self.pg = is_postgres(location)
        if self.pg:
            if not _SCHEMA_NAME.fullmatch(pg_schema):
                raise ConfigError(f"{what}: the PostgreSQL schema must be a lower-case identifier")
            self.prefix = f'"{pg_schema}".'
            self._conn: Any = self._connect_pg(location, pg_schema, ddl)
        else:
            Path(location).parent.mkdir(parents=True, exist_ok=True)
            self.prefix = ""
            try:
                self._conn = sqlite3.connect(location, isolation_level=None, check_same_thread=False, timeout=10.0)
                self._conn.execute("PRAGMA journal_mode=WAL")
                self._conn.execute("PRAGMA synchronous=FULL")
                for statement in ddl.format(schema="", blob="BLOB").split(";"):
                    if statement.strip():
                        self._conn.execute(statement)
            except sqlite3.Error as exc:
                raise TransientError(f"{what} database: {type(exc).__name__}") from None

    def _connect_pg(self, location: str, schema: str, ddl: str) -> Any:
        import psycopg  # only when configured

        try:
            conn = psycopg.connect(location, autocommit=True, connect_timeout=10)
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            for statement in ddl.format(schema=f'"{schema}".', blob="BYTEA").split(";"):
                if statement.strip():
                    conn.execute(statement)
        except psycopg.Error as exc:
            raise TransientError(f"{self._what} database: {type(exc).__name__}") from None
        return conn

    def q(self, query: str) -> str:
        """``query`` for this database: ``{schema}`` filled in, ``?`` placeholders as the driver wants them."""
        return query.replace("{schema}", self.prefix).replace("?", "%s" if self.pg else "?")

    @contextmanager
    def tx(self) -> Iterator[Any]:
        """One transaction (a cursor-like object with ``execute``/``executemany``), serialised between threads.

        Database errors become TransientError; other exceptions roll back and propagate unchanged.
        """
        with self._lock:
            try:
                if self.pg:
                    with self._conn.transaction(), self._conn.cursor() as cursor:
                        yield cursor
                else:
                    self._conn.execute("BEGIN IMMEDIATE")
                    try:
                        yield self._conn
                    except BaseException:
                        self._conn.execute("ROLLBACK")
                        raise
                    self._conn.execute("COMMIT")
            except (sqlite3.Error, OSError) as exc:
                raise TransientError(f"{self._what} database: {type(exc).__name__}") from None
            except Exception as exc:
                if type(exc).__module__.startswith("psycopg"):
                    raise TransientError(f"{self._what} database: {type(exc).__name__}") from None
                raise

    def add_columns(self, table: str, columns: dict[str, str]) -> list[str]:
        """Add each of ``columns`` (name -> SQL type, nullable or with a default) that ``table`` lacks: the
        migration of a store written by an older crx. One transaction (two processes opening an old store at
        once add each column once). Returns the names added. Raises TransientError when the database does
        not answer."""
        with self.tx() as db:
            if self.pg:
                schema = self.prefix.strip('."')
                rows = db.execute(
                    "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    (schema, table),
                ).fetchall()
            else:
                rows = [(row[1],) for row in db.execute(f"PRAGMA table_info({table})").fetchall()]
            present = {str(row[0]) for row in rows}
            added = [name for name in columns if name not in present]
            for name in added:
                db.execute(self.q(f"ALTER TABLE {{schema}}{table} ADD COLUMN {name} {columns[name]}"))
        return added

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            self._conn.close()
