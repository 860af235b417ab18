"""KEY_CHANGE and POLICY_CHANGE events: the audit writer logs every key state and policy version it observes.

Each (party, key id, status) of the key registry, each (key id, status) of the lookup index keys (active,
retiring, destroyed: ``services/lookup/indexkey.py``, read from the key files and tombstones without
decrypting anything), and each distinct agreements file (by SHA-256), becomes one audit event with a stable
id, so observing the same state again adds nothing and a change (a rotation, a revocation, a destroyed key,
a new agreements file) adds exactly one event. The registry reloads itself when its file
changes; the writer looks every few seconds, so the log records when a change took effect here, within that
interval. Events carry key ids, statuses, algorithms and digests: no key material, no personal data.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from importlib import resources

from schemas import AUDIT_EVENT
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.keys.ring import KeyRegistry
from services.lookup.indexkey import IndexKeyState

INDEX_KEY_PURPOSE = "lookup-index HMAC-SHA256"


def key_events(registry: KeyRegistry, emitter: AuditEmitter, now: dt.datetime) -> dict[str, bytes]:
    """Event id -> canonical bytes of one KEY_CHANGE event per registry entry in its current status.

    Deterministic: the same registry state gives the same ids and bytes. Raises ValidationError if an entry
    does not fit the audit event schema.
    """
    events: dict[str, bytes] = {}
    for entry in registry.entries():
        record = emitter.event(
            AuditEventType.KEY_CHANGE,
            occurred_at=now,
            actor=entry.party,
            outcome=entry.status,
            message_id=entry.key_id,
            recipients=[entry.party],
            reason=f"{entry.purpose} {entry.algorithm}",
            rule=f"valid from {entry.not_before}" + (f" to {entry.not_after}" if entry.not_after else ""),
            discriminator=entry.status,
        )
        events[_event_id(record.value)] = record.value
    return events


def index_key_events(
    states: list[IndexKeyState], party: str, emitter: AuditEmitter, now: dt.datetime
) -> dict[str, bytes]:
    """Event id -> bytes of one KEY_CHANGE event per lookup index key in its current status (``states``):
    actor and recipient the broker ``party``, ``message_id`` the key id, ``reason`` "lookup-index
    HMAC-SHA256", ``rule`` the key's creation (and destruction) time. Deterministic per (key id, status), and
    apart from the registry's events (``discriminator`` "index:<status>"). No key material."""
    events: dict[str, bytes] = {}
    for state in states:
        rule = f"created {state.created_at.isoformat()}"
        if state.destroyed_at is not None:
            rule += f", destroyed {state.destroyed_at.isoformat()}"
        record = emitter.event(
            AuditEventType.KEY_CHANGE,
            occurred_at=now,
            actor=party,
            outcome=state.status,
            message_id=state.key_id,
            recipients=[party],
            reason=INDEX_KEY_PURPOSE,
            rule=rule,
            discriminator=f"index:{state.status}",
        )
        events[_event_id(record.value)] = record.value
    return events


def policy_event(settings: Settings, emitter: AuditEmitter, now: dt.datetime) -> tuple[str, bytes]:
    """(event id, bytes) of the POLICY_CHANGE event for the agreements file in force (packaged default if none).

    The id is a function of the file's SHA-256, so the same file always gives the same event. Raises OSError
    when the configured agreements file cannot be read.
    """
    if settings.agreements_file is not None:
        text = settings.agreements_file.read_bytes()
        source = str(settings.agreements_file.name)
    else:
        text = resources.files("services.router").joinpath("default_agreements.yaml").read_bytes()
        source = "packaged default_agreements.yaml"
    digest = hashlib.sha256(text).hexdigest()
    record = emitter.event(
        AuditEventType.POLICY_CHANGE,
        occurred_at=now,
        actor=settings.broker_party,
        outcome="in_force",
        message_id=digest[:32],
        rule=source,
        reason=f"sha256 {digest}",
    )
    return _event_id(record.value), record.value


def _event_id(value: bytes) -> str:
    return str(typed_codec(AUDIT_EVENT).decode(value)["event_id"])  # decoding gives a uuid.UUID
