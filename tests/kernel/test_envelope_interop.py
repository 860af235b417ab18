"""Interoperability: crx envelopes opened, and made, by a partner using a second HPKE implementation (pyhpke).

The partner side (``SpecPartner``) is written from schemas/ENVELOPE.md and schemas/envelope.avsc alone, with an
Avro library (fastavro), an HPKE library (pyhpke) and a signature library (cryptography): it uses nothing from
``services.kernel.envelope`` or ``services.kernel.codec``, not even the header, the info encoding or the
signature input. Only the other side of the exchange is crx code: its real ``Sealer`` and ``Opener`` and the key
ring that holds both parties' keys.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fastavro
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from pyhpke import AEADId, CipherSuite, KDFId, KEMId, KEMKey, KEMKeyInterface

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from services.kernel.codec import typed_codec
from services.kernel.envelope import Opener, SealContext, Sealer
from services.keys.ring import KeyRing, generate_party_keys

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"

# ---------------------------------------------------------------------------------------------------------------
# The partner: schemas/ENVELOPE.md, implemented independently.
# ---------------------------------------------------------------------------------------------------------------

MAGIC = b"\xc3\x01"
INFO_LABEL = b"crx-envelope/1"
INFO_FIELDS = (
    "channel",
    "message_id",
    "correlation_id",
    "sender",
    "recipient",
    "recipient_key_id",
    "suite",
    "content_type",
    "schema_fingerprint",
)
# ENVELOPE.md's suite table: name -> (KEM, KDF, AEAD, length of enc).
SPEC_SUITES: dict[str, tuple[KEMId, KDFId, AEADId, int]] = {
    "P256-SHA256-AES256GCM": (KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM, 65),
    "X25519-SHA256-AES256GCM": (KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES256_GCM, 32),
}


def crc64_avro(data: bytes) -> bytes:
    """The Avro specification's CRC-64-AVRO (Rabin) fingerprint, little-endian, as single-object encoding writes it."""
    empty = 0xC15D213AA4D7A795
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (empty & -(fp & 1))
        table.append(fp)
    fp = empty
    for byte in data:
        fp = (fp >> 8) ^ table[(fp ^ byte) & 0xFF]
    return fp.to_bytes(8, "little")


def schema_fingerprint(schema_json: dict[str, Any]) -> bytes:
    """CRC-64-AVRO of the schema's Parsing Canonical Form."""
    canonical: str = fastavro.schema.to_parsing_canonical_form(schema_json)
    return crc64_avro(canonical.encode("utf-8"))


def zigzag_varint(n: int) -> bytes:
    """Avro's encoding of a long: zig-zag, then little-endian base-128 varint."""
    z = (n << 1) ^ (n >> 63)
    out = bytearray()
    while z > 0x7F:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


def key_id(public: Any) -> str:
    """ENVELOPE.md: hex of the first 16 bytes of SHA-256 over the key's SubjectPublicKeyInfo DER."""
    der = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()[:16].hex()


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def private_jwk(private: Any) -> dict[str, str]:
    """A PKCS#8-loaded HPKE private key as a JWK (RFC 7518 / RFC 8037), pyhpke's key import format."""
    if isinstance(private, ec.EllipticCurvePrivateKey):
        numbers = private.private_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": _b64url(numbers.public_numbers.x.to_bytes(32, "big")),
            "y": _b64url(numbers.public_numbers.y.to_bytes(32, "big")),
            "d": _b64url(numbers.private_value.to_bytes(32, "big")),
        }
    if isinstance(private, x25519.X25519PrivateKey):
        return {
            "kty": "OKP",
            "crv": "X25519",
            "x": _b64url(private.public_key().public_bytes_raw()),
            "d": _b64url(private.private_bytes_raw()),
        }
    raise TypeError("not an HPKE key type of ENVELOPE.md")


@dataclass(frozen=True)
class OwnKey:
    """One of the partner's decryption keys: its suite and the pyhpke key."""

    suite: str
    key: KEMKeyInterface


