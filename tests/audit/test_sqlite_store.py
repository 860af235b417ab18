"""The SQLite audit store: triggers refuse changes, a flipped byte anywhere in a stored leaf, node or checkpoint
of the file fails verification, and open_store picks SQLite for a path."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.sqlite_store import TABLES, SqliteAuditStore
from services.audit.store import open_store
from services.audit.tree_store import DEFAULT_ORIGIN
from services.kernel.config import load_settings
from services.kernel.errors import ConfigError
from services.translog import merkle
from services.translog.notes import NoteSigner
from tests.audit.conftest import events


@pytest.fixture
def signer() -> NoteSigner:
    """A checkpoint key."""
    return NoteSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())


def _filled(path: Path, signer: NoteSigner) -> list[bytes]:
    store = SqliteAuditStore(str(path))
    leaves = events(9)
    store.append(leaves[:4], signers=[signer])
    store.append(leaves[4:], signers=[signer])
    store.close()  # the last connection folds the WAL into the file
    return leaves


@pytest.mark.parametrize("table", TABLES)
def test_updates_and_deletes_are_refused(tmp_path: Path, signer: NoteSigner, table: str) -> None:
    """Every table is append-only at the database level."""
    _filled(tmp_path / "a.sqlite3", signer)
    db = sqlite3.connect(tmp_path / "a.sqlite3")
    key = {"leaves": "idx", "nodes": "idx", "checkpoints": "size"}[table]
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(f"DELETE FROM {table} WHERE {key} = 4")  # noqa: S608 - table from a fixed list
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute(f"UPDATE {table} SET {key} = {key} + 100")  # noqa: S608


def _verify_copy(tmp_path: Path, raw: bytes, signer: NoteSigner) -> tuple[bool, int | None]:
    copy = tmp_path / "t.sqlite3"
    copy.write_bytes(raw)
    store = SqliteAuditStore(str(copy))
    try:
        result = store.verify([signer.verifier()])
    finally:
        store.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{copy}{suffix}").unlink(missing_ok=True)
    return result.ok, result.bad_index


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


def test_a_flipped_byte_in_a_leaf_of_the_file_is_reported_at_that_leaf(tmp_path: Path, signer: NoteSigner) -> None:
    """Changing one byte of the database file where a logged event is stored names that event's index."""
    path = tmp_path / "a.sqlite3"
    leaves = _filled(path, signer)
    raw = path.read_bytes()
    for index, leaf in enumerate(leaves):
        at = raw.find(leaf)
        assert at >= 0
        for offset in (0, len(leaf) // 2, len(leaf) - 1):
            assert _verify_copy(tmp_path, _flip(raw, at + offset), signer) == (False, index)


def test_a_flipped_byte_in_a_node_or_a_checkpoint_of_the_file_fails(tmp_path: Path, signer: NoteSigner) -> None:
    """Changing one byte of any stored node hash, checkpoint root or checkpoint note fails verification."""
    path = tmp_path / "a.sqlite3"
    _filled(path, signer)
    store = SqliteAuditStore(str(path))
    values = [bytes(h) for (h,) in store._all("SELECT hash FROM nodes")]
    for cp in store.checkpoints():
        values += [cp.root, cp.note.encode()]
    store.close()
    raw = path.read_bytes()
    assert len(values) == 2 * 9 - 2 + 2 * 2
    for value in values:
        at = raw.find(value)
        assert at >= 0
        for offset in (0, len(value) // 2, len(value) - 1):
            ok, _ = _verify_copy(tmp_path, _flip(raw, at + offset), signer)
            assert not ok, f"undetected flip at {offset} of {value[:8]!r}"


def test_the_old_hash_chain_layout_is_refused(tmp_path: Path) -> None:
    """A file from the hash-chain store is not silently reused as a new, empty Merkle log."""
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY)")
    db.close()
    with pytest.raises(ConfigError):
        SqliteAuditStore(str(path))


def test_a_postgresql_uri_is_not_taken_for_a_file_name() -> None:
    """Opening a PostgreSQL URI as SQLite fails instead of creating a file named after the URI."""
    with pytest.raises(ConfigError):
        SqliteAuditStore("postgresql://crx@db.example/crx")


def test_open_store_picks_sqlite_for_a_path(tmp_path: Path) -> None:
    """Without ``audit_db`` the store is ``<data_dir>/audit.sqlite3``; the origin follows the broker party."""
    settings = load_settings(None, {}, data_dir=tmp_path, broker_party="crx.example")
    store = open_store(settings)
    try:
        assert isinstance(store, SqliteAuditStore) and store.path == str(tmp_path / "audit.sqlite3")
        assert store.origin == "crx.example/audit"
    finally:
        store.close()
    custom = open_store(settings.replace(audit_db=str(tmp_path / "x.db"), audit_origin="log.example/a"))
    try:
        assert isinstance(custom, SqliteAuditStore) and custom.origin == "log.example/a"
    finally:
        custom.close()


def test_concurrent_connections_serialise_on_the_write_lock(tmp_path: Path, signer: NoteSigner) -> None:
    """Two connections (as two processes would) appending at once never interleave or duplicate indexes."""
    path = str(tmp_path / "a.sqlite3")
    SqliteAuditStore(path).close()
    pool = events(60)

    def write(k: int) -> None:
        store = SqliteAuditStore(path)
        for b in range(0, 60, 5):
            store.append(pool[b + k : b + 5 + k], signers=[signer] if b % 20 == 0 else ())
        store.close()

    with ThreadPoolExecutor(2) as pool_of_two:
        for done in [pool_of_two.submit(write, k) for k in range(2)]:
            done.result()  # a writer's exception fails the test
    store = SqliteAuditStore(path)
    logged = list(store.leaves())
    assert [i for i, _ in logged] == list(range(60)) and sorted(x for _, x in logged) == sorted(pool)
    assert store.verify([signer.verifier()]).ok
    assert store.root() == merkle.root(60, store._node)
    store.close()


_CLOSE_WHILE_READING = """
import sys, threading, time
from services.audit.accounting import settlement_states
from services.audit.sqlite_store import SqliteAuditStore
from services.kernel.errors import TransientError

path = sys.argv[1]
SqliteAuditStore(path).close()
refused = 0
for _ in range(60):
    store = SqliteAuditStore(path)

    def read() -> None:
        global refused
        try:
            for _ in range(100):
                settlement_states(store, [f"s{k}" for k in range(50)])
        except TransientError:
            refused += 1

    reader = threading.Thread(target=read)
    reader.start()
    time.sleep(0.001)
    store.close()
    reader.join()
print(refused)
"""


def test_closing_while_a_thread_reads_never_crashes_the_process(tmp_path: Path) -> None:
    """The intake's reconciler reads the log in a worker thread and closes it on stop: before the close took the
    store's lock, sqlite3 crashed the whole process (segmentation fault, seen in CI). Run in a child process so
    that a crash is a failed assertion, not a lost test run."""
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", _CLOSE_WHILE_READING, str(tmp_path / "audit.db")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == 0, child.stderr[-2000:]
    assert int(child.stdout) > 0  # the reader met a closed store and got TransientError, not a crash
