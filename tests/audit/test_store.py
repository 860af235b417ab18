"""The SQLite audit store: append-only, idempotent on event id, chain and signed checkpoints verified."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path

import pytest

from services.audit.store import SqliteAuditStore
from services.audit.writer import checkpoint_signer, checkpoint_verifier
from services.kernel.audit_events import AuditEmitter
from services.kernel.keys import KeyRing


def _events(n: int, offset: int = 0) -> list[bytes]:
    emitter = AuditEmitter("test", "crx.audit", b"secret")
    now = dt.datetime.now(dt.UTC)
    return [
        emitter.event("COLLECTION", occurred_at=now, actor="DE", outcome="ok", submission_id=f"s{i}").value
        for i in range(offset, offset + n)
    ]


def test_append_is_idempotent_and_verifies(keyring: KeyRing, tmp_path: Path) -> None:
    """Redelivered events (same event id) are not appended twice; the log verifies after each batch."""
    store = SqliteAuditStore(str(tmp_path / "a.sqlite3"))
    sign, verify = checkpoint_signer(keyring, "crx"), checkpoint_verifier(keyring, "crx")
    assert store.append(_events(5), sign) == 5
    assert store.append(_events(7), sign) == 2
    assert store.size == 7 and store.verify(verify).ok
    head = store.head
    store.close()
    reopened = SqliteAuditStore(str(tmp_path / "a.sqlite3"))
    assert reopened.size == 7 and reopened.head == head and reopened.verify(verify).ok


def test_updates_and_deletes_are_refused(keyring: KeyRing, tmp_path: Path) -> None:
    """The log is append-only at the database level."""
    store = SqliteAuditStore(str(tmp_path / "a.sqlite3"))
    store.append(_events(2), checkpoint_signer(keyring, "crx"))
    db = sqlite3.connect(tmp_path / "a.sqlite3")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("DELETE FROM log WHERE seq = 1")
    with pytest.raises(sqlite3.IntegrityError):
        db.execute("UPDATE log SET outcome = 'x' WHERE seq = 1")


def test_rewritten_history_fails_verification(keyring: KeyRing, tmp_path: Path) -> None:
    """Rebuilding the log with different events (and a consistent chain) fails: checkpoints are signed."""
    path = tmp_path / "a.sqlite3"
    store = SqliteAuditStore(str(path))
    store.append(_events(3), checkpoint_signer(keyring, "crx"))
    store.close()
    db = sqlite3.connect(path)
    db.execute("DROP TRIGGER log_no_delete")
    db.execute("DELETE FROM log WHERE seq = 3")
    db.commit()
    db.close()
    result = SqliteAuditStore(str(path)).verify(checkpoint_verifier(keyring, "crx"))
    assert not result.ok and result.problem


def test_raw_file_byte_flip_in_a_leaf_is_detected(keyring: KeyRing, tmp_path: Path) -> None:
    """Changing one byte of the database file where a logged event is stored breaks verification."""
    path = tmp_path / "a.sqlite3"
    store = SqliteAuditStore(str(path))
    leaves = _events(4)
    store.append(leaves, checkpoint_signer(keyring, "crx"))
    store.close()
    raw = bytearray(path.read_bytes())
    for leaf in leaves:
        at = raw.find(leaf)
        assert at >= 0
        tampered = bytearray(raw)
        tampered[at + len(leaf) // 2] ^= 0x01
        copy = tmp_path / "t.sqlite3"
        copy.write_bytes(bytes(tampered))
        assert not SqliteAuditStore(str(copy)).verify(checkpoint_verifier(keyring, "crx")).ok
        copy.unlink()
