"""Keys: the hybrid suite, registry and private-key formats, lifecycle rules, hot reload, the `crx keys` commands.

Real crypto and real files throughout: keys are generated, written, reloaded and used through the real
``Sealer`` and ``Opener``.
"""

from __future__ import annotations

import base64
import concurrent.futures
import dataclasses
import datetime as dt
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem, x25519
from cryptography_vectors import open_vector_file

from services.cli import main
from services.kernel.envelope import Opener, SealContext, Sealer
from services.kernel.errors import EnvelopeError, KeyUnavailable
from services.kernel.suites import HPKE_SUITES, HybridPrivateKey, HybridPublicKey, hpke_suite
from services.keys import lifecycle as keyadmin
from services.keys.ring import (
    USES,
    KeyEntry,
    KeyRegistry,
    KeyRing,
    PrivateKeyStore,
    allowed,
    editing,
    generate_party_keys,
    key_id_of,
)

HYBRID = "MLKEM768-X25519-SHA256-AES256GCM"
PASSPHRASE = b"correct horse battery staple"
NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
BROKER = frozenset({"crx"})


def _ctx(recipient: str = "FR", message_id: str = "m-1") -> SealContext:
    return SealContext(
        channel=f"out.{recipient}",
        message_id=message_id,
        correlation_id="s-1",
        sender="crx",
        recipient=recipient,
        content_type="avro/crx.v1.CriminalRecord",
        schema_fingerprint=b"12345678",
    )


def _ring(keys_dir: Path, *, fr_suite: str = "P256-SHA256-AES256GCM", passphrase: bytes | None = None) -> KeyRing:
    ring = KeyRing.open(keys_dir, passphrase)
    generate_party_keys(ring.registry, ring.store, "crx", now=NOW)
    generate_party_keys(ring.registry, ring.store, "FR", now=NOW, hpke=fr_suite)
    ring.registry.save()
    return ring


def _seal(ring: KeyRing, now: dt.datetime = NOW, message_id: str = "m-1") -> bytes:
    return Sealer(ring.registry, ring.store, "crx").seal(b"conviction", _ctx(message_id=message_id), now)


def _open(ring: KeyRing, sealed: bytes, now: dt.datetime = NOW) -> bytes:
    return Opener(ring.registry, ring.store, "FR").open(sealed, channel="out.FR", now=now, signers=BROKER).plaintext


def _envelope(ring: KeyRing, sealed: bytes) -> dict[str, Any]:
    return Opener(ring.registry, ring.store, "FR").parse(sealed)


# --- the hybrid suite and the key formats ------------------------------------------------------------------


def test_hybrid_round_trip_through_the_real_sealer_and_opener(tmp_path: Path) -> None:
    """A record sealed to an MLKEM768-X25519 key (stored encrypted, reloaded from disk) opens for its owner only."""
    _ring(tmp_path / "keys", fr_suite=HYBRID, passphrase=PASSPHRASE)
    ring = KeyRing.open(tmp_path / "keys", PASSPHRASE)  # a fresh process: keys come from the files
    sealed = _seal(ring)
    env = _envelope(ring, sealed)
    assert env["suite"] == HYBRID and env["recipient_key_id"] == ring.registry.active("FR", "encryption", NOW).key_id
    assert len(env["sealed"]) == 1120 + len(b"conviction") + 16  # enc (ct_MLKEM768 || X25519 ephemeral) || ct || tag
    assert _open(ring, sealed) == b"conviction"
    with pytest.raises(EnvelopeError):
        Opener(ring.registry, ring.store, "crx").open(sealed, channel="out.FR", now=NOW, signers=BROKER)