class SpecPartner:
    """Reads and writes crx envelopes following ENVELOPE.md, as party ``me``."""

    def __init__(self, me: str, own_keys: dict[str, OwnKey], trusted: dict[tuple[str, str], Any]) -> None:
        self.me = me
        self.own_keys = own_keys  # key id -> private key
        self.trusted = trusted  # (signer, signer_key_id) -> public signing key
        schema_json = json.loads((SCHEMAS / "envelope.avsc").read_text(encoding="utf-8"))
        self.schema = fastavro.parse_schema(schema_json)
        self.fingerprint = schema_fingerprint(schema_json)

    # Avro single-object encoding.
    def encode(self, env: dict[str, Any]) -> bytes:
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, self.schema, env)
        return MAGIC + self.fingerprint + buf.getvalue()

    def decode(self, data: bytes) -> dict[str, Any]:
        if data[:2] != MAGIC or data[2:10] != self.fingerprint:
            raise ValueError("not a crx.v1.Envelope")
        env = fastavro.schemaless_reader(io.BytesIO(data[10:]), self.schema, None)
        if not isinstance(env, dict):
            raise ValueError("not a record")
        return env

    # The HPKE info and the signature input.
    @staticmethod
    def info(env: dict[str, Any]) -> bytes:
        out = bytearray(INFO_LABEL)
        for name in INFO_FIELDS:
            value = env[name]
            raw = value.encode("utf-8") if isinstance(value, str) else bytes(value)
            out += len(raw).to_bytes(2, "big") + raw
        return bytes(out)

    @staticmethod
    def signature_input(data: bytes, signature: bytes) -> bytes:
        tail = b"\x02" + zigzag_varint(len(signature)) + signature
        if not data.endswith(tail):
            raise ValueError("the signature is not the last field")
        return data[: -len(tail)] + b"\x00"

    @staticmethod
    def attach_signature(unsigned: bytes, signature: bytes) -> bytes:
        assert unsigned.endswith(b"\x00")
        return unsigned[:-1] + b"\x02" + zigzag_varint(len(signature)) + signature

    @staticmethod
    def sign(private: Any, data: bytes) -> bytes:
        if isinstance(private, ec.EllipticCurvePrivateKey):
            return private.sign(data, ec.ECDSA(hashes.SHA256()))
        if isinstance(private, ed25519.Ed25519PrivateKey):
            return private.sign(data)
        raise TypeError("not a signature key type of ENVELOPE.md")

    def verify(self, data: bytes, env: dict[str, Any], signer: str) -> None:
        """Raise InvalidSignature unless ``signer`` signed ``data`` with a key the partner trusts."""
        if env["signature"] is None or env["signer"] != signer:
            raise InvalidSignature()
        public = self.trusted.get((env["signer"], env["signer_key_id"]))
        if public is None:
            raise InvalidSignature()
        signed = self.signature_input(data, env["signature"])
        if isinstance(public, ec.EllipticCurvePublicKey):
            public.verify(env["signature"], signed, ec.ECDSA(hashes.SHA256()))
        elif isinstance(public, ed25519.Ed25519PublicKey):
            public.verify(env["signature"], signed)
        else:
            raise InvalidSignature()

    def open(self, data: bytes, *, channel: str, signer: str) -> tuple[dict[str, Any], bytes]:
        """Verify (first), check the context, then HPKE-open: OpenBase(enc, skR, info, aad="", ct)."""
        env = self.decode(data)
        self.verify(data, env, signer)
        if env["format_version"] != 1 or env["channel"] != channel or env["recipient"] != self.me:
            raise ValueError("not for this partner or channel")
        own = self.own_keys[env["recipient_key_id"]]
        if own.suite != env["suite"]:
            raise ValueError("suite does not match the recipient key")
        kem, kdf, aead, enc_len = SPEC_SUITES[env["suite"]]
        enc, ct = env["sealed"][:enc_len], env["sealed"][enc_len:]
        # pyhpke 0.6's CipherSuite.open (single shot) is not implemented; RFC 9180 section 6.1 defines the
        # single-shot OpenBase as SetupBaseR followed by one Open with sequence number 0, which is this:
        context = CipherSuite.new(kem, kdf, aead).create_recipient_context(enc, own.key, info=self.info(env))
        return env, context.open(ct, aad=b"")

    def seal(self, env: dict[str, Any], plaintext: bytes, recipient_public_pem: str) -> bytes:
        """Fill ``env["sealed"]`` with SealBase(pkR, info, aad="", pt) (SetupBaseS + one Seal)."""
        kem, kdf, aead, enc_len = SPEC_SUITES[env["suite"]]
        recipient = KEMKey.from_pem(recipient_public_pem)
        enc, context = CipherSuite.new(kem, kdf, aead).create_sender_context(recipient, info=self.info(env))
        assert len(enc) == enc_len
        return enc + context.seal(plaintext, aad=b"")


