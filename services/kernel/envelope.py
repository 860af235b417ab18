"""Sealed, signed envelopes: HPKE (RFC 9180 base mode, single shot) to one recipient key, then a signature.

The HPKE ``info`` binds the context (see ``info_bytes`` and schemas/ENVELOPE.md), so an envelope replayed
to another channel, recipient or key fails to open. The signature covers the whole envelope; receivers
verify it before they decrypt. Every failure raises the one opaque ``EnvelopeError``, but one: an authentic
envelope sealed to a key that was destroyed (crypto-shredding) raises its subclass ``KeyDestroyed``, typed
and final, so a record unreadable by design is dead-lettered as such.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hpke

from schemas import ENVELOPE
from services.kernel.avrowriter import encode_long
from services.kernel.codec import codec
from services.kernel.errors import CrxError, EnvelopeError, KeyDestroyed
from services.kernel.suites import hpke_suite, signature_alg
from services.keys.ring import KeyRegistry, PrivateKeyStore

FORMAT_VERSION = 1
INFO_LABEL = b"crx-envelope/1"

# Kafka headers: routing hints only, always checked against the signed envelope.
HEADER_MESSAGE_ID = "crx-message-id"
HEADER_CHANNEL = "crx-channel"
HEADER_RECIPIENT = "crx-recipient"


@dataclass(frozen=True)
class SealContext:
    """What an envelope is about; every field is bound into the HPKE info and signed."""

    channel: str
    message_id: str
    correlation_id: str
    sender: str
    recipient: str
    content_type: str
    schema_fingerprint: bytes = b""


@dataclass(frozen=True)
class Opened:
    """An opened envelope: its (verified) fields and the plaintext."""

    envelope: dict[str, Any]
    plaintext: bytes

    @property
    def message_id(self) -> str:
        """The envelope's message id."""
        return str(self.envelope["message_id"])


# The envelope fields bound into the HPKE info, in this order (schemas/ENVELOPE.md).
INFO_FIELDS = ("channel", "message_id", "correlation_id", "sender", "recipient", "recipient_key_id", "suite",
               "content_type", "schema_fingerprint")  # fmt: skip


def info_bytes(env: dict[str, Any]) -> bytes:
    """The HPKE info: label, then each of ``INFO_FIELDS`` as 2-byte big-endian length + bytes (UTF-8 for text).
    Raises EnvelopeError for a field longer than 65,535 bytes."""
    parts = [INFO_LABEL]
    for name in INFO_FIELDS:
        value = env[name]
        data = value.encode() if isinstance(value, str) else value
        if len(data) > 0xFFFF:
            raise EnvelopeError()
        parts += (len(data).to_bytes(2, "big"), data)
    return b"".join(parts)


@functools.cache
def _suite(name: str) -> hpke.Suite:
    """The (stateless, reusable) cryptography Suite of the HPKE suite ``name``. Raises ConfigError."""
    return hpke_suite(name).suite()


def signed_part(data: bytes, signature: bytes | None) -> bytes:
    """The signature input for a single-object record whose last field is ``signature: [null, bytes]``.

    It is exactly the encoding of the same record with ``signature = null``: the bytes before the
    signature union followed by ``0x00``.
    """
    if signature is None:
        return data
    tail = b"\x02" + encode_long(len(signature)) + signature
    if not data.endswith(tail):
        raise EnvelopeError()
    return data[: len(data) - len(tail)] + b"\x00"


def attach_signature(unsigned: bytes, signature: bytes) -> bytes:
    """Replace the trailing null ``signature`` of a single-object record with ``signature``."""
    if not unsigned.endswith(b"\x00"):
        raise EnvelopeError()
    return unsigned[:-1] + b"\x02" + encode_long(len(signature)) + signature


