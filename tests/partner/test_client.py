"""The partner client library: verify, open, decode, deduplicate, deliver, receipt; refuse without crashing."""

from __future__ import annotations

import datetime as dt
import sqlite3
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD, RECEIPT
from schemas.records import CriminalRecord
from services.kernel.audit_events import disclosure_event_id, receipt_event_id, stable_id
from services.kernel.codec import codec, typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers, signed_part
from services.kernel.metrics import ServiceMetrics
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRing
from services.normaliser.service import RECORD_CONTENT_TYPE
from services.partner.client import CallbackSink, DirectorySink, PartnerClient, Sink
from services.partner.lifecycle import Operation, record_key
from services.partner.logwatch import LogWatcher

NOW = dt.datetime.now(dt.UTC)


def _record() -> CriminalRecord:
    adapter = get_adapter("json-v1")
    payload = dict(adapter.samples())["DE-notification-fr-pl.json"]
    [record] = adapter.parse(payload, ParseContext("DE", NOW))
    return record


def _envelope(keyring: KeyRing, recipient: str = "FR", message_id: str | None = None) -> tuple[bytes, SealContext]:
    rec_codec = typed_codec(CANONICAL_RECORD)
    record = _record()
    ctx = SealContext(
        channel=f"out.{recipient}",
        message_id=message_id or str(record["header"]["message_id"]),
        correlation_id="submission-1",
        sender="crx",
        recipient=recipient,
        content_type=RECORD_CONTENT_TYPE,
        schema_fingerprint=rec_codec.fingerprint,
    )
    now = dt.datetime.now(dt.UTC)  # after the fixture made the keys: they are valid from their creation
    sealed = Sealer(keyring.registry, keyring.store, "crx").seal(rec_codec.encode(record), ctx, now)
    return sealed, ctx


def _consumed(
    value: bytes, ctx: SealContext | None, topic: str = "crx.out.FR", offset: int = 0
) -> ConsumerRecord[Any, Any]:
    headers = routing_headers(ctx) if ctx is not None else []
    return ConsumerRecord(topic, 0, offset, 0, 0, None, value, None, 0, len(value), headers)


def _client(settings: Settings, keyring: KeyRing, sink: Sink, party: str = "FR") -> PartnerClient:
    registry = CollectorRegistry()
    return PartnerClient(settings, keyring, party, sink, ServiceMetrics.create(registry), registry)


def _receipt(keyring: KeyRing, value: bytes) -> dict[str, Any]:
    """Decode a receipt and check the partner's signature over it, as the audit writer does."""
    receipt = codec(RECEIPT).decode(value)
    entry = keyring.registry.get(receipt["party"], receipt["signer_key_id"])
    signature_alg(entry.algorithm).verify(
        entry.load_public(), receipt["signature"], signed_part(value, receipt["signature"])
    )
    return receipt


