"""The audit log in PostgreSQL (psycopg 3): the tables of ``tree_store`` in their own schema.

Roles (``postgres_roles.sql`` creates them; PostgreSQL 14 or later):

- the **owner** (``crx_audit_owner``) owns the schema, creates the tables, indexes and triggers (``install``,
  or the first ``PostgresAuditStore`` opened as the owner) and is the only role that could disable a trigger;
  nothing runs as the owner in production.
- the **application role** (``crx_audit_writer``), which the audit writer and ``crx audit verify`` connect as,
  is granted USAGE on the schema and only SELECT and INSERT on the tables (``grant_writer``): UPDATE, DELETE
  and TRUNCATE fail with "permission denied" before any trigger runs. The triggers (``refuse_change``)
  refuse UPDATE, DELETE and TRUNCATE for everyone else, the owner included, unless disabled.

One sequencer per log: every append takes the transaction-scoped advisory lock of its schema
(``pg_advisory_xact_lock``, which needs no privilege on the tables, unlike ``SELECT ... FOR UPDATE``), then
reads the size, so two writers never interleave leaf indexes; a batch is one transaction, idempotent on
``event_id`` (``ON CONFLICT (event_id) DO NOTHING`` behind a check under the lock). ``verify`` reads in one
REPEATABLE READ, READ ONLY transaction through server-side cursors: constant memory whatever the log size.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from typing import Any

import psycopg
from psycopg import sql

from services.audit.tree_store import DEFAULT_ORIGIN, PAGE, TreeStore
from services.audit.tree_verify import Row
from services.kernel.errors import ConfigError, TransientError

DEFAULT_SCHEMA = "crx_audit"
TABLES = ("leaves", "nodes", "checkpoints")

_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}", re.ASCII)

# The tables, indexes and triggers, shared with postgres_roles.sql; psql's :"schema" becomes a bound identifier.
_DDL = "CREATE SCHEMA IF NOT EXISTS {schema};\n" + (
    resources.files(__package__)
    .joinpath("postgres_tables.sql")
    .read_text(encoding="utf-8")
    .replace(':"schema"', "{schema}")
)


def check_schema_name(schema: str) -> str:
    """``schema`` if it is a plain lower-case identifier; else ConfigError."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ConfigError("audit_pg_schema must be a lower-case identifier ([a-z_][a-z0-9_]*, at most 63)")
    return schema


def lock_key(schema: str) -> int:
    """The advisory lock id serialising the writers of the log in ``schema`` (per database)."""
    return int.from_bytes(hashlib.sha256(f"crx-audit:{schema}".encode()).digest()[:8], "big", signed=True)


def install(conn: psycopg.Connection[Any], schema: str = DEFAULT_SCHEMA) -> None:
    """Create the schema, tables, indexes and append-only triggers (idempotent). Run as the owner role."""
    name = sql.Identifier(check_schema_name(schema))
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key(schema),))
        conn.execute(sql.SQL(_DDL).format(schema=name))


def grant_writer(conn: psycopg.Connection[Any], role: str, schema: str = DEFAULT_SCHEMA) -> None:
    """Grant the application role ``role`` what the audit writer needs and nothing more: USAGE, SELECT, INSERT."""
    name = sql.Identifier(check_schema_name(schema))
    grantee = sql.Identifier(role)
    tables = sql.SQL(", ").join(sql.SQL("{}.{}").format(name, sql.Identifier(t)) for t in TABLES)
    with conn.transaction():
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(name, grantee))
        conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO {}").format(tables, grantee))


class PostgresAuditStore(TreeStore):
    """One audit log in the schema ``schema`` of the PostgreSQL database at ``dsn`` (a ``postgresql://`` URI).

    With ``create`` (the default), missing tables are created, which works only when connected as the
    owner; the application role gets ConfigError pointing at ``postgres_roles.sql`` instead.
    """

    driver_errors = (psycopg.Error,)

    def __init__(
        self, dsn: str, *, schema: str = DEFAULT_SCHEMA, origin: str = DEFAULT_ORIGIN, create: bool = True
    ) -> None:
        super().__init__(origin)
        self.schema = check_schema_name(schema)
        self._dsn = dsn
        self._advisory_key = lock_key(schema)
        self._cursors = itertools.count()
        self._conn = self._connect()
        if not self._installed():
            if not create:
                raise ConfigError(f"no audit tables in schema {schema}: run postgres_roles.sql and install()")
            try:
                install(self._conn, schema)
            except psycopg.errors.InsufficientPrivilege:
                raise ConfigError(
                    f"no audit tables in schema {schema} and no privilege to create them: "
                    "create them as the owner role (see services/audit/postgres_roles.sql)"
                ) from None

    def _connect(self) -> psycopg.Connection[Any]:
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, application_name="crx-audit")
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        except psycopg.Error as exc:
            raise TransientError(f"audit store: {type(exc).__name__}") from None
        return conn

    def _connection(self) -> psycopg.Connection[Any]:
        """The connection, reconnecting once it is broken (the server restarted, the network dropped)."""
        if self._conn.closed or self._conn.broken:
            self._conn = self._connect()
        return self._conn

    def _installed(self) -> bool:
        row = self._one(
            "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE schemaname = ? AND tablename IN (?, ?, ?)",
            (self.schema, *TABLES),
        )
        return row is not None and row[0] == len(TABLES)

    def close(self) -> None:
        """Close the connection once no other thread is inside a statement or transaction. Idempotent."""
        with self._lock:
            self._conn.close()

    @staticmethod
    def _sql(statement: str) -> str:
        return statement.replace("?", "%s")

    @contextmanager
    def _write(self) -> Iterator[None]:
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (self._advisory_key,))
                    yield
            except psycopg.Error as exc:
                raise TransientError(f"audit store: {type(exc).__name__}") from None

    @contextmanager
    def _snapshot(self) -> Iterator[None]:
        with self._lock:
            conn = self._connection()
            with conn.transaction():
                conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                yield

    def _all(self, statement: str, params: Sequence[Any] = ()) -> list[Row]:
        try:
            with self._lock:
                return self._connection().execute(self._sql(statement), tuple(params)).fetchall()
        except psycopg.Error as exc:
            raise TransientError(f"audit store: {type(exc).__name__}") from None

    def _stream(self, statement: str, params: Sequence[Any] = ()) -> Generator[Row, None, None]:
        cursor = self._connection().cursor(name=f"crx_audit_{next(self._cursors)}")
        cursor.itersize = PAGE
        try:
            cursor.execute(self._sql(statement), tuple(params))
            yield from cursor
        finally:
            cursor.close()

    def _many(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._connection().cursor() as cursor:
            cursor.executemany(self._sql(statement), [tuple(r) for r in rows])
