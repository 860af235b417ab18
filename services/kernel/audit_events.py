"""Building audit events: stable ids, salted payload commitments, never personal data.

Every service emits events through ``AuditEmitter``; the audit writer consumes them from ``crx.audit``.
The Producer puts them there in batches (``services.kernel.auditbatch``: one ``AuditBatch`` message per
produced batch and partition); a reader takes the events of any crx.audit message with ``auditbatch.audit_leaves``.
``AuditEventType`` names the event types: exactly the symbols of the ``AuditEventType`` enum of
``schemas/audit_event.avsc`` (tests/schemas/test_records_types.py pins that).
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import hmac
import os
import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas import AUDIT_EVENT
from schemas.records import AuditEvent, AuditEventTypeSymbol
from services.kernel.codec import typed_codec
from services.kernel.errors import ValidationError
from services.kernel.kafka import OutRecord

AUDIT_NAMESPACE = uuid.UUID("6f1d3c1e-3c4a-5b8e-9a51-0c7d2f1e8a40")
LOOKUP = "LOOKUP"
"""The ``message_type`` of a lookup's audit event: a DISCLOSURE (of the hit states to the requesting state) with
this message type is a LOOKUP event, never a record disclosure (``is_lookup``). Not an event type of its own:
the ``AuditEventType`` enum has no default, so a new symbol would break every reader of the earlier schemas."""


class AuditEventType(enum.StrEnum):
    """The type of an audited act. Each value is the Avro symbol, so an event encodes exactly as before."""

    COLLECTION = "COLLECTION"
    NORMALISATION = "NORMALISATION"
    REFUSAL = "REFUSAL"
    DISCLOSURE = "DISCLOSURE"
    DELIVERY_RECEIPT = "DELIVERY_RECEIPT"
    DEAD_LETTER = "DEAD_LETTER"
    ERROR = "ERROR"
    ERASURE = "ERASURE"
    KEY_CHANGE = "KEY_CHANGE"
    POLICY_CHANGE = "POLICY_CHANGE"

    @property
    def symbol(self) -> AuditEventTypeSymbol:
        """The Avro enum symbol, typed as the ``event_type`` of ``schemas.records.AuditEvent``.

        mypy checks that every value is a symbol of the schema; a test checks that every symbol has a member.
        """
        return self.value


def is_lookup(event: Mapping[str, Any]) -> bool:
    """True for a lookup's audit event (DISCLOSURE with message type LOOKUP): it disclosed which states hold a
    matching record, not a record; the books and reports keep it apart from record disclosures."""
    return event.get("event_type") == AuditEventType.DISCLOSURE and event.get("message_type") == LOOKUP


def event_type_of(value: AuditEventType | str) -> AuditEventType:
    """``value`` as an AuditEventType: a member as is, a string by its symbol.

    Raises ValidationError (naming the value, which is a code, never record content) for a string that is not a
    symbol of the audit event schema.
    """
    if isinstance(value, AuditEventType):
        return value
    try:
        return AuditEventType(value)
    except ValueError:
        raise ValidationError(f"{AUDIT_EVENT}: unknown event type {value!r}") from None


_NAMESPACE_BYTES = AUDIT_NAMESPACE.bytes


def stable_id(*parts: str) -> str:
    """A UUIDv5 (RFC 9562 5.5) over ``parts`` joined by 0x1F in ``AUDIT_NAMESPACE``: the same act always gets the
    same id (idempotence on redelivery). Exactly ``str(uuid.uuid5(AUDIT_NAMESPACE, "\\x1f".join(parts)))``, built
    from the SHA-1 digest directly (a third of the cost; several ids are made per record)."""
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + "\x1f".join(parts).encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def disclosure_event_id(message_id: str, submission_id: str, recipient: str, component: str = "router") -> str:
    """The id of the DISCLOSURE event for ``message_id`` to ``recipient``: what a partner looks up. The router
    discloses records; the case service (``component="cases"``) its notices, ``submission_id`` the case id."""
    return stable_id(AuditEventType.DISCLOSURE, component, message_id, submission_id, recipient, "")


def receipt_event_id(message_id: str, correlation_id: str, party: str, receipt_id: str) -> str:
    """The id of the audit writer's DELIVERY_RECEIPT event for a partner's receipt."""
    return stable_id(AuditEventType.DELIVERY_RECEIPT, "audit", message_id, correlation_id, party, receipt_id)


def erasure_event_id(message_id: str, correlation_id: str, party: str, receipt_id: str) -> str:
    """The id of the audit writer's ERASURE event for a partner's receipt with operation ERASED."""
    return stable_id(AuditEventType.ERASURE, "audit", message_id, correlation_id, party, receipt_id)


@dataclass(frozen=True, eq=False)
class AuditOut(OutRecord):
    """An audit event to produce (``AuditEmitter.event``): the output record and ``event``, the record its value
    encodes, so that whoever appends it to the log (the audit writer, for its own events) need not decode it."""

    event: AuditEvent = field(kw_only=True, repr=False)


_EVENTS = typed_codec(AUDIT_EVENT)  # looked up once: every emitted event is encoded with it


@dataclass(frozen=True)
class AuditEmitter:
    """Makes audit-event output records for one component: ``component`` is named in each event, ``topic``
    receives them, ``secret`` keys the payload commitments (never in the repr)."""

    component: str
    topic: str
    secret: bytes = field(repr=False)

    def commitment(self, message_id: str, payload: bytes) -> bytes:
        """SHA-256(salt || payload) with salt = HMAC-SHA256(audit secret, message id).

        Whoever holds the audit secret and the payload can open the commitment; nobody else learns
        anything from it.
        """
        salt = hmac.new(self.secret, message_id.encode(), hashlib.sha256).digest()
        return hashlib.sha256(salt + payload).digest()

    def event(
        self,
        event_type: AuditEventType | str,
        *,
        occurred_at: dt.datetime,
        actor: str,
        outcome: str,
        message_id: str | None = None,
        submission_id: str | None = None,
        recipients: Sequence[str] = (),
        legal_basis: str | None = None,
        purpose: str | None = None,
        reply_to: str | None = None,
        source_jurisdiction: str | None = None,
        reason: str | None = None,
        rule: str | None = None,
        payload: bytes | None = None,
        discriminator: str = "",
        message_type: str | None = None,
        requesting_authority: str | None = None,
        deadline: dt.datetime | None = None,
        record_key: str | None = None,
        record_version: int | None = None,
        retention_end: dt.date | None = None,
        hits: Sequence[str] | None = None,
    ) -> AuditOut:
        """An audit event as an output record keyed by submission (so one submission's events stay in order).

        The event id is derived from (type, component, message id, submission id, recipients,
        discriminator), so reprocessing the same input yields the same id. ``event_type`` should be an
        AuditEventType; a string is still accepted while callers move over, and converted by its symbol.
        Raises ValidationError for a string that is not an event type, or an event that does not fit the
        schema.
        """
        kind = event_type_of(event_type)
        event_id = stable_id(
            kind,
            self.component,
            message_id or "",
            submission_id or "",
            ",".join(recipients),
            discriminator,
        )
        record: AuditEvent = {
            "event_id": event_id,
            "event_type": kind.symbol,
            "occurred_at": occurred_at,
            "component": self.component,
            "actor": actor,
            "recipients": list(recipients),
            "legal_basis": legal_basis,
            "purpose": purpose,
            "message_id": message_id,
            "submission_id": submission_id,
            "reply_to": reply_to,
            "source_jurisdiction": source_jurisdiction,
            "outcome": outcome,
            "reason": reason,
            "rule": rule,
            "payload_commitment": (
                self.commitment(message_id or submission_id or "", payload) if payload is not None else None
            ),
            "message_type": message_type,
            "requesting_authority": requesting_authority,
            "deadline": deadline,
            "record_key": record_key,
            "record_version": record_version,
            "retention_end": retention_end,
            "hits": list(hits) if hits is not None else None,
        }
        key = (submission_id or message_id or event_id).encode()
        return AuditOut(self.topic, _EVENTS.encode(record), key=key, event=record)


def load_audit_secret(secret: str | None, data_dir: Path) -> bytes:
    """The audit commitment secret: the configured one, else ``data_dir/audit.secret`` (created 0600)."""
    if secret:
        return secret.encode("utf-8")
    path = data_dir / "audit.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(secrets.token_bytes(32))
    return path.read_bytes()
