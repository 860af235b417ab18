"""The SQLite audit store: append-only, hash-chained, idempotent on event id, with signed checkpoints.

Each row holds the audit event's canonical bytes (its Avro single-object encoding) as ``leaf``, and
``chain = SHA-256(previous chain || SHA-256(0x00 || leaf))``, starting from 32 zero bytes. After every
appended batch a checkpoint (size, head) is signed with the broker's signing key. Triggers refuse UPDATE
and DELETE. ``verify`` recomputes everything from the leaves, so changing any stored byte of a row or a
checkpoint is detected. (The RFC 9162 Merkle tree and proofs replace the chain in a later step.)
"""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from schemas import AUDIT_EVENT
from services.kernel.codec import codec
from services.kernel.errors import CrxError, TransientError

GENESIS = bytes(32)
CHECKPOINT_ORIGIN = "crx-audit-chain/1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log (
    seq INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    event_type TEXT NOT NULL,
    submission_id TEXT,
    message_id TEXT,
    recipients TEXT NOT NULL,
    outcome TEXT NOT NULL,
    leaf BLOB NOT NULL,
    chain BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS log_submission ON log(submission_id);
CREATE TABLE IF NOT EXISTS checkpoints (
    size INTEGER PRIMARY KEY,
    body TEXT NOT NULL,
    signer_key_id TEXT NOT NULL,
    signature BLOB NOT NULL
);
CREATE TRIGGER IF NOT EXISTS log_no_update BEFORE UPDATE ON log BEGIN SELECT RAISE(ABORT, 'append-only'); END;
CREATE TRIGGER IF NOT EXISTS log_no_delete BEFORE DELETE ON log BEGIN SELECT RAISE(ABORT, 'append-only'); END;
CREATE TRIGGER IF NOT EXISTS cp_no_update BEFORE UPDATE ON checkpoints BEGIN SELECT RAISE(ABORT, 'append-only'); END;
CREATE TRIGGER IF NOT EXISTS cp_no_delete BEFORE DELETE ON checkpoints BEGIN SELECT RAISE(ABORT, 'append-only'); END;
"""

Signer = Callable[[bytes], tuple[str, bytes]]
Verifier = Callable[[str, bytes, bytes], bool]


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || leaf)."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def checkpoint_body(size: int, head: bytes) -> str:
    """The signed checkpoint text: origin, size and base64 head, one per line."""
    return f"{CHECKPOINT_ORIGIN}\n{size}\n{base64.b64encode(head).decode()}\n"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a full verification: ok, entries checked, and the first problem found."""

    ok: bool
    entries: int
    problem: str | None = None


class SqliteAuditStore:
    """One audit log in one SQLite file. Single writer (the audit service is the one sequencer)."""

    def __init__(self, path: str) -> None:
        self.path = path
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)
        self._codec = codec(AUDIT_EVENT)
        row = self._db.execute("SELECT seq, chain FROM log ORDER BY seq DESC LIMIT 1").fetchone()
        self._size, self._head = (int(row[0]), bytes(row[1])) if row else (0, GENESIS)

    @property
    def size(self) -> int:
        """Number of entries."""
        return self._size

    @property
    def head(self) -> bytes:
        """Chain value after the last entry."""
        return self._head

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    def append(self, leaves: Sequence[bytes], signer: Signer) -> int:
        """Append the audit events ``leaves`` (skipping event ids already logged) and sign a checkpoint.

        All in one transaction: either every new entry and the checkpoint are durable, or none is.
        Returns the number of entries added. Raises CrxError for a leaf that is not an audit event and
        TransientError when the database fails.
        """
        events = [(leaf, self._codec.decode(leaf)) for leaf in leaves]
        size, head = self._size, self._head
        try:
            self._db.execute("BEGIN IMMEDIATE")
            added = 0
            for leaf, event in events:
                event_id = str(event["event_id"])
                if self._db.execute("SELECT 1 FROM log WHERE event_id = ?", (event_id,)).fetchone():
                    continue
                head = hashlib.sha256(head + leaf_hash(leaf)).digest()
                size += 1
                self._db.execute(
                    "INSERT INTO log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (size, event_id, *_columns(event), leaf, head),
                )
                added += 1
            if added:
                body = checkpoint_body(size, head)
                key_id, signature = signer(body.encode())
                self._db.execute("INSERT INTO checkpoints VALUES (?, ?, ?, ?)", (size, body, key_id, signature))
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise TransientError(f"audit store: {type(exc).__name__}") from None
        self._size, self._head = size, head
        return added

    def events(self, **where: str) -> list[dict[str, Any]]:
        """Decoded events, optionally filtered by one of submission_id, message_id, event_type."""
        allowed = {"submission_id", "message_id", "event_type"}
        if not set(where) <= allowed or len(where) > 1:
            raise CrxError("events(): filter by exactly one of submission_id, message_id, event_type")
        sql = "SELECT leaf FROM log"
        params: tuple[str, ...] = ()
        if where:
            ((column, value),) = where.items()
            sql += f" WHERE {column} = ?"
            params = (value,)
        return [self._codec.decode(bytes(row[0])) for row in self._db.execute(sql + " ORDER BY seq", params)]

    def verify(self, verifier: Verifier) -> VerifyResult:
        """Recompute the chain from every leaf and check every column and every signed checkpoint.

        Never raises for a damaged store: returns ok=False with the first problem found.
        """
        try:
            return self._verify(verifier)
        except (sqlite3.Error, CrxError, ValueError, UnicodeDecodeError) as exc:
            return VerifyResult(False, 0, f"store unreadable: {type(exc).__name__}")

    def _verify(self, verifier: Verifier) -> VerifyResult:
        if self._db.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            return VerifyResult(False, 0, "database integrity check failed")
        head, expected_seq = GENESIS, 1
        heads = {0: GENESIS}
        for row in self._db.execute("SELECT * FROM log ORDER BY seq"):
            seq, event_id, leaf, chain = row[0], row[1], bytes(row[7]), bytes(row[8])
            if seq != expected_seq:
                return VerifyResult(False, expected_seq - 1, f"gap or reorder at entry {expected_seq}")
            event = self._codec.decode(leaf)
            if str(event["event_id"]) != event_id or tuple(row[2:7]) != _columns(event):
                return VerifyResult(False, seq - 1, f"entry {seq}: columns disagree with the logged event")
            head = hashlib.sha256(head + leaf_hash(leaf)).digest()
            if head != chain:
                return VerifyResult(False, seq - 1, f"entry {seq}: chain mismatch")
            heads[seq] = head
            expected_seq += 1
        size = expected_seq - 1
        checkpoints = self._db.execute("SELECT size, body, signer_key_id, signature FROM checkpoints ORDER BY size")
        last = 0
        for cp_size, body, key_id, signature in checkpoints:
            if cp_size not in heads or body != checkpoint_body(cp_size, heads[cp_size]):
                return VerifyResult(False, size, f"checkpoint {cp_size} does not match the log")
            if not verifier(key_id, bytes(signature), body.encode()):
                return VerifyResult(False, size, f"checkpoint {cp_size}: bad signature")
            last = cp_size
        if last != size:
            return VerifyResult(False, size, "entries after the last signed checkpoint")
        return VerifyResult(True, size)


def _columns(event: dict[str, Any]) -> tuple[Any, ...]:
    return (
        event["event_type"],
        event["submission_id"],
        event["message_id"],
        ",".join(event["recipients"]),
        event["outcome"],
    )