async def test_delivers_once_and_receipts_every_time(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """A record is delivered once; a redelivery (at-least-once) gets the same signed receipt, no new file."""
    sink = DirectorySink(tmp_path / "fr")
    client = _client(settings, keyring, sink)
    sealed, ctx = _envelope(keyring)
    [first] = await client.handle([_consumed(sealed, ctx)])
    [again] = await client.handle([_consumed(sealed, ctx, offset=1)])
    receipt = _receipt(keyring, first.value)
    assert (receipt["outcome"], receipt["message_id"], receipt["party"]) == ("ACCEPTED", ctx.message_id, "FR")
    assert _receipt(keyring, again.value)["receipt_id"] == receipt["receipt_id"]
    assert receipt["operation"] == "STORED" and _receipt(keyring, again.value)["operation"] == "STORED"
    header = _record()["header"]
    key = record_key(header["source_jurisdiction"], header["source_record_id"])
    assert [p.name for p in (tmp_path / "fr").glob("*.json")] == [f"{key}.json"]  # one file per record, by key
    restarted = DirectorySink(tmp_path / "fr")
    assert restarted.applied(ctx.message_id) is Operation.STORED  # the dedup survives a restart


async def test_a_resealed_record_is_receipted_once(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """The same record sealed twice (other envelope bytes: a retry after a key rotation) gets one receipt id,
    so the audit log holds one DELIVERY_RECEIPT for it, not two."""
    client = _client(settings, keyring, DirectorySink(tmp_path / "fr"))
    first_sealed, ctx = _envelope(keyring)
    second_sealed, _ = _envelope(keyring)
    assert first_sealed != second_sealed
    [first] = await client.handle([_consumed(first_sealed, ctx)])
    [second] = await client.handle([_consumed(second_sealed, ctx, offset=1)])
    ids = {_receipt(keyring, first.value)["receipt_id"], _receipt(keyring, second.value)["receipt_id"]}
    assert len(ids) == 1


@pytest.mark.parametrize(
    "damage", ["flipped-byte", "other-recipient", "headers-lie", "garbage", "empty", "record-swapped"]
)
async def test_unreadable_records_get_a_negative_receipt_and_are_skipped(
    settings: Settings, keyring: KeyRing, tmp_path: Path, damage: str
) -> None:
    """Tampered, misaddressed, mislabelled or garbage records: REJECTED receipt, nothing delivered, no crash."""
    sink = DirectorySink(tmp_path / "fr")
    client = _client(settings, keyring, sink)
    other_id = str(uuid.uuid4()) if damage == "record-swapped" else None  # a validly sealed envelope whose
    sealed, ctx = _envelope(keyring, "PL" if damage == "other-recipient" else "FR", other_id)  # record differs
    value: bytes = sealed
    headers_ctx: SealContext | None = ctx
    if damage == "flipped-byte":
        value = sealed[:-40] + bytes([sealed[-40] ^ 1]) + sealed[-39:]
    elif damage == "headers-lie":
        headers_ctx = SealContext(**{**ctx.__dict__, "message_id": str(uuid.uuid4())})
    elif damage == "garbage":
        value, headers_ctx = b"\x00not an envelope", None
    elif damage == "empty":
        value, headers_ctx = b"", None
    [out] = await client.handle([_consumed(value, headers_ctx, offset=7)])
    receipt = _receipt(keyring, out.value)
    assert receipt["outcome"] == "REJECTED" and receipt["reason"]
    assert not list((tmp_path / "fr").glob("*.json"))
    assert receipt["operation"] is None
    assert client.rejected.labels("FR", receipt["reason"])._value.get() == 1


async def test_callback_sink_dedups_across_restarts(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """A callback receives each record once per message id, also after the client is rebuilt on the same ledger."""
    got: list[tuple[str, dict[str, Any]]] = []
    ledger = tmp_path / "ledger.sqlite3"
    sealed, ctx = _envelope(keyring)
    first = CallbackSink(lambda mid, rec: got.append((mid, rec)), ledger)
    await _client(settings, keyring, first).handle([_consumed(sealed, ctx)])
    first.close()
    second = CallbackSink(lambda mid, rec: got.append((mid, rec)), ledger)
    [out] = await _client(settings, keyring, second).handle([_consumed(sealed, ctx, offset=1)])
    second.close()
    assert [mid for mid, _ in got] == [ctx.message_id]
    assert str(got[0][1]["header"]["message_id"]) == ctx.message_id
    assert _receipt(keyring, out.value)["outcome"] == "ACCEPTED"
    assert _receipt(keyring, out.value)["operation"] == "OTHER"  # a plain callback: the sink cannot tell


async def test_a_failing_callback_is_not_noted_and_raises_for_retry(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """When the partner's system refuses, the id is not noted: the batch loop retries the same record."""

    def refuse(_mid: str, _rec: dict[str, Any]) -> None:
        raise OSError("partner system down")

    sink = CallbackSink(refuse, tmp_path / "ledger.sqlite3")
    sealed, ctx = _envelope(keyring)
    with pytest.raises(OSError):
        await _client(settings, keyring, sink).handle([_consumed(sealed, ctx)])
    assert not sink.delivered(ctx.message_id)
    sink.close()


async def test_a_watched_client_expects_its_disclosure_and_receipt_events(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """With a log watcher, each accepted delivery leaves the ids of its DISCLOSURE and DELIVERY_RECEIPT events to
    prove (the ids the router and the audit writer give them); without one, nothing is expected."""
    registry = CollectorRegistry()
    watcher = LogWatcher("FR", lambda: "http://127.0.0.1:9", [], "origin", tmp_path / "watch.sqlite3", registry)
    client = PartnerClient(
        settings, keyring, "FR", DirectorySink(tmp_path / "fr"), ServiceMetrics.create(registry), registry, watcher
    )
    sealed, ctx = _envelope(keyring)
    [out] = await client.handle([_consumed(sealed, ctx)])
    receipt = _receipt(keyring, out.value)
    with sqlite3.connect(tmp_path / "watch.sqlite3") as db:
        expected = set(db.execute("SELECT * FROM expected").fetchall())
    watcher.close()
    disclosure = disclosure_event_id(ctx.message_id, ctx.correlation_id, "FR")
    delivery = receipt_event_id(ctx.message_id, ctx.correlation_id, "FR", receipt["receipt_id"])
    assert {row[:3] for row in expected} == {
        (disclosure, "DISCLOSURE", ctx.message_id),
        (delivery, "DELIVERY_RECEIPT", ctx.message_id),
    }
    assert receipt["receipt_id"] == stable_id("receipt", "FR", ctx.message_id, "ACCEPTED")  # as ever: a contract
