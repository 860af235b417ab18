"""Internal hops, format 2, from the specification alone: schemas/ENVELOPE.md ("Internal hops, format 2")
implemented independently here, opening what ``services.kernel.hop`` seals and sealing what it opens.

``SpecHop`` uses nothing from crx but the private key it is given: it parses the byte layout from the table,
does HPKE (RFC 9180 base mode: DHKEM(P-256 or X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM) by hand from
``cryptography``'s primitives (ECDH, X25519, HMAC, HKDF-Expand, AES-GCM), not with its HPKE module, and
AES-256-GCM with the whole clear prefix as associated data.
"""

from __future__ import annotations

import datetime as dt
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac, serialization
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from services.kernel.hop import HopContext, HopOpener, HopSealer
from services.keys.ring import KeyRegistry, KeyRing, PrivateKeyStore, generate_party_keys

# ---------------------------------------------------------------------------------------------------------------
# The independent implementation: ENVELOPE.md, "Internal hops, format 2".
# ---------------------------------------------------------------------------------------------------------------

MAGIC = bytes.fromhex("43525802")
WRAP_LABEL = b"crx-hop-key/2"
# ENVELOPE.md's suite table: name -> KEM id (KDF HKDF-SHA256 0x0001, AEAD AES-256-GCM 0x0002 for both).
KEM_IDS = {"P256-SHA256-AES256GCM": 0x0010, "X25519-SHA256-AES256GCM": 0x0020}


def _i2osp(n: int, length: int) -> bytes:
    return n.to_bytes(length, "big")


def _extract(salt: bytes, ikm: bytes) -> bytes:
    mac = hmac.HMAC(salt or bytes(32), hashes.SHA256())  # RFC 5869: an absent salt is HashLen zeros
    mac.update(ikm)
    return mac.finalize()


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = _i2osp(length, 2) + b"HPKE-v1" + suite_id + label + info
    return HKDFExpand(hashes.SHA256(), length, labeled).derive(prk)


def _serialize(public: Any) -> bytes:
    if isinstance(public, ec.EllipticCurvePublicKey):
        return public.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return bytes(public.public_bytes_raw())


def _dh(private: Any, public: Any) -> bytes:
    return bytes(private.exchange(ec.ECDH(), public) if isinstance(private, ec.EllipticCurvePrivateKey) else
                 private.exchange(public))  # fmt: skip


def _key_schedule(kem_id: int, dh: bytes, enc: bytes, pk_rm: bytes, info: bytes) -> tuple[bytes, bytes]:
    """RFC 9180 4.1 (DHKEM ExtractAndExpand) and 5.1 (KeySchedule, mode_base): the AEAD key and base nonce."""
    kem_suite = b"KEM" + _i2osp(kem_id, 2)
    eae_prk = _labeled_extract(kem_suite, b"", b"eae_prk", dh)
    shared_secret = _labeled_expand(kem_suite, eae_prk, b"shared_secret", enc + pk_rm, 32)
    suite_id = b"HPKE" + _i2osp(kem_id, 2) + _i2osp(0x0001, 2) + _i2osp(0x0002, 2)
    psk_id_hash = _labeled_extract(suite_id, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(suite_id, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(suite_id, shared_secret, b"secret", b"")
    return (
        _labeled_expand(suite_id, secret, b"key", context, 32),
        _labeled_expand(suite_id, secret, b"base_nonce", context, 12),
    )


def hpke_open(suite: str, private: Any, sealed: bytes, info: bytes) -> bytes:
    """OpenBase single shot (sequence number 0, empty AAD): ``sealed`` is ``enc || ct``."""
    kem_id = KEM_IDS[suite]
    if kem_id == 0x0010:
        enc = sealed[:65]
        public_e: Any = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), enc)
    else:
        enc = sealed[:32]
        public_e = x25519.X25519PublicKey.from_public_bytes(enc)
    key, nonce = _key_schedule(kem_id, _dh(private, public_e), enc, _serialize(private.public_key()), info)
    return AESGCM(key).decrypt(nonce, sealed[len(enc) :], b"")


def hpke_seal(suite: str, public: Any, plaintext: bytes, info: bytes) -> bytes:
    """SealBase single shot to ``public``: ``enc || ct``."""
    kem_id = KEM_IDS[suite]
    ephemeral: Any = ec.generate_private_key(ec.SECP256R1()) if kem_id == 0x0010 else x25519.X25519PrivateKey.generate()
    enc = _serialize(ephemeral.public_key())
    key, nonce = _key_schedule(kem_id, _dh(ephemeral, public), enc, _serialize(public), info)
    return enc + AESGCM(key).encrypt(nonce, plaintext, b"")


def _str(value: str | bytes) -> bytes:
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return len(raw).to_bytes(2, "big") + raw


class _Cursor:
    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, n: int) -> bytes:
        if self.at + n > len(self.data):
            raise ValueError("truncated")
        self.at += n
        return self.data[self.at - n : self.at]

    def str(self) -> bytes:
        return self.take(int.from_bytes(self.take(2), "big"))


@dataclass(frozen=True)
class SpecRecord:
    """The fields of ENVELOPE.md's table, and the plaintext."""

    fields: dict[str, Any]
    plaintext: bytes


