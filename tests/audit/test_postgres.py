"""The PostgreSQL audit store: the application role may only read and insert, the triggers stop the owner, the
documented role script builds the same tables, writers serialise, and a dropped connection is recovered."""

from __future__ import annotations

import re
import threading
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from psycopg import sql

from services.audit.postgres_store import TABLES, PostgresAuditStore, install
from services.audit.store import open_store
from services.audit.tree_store import DEFAULT_ORIGIN
from services.kernel.config import load_settings
from services.kernel.errors import ConfigError, TransientError
from services.translog.notes import NoteSigner
from tests.audit.conftest import events
from tests.fixtures.postgres import PgLog, _uri, drop

ROLES_SQL = Path(__file__).parents[2] / "services" / "audit" / "postgres_roles.sql"


@pytest.fixture
def signer() -> NoteSigner:
    """A checkpoint key."""
    return NoteSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())


def _app(log: PgLog) -> psycopg.Connection[Any]:
    conn = psycopg.connect(log.app_dsn, autocommit=True)
    conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(log.schema)))
    return conn


@pytest.mark.parametrize("table", TABLES)
def test_the_application_role_may_not_update_delete_or_truncate(pg_log: PgLog, signer: NoteSigner, table: str) -> None:
    """UPDATE, DELETE and TRUNCATE by the application role fail with "permission denied" (no privilege)."""
    store = PostgresAuditStore(pg_log.app_dsn, schema=pg_log.schema, create=False)
    store.append(events(3), signers=[signer])
    store.close()
    column = {"leaves": "leaf", "nodes": "hash", "checkpoints": "root"}[table]
    with _app(pg_log) as conn:
        for statement in (
            sql.SQL("UPDATE {} SET {} = {}").format(
                sql.Identifier(table), sql.Identifier(column), sql.Identifier(column)
            ),
            sql.SQL("DELETE FROM {}").format(sql.Identifier(table)),
            sql.SQL("TRUNCATE {}").format(sql.Identifier(table)),
            sql.SQL("ALTER TABLE {} DISABLE TRIGGER USER").format(sql.Identifier(table)),
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
    with pg_log.admin() as conn:  # the owner has the privileges, but the triggers refuse
        for statement in (
            sql.SQL("DELETE FROM {}").format(sql.Identifier(table)),
            sql.SQL("TRUNCATE {}").format(sql.Identifier(table)),
        ):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                conn.execute(statement)


def test_the_application_role_cannot_create_the_tables(pg_log: PgLog) -> None:
    """Opening a schema without tables as the application role is a configuration error, not a silent create."""
    with pytest.raises(ConfigError):
        PostgresAuditStore(pg_log.app_dsn, schema=f"{pg_log.schema}_x", create=True)


def test_open_store_picks_postgres_for_a_postgresql_uri(pg_log: PgLog, tmp_path: Path, signer: NoteSigner) -> None:
    """``audit_db = postgresql://...`` selects PostgreSQL in ``audit_pg_schema``, with the configured origin."""
    settings = load_settings(
        None, {}, data_dir=tmp_path, audit_db=pg_log.app_dsn, audit_pg_schema=pg_log.schema, broker_party="crx"
    )
    store = open_store(settings, create=False)
    try:
        assert isinstance(store, PostgresAuditStore) and store.origin == "crx/audit"
        store.append(events(2), signers=[signer])
        assert store.size == 2 and store.verify([signer.verifier()]).ok
    finally:
        store.close()


@pytest.mark.parametrize("writers", [2, 4])
def test_concurrent_writers_never_interleave_indexes(pg_log: PgLog, signer: NoteSigner, writers: int) -> None:
    """Writers on separate connections, appending overlapping batches at once: every event is logged exactly once,
    indexes are 0..n-1 without gap, and the tree and every checkpoint verify."""
    pool = events(120)
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(k: int) -> None:
        store = PostgresAuditStore(pg_log.app_dsn, schema=pg_log.schema, create=False)
        try:
            start.wait()
            for b in range(0, 120, 6):
                batch = pool[b + k % 3 : b + 6 + k % 3]  # overlaps the other writers' batches
                store.append(batch, signers=[signer] if b % 24 == 0 else ())
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=write, args=(k,)) for k in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    store = PostgresAuditStore(pg_log.app_dsn, schema=pg_log.schema, create=False)
    try:
        logged = list(store.leaves())
        assert [i for i, _ in logged] == list(range(len(logged)))
        assert sorted(leaf for _, leaf in logged) == sorted(pool[: len(logged)]) and len(logged) >= 120
        result = store.verify([signer.verifier()])
        assert result.ok and result.entries == len(logged), result
    finally:
        store.close()


