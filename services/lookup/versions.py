"""The version of each record the lookup feed has applied, so that an older version never replaces a newer
one and a deleted record is not brought back by a late copy of an earlier version.

One row per record key (the opaque key of ``services/kernel/recordkey.py``): the highest version applied and
whether that version was a DELETION. Kept beside the index (same database, table ``lookup_versions``), and
kept after the record leaves the index: it holds no identity, only the opaque key and two numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from services.kernel.sqlstore import SqlStore

_DDL = """
CREATE TABLE IF NOT EXISTS {schema}lookup_versions (
    record_key {blob} PRIMARY KEY,
    version BIGINT NOT NULL,
    deleted SMALLINT NOT NULL
)
"""


@dataclass(frozen=True)
class Applied:
    """The version of a record last applied, and whether it was a DELETION."""

    version: int
    deleted: bool


class FeedVersions:
    """The applied versions in one store (SQLite file or PostgreSQL schema). Every database error is a
    TransientError."""

    def __init__(self, location: str, pg_schema: str = "crx_lookup") -> None:
        self._db = SqlStore(location, pg_schema, _DDL, "lookup versions")

    def get(self, record_key: bytes) -> Applied | None:
        """What was applied for ``record_key``, or None when nothing was."""
        query = self._db.q("SELECT version, deleted FROM {schema}lookup_versions WHERE record_key = ?")
        with self._db.tx() as db:
            row = db.execute(query, (record_key,)).fetchone()
        return None if row is None else Applied(int(row[0]), bool(row[1]))

    def put(self, record_key: bytes, applied: Applied) -> None:
        """Record that ``applied`` was applied for ``record_key`` (replacing what was there)."""
        query = self._db.q(
            "INSERT INTO {schema}lookup_versions (record_key, version, deleted) VALUES (?, ?, ?) "
            "ON CONFLICT (record_key) DO UPDATE SET version = excluded.version, deleted = excluded.deleted"
        )
        with self._db.tx() as db:
            db.execute(query, (record_key, applied.version, int(applied.deleted)))

    def close(self) -> None:
        """Close the database connection. Idempotent."""
        self._db.close()