# ---------------------------------------------------------------------------------------------------------------
# The exchange.
# ---------------------------------------------------------------------------------------------------------------

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
CHANNEL = "out.FR"


@pytest.fixture(
    params=[
        ("P256-SHA256-AES256GCM", "ECDSA-P256-SHA256"),
        ("X25519-SHA256-AES256GCM", "Ed25519"),
        ("X25519-SHA256-AES256GCM", "ECDSA-P256-SHA256"),
    ],
    ids=lambda p: f"{p[0]}+{p[1]}",
)
def ring(request: pytest.FixtureRequest, tmp_path: Path) -> KeyRing:
    """A broker with a signing key of the given algorithm and a partner FR with an encryption key of the suite."""
    suite, signature = request.param
    keys = KeyRing.open(tmp_path / "keys", b"interop passphrase")
    generate_party_keys(keys.registry, keys.store, "crx", now=NOW, signature=signature)
    generate_party_keys(keys.registry, keys.store, "FR", now=NOW, hpke=suite)
    return keys


def _partner(ring: KeyRing) -> SpecPartner:
    """FR as a partner holds its private key file (PKCS#8 PEM) and pins the broker's public signing key."""
    entry = ring.registry.active("FR", "encryption", NOW)
    pem = ring.store.path("FR", entry.key_id).read_bytes()
    private = serialization.load_pem_private_key(pem, password=b"interop passphrase")
    own_id = key_id(private.public_key())
    assert own_id == entry.key_id  # the key id rule of ENVELOPE.md is the one crx applies
    own = OwnKey(entry.algorithm, KEMKey.from_jwk(private_jwk(private)))
    broker = ring.registry.active("crx", "signing", NOW)
    broker_public = serialization.load_pem_public_key(broker.public_key.encode("ascii"))
    assert key_id(broker_public) == broker.key_id
    return SpecPartner("FR", {own_id: own}, {("crx", broker.key_id): broker_public})


def _record() -> tuple[bytes, bytes]:
    """A canonical record as crx's router seals it: its single-object encoding and the schema fingerprint."""
    adapter = get_adapter("json-v1")
    [record] = adapter.parse(
        dict(adapter.samples())["DE-notification-fr-pl.json"],
        ParseContext("DE", dt.datetime(2025, 1, 15, tzinfo=dt.UTC)),
    )
    records = typed_codec(CANONICAL_RECORD)
    return records.encode(record), records.fingerprint


def _ctx(fingerprint: bytes) -> SealContext:
    return SealContext(
        channel=CHANNEL,
        message_id="3f1c9a70-0000-4000-8000-000000000001",
        correlation_id="sub-42",
        sender="crx",
        recipient="FR",
        content_type="avro/crx.v1.CriminalRecord",
        schema_fingerprint=fingerprint,
    )


def test_the_spec_fingerprint_is_the_one_crx_writes(ring: KeyRing) -> None:
    """ENVELOPE.md's header (C3 01 + CRC-64-AVRO of envelope.avsc, little-endian) is what crx's envelopes start with."""
    plaintext, fingerprint = _record()
    sealed = Sealer(ring.registry, ring.store, "crx").seal(plaintext, _ctx(fingerprint), NOW)
    partner = _partner(ring)
    assert sealed[:10] == MAGIC + partner.fingerprint
    assert partner.fingerprint.hex() == fastavro.schema.fingerprint(
        fastavro.schema.to_parsing_canonical_form(json.loads((SCHEMAS / "envelope.avsc").read_text())),
        "CRC-64-AVRO",
    )


