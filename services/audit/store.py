"""The audit store interface and ``open_store``: an RFC 9162 Merkle tree log with signed checkpoints.

Two backends share one schema and one implementation of the tree logic (``tree_store``):
``SqliteAuditStore`` (a file; the default) and ``PostgresAuditStore`` (psycopg 3). ``open_store`` picks one
from ``Settings.audit_db``: a ``postgresql://`` (or ``postgres://``) URI selects PostgreSQL (tables in the
schema ``Settings.audit_pg_schema``), anything else is a SQLite path (default ``<data_dir>/audit.sqlite3``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from services.audit.sqlite_store import SqliteAuditStore
from services.audit.tree_store import (
    DEFAULT_ORIGIN,
    POSTGRES_SCHEMES,
    AppendResult,
    AuditStoreError,
    Decoded,
    InconsistentCheckpoint,
    StoredCheckpoint,
)
from services.audit.tree_verify import VerifyResult
from services.kernel.config import Settings
from services.translog.notes import NoteSigner, NoteVerifier

__all__ = [
    "DEFAULT_ORIGIN",
    "AppendResult",
    "AuditStore",
    "AuditStoreError",
    "InconsistentCheckpoint",
    "SqliteAuditStore",
    "StoredCheckpoint",
    "VerifyResult",
    "is_postgres",
    "open_store",
]


class AuditStore(Protocol):
    """What the audit writer, the accounting and ``crx audit`` use of a store (see ``tree_store``)."""

    origin: str

    @property
    def size(self) -> int:
        """Number of leaves."""
        ...

    def append(
        self, leaves: Sequence[bytes], *, signers: Sequence[NoteSigner] = (), decoded: Decoded = None
    ) -> AppendResult:
        """Append audit events in one transaction, skipping logged event ids; optionally sign a checkpoint.
        ``decoded``: the leaves' events when the caller has decoded them already."""
        ...

    def checkpoint(self, signers: Sequence[NoteSigner]) -> StoredCheckpoint | None:
        """Sign a checkpoint of the current size unless one exists."""
        ...

    def root(self, size: int | None = None) -> bytes:
        """Tree root of the first ``size`` leaves."""
        ...

    def leaf(self, index: int) -> bytes:
        """Leaf ``index``."""
        ...

    def leaves(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(index, leaf)`` in ``[start, end)``."""
        ...

    def index_of(self, event_id: str) -> int | None:
        """Leaf index of an event id."""
        ...

    def events(self, **where: str) -> list[dict[str, Any]]:
        """Decoded events, optionally filtered by one column."""
        ...

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof."""
        ...

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof."""
        ...

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The largest signed checkpoint."""
        ...

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every signed checkpoint."""
        ...

    def verify(self, verifiers: Sequence[NoteVerifier]) -> VerifyResult:
        """Recompute and check everything."""
        ...

    def close(self) -> None:
        """Close the connection."""
        ...


def is_postgres(location: str) -> bool:
    """True when ``location`` is a PostgreSQL URI rather than a SQLite path."""
    return location.startswith(POSTGRES_SCHEMES)


def open_store(settings: Settings, *, create: bool = True) -> AuditStore:
    """Open the configured audit store: PostgreSQL for a ``postgresql://`` ``audit_db``, else SQLite.

    ``create``: create missing PostgreSQL tables (possible only as the owner role).
    """
    location = settings.audit_db_path
    if is_postgres(location):
        from services.audit.postgres_store import PostgresAuditStore  # psycopg only when configured

        return PostgresAuditStore(
            location, schema=settings.audit_pg_schema, origin=settings.audit_log_origin, create=create
        )
    return SqliteAuditStore(location, origin=settings.audit_log_origin)