def test_a_dropped_connection_fails_one_batch_then_reconnects(pg_log: PgLog, signer: NoteSigner) -> None:
    """The server closing the session fails the batch in flight as retriable; the retry reconnects and succeeds."""
    store = PostgresAuditStore(pg_log.app_dsn, schema=pg_log.schema, create=False)
    try:
        store.append(events(2))
        with pg_log.admin() as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (pg_log.app_role,)
            )
        with pytest.raises(TransientError):
            store.append(events(4), signers=[signer])
        assert store.append(events(4), signers=[signer]).added == 2
        assert store.verify([signer.verifier()]).ok
    finally:
        store.close()


def _run_psql_script(conn: psycopg.Connection[Any], path: Path, variables: dict[str, str]) -> None:
    """Run a psql script's statements with ``:"name"`` and ``:'name'`` substituted and ``\\ir FILE`` included (no
    psql binary needed)."""
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"^\\ir (\S+)$", lambda m: (path.parent / m.group(1)).read_text(encoding="utf-8"), text, flags=re.M)
    text = re.sub(r"^--.*$", "", text, flags=re.MULTILINE)
    text = re.sub(r':"(\w+)"', lambda m: sql.Identifier(variables[m.group(1)]).as_string(conn), text)
    text = re.sub(r":'(\w+)'", lambda m: sql.Literal(variables[m.group(1)]).as_string(conn), text)
    statements, current, in_body = [], [], False
    for line in text.splitlines():
        current.append(line)
        in_body ^= line.count("$$") % 2 == 1
        if line.rstrip().endswith(";") and not in_body:
            statements.append("\n".join(current))
            current = []
    for statement in statements:
        conn.execute(statement.encode())


def _catalog(conn: psycopg.Connection[Any], schema: str) -> dict[str, list[tuple[str, ...]]]:
    """Columns, constraints, indexes and triggers of ``schema``, with its name replaced by ``<schema>``."""
    rows = {
        "columns": conn.execute(
            "SELECT table_name, column_name, data_type, is_nullable, ordinal_position FROM information_schema.columns"
            " WHERE table_schema = %s ORDER BY 1, 5",
            (schema,),
        ).fetchall(),
        "constraints": conn.execute(
            "SELECT c.conrelid::regclass::text, c.contype::text, pg_get_constraintdef(c.oid) FROM pg_constraint c"
            " JOIN pg_namespace n ON n.oid = c.connamespace WHERE n.nspname = %s ORDER BY 1, 2, 3",
            (schema,),
        ).fetchall(),
        "indexes": conn.execute(
            "SELECT tablename, indexname FROM pg_indexes WHERE schemaname = %s ORDER BY 1, 2", (schema,)
        ).fetchall(),
        "triggers": conn.execute(
            "SELECT c.relname, t.tgname, t.tgtype, t.tgenabled::text FROM pg_trigger t"
            " JOIN pg_class c ON c.oid = t.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND NOT t.tgisinternal ORDER BY 1, 2",
            (schema,),
        ).fetchall(),
    }
    return {k: [tuple(str(x).replace(schema, "<schema>") for x in row) for row in v] for k, v in rows.items()}


def test_the_documented_role_script_builds_what_install_builds(postgres_dsn: str, signer: NoteSigner) -> None:
    """postgres_roles.sql creates the owner and writer roles and the same tables, indexes, constraints and
    triggers as install(); its writer role appends and verifies, and may not update."""
    suffix = uuid.uuid4().hex[:12]
    schema, reference = f"crx_t_{suffix}", f"crx_t_ref_{suffix}"
    owner, writer = f"crx_t_owner_{suffix}", f"crx_t_writer_{suffix}"
    try:
        with psycopg.connect(postgres_dsn, autocommit=True) as conn:
            _run_psql_script(
                conn, ROLES_SQL, {"schema": schema, "owner": owner, "writer": writer, "writer_password": suffix}
            )
            install(conn, reference)
            scripted, installed = _catalog(conn, schema), _catalog(conn, reference)
            assert scripted["columns"] and scripted["triggers"]
            assert scripted == installed
            row = conn.execute("SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = %s", (schema,))
            assert row.fetchone() == (owner,)
        store = PostgresAuditStore(_uri(postgres_dsn, writer), schema=schema, create=False)
        try:
            store.append(events(5), signers=[signer])
            assert store.verify([signer.verifier()]).ok
        finally:
            store.close()
        with (
            psycopg.connect(_uri(postgres_dsn, writer), autocommit=True) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege),
        ):
            conn.execute(sql.SQL("DELETE FROM {}.leaves").format(sql.Identifier(schema)))
    finally:
        drop(postgres_dsn, reference)
        drop(postgres_dsn, schema, writer, owner)
