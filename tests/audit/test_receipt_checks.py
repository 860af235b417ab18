"""Receipts on crx.receipts: only a receipt signed by the named partner's registered, usable signing key becomes
a DELIVERY_RECEIPT; an unsigned, altered, foreign-signed or revoked-key receipt becomes an ERROR event
(UNVERIFIABLE_RECEIPT, a commitment to its bytes) and is counted, never a crash or a delivery."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from schemas import RECEIPT, previous_versions
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.writer import AuditWriter
from services.kernel.audit_events import erasure_event_id, receipt_event_id
from services.kernel.codec import Codec, codec
from services.kernel.config import Settings
from services.kernel.envelope import attach_signature
from services.kernel.metrics import ServiceMetrics
from services.kernel.suites import signature_alg
from services.keys.lifecycle import set_status
from services.keys.ring import KeyRing


def receipt(
    keyring: KeyRing,
    party: str,
    *,
    signer: str | None = None,
    outcome: str = "ACCEPTED",
    operation: str | None = None,
    writer: Codec[dict[str, Any]] | None = None,
    now: dt.datetime | None = None,
) -> bytes:
    """A receipt from ``party`` signed with ``signer``'s active signing key (``party`` by default), written with
    ``writer`` (the current receipt schema by default)."""
    now = now or dt.datetime.now(dt.UTC)
    entry = keyring.registry.active(signer or party, "signing", now)
    fields: dict[str, Any] = {
        "receipt_id": f"r-{party}-{outcome}", "message_id": "m-1", "correlation_id": "s-1", "party": party,
        "channel": f"out.{party}", "outcome": outcome, "reason": None,
        "envelope_sha256": hashlib.sha256(b"envelope").digest(), "received_at": now,
        "signer_key_id": entry.key_id, "operation": operation, "signature": None,
    }  # fmt: skip
    unsigned = (writer or codec(RECEIPT)).encode(fields)
    key = keyring.store.load(signer or party, entry.key_id)
    return attach_signature(unsigned, signature_alg(entry.algorithm).sign(key, unsigned))


def _writer(settings: Settings, keyring: KeyRing) -> AuditWriter:
    registry = CollectorRegistry()
    store = SqliteAuditStore(":memory:", origin=settings.audit_log_origin)
    return AuditWriter(settings, keyring, store, b"secret", ServiceMetrics.create(registry), registry)


async def _handle(writer: AuditWriter, settings: Settings, value: bytes) -> list[dict[str, Any]]:
    topic = settings.topic("receipts")
    out = await writer.handle([ConsumerRecord(topic, 0, 0, 0, 0, None, value, None, 0, len(value), ())])
    assert out == []  # never a dead letter: a receipt that does not verify is logged as an error instead
    return writer.store.events()


def _flip(value: bytes, at: int) -> bytes:
    changed = bytearray(value)
    changed[at] ^= 0x01
    return bytes(changed)


async def test_a_genuine_receipt_is_logged_as_a_delivery_receipt(settings: Settings, keyring: KeyRing) -> None:
    writer = _writer(settings, keyring)
    [event] = await _handle(writer, settings, receipt(keyring, "FR"))
    assert (event["event_type"], event["actor"], event["outcome"], event["recipients"]) == (
        "DELIVERY_RECEIPT", "FR", "accepted", ["FR"],
    )  # fmt: skip
    assert writer.receipts.labels("accepted")._value.get() == 1


@pytest.mark.parametrize("forgery", ["unsigned", "altered", "signed-by-another-party", "revoked-key"])
async def test_an_unverifiable_receipt_is_an_error_event_not_a_delivery(
    settings: Settings, keyring: KeyRing, forgery: str
) -> None:
    genuine = receipt(keyring, "FR")
    if forgery == "unsigned":
        value = codec(RECEIPT).encode(codec(RECEIPT).decode(genuine) | {"signature": None})
    elif forgery == "altered":
        value = _flip(genuine, 30)  # inside the receipt id: the signature no longer matches
    elif forgery == "signed-by-another-party":
        value = receipt(keyring, "FR", signer="PL")  # PL's key, FR's name: the key id is not FR's
    elif forgery == "revoked-key":
        entry = keyring.registry.active("FR", "signing", dt.datetime.now(dt.UTC))
        set_status(keyring, "FR", entry.key_id, "revoked")
        value = genuine
    writer = _writer(settings, keyring)
    [event] = await _handle(writer, settings, value)
    assert (event["event_type"], event["reason"], event["outcome"]) == ("ERROR", "UNVERIFIABLE_RECEIPT", "rejected")
    assert event["payload_commitment"] is not None
    assert writer.receipts.labels("unverifiable")._value.get() == 1
    assert not writer.store.events(event_type="DELIVERY_RECEIPT")


async def test_bytes_that_are_no_receipt_are_an_error_event(settings: Settings, keyring: KeyRing) -> None:
    """Not a receipt at all: refused like an unsigned one (an ERROR event committing to the bytes), never a
    dead letter full of whatever was written there."""
    writer = _writer(settings, keyring)
    [event] = await _handle(writer, settings, b"\xc3\x01not a receipt at all")
    assert (event["event_type"], event["outcome"]) == ("ERROR", "rejected")
    assert not writer.store.events(event_type="DELIVERY_RECEIPT")


async def test_a_receipt_written_with_the_previous_schema_still_verifies(settings: Settings, keyring: KeyRing) -> None:
    """A partner client built before receipts said what was applied (receipt.v1, no ``operation``) signs the
    v1 encoding; its receipt still verifies and is logged as an accepted DELIVERY_RECEIPT, with no ERASURE."""
    [(_name, v1)] = [(n, data) for n, data in previous_versions(RECEIPT) if n == "receipt.v1.avsc"]
    old = Codec.from_json(RECEIPT, v1)
    assert old.fingerprint != codec(RECEIPT).fingerprint  # the current schema is another version
    value = receipt(keyring, "FR", writer=old)
    assert value[2:10] == old.fingerprint
    writer = _writer(settings, keyring)
    [event] = await _handle(writer, settings, value)
    assert (event["event_type"], event["outcome"], event["actor"]) == ("DELIVERY_RECEIPT", "accepted", "FR")


async def test_an_erasure_receipt_is_also_logged_as_an_erasure_once(settings: Settings, keyring: KeyRing) -> None:
    """An ACCEPTED receipt with operation ERASED adds an ERASURE event (component audit, actor and recipient the
    party, outcome erased) under ``erasure_event_id``, the id the partner's log watch looks up; the same receipt
    re-sent later (new time, new bytes) adds nothing, and is no conflict."""
    writer = _writer(settings, keyring)
    at = dt.datetime.now(dt.UTC)
    await _handle(writer, settings, receipt(keyring, "FR", operation="ERASED", now=at))
    events = await _handle(writer, settings, receipt(keyring, "FR", operation="ERASED", now=at + dt.timedelta(1)))
    assert [e["event_type"] for e in events] == ["DELIVERY_RECEIPT", "ERASURE"]
    delivery, erasure = events
    assert str(delivery["event_id"]) == receipt_event_id("m-1", "s-1", "FR", "r-FR-ACCEPTED")
    assert str(erasure["event_id"]) == erasure_event_id("m-1", "s-1", "FR", "r-FR-ACCEPTED")
    assert (erasure["component"], erasure["actor"], erasure["recipients"], erasure["outcome"]) == (
        "audit", "FR", ["FR"], "erased",
    )  # fmt: skip
    assert (erasure["message_id"], erasure["submission_id"], erasure["occurred_at"]) == (
        "m-1",
        "s-1",
        delivery["occurred_at"],
    )
    assert writer.conflicts._value.get() == 0


@pytest.mark.parametrize(("outcome", "operation"), [("ACCEPTED", "STORED"), ("ACCEPTED", None), ("REJECTED", "ERASED")])
async def test_only_an_accepted_erasure_is_an_erasure(
    settings: Settings, keyring: KeyRing, outcome: str, operation: str | None
) -> None:
    """Any other receipt (another operation, none, or a rejection whatever it says) is a DELIVERY_RECEIPT alone."""
    writer = _writer(settings, keyring)
    events = await _handle(writer, settings, receipt(keyring, "FR", outcome=outcome, operation=operation))
    assert [e["event_type"] for e in events] == ["DELIVERY_RECEIPT"]


async def test_a_batch_looks_each_signer_key_up_once_and_the_next_batch_sees_a_revocation(
    settings: Settings, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Receipts of one batch signed by the same key cost one registry lookup of that key; the lookup does not
    outlive the batch: a key revoked after it refuses the receipts of the next one."""
    looked_up: list[tuple[str, str]] = []
    real_get = keyring.registry.get

    def get(party: str, key_id: str) -> Any:
        looked_up.append((party, key_id))
        return real_get(party, key_id)

    monkeypatch.setattr(keyring.registry, "get", get)
    writer = _writer(settings, keyring)
    values = [receipt(keyring, p, outcome=outcome) for p in ("FR", "PL") for outcome in ("ACCEPTED", "REJECTED")]
    await writer.handle(_records(settings, values))
    assert sorted(party for party, _ in looked_up) == ["FR", "PL"]
    assert [e["event_type"] for e in writer.store.events()] == ["DELIVERY_RECEIPT"] * 4
    set_status(keyring, "FR", next(key_id for party, key_id in looked_up if party == "FR"), "revoked")
    pl_again = receipt(keyring, "PL")  # a duplicate of PL's: skipped; FR's again: now under a revoked key
    await writer.handle(_records(settings, [pl_again, *values[:2]], first=len(values)))
    refused = [(e["event_type"], e["reason"]) for e in writer.store.events()[4:]]
    assert refused == [("ERROR", "UNVERIFIABLE_RECEIPT")] * 2
    assert writer.receipts.labels("unverifiable")._value.get() == 2


def _records(settings: Settings, values: list[bytes], first: int = 0) -> list[ConsumerRecord]:
    """``values`` consumed from crx.receipts at consecutive offsets from ``first``."""
    topic = settings.topic("receipts")
    return [ConsumerRecord(topic, 0, first + i, 0, 0, None, v, None, 0, len(v), ()) for i, v in enumerate(values)]
