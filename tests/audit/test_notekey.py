"""The audit log's note key is made once: never again for a log that has one, never swapped silently; and
``crx audit verify --vkey`` checks against a verifier key pinned out of band."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.audit.notekey import ensure_note_key, key_path, vkey_path
from services.audit.sqlite_store import SqliteAuditStore
from services.cli import main
from services.kernel.config import Settings, load_settings
from services.kernel.errors import KeyUnavailable
from services.translog.notes import NoteSigner
from tests.audit.conftest import events


@pytest.fixture
def fresh(tmp_path: Path) -> Settings:
    return load_settings(None, {}, data_dir=tmp_path / "data")


def test_the_key_is_made_on_first_use_and_kept(fresh: Settings) -> None:
    first = ensure_note_key(fresh)
    assert ensure_note_key(fresh).verifier_key() == first.verifier_key()
    assert vkey_path(fresh).read_text().split() == [first.verifier_key()]


def test_a_lost_key_is_not_replaced_for_a_log_that_had_one(fresh: Settings) -> None:
    """A new key would let a rewritten history verify: refused, nothing created, the verifier file unchanged."""
    ensure_note_key(fresh)
    trusted = vkey_path(fresh).read_text()
    key_path(fresh).unlink()
    with pytest.raises(KeyUnavailable, match="missing"):
        ensure_note_key(fresh)
    assert not key_path(fresh).exists()
    assert vkey_path(fresh).read_text() == trusted


def test_a_swapped_key_is_refused_and_not_trusted(fresh: Settings) -> None:
    ensure_note_key(fresh)
    trusted = vkey_path(fresh).read_text()
    key_path(fresh).unlink()
    key_path(fresh).write_bytes(_pem(Ed25519PrivateKey.generate()))
    with pytest.raises(KeyUnavailable, match="not one that"):
        ensure_note_key(fresh)
    assert vkey_path(fresh).read_text() == trusted


def test_verify_against_a_pinned_vkey_catches_a_log_rewritten_with_its_vkey(fresh: Settings, tmp_path: Path) -> None:
    """Whoever rewrites the store (and re-signs it with a key of their own) can rewrite the store's vkey file
    too: the default check then passes, the check against the pinned copy fails."""
    genuine = ensure_note_key(fresh)
    pinned = tmp_path / "pinned.vkey"
    pinned.write_text(genuine.verifier_key() + "\n")
    forger = NoteSigner(genuine.name, Ed25519PrivateKey.generate())
    store = SqliteAuditStore(fresh.audit_db_path, origin=genuine.name)
    try:
        store.append(events(5), signers=[forger])  # the forged history, signed by the forger's key
    finally:
        store.close()
    vkey_path(fresh).write_text(forger.verifier_key() + "\n")  # and the store's own trust file rewritten
    env = {"CRX_DATA_DIR": str(fresh.data_dir)}
    runner = CliRunner()
    assert json.loads(runner.invoke(main, ["audit", "verify"], env=env).output)["ok"] is True
    pinned_run = runner.invoke(main, ["audit", "verify", "--vkey", str(pinned)], env=env)
    assert pinned_run.exit_code == 1 and json.loads(pinned_run.output)["ok"] is False


def _pem(key: Ed25519PrivateKey) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