class SpecHop:
    """Opens and seals format-2 records as the broker party ``me``, holding its HPKE key pair."""

    def __init__(self, me: str, suite: str, key_id: str, private: Any) -> None:
        self.me, self.suite, self.key_id, self.private = me, suite, key_id, private

    def open(self, data: bytes) -> SpecRecord:
        cur = _Cursor(data)
        if cur.take(4) != MAGIC:
            raise ValueError("not format 2")
        names = ("producer", "recipient", "recipient_key_id", "suite")
        f: dict[str, Any] = {name: cur.str().decode("utf-8") for name in names}
        f["data_key_id"], f["wrapped"] = cur.take(16), cur.str()
        for name in ("channel", "message_id", "correlation_id", "content_type"):
            f[name] = cur.str().decode("utf-8")
        f["schema_fingerprint"] = cur.str()
        (micros,) = struct.unpack(">q", cur.take(8))
        f["created_at"] = dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=micros)
        nonce = cur.take(12)
        if (f["recipient"], f["recipient_key_id"], f["suite"]) != (self.me, self.key_id, self.suite):
            raise ValueError("not for this key")
        info = WRAP_LABEL + b"".join(_str(f[n]) for n in (*names, "data_key_id"))
        data_key = hpke_open(self.suite, self.private, f["wrapped"], info)
        if len(data_key) != 32:
            raise ValueError("not a data key")
        return SpecRecord(f, AESGCM(data_key).decrypt(nonce, data[cur.at :], data[: cur.at]))

    def seal(self, public: Any, producer: str, ctx: dict[str, Any], counter: int, plaintext: bytes) -> bytes:
        data_key, data_key_id, prefix = os.urandom(32), os.urandom(16), os.urandom(4)
        block: list[str | bytes] = [producer, self.me, self.key_id, self.suite, data_key_id]
        wrapped = hpke_seal(self.suite, public, data_key, WRAP_LABEL + b"".join(_str(v) for v in block))
        micros = (ctx["created_at"] - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)
        head = (MAGIC + b"".join(_str(v) for v in block[:4]) + data_key_id + _str(wrapped)
                + b"".join(_str(ctx[n]) for n in ("channel", "message_id", "correlation_id", "content_type",
                                                   "schema_fingerprint"))
                + struct.pack(">q", micros) + prefix + counter.to_bytes(8, "big"))  # fmt: skip
        return head + AESGCM(data_key).encrypt(head[-12:], plaintext, head)


# ---------------------------------------------------------------------------------------------------------------
# The tests: crx's hop.py on the other side.
# ---------------------------------------------------------------------------------------------------------------

SUITES = ("P256-SHA256-AES256GCM", "X25519-SHA256-AES256GCM")
CTX = HopContext("records", "m-7", "s-7", "avro/crx.v1.CriminalRecord", bytes.fromhex("183bc849790211a2"))


def _broker(tmp_path: Path, suite: str) -> tuple[KeyRing, SpecHop]:
    """The broker's keys of ``suite`` in a fresh keys dir, and the independent implementation holding them."""
    registry, store = KeyRegistry(tmp_path / "registry.json"), PrivateKeyStore(tmp_path, None)
    enc, _ = generate_party_keys(registry, store, "crx", now=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1),
                                 hpke=suite)  # fmt: skip
    return KeyRing(registry, store), SpecHop("crx", suite, enc.key_id, store.load("crx", enc.key_id))


@pytest.mark.parametrize("suite", SUITES)
def test_spec_implementation_opens_what_crx_seals(tmp_path: Path, suite: str) -> None:
    """Every record crx seals (several, under one data key) opens with the spec alone, with every field of
    the table as crx meant it; a record with one byte of its clear prefix changed does not."""
    ring, spec = _broker(tmp_path, suite)
    sealer = HopSealer(ring.registry, "crx", "crx.normaliser")
    now = dt.datetime.now(dt.UTC)
    sealed = [sealer.seal(f"record {i}".encode(), CTX, now) for i in range(3)]
    opened = [spec.open(s) for s in sealed]
    assert [o.plaintext for o in opened] == [b"record 0", b"record 1", b"record 2"]
    fields = opened[0].fields
    assert (fields["producer"], fields["recipient"], fields["channel"], fields["message_id"]) == (
        "crx.normaliser", "crx", "records", "m-7"
    )  # fmt: skip
    assert fields["correlation_id"] == "s-7" and fields["content_type"] == CTX.content_type
    assert fields["schema_fingerprint"] == CTX.schema_fingerprint and fields["created_at"] == now
    assert len({o.fields["data_key_id"] for o in opened}) == 1
    tampered = bytearray(sealed[0])
    tampered[-40] ^= 1  # a byte of the ciphertext
    with pytest.raises(InvalidTag):
        spec.open(bytes(tampered))
    moved = sealed[0].replace(b"\x00\x03m-7", b"\x00\x03m-8")  # the message id: associated data
    assert moved != sealed[0]
    with pytest.raises(InvalidTag):
        spec.open(moved)


@pytest.mark.parametrize("suite", SUITES)
def test_crx_opens_what_the_spec_implementation_seals(tmp_path: Path, suite: str) -> None:
    """A record sealed from the spec alone opens with crx's HopOpener, context intact."""
    ring, spec = _broker(tmp_path, suite)
    now = dt.datetime.now(dt.UTC)
    public = ring.registry.get("crx", spec.key_id).load_public()
    ctx = {"channel": "records", "message_id": "m-9", "correlation_id": "s-9",
           "content_type": "avro/crx.v1.CriminalRecord", "schema_fingerprint": b"", "created_at": now}  # fmt: skip
    sealed = spec.seal(public, "crx.dlq", ctx, 5, b"from the spec")
    opened = HopOpener(ring.registry, ring.store, "crx").open(
        sealed, channel="records", now=now, producers=frozenset({"crx.dlq"})
    )
    assert opened.plaintext == b"from the spec"
    assert (opened.message_id, opened.envelope["created_at"], opened.envelope["producer"]) == ("m-9", now, "crx.dlq")
