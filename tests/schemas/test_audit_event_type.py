"""AuditEventType on the emitter: the enum changes no byte on the wire, and strings still work while callers move.

The pinned values were produced by the emitter as it was before the enum (event type as a plain string).
"""

from __future__ import annotations

import datetime as dt

import pytest

from schemas import AUDIT_EVENT
from services.kernel.audit_events import (
    AuditEmitter,
    AuditEventType,
    disclosure_event_id,
    event_type_of,
    receipt_event_id,
)
from services.kernel.codec import typed_codec
from services.kernel.errors import ValidationError

WHEN = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
# AuditEmitter("router", "crx.audit", b"secret").event("DISCLOSURE", occurred_at=WHEN, actor="crx", outcome="ok",
# message_id="m1", submission_id="s1", recipients=["FR"], payload=b"x"), before AuditEventType existed.
PINNED_DISCLOSURE = bytes.fromhex(
    "c301862d7c33b92207da4836623666646138612d636230662d356636302d613330322d3730363236333064623838320680f8b784c1"
    "680c726f75746572066372780204465200000002046d31020473310000046f6b00000240e96812ded9c1742ecc85fc4b7af0909075"
    "6dfd6244b83165a89e545e8bf204ec"
)


def _disclosure(event_type: AuditEventType | str) -> tuple[bytes, bytes | None]:
    emitter = AuditEmitter("router", "crx.audit", b"secret")
    out = emitter.event(
        event_type,
        occurred_at=WHEN,
        actor="crx",
        outcome="ok",
        message_id="m1",
        submission_id="s1",
        recipients=["FR"],
        payload=b"x",
    )
    return out.value, out.key


def test_enum_and_string_give_the_bytes_of_before() -> None:
    """An event made with AuditEventType.DISCLOSURE or "DISCLOSURE" is the pre-enum event: the same body, then
    the seven optional fields added since (message type, requesting authority, deadline, record key, record
    version, retention end, hits: null, one byte each),
    under the current schema's fingerprint; and the pinned pre-enum bytes still decode to the same event."""
    value, key = _disclosure(AuditEventType.DISCLOSURE)
    assert (value, key) == _disclosure("DISCLOSURE")
    assert key == b"s1"
    fingerprint = typed_codec(AUDIT_EVENT).fingerprint
    assert value == PINNED_DISCLOSURE[:2] + fingerprint + PINNED_DISCLOSURE[10:] + b"\x00" * 7
    event = typed_codec(AUDIT_EVENT).decode(PINNED_DISCLOSURE)
    assert event["event_type"] == AuditEventType.DISCLOSURE
    assert str(event["event_id"]) == disclosure_event_id("m1", "s1", "FR")


def test_public_event_ids_are_unchanged() -> None:
    """The ids partners look up are the values they had when the type was a string."""
    assert disclosure_event_id("m1", "s1", "FR") == "6b6fda8a-cb0f-5f60-a302-7062630db882"
    assert receipt_event_id("m1", "c1", "FR", "r1") == "ade96eb3-7a2b-58dd-bf90-74c8e2c8d183"


def test_strings_convert_by_symbol_and_unknown_ones_are_refused() -> None:
    """A symbol string becomes its member; anything else is a ValidationError, at the call, before encoding."""
    assert event_type_of("KEY_CHANGE") is AuditEventType.KEY_CHANGE
    assert event_type_of(AuditEventType.ERASURE) is AuditEventType.ERASURE
    with pytest.raises(ValidationError, match="DISCLOSED"):
        _disclosure("DISCLOSED")
    with pytest.raises(ValidationError):
        event_type_of("disclosure")  # symbols are case-sensitive, as in Avro