def test_hybrid_registry_entry_is_the_raw_concatenation_tagged_and_its_key_id(tmp_path: Path) -> None:
    """The hybrid public key is base64(pk_MLKEM768 || pk_X25519), tagged kem-raw-base64; its id hashes those bytes."""
    ring = _ring(tmp_path / "keys", fr_suite=HYBRID)
    entry = ring.registry.active("FR", "encryption", NOW)
    raw = base64.b64decode(entry.public_key)
    assert entry.public_key_format == "kem-raw-base64" and len(raw) == 1184 + 32
    assert entry.key_id == hashlib.sha256(raw).hexdigest()[:32]
    pem_files = (tmp_path / "keys/private/FR" / f"{entry.key_id}.pem").read_bytes()
    unencrypted = [serialization.load_pem_private_key(b, None) for b in _pem_blocks(pem_files)]
    assert isinstance(unencrypted[0], mlkem.MLKEM768PrivateKey) and isinstance(unencrypted[1], x25519.X25519PrivateKey)
    assert raw == unencrypted[0].public_key().public_bytes_raw() + unencrypted[1].public_key().public_bytes_raw()
    # PEM-able keys: SubjectPublicKeyInfo PEM, id over the SPKI DER, as before.
    signing = ring.registry.active("FR", "signing", NOW)
    der = serialization.load_pem_public_key(signing.public_key.encode()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert signing.public_key_format == "spki-pem" and signing.key_id == hashlib.sha256(der).hexdigest()[:32]


def test_hybrid_public_encoding_is_the_order_of_the_pq_test_vector() -> None:
    """pk_MLKEM768 || pk_X25519 is the KEM's SerializePublicKey: the draft-ietf-hpke-pq vector's pkRm parses so."""
    with open_vector_file("HPKE/hpke-pq-test-vectors.json", "r") as handle:
        vector = next(v for v in json.load(handle) if v["kem_id"] == 0x647A)
    pk = bytes.fromhex(vector["pkRm"])
    expanded = hashlib.shake_256(bytes.fromhex(vector["skRm"])).digest(96)
    private = HybridPrivateKey(
        mlkem.MLKEM768PrivateKey.from_seed_bytes(expanded[:64]),
        x25519.X25519PrivateKey.from_private_bytes(expanded[64:]),
    )
    assert private.public_key().raw() == pk == HybridPublicKey.from_raw(pk).raw()
    with pytest.raises(ValueError):
        HybridPublicKey.from_raw(pk[:-1])


def test_registry_written_before_the_format_tag_still_loads(tmp_path: Path) -> None:
    """An entry without public_key_format (the older registry) is SPKI PEM and still seals and opens."""
    ring = _ring(tmp_path / "keys")
    path = tmp_path / "keys/registry.json"
    data = json.loads(path.read_text())
    for entries in data["parties"].values():
        for entry in entries:
            del entry["public_key_format"]
    path.write_text(json.dumps(data))
    old = KeyRing.open(tmp_path / "keys", None)
    assert {e.public_key_format for e in old.registry.entries()} == {"spki-pem"}
    assert _open(old, _seal(old)) == b"conviction"
    assert ring.registry.entries() == old.registry.entries()


def _pem_blocks(data: bytes) -> list[bytes]:
    return [b"-----BEGIN" + part for part in data.split(b"-----BEGIN")[1:]]


def _raw_secrets(key: Any) -> list[bytes]:
    """Every raw secret a private key is made of."""
    if isinstance(key, HybridPrivateKey):
        return [key.mlkem.private_bytes_raw(), key.x25519.private_bytes_raw()]
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return [key.private_numbers().private_value.to_bytes(32, "big")]
    raw: bytes = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    return [raw]


@pytest.mark.parametrize("suite", sorted(HPKE_SUITES))
def test_private_key_files_are_encrypted_and_hold_no_raw_key(suite: str, tmp_path: Path) -> None:
    """With a passphrase, each PKCS#8 block is encrypted (mode 0600) and no raw secret appears in any encoding."""
    store = PrivateKeyStore(tmp_path, PASSPHRASE)
    private = hpke_suite(suite).generate()
    key_id = key_id_of(private.public_key())
    store.store("FR", key_id, private)
    path = store.path("FR", key_id)
    data = path.read_bytes()
    assert (path.stat().st_mode & 0o777) == 0o600 and (path.parent.stat().st_mode & 0o777) == 0o700
    blocks = _pem_blocks(data)
    assert len(blocks) == (2 if suite == HYBRID else 1)
    assert all(b.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----") for b in blocks)
    for secret in _raw_secrets(private):
        for form in (secret, secret.hex().encode(), base64.b64encode(secret), base64.b64encode(secret)[4:-4]):
            assert form not in data
    reloaded = PrivateKeyStore(tmp_path, PASSPHRASE).load("FR", key_id)
    info = b"info"
    sealed = hpke_suite(suite).encrypt(b"secret", private.public_key(), info)
    assert hpke_suite(suite).suite().decrypt(sealed, reloaded, info) == b"secret"


def test_wrong_missing_or_mismatched_private_keys_fail_opaquely(tmp_path: Path) -> None:
    """Wrong passphrase, no passphrase, a missing file, a key filed under another id: one KeyUnavailable message."""
    ring = _ring(tmp_path / "keys", fr_suite=HYBRID, passphrase=PASSPHRASE)
    enc = ring.registry.active("FR", "encryption", NOW)
    sig = ring.registry.active("FR", "signing", NOW)
    messages = set()
    for passphrase, key_id in ((b"wrong", enc.key_id), (None, enc.key_id), (PASSPHRASE, "0" * 32)):
        with pytest.raises(KeyUnavailable) as info:
            PrivateKeyStore(tmp_path / "keys", passphrase).load("FR", key_id)
        messages.add(str(info.value).replace(key_id, "<id>"))
    swapped = PrivateKeyStore(tmp_path / "keys", PASSPHRASE)
    swapped.path("FR", enc.key_id).write_bytes(swapped.path("FR", sig.key_id).read_bytes())
    with pytest.raises(KeyUnavailable) as info:
        swapped.load("FR", enc.key_id)
    messages.add(str(info.value).replace(enc.key_id, "<id>"))
    assert len(messages) == 1
    assert "passphrase" not in messages.pop()


# --- lifecycle rules ---------------------------------------------------------------------------------------


def _entry(purpose: str, status: str, not_before: dt.datetime, not_after: dt.datetime | None = None) -> KeyEntry:
    return KeyEntry(
        "FR",
        "00" * 16,
        purpose,  # type: ignore[arg-type]  # test data: one of the Purpose values
        "P256-SHA256-AES256GCM",
        "",
        status,  # type: ignore[arg-type]  # test data: one of the Status values
        not_before.isoformat(),
        not_after.isoformat() if not_after else None,
    )


@pytest.mark.parametrize("status", ["active", "retiring", "revoked"])
@pytest.mark.parametrize("window", ["valid", "expired", "not-yet-valid"])
def test_the_rules_table(status: str, window: str) -> None:
    """Seal/sign: active and valid only. Open: active or retiring, even expired. Verify: active or retiring, valid."""
    hour = dt.timedelta(hours=1)
    start, end = {
        "valid": (NOW - hour, None),
        "expired": (NOW - 2 * hour, NOW - hour),
        "not-yet-valid": (NOW + hour, None),
    }[window]
    expected = {
        "seal": status == "active" and window == "valid",
        "open": status != "revoked",
        "sign": status == "active" and window == "valid",
        "verify": status != "revoked" and window == "valid",
    }
    for use, rule in USES.items():
        assert allowed(_entry(rule.purpose, status, start, end), use, NOW) is expected[use], use
        other = "signing" if rule.purpose == "encryption" else "encryption"
        assert not allowed(_entry(other, status, start, end), use, NOW)


def test_broker_seals_only_to_an_active_currently_valid_key(tmp_path: Path) -> None:
    """Retiring, revoked, expired and not-yet-valid keys are never sealed to; the newest valid active key is."""
    ring = _ring(tmp_path / "keys")
    first = ring.registry.active("FR", "encryption", NOW)
    new, retired = keyadmin.rotate(ring, "FR", "encryption", NOW)
    assert [e.key_id for e in retired] == [first.key_id]
    assert _envelope(ring, _seal(ring))["recipient_key_id"] == new.key_id
    # A key scheduled for later is not used before its time, then takes over.
    later = NOW + dt.timedelta(days=1)
    scheduled, none_retired = keyadmin.rotate(ring, "FR", "encryption", NOW, not_before=later)
    assert none_retired == [] and ring.registry.active("FR", "encryption", NOW).key_id == new.key_id
    assert ring.registry.active("FR", "encryption", later).key_id == scheduled.key_id
    # Expired: after not_after nothing of it is sealed to.
    ring.registry.add(dataclasses.replace(scheduled, not_after=(later + dt.timedelta(hours=1)).isoformat()))
    assert ring.registry.active("FR", "encryption", later + dt.timedelta(hours=2)).key_id == new.key_id
    # Revoked keys are never sealed to, even as the only ones left.
    for key_id in (new.key_id, scheduled.key_id):
        keyadmin.set_status(ring, "FR", key_id, "revoked")
    with pytest.raises(KeyUnavailable):
        _seal(ring)


def test_retiring_keys_still_open_and_revoked_ones_never_do(tmp_path: Path) -> None:
    """After a rotation the partner opens records sealed to its old key; once revoked, they are refused (file kept)."""
    ring = _ring(tmp_path / "keys", fr_suite=HYBRID)
    old_record = _seal(ring, message_id="m-old")
    old_key = _envelope(ring, old_record)["recipient_key_id"]
    new, _ = keyadmin.rotate(ring, "FR", "encryption", NOW)
    new_record = _seal(ring, message_id="m-new")
    assert _envelope(ring, new_record)["recipient_key_id"] == new.key_id != old_key
    assert ring.registry.get("FR", old_key).status == "retiring"
    assert _open(ring, old_record) == _open(ring, new_record) == b"conviction"
    assert _open(ring, old_record, NOW + dt.timedelta(days=3650)) == b"conviction"  # no expiry on opening
    keyadmin.set_status(ring, "FR", old_key, "revoked")
    with pytest.raises(EnvelopeError):
        _open(ring, old_record)
    assert ring.store.holds("FR", old_key)  # kept for forensics, never used by crx
    assert _open(ring, new_record) == b"conviction"


def test_revoked_or_expired_signing_key_refuses_all_it_signed(tmp_path: Path) -> None:
    """A retiring signing key still verifies; revoking it, or its expiry, makes everything it signed refused."""
    ring = _ring(tmp_path / "keys")
    signed_by_old = _seal(ring)
    old = ring.registry.active("crx", "signing", NOW)
    keyadmin.rotate(ring, "crx", "signing", NOW)
    signed_by_new = _seal(ring, message_id="m-2")
    assert _envelope(ring, signed_by_new)["signer_key_id"] != old.key_id
    assert _open(ring, signed_by_old) == b"conviction"  # retiring: in-flight envelopes still verify
    ring.registry.add(dataclasses.replace(ring.registry.get("crx", old.key_id), not_after=NOW.isoformat()))
    with pytest.raises(EnvelopeError):
        _open(ring, signed_by_old)
    ring.registry.add(dataclasses.replace(ring.registry.get("crx", old.key_id), not_after=None))
    keyadmin.set_status(ring, "crx", old.key_id, "revoked")
    with pytest.raises(EnvelopeError):
        _open(ring, signed_by_old)
    with pytest.raises(KeyUnavailable):
        ring.registry.for_use("crx", old.key_id, "sign", NOW)
    assert _open(ring, signed_by_new) == b"conviction"


def test_statuses_only_move_forward(tmp_path: Path) -> None:
    """active -> retiring -> revoked; a revoked key cannot be retired or revived."""
    ring = _ring(tmp_path / "keys")
    key_id = ring.registry.active("FR", "encryption", NOW).key_id
    keyadmin.set_status(ring, "FR", key_id, "revoked")
    for status in ("retiring", "active"):
        with pytest.raises(keyadmin.KeyAdminError):
            keyadmin.set_status(ring, "FR", key_id, status)


# --- hot reload --------------------------------------------------------------------------------------------


def test_running_registry_sees_rotation_and_revocation_without_restart(tmp_path: Path) -> None:
    """A service's registry picks up another process's rotation within its reload interval, not before."""
    _ring(tmp_path / "keys")
    path = tmp_path / "keys/registry.json"
    service = KeyRegistry.load(path, reload_interval=0.3)
    before = service.active("FR", "encryption", NOW)
    admin = KeyRing.open(tmp_path / "keys", None)
    new, _ = keyadmin.rotate(admin, "FR", "encryption", NOW)
    admin.registry.save()
    assert service.active("FR", "encryption", NOW) == before  # throttled: at most one look per interval
    time.sleep(0.35)
    assert service.active("FR", "encryption", NOW).key_id == new.key_id
    keyadmin.set_status(admin, "FR", new.key_id, "revoked")
    admin.registry.save()
    time.sleep(0.35)
    with pytest.raises(KeyUnavailable):
        service.active("FR", "encryption", NOW)


def test_unknown_key_id_makes_the_registry_look_at_once(tmp_path: Path) -> None:
    """An envelope naming a key rotated in a moment ago is resolved without waiting for the interval."""
    _ring(tmp_path / "keys")
    service = KeyRegistry.load(tmp_path / "keys/registry.json", reload_interval=3600)
    admin = KeyRing.open(tmp_path / "keys", None)
    new, _ = keyadmin.rotate(admin, "FR", "encryption", NOW)
    admin.registry.save()
    assert service.get("FR", new.key_id).status == "active"
    with pytest.raises(KeyUnavailable):
        service.get("FR", "f" * 32)


def test_invalid_or_missing_file_keeps_the_last_good_registry(tmp_path: Path) -> None:
    """A half-written or deleted registry is not swapped in: lookups go on, a warning is logged, a good file wins."""
    _ring(tmp_path / "keys")
    path = tmp_path / "keys/registry.json"
    good = path.read_bytes()
    with structlog.testing.capture_logs() as logs:
        service = KeyRegistry.load(path, reload_interval=0)
        entries = service.entries()
        path.write_bytes(good[: len(good) // 2])
        assert service.entries() == entries
        path.unlink()
        assert service.entries() == entries and service.active("FR", "encryption", NOW)
        admin = KeyRing.open(tmp_path / "keys", None)  # empty: the file is gone
        generate_party_keys(admin.registry, admin.store, "PL", now=NOW)
        admin.registry.save()
        assert [e.party for e in service.entries()] == ["PL", "PL"]
    warnings = [e for e in logs if e["log_level"] == "warning"]
    assert [e["event"] for e in warnings] == ["key_registry_invalid_kept_last_good"] * 2
    assert not any("BEGIN" in str(value) for event in logs for value in event.values())


def test_private_store_caches_and_finds_new_key_files(tmp_path: Path) -> None:
    """Keys are read on demand: one written by another process is found; one loaded stays cached."""
    ring = _ring(tmp_path / "keys", passphrase=PASSPHRASE)
    service = PrivateKeyStore(tmp_path / "keys", PASSPHRASE)
    first = ring.registry.active("FR", "encryption", NOW).key_id
    service.load("FR", first)
    new, _ = keyadmin.rotate(ring, "FR", "encryption", NOW, algorithm=HYBRID)
    assert service.load("FR", new.key_id) is not None
    service.path("FR", first).unlink()
    assert service.load("FR", first) is not None


# --- the `crx keys` commands -------------------------------------------------------------------------------


def _crx(data_dir: Path, *args: str, passphrase: str | None = None) -> Result:
    env = {"CRX_DATA_DIR": str(data_dir), "CRX_KEY_PASSPHRASE": passphrase}
    return CliRunner(env=env).invoke(main, ["keys", *args])


def _ok(result: Result) -> Any:
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def test_generate_warns_without_a_passphrase_and_encrypts_with_one(tmp_path: Path) -> None:
    """`generate` registers both keys; unencrypted storage is announced on stderr; with a passphrase it is not."""
    plain = _crx(tmp_path / "a", "generate", "--party", "crx")
    out = _ok(plain)
    assert out["party"] == "crx" and "unencrypted" in plain.stderr
    secret = _crx(
        tmp_path / "b", "generate", "--party", "fr", "--suite", HYBRID, "--signature", "Ed25519", passphrase="pw"
    )
    ids = _ok(secret)
    assert ids["party"] == "FR" and "unencrypted" not in secret.stderr
    files = sorted((tmp_path / "b/keys/private/FR").iterdir())
    assert len(files) == 2 and all(b"ENCRYPTED PRIVATE KEY" in f.read_bytes() for f in files)
    ring = KeyRing.open(tmp_path / "b/keys", b"pw")
    assert ring.registry.active("FR", "encryption", dt.datetime.now(dt.UTC)).algorithm == HYBRID
    again = _crx(tmp_path / "b", "generate", "--party", "FR", passphrase="pw")
    assert again.exit_code == 1 and "rotate" in again.output


def test_rotate_retire_revoke_and_list(tmp_path: Path) -> None:
    """rotate makes the old key retiring (private kept); revoke and retire move statuses; list shows no key material."""
    _ok(_crx(tmp_path, "generate", "--party", "FR", passphrase="pw"))
    rotated = _ok(_crx(tmp_path, "rotate", "--party", "FR", "--suite", HYBRID, passphrase="pw"))
    [old] = rotated["retiring"]
    assert rotated["algorithm"] == HYBRID
    assert (tmp_path / f"keys/private/FR/{old}.pem").exists()
    signing = _ok(_crx(tmp_path, "rotate", "--party", "FR", "--purpose", "signing", passphrase="pw"))
    bad = _crx(tmp_path, "rotate", "--party", "FR", "--purpose", "signing", "--suite", HYBRID, passphrase="pw")
    assert bad.exit_code == 2
    revoked = _crx(tmp_path, "revoke", "--party", "FR", "--key-id", rotated["key_id"], passphrase="pw")
    assert _ok(revoked)["status"] == "revoked" and "no active encryption key" in revoked.stderr
    assert _ok(_crx(tmp_path, "retire", "--party", "FR", "--key-id", signing["retiring"][0]))["status"] == "retiring"
    assert _crx(tmp_path, "retire", "--party", "FR", "--key-id", rotated["key_id"]).exit_code == 1

    listed = _crx(tmp_path, "list", "--party", "FR", "--json")
    rows = _ok(listed)
    by_id = {r["key_id"]: r for r in rows}
    assert by_id[old]["status"] == "retiring" and by_id[rotated["key_id"]]["status"] == "revoked"
    assert by_id[signing["key_id"]]["in_use"] and all(r["private_key_held"] for r in rows)
    assert set(rows[0]) == {
        "party", "key_id", "purpose", "algorithm", "status", "not_before", "not_after", "in_use", "private_key_held"
    }  # fmt: skip
    text = _crx(tmp_path, "list")
    assert text.exit_code == 0 and old in text.stdout
    ring = KeyRing.open(tmp_path / "keys", b"pw")
    for output in (listed.output, text.output):
        assert "PRIVATE" not in output and "PUBLIC KEY" not in output
        for entry in ring.registry.entries():
            assert entry.public_key[40:80] not in output
            for secret in _raw_secrets(_private_parts(ring, entry)):
                assert secret.hex() not in output and base64.b64encode(secret).decode() not in output


def test_the_broker_generates_its_components_keys_and_rotates_one(tmp_path: Path) -> None:
    """`generate --party crx` also makes an Ed25519 signing key (and nothing else) for each broker component,
    under `crx.<component>`; one missing is made on its own; rotating a component rotates its signing key
    (the default purpose there), and it never gets an encryption key; its id is not upper-cased."""
    out = _ok(_crx(tmp_path, "generate", "--party", "crx", passphrase="pw"))
    parties = [f"crx.{c}" for c in ("intake", "normaliser", "router", "cases", "audit", "dlq", "lookup")]
    assert sorted(out["components"]) == sorted(parties)
    rows = _ok(_crx(tmp_path, "list", "--json", passphrase="pw"))
    for party in parties:
        [row] = [r for r in rows if r["party"] == party]
        assert (row["purpose"], row["algorithm"], row["private_key_held"]) == ("signing", "Ed25519", True)
    again = _crx(tmp_path, "generate", "--party", "crx.router", passphrase="pw")
    assert again.exit_code == 1 and "rotate" in again.output
    rotated = _ok(_crx(tmp_path, "rotate", "--party", "crx.router", passphrase="pw"))
    assert (rotated["party"], rotated["purpose"], rotated["algorithm"]) == ("crx.router", "signing", "Ed25519")
    assert rotated["retiring"] == [out["components"]["crx.router"]]
    no = _crx(tmp_path, "rotate", "--party", "crx.router", "--purpose", "encryption", passphrase="pw")
    assert no.exit_code == 1 and "signing key only" in no.output
    ring = KeyRing.open(tmp_path / "keys", b"pw")
    revoked = ring.registry.active("crx.dlq", "signing", dt.datetime.now(dt.UTC)).key_id
    _ok(_crx(tmp_path, "revoke", "--party", "crx.dlq", "--key-id", revoked, passphrase="pw"))
    made = _ok(_crx(tmp_path, "generate", "--party", "crx.dlq", passphrase="pw"))
    assert made["party"] == "crx.dlq" and made["signing_key_id"] != revoked


def _private_parts(ring: KeyRing, entry: KeyEntry) -> Any:
    blocks = _pem_blocks(ring.store.path(entry.party, entry.key_id).read_bytes())
    keys = [serialization.load_pem_private_key(b, b"pw") for b in blocks]
    return HybridPrivateKey(keys[0], keys[1]) if len(keys) == 2 else keys[0]  # type: ignore[arg-type]


def _export(data_dir: Path, party: str, out: Path) -> dict[str, Any]:
    result = _crx(data_dir, "export", "--party", party, "--out", str(out))
    assert result.exit_code == 0, result.output
    bundle: dict[str, Any] = json.loads(out.read_text())
    return bundle


def test_export_import_round_trip_seals_to_the_partner(tmp_path: Path) -> None:
    """FR exports its bundle; the broker imports it and seals to FR's key; FR opens it with its private key."""
    fr_dir, broker_dir = tmp_path / "fr", tmp_path / "broker"
    _ok(_crx(fr_dir, "generate", "--party", "FR", "--suite", HYBRID))
    _ok(_crx(broker_dir, "generate", "--party", "crx"))
    bundle = _export(fr_dir, "FR", tmp_path / "fr.json")
    assert bundle["format"] == "crx-key-bundle/1" and len(bundle["signatures"]) == 1
    signing = next(k for k in bundle["keys"] if k["purpose"] == "signing")
    assert signing["public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    untrusted = _crx(broker_dir, "import", str(tmp_path / "fr.json"))  # first contact needs --trust
    assert untrusted.exit_code == 1 and "--trust" in untrusted.output
    fr_signer = bundle["signatures"][0]["key_id"]
    imported = _crx(broker_dir, "import", str(tmp_path / "fr.json"), "--trust", fr_signer)
    result = _ok(imported)
    assert result["first_contact"] and len(result["added"]) == 2 and "out of band" in imported.stderr
    assert _ok(_crx(broker_dir, "import", str(tmp_path / "fr.json")))["unchanged"] == result["added"]
    crx_bundle = _export(broker_dir, "crx", tmp_path / "crx.json")
    _ok(_crx(fr_dir, "import", str(tmp_path / "crx.json"), "--trust", crx_bundle["signatures"][0]["key_id"]))

    now = dt.datetime.now(dt.UTC)
    broker = KeyRing.open(broker_dir / "keys", None)
    assert not broker.store.holds("FR", result["added"][0])
    sealed = Sealer(broker.registry, broker.store, "crx").seal(b"conviction", _ctx(), now)
    fr = KeyRing.open(fr_dir / "keys", None)
    assert Opener(fr.registry, fr.store, "FR").open(sealed, channel="out.FR", now=now, signers=BROKER).plaintext == (
        b"conviction"
    )


def _tampered(bundle: dict[str, Any], change: str) -> dict[str, Any]:
    copy: dict[str, Any] = json.loads(json.dumps(bundle))
    key = next(k for k in copy["keys"] if k["purpose"] == "encryption")
    if change == "public_key":
        raw = bytearray(base64.b64decode(key["public_key"]))
        raw[-1] ^= 1
        key["public_key"] = base64.b64encode(bytes(raw)).decode()
    elif change == "key_id":
        key["key_id"] = "0" * 32
    elif change == "status":
        key["status"] = "retiring"
    elif change == "not_after":
        key["not_after"] = "2099-01-01T00:00:00+00:00"
    elif change == "signature":
        sig = bytearray(base64.b64decode(copy["signatures"][0]["signature"]))
        sig[-1] ^= 1
        copy["signatures"][0]["signature"] = base64.b64encode(bytes(sig)).decode()
    elif change == "unsigned":
        copy["signatures"] = []
    elif change == "algorithm":
        key["algorithm"] = "X25519-SHA256-AES256GCM"
    return copy


@pytest.mark.parametrize(
    "change", ["public_key", "key_id", "status", "not_after", "signature", "unsigned", "algorithm"]
)
def test_a_tampered_bundle_is_refused_whole(change: str, tmp_path: Path) -> None:
    """Any change to a key, its id, status, validity or algorithm, or to the signature, refuses the whole bundle."""
    _ok(_crx(tmp_path / "fr", "generate", "--party", "FR", "--suite", HYBRID))
    bundle = _export(tmp_path / "fr", "FR", tmp_path / "fr.json")
    (tmp_path / "bad.json").write_text(json.dumps(_tampered(bundle, change)))
    result = _crx(tmp_path / "broker", "import", str(tmp_path / "bad.json"))
    assert result.exit_code == 1 and ("refused" in result.output or "not signed" in result.output), result.output
    assert not (tmp_path / "broker/keys/registry.json").exists() or not KeyRing.open(
        tmp_path / "broker/keys", None
    ).registry.entries("FR")


def test_import_requires_continuity_and_never_revives_keys(tmp_path: Path) -> None:
    """A bundle for a known party must be signed by a key already registered for it (or --trust); statuses never
    go backwards; a node never imports over its own keys; unsigned bundles need --allow-unsigned."""
    fr, impostor, broker = tmp_path / "fr", tmp_path / "impostor", tmp_path / "broker"
    _ok(_crx(fr, "generate", "--party", "FR"))
    first = _export(fr, "FR", tmp_path / "fr-1.json")
    _ok(_crx(broker, "import", str(tmp_path / "fr-1.json"), "--trust", first["signatures"][0]["key_id"]))

    # FR rotates its encryption key: signed by its (unchanged) signing key, accepted.
    rotated = _ok(_crx(fr, "rotate", "--party", "FR"))
    _export(fr, "FR", tmp_path / "fr-2.json")
    update = _ok(_crx(broker, "import", str(tmp_path / "fr-2.json")))
    assert update["added"] == [rotated["key_id"]] and update["updated"] == rotated["retiring"]

    # Someone else's self-signed "FR" bundle is refused, unless its signer is trusted out of band.
    _ok(_crx(impostor, "generate", "--party", "FR"))
    fake = _export(impostor, "FR", tmp_path / "fake.json")
    refused = _crx(broker, "import", str(tmp_path / "fake.json"))
    assert refused.exit_code == 1 and "--trust" in refused.output
    signer = fake["signatures"][0]["key_id"]
    assert _ok(_crx(broker, "import", str(tmp_path / "fake.json"), "--trust", signer))["added"]

    # Replaying the first bundle does not make the retiring key active again.
    _ok(_crx(broker, "import", str(tmp_path / "fr-1.json")))
    ring = KeyRing.open(broker / "keys", None)
    assert ring.registry.get("FR", rotated["retiring"][0]).status == "retiring"

    # Unsigned: refused unless explicitly allowed.
    (tmp_path / "unsigned.json").write_text(json.dumps(_tampered(first, "unsigned")))
    assert _crx(tmp_path / "other", "import", str(tmp_path / "unsigned.json")).exit_code == 1
    assert _ok(_crx(tmp_path / "other", "import", str(tmp_path / "unsigned.json"), "--allow-unsigned"))["added"]

    # FR's own node refuses a bundle about FR.
    own = _crx(fr, "import", str(tmp_path / "fake.json"))
    assert own.exit_code == 1 and "private keys" in own.output


def test_concurrent_registry_edits_lose_nothing(tmp_path: Path) -> None:
    """Each change is a locked read-modify-write (what every `crx keys` command does): parallel editors lose nothing."""
    path = tmp_path / "keys/registry.json"
    store = PrivateKeyStore(tmp_path / "keys", None)

    def add_party(party: str) -> None:
        with editing(path) as registry:
            generate_party_keys(registry, store, party, now=NOW)
            time.sleep(0.01)  # widen the window a lost update would need

    parties = [f"P{i}" for i in range(12)]
    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(add_party, parties))
    registered = KeyRegistry.load(path).entries()
    assert sorted({e.party for e in registered}) == sorted(parties) and len(registered) == 2 * len(parties)


def test_answers_remembered_for_a_batch_follow_every_change_of_the_registry(tmp_path: Path) -> None:
    """``active`` and ``get`` remember their answers per entries and instant (a batch's ``now``): a key revoked
    or added in memory, or rotated in the file by another process, is seen at the very same ``now``."""
    ring = _ring(tmp_path / "keys")
    first = ring.registry.active("FR", "encryption", NOW)
    assert ring.registry.active("FR", "encryption", NOW) is first  # remembered
    assert ring.registry.get("FR", first.key_id) is first
    ring.registry.add(dataclasses.replace(first, status="revoked"))
    with pytest.raises(KeyUnavailable):
        ring.registry.active("FR", "encryption", NOW)
    assert ring.registry.get("FR", first.key_id).status == "revoked"
    elsewhere = KeyRing.open(tmp_path / "keys", None)  # another process's view of the same files
    new, _ = keyadmin.rotate(elsewhere, "FR", "encryption", NOW)
    elsewhere.registry.save()
    assert ring.registry.get("FR", new.key_id).key_id == new.key_id  # an unknown id reloads the file at once
    assert ring.registry.active("FR", "encryption", NOW).key_id == new.key_id
