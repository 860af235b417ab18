"""The audit writer: the single sequencer that appends ``crx.audit`` events and partner receipts to the log.

Offsets are committed only after the database commit (the batch loop commits after the handler returns).
Receipts are verified against the partner's registered signing key and logged as DELIVERY_RECEIPT events;
an unverifiable receipt is logged as an ERROR event. Anything undecodable is dead-lettered.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

from aiokafka import ConsumerRecord
from cryptography.exceptions import InvalidSignature
from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas import AUDIT_EVENT, RECEIPT
from services.audit.store import SqliteAuditStore
from services.kernel.audit_events import AuditEmitter
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.deadletter import DeadLetters
from services.kernel.envelope import Sealer, signed_part
from services.kernel.errors import CrxError, EnvelopeError
from services.kernel.kafka import OutRecord
from services.kernel.keys import KeyRing
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.service import StreamService
from services.kernel.suites import signature_alg

NAME = "audit"


def checkpoint_signer(keyring: KeyRing, party: str) -> Any:
    """A function signing checkpoint bodies with ``party``'s active signing key: ``body -> (key id, sig)``."""

    def sign(body: bytes) -> tuple[str, bytes]:
        entry = keyring.registry.active(party, "signing", dt.datetime.now(dt.UTC))
        key = keyring.store.load(party, entry.key_id)
        return entry.key_id, signature_alg(entry.algorithm).sign(key, body)

    return sign


def checkpoint_verifier(keyring: KeyRing, party: str) -> Any:
    """A function checking a checkpoint signature against ``party``'s registered keys (any status)."""

    def verify(key_id: str, signature: bytes, body: bytes) -> bool:
        try:
            entry = keyring.registry.get(party, key_id)
            signature_alg(entry.algorithm).verify(entry.load_public(), signature, body)
        except (CrxError, InvalidSignature, TypeError, ValueError):
            return False
        return True

    return verify


def verify_receipt(keyring: KeyRing, data: bytes, now: dt.datetime) -> dict[str, Any]:
    """Decode a receipt and check its signature against the party's registered signing key.

    Raises EnvelopeError (opaque) when the receipt is unsigned, signed by an unknown or revoked key, or
    altered.
    """
    receipt = codec(RECEIPT).decode(data)
    try:
        if receipt["signature"] is None:
            raise EnvelopeError()
        entry = keyring.registry.get(receipt["party"], receipt["signer_key_id"])
        if entry.purpose != "signing" or not entry.usable_at(now):
            raise EnvelopeError()
        signed = signed_part(data, receipt["signature"])
        signature_alg(entry.algorithm).verify(entry.load_public(), receipt["signature"], signed)
    except (CrxError, InvalidSignature, TypeError, ValueError):
        raise EnvelopeError() from None
    return receipt


class AuditWriter:
    """The audit writer's handler."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        store: SqliteAuditStore,
        audit_secret: bytes,
        metrics: ServiceMetrics,
        registry: CollectorRegistry,
    ) -> None:
        self._settings = settings
        self._keyring = keyring
        self.store = store
        self._signer = checkpoint_signer(keyring, settings.broker_party)
        self._emitter = AuditEmitter(NAME, settings.topic("audit"), audit_secret)
        self._dead = DeadLetters(
            settings, NAME, Sealer(keyring.registry, keyring.store, settings.broker_party), self._emitter, metrics
        )
        self._audit_codec = codec(AUDIT_EVENT)
        self._receipts_topic = settings.topic("receipts")
        self._log = get_logger(NAME)
        self.entries = Gauge("crx_audit_entries", "Entries in the audit log", registry=registry)
        self.receipts = Counter("crx_audit_receipts", "Receipts logged", ["outcome"], registry=registry)
        self.entries.set(store.size)

    async def handle(self, records: list[ConsumerRecord]) -> list[OutRecord]:
        """Append one batch to the store (one transaction); return dead letters for undecodable input."""
        now = dt.datetime.now(dt.UTC)
        leaves: list[bytes] = []
        dead: list[OutRecord] = []
        for rec in records:
            value: bytes = rec.value or b""
            try:
                if rec.topic == self._receipts_topic:
                    leaves.append(self._receipt_event(value, now))
                else:
                    self._audit_codec.decode(value)  # refuse anything that is not an audit event
                    leaves.append(value)
            except CrxError as exc:
                dead.extend(self._dead.for_consumed(exc, rec, submission_id=None, jurisdiction=None, now=now))
        if leaves:
            self.store.append(leaves, self._signer)  # on the loop thread: the store has one connection
            self.entries.set(self.store.size)
        return dead

    def _receipt_event(self, value: bytes, now: dt.datetime) -> bytes:
        try:
            receipt = verify_receipt(self._keyring, value, now)
        except EnvelopeError:
            self.receipts.labels("unverifiable").inc()
            self._log.warning("unverifiable receipt")
            record = self._emitter.event(
                "ERROR",
                occurred_at=now,
                actor=self._settings.broker_party,
                outcome="rejected",
                reason="UNVERIFIABLE_RECEIPT",
                payload=value,
                discriminator=hashlib.sha256(value).hexdigest(),
            )
            return record.value
        outcome = "accepted" if receipt["outcome"] == "ACCEPTED" else "rejected"
        self.receipts.labels(outcome).inc()
        return self._emitter.event(
            "DELIVERY_RECEIPT",
            occurred_at=receipt["received_at"],
            actor=receipt["party"],
            outcome=outcome,
            message_id=receipt["message_id"],
            submission_id=receipt["correlation_id"],
            recipients=[receipt["party"]],
            reason=receipt["reason"],
            payload=value,
            discriminator=receipt["receipt_id"],
        ).value


def build(
    settings: Settings,
    keyring: KeyRing,
    store: SqliteAuditStore,
    audit_secret: bytes,
    registry: CollectorRegistry,
    metrics_port: int = 0,
) -> tuple[StreamService, AuditWriter]:
    """The audit writer as a runnable service (and its handler, for inspection)."""
    metrics = ServiceMetrics.create(registry)
    writer = AuditWriter(settings, keyring, store, audit_secret, metrics, registry)
    service = StreamService(
        settings,
        name=NAME,
        group_id="crx-audit",
        topics=[settings.topic("audit"), settings.topic("receipts")],
        output_topics=[settings.topic("dlq"), settings.topic("audit")],  # dead letters are audited too
        handler=writer.handle,
        metrics=metrics,
        registry=registry,
        metrics_port=metrics_port,
    )
    return service, writer