def test_partner_opens_a_crx_envelope_with_pyhpke(ring: KeyRing) -> None:
    """An envelope sealed and signed by crx verifies and opens with the spec-only reader and pyhpke."""
    plaintext, fingerprint = _record()
    sealed = Sealer(ring.registry, ring.store, "crx").seal(plaintext, _ctx(fingerprint), NOW)
    partner = _partner(ring)
    env, opened = partner.open(sealed, channel=CHANNEL, signer="crx")
    assert opened == plaintext
    assert env["schema_fingerprint"] == opened[2:10] == fingerprint  # ENVELOPE.md, Content
    assert len(env["sealed"]) == SPEC_SUITES[env["suite"]][3] + len(plaintext) + 16  # enc || ct || 16-byte tag
    record_schema = json.loads((SCHEMAS / "canonical_record.avsc").read_text(encoding="utf-8"))
    assert schema_fingerprint(record_schema) == fingerprint
    record = fastavro.schemaless_reader(io.BytesIO(opened[10:]), fastavro.parse_schema(record_schema), None)
    assert record == typed_codec(CANONICAL_RECORD).decode(plaintext)
    assert env["created_at"] == NOW


def test_partner_refuses_a_tampered_envelope_before_decrypting(ring: KeyRing) -> None:
    """A byte changed anywhere in the signed bytes fails the spec reader's signature check."""
    plaintext, fingerprint = _record()
    sealed = bytearray(Sealer(ring.registry, ring.store, "crx").seal(plaintext, _ctx(fingerprint), NOW))
    partner = _partner(ring)
    for position in (12, len(sealed) // 2, len(sealed) - 80):
        tampered = bytearray(sealed)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidSignature):  # not pyhpke's OpenError: nothing was decrypted
            partner.open(bytes(tampered), channel=CHANNEL, signer="crx")
    with pytest.raises(ValueError):
        partner.open(bytes(sealed), channel="out.PL", signer="crx")


def test_crx_opens_an_envelope_made_by_the_partner_implementation(ring: KeyRing) -> None:
    """An envelope built from the spec, sealed with pyhpke and signed with the broker's key opens with crx's Opener."""
    plaintext, fingerprint = _record()
    partner = _partner(ring)
    recipient = ring.registry.active("FR", "encryption", NOW)
    broker = ring.registry.active("crx", "signing", NOW)
    recipient_public = serialization.load_pem_public_key(recipient.public_key.encode("ascii"))
    env: dict[str, Any] = {
        "format_version": 1,
        "message_id": "3f1c9a70-0000-4000-8000-000000000002",
        "correlation_id": "sub-43",
        "channel": CHANNEL,
        "sender": "crx",
        "recipient": "FR",
        "recipient_key_id": key_id(recipient_public),
        "suite": recipient.algorithm,
        "content_type": "avro/crx.v1.CriminalRecord",
        "schema_fingerprint": fingerprint,
        "created_at": NOW,
        "sealed": b"",
        "signer": "crx",
        "signer_key_id": broker.key_id,
        "signature": None,
    }
    env["sealed"] = partner.seal(env, plaintext, recipient.public_key)
    unsigned = partner.encode(env)
    signature = partner.sign(ring.store.load("crx", broker.key_id), unsigned)
    data = partner.attach_signature(unsigned, signature)
    assert data == partner.encode(dict(env, signature=signature))  # the signature really is the last field

    opened = Opener(ring.registry, ring.store, "FR").open(
        data,
        channel=CHANNEL,
        now=NOW,
        signers=frozenset({"crx"}),
        headers={"crx-message-id": env["message_id"].encode(), "crx-channel": b"out.FR", "crx-recipient": b"FR"},
    )
    assert opened.plaintext == plaintext
    assert opened.envelope == dict(env, signature=signature)
    assert partner.open(data, channel=CHANNEL, signer="crx")[1] == plaintext