class Sealer:
    """Seals payloads to a recipient's active encryption key and signs as ``signer``."""

    def __init__(self, registry: KeyRegistry, store: PrivateKeyStore, signer: str | None) -> None:
        self._registry = registry
        self._store = store
        self._signer = signer
        self._codec = codec(ENVELOPE)

    def seal(self, plaintext: bytes, ctx: SealContext, now: dt.datetime) -> bytes:
        """Return the single-object-encoded, signed envelope. Raises KeyUnavailable if a key is missing."""
        key = self._registry.active(ctx.recipient, "encryption", now)
        suite = _suite(key.algorithm)
        env: dict[str, Any] = {
            "format_version": FORMAT_VERSION,
            "message_id": ctx.message_id,
            "correlation_id": ctx.correlation_id,
            "channel": ctx.channel,
            "sender": ctx.sender,
            "recipient": ctx.recipient,
            "recipient_key_id": key.key_id,
            "suite": key.algorithm,
            "content_type": ctx.content_type,
            "schema_fingerprint": ctx.schema_fingerprint,
            "created_at": now,
            "sealed": b"",
            "signer": None,
            "signer_key_id": None,
            "signature": None,
        }
        env["sealed"] = suite.encrypt(plaintext, key.load_public(), info_bytes(env))
        if self._signer is None:
            return self._codec.encode(env)
        sig_key = self._registry.active(self._signer, "signing", now)
        env["signer"], env["signer_key_id"] = self._signer, sig_key.key_id
        unsigned = self._codec.encode(env)
        alg = signature_alg(sig_key.algorithm)
        signature = alg.sign(self._store.load(self._signer, sig_key.key_id), unsigned)
        return attach_signature(unsigned, signature)


class Opener:
    """Verifies and opens envelopes addressed to ``party``."""

    def __init__(self, registry: KeyRegistry, store: PrivateKeyStore, party: str) -> None:
        self._registry = registry
        self._store = store
        self.party = party
        self._codec = codec(ENVELOPE)

    def parse(self, data: bytes) -> dict[str, Any]:
        """Decode the envelope fields without verifying anything. Raises EnvelopeError."""
        try:
            return self._codec.decode(data)
        except CrxError:
            raise EnvelopeError() from None

    def open(
        self,
        data: bytes,
        *,
        channel: str,
        now: dt.datetime,
        signers: frozenset[str] | None = None,
        headers: dict[str, bytes] | None = None,
    ) -> Opened:
        """Verify and decrypt ``data`` expected on logical ``channel``.

        ``signers``: the parties whose signature is required (None accepts an unsigned envelope, used
        only where sources have no registered signing key). ``headers``: Kafka routing hints, each of
        which must agree with the signed envelope. Raises EnvelopeError for any failure; KeyDestroyed (an
        EnvelopeError) when the envelope is authentic and for this party but sealed to a destroyed key.
        """
        env = self.parse(data)
        try:
            self._verify(data, env, signers, now)
            if env["format_version"] != FORMAT_VERSION or env["channel"] != channel:
                raise EnvelopeError()
            if env["recipient"] != self.party:
                raise EnvelopeError()
            _check_headers(env, headers)
            key_id = env["recipient_key_id"]
            if self._registry.get(self.party, key_id).status == "destroyed":
                self._store.forget(self.party, key_id)  # a copy loaded before the key was destroyed
                raise KeyDestroyed(key_id)
            key_entry = self._registry.for_use(self.party, key_id, "open", now)
            if key_entry.algorithm != env["suite"]:
                raise EnvelopeError()
            private = self._store.load(self.party, env["recipient_key_id"])
            plaintext = _suite(env["suite"]).decrypt(env["sealed"], private, info_bytes(env))
        except EnvelopeError:
            raise
        except (CrxError, InvalidTag, InvalidSignature, ValueError, TypeError):
            raise EnvelopeError() from None
        return Opened(env, plaintext)

    def _verify(self, data: bytes, env: dict[str, Any], signers: frozenset[str] | None, now: dt.datetime) -> None:
        if env["signature"] is None:
            if signers is None:
                return
            raise EnvelopeError()
        if signers is not None and env["signer"] not in signers:
            raise EnvelopeError()
        entry = self._registry.for_use(env["signer"], env["signer_key_id"], "verify", now)
        signature_alg(entry.algorithm).verify(
            entry.load_public(), env["signature"], signed_part(data, env["signature"])
        )


def _check_headers(env: dict[str, Any], headers: dict[str, bytes] | None) -> None:
    if not headers:
        return
    expected = {
        HEADER_MESSAGE_ID: env["message_id"],
        HEADER_CHANNEL: env["channel"],
        HEADER_RECIPIENT: env["recipient"],
    }
    for name, value in expected.items():
        got = headers.get(name)
        if got is not None and got.decode("utf-8", "replace") != value:
            raise EnvelopeError()


def routing_headers(ctx: SealContext) -> list[tuple[str, bytes]]:
    """Kafka headers for an envelope: non-personal routing hints, verified against the envelope."""
    return [
        (HEADER_MESSAGE_ID, ctx.message_id.encode()),
        (HEADER_CHANNEL, ctx.channel.encode()),
        (HEADER_RECIPIENT, ctx.recipient.encode()),
    ]
