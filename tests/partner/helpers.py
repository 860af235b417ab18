"""Helpers for the partner tests: versions of one record as the router would seal them, consumed records,
receipts checked as the audit writer checks them, and an audit writer on a real SQLite audit store."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aiokafka.structs import ConsumerRecord
from prometheus_client import CollectorRegistry

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.writer import AuditWriter, verify_receipt
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.keys.ring import KeyRing
from services.normaliser.service import RECORD_CONTENT_TYPE
from services.partner.client import PartnerClient
from services.partner.sinks import Sink

SAMPLE = "DE-notification-fr.json"  # DE-BZR-SYNTH-2024-000202, a DE conviction of a French national


def version(
    number: int, message_type: str = "NOTIFICATION", *, retention_end: str | None = None, record_id: str | None = None
) -> CriminalRecord:
    """Version ``number`` of SAMPLE's record as DE's json-v1 feed would send it (a DELETION carries no
    conviction), through the adapter: its message id is the one the pipeline gives that version."""
    adapter = get_adapter("json-v1")
    document: dict[str, Any] = json.loads(dict(adapter.samples())[SAMPLE])
    document.update(version=number, type=message_type)
    if record_id is not None:
        document["record_id"] = record_id
    if message_type == "DELETION":
        document["convictions"] = []
    elif retention_end is not None:
        document["convictions"][0]["retention_end"] = retention_end
    [record] = adapter.parse(json.dumps(document).encode(), ParseContext("DE", dt.datetime.now(dt.UTC)))
    return record


def sealed(keyring: KeyRing, record: CriminalRecord, recipient: str = "FR") -> tuple[bytes, SealContext]:
    """``record`` sealed by the broker to ``recipient``, as the router delivers it."""
    rec_codec = typed_codec(CANONICAL_RECORD)
    ctx = SealContext(
        channel=f"out.{recipient}",
        message_id=str(record["header"]["message_id"]),
        correlation_id=f"submission-{record['header']['source_record_version']}",
        sender="crx",
        recipient=recipient,
        content_type=RECORD_CONTENT_TYPE,
        schema_fingerprint=rec_codec.fingerprint,
    )
    value = Sealer(keyring.registry, keyring.store, "crx").seal(rec_codec.encode(record), ctx, dt.datetime.now(dt.UTC))
    return value, ctx


def consumed(value: bytes, ctx: SealContext, offset: int = 0) -> ConsumerRecord[Any, Any]:
    """``value`` as the client consumes it from ``crx.out.<recipient>``."""
    topic = f"crx.{ctx.channel}"
    return ConsumerRecord(topic, 0, offset, 0, 0, None, value, None, 0, len(value), routing_headers(ctx))


def client(settings: Settings, keyring: KeyRing, sink: Sink, party: str = "FR") -> PartnerClient:
    """A partner client (a new instance is a restart: its state is only what the sink keeps)."""
    registry = CollectorRegistry()
    return PartnerClient(settings, keyring, party, sink, ServiceMetrics.create(registry), registry)


async def deliver(settings: Settings, keyring: KeyRing, sink: Sink, *records: CriminalRecord) -> list[OutRecord]:
    """Deliver ``records`` one batch each to a new client on ``sink``; the receipts it sent."""
    partner = client(settings, keyring, sink)
    out: list[OutRecord] = []
    for i, record in enumerate(records):
        value, ctx = sealed(keyring, record)
        out += await partner.handle([consumed(value, ctx, offset=i)])
    return out


def receipt(keyring: KeyRing, out: OutRecord) -> dict[str, Any]:
    """The receipt in ``out``, verified as the audit writer verifies it."""
    return verify_receipt(keyring, out.value, dt.datetime.now(dt.UTC))


def operations(keyring: KeyRing, outs: Sequence[OutRecord]) -> list[tuple[str, str | None]]:
    """(outcome, operation) of each receipt."""
    return [(r["outcome"], r["operation"]) for r in (receipt(keyring, out) for out in outs)]


def audit_writer(settings: Settings, keyring: KeyRing, path: Path) -> AuditWriter:
    """An audit writer on a SQLite audit store at ``path``."""
    registry = CollectorRegistry()
    store = SqliteAuditStore(str(path), origin=settings.audit_log_origin)
    return AuditWriter(settings, keyring, store, b"secret", ServiceMetrics.create(registry), registry)


async def log_receipts(settings: Settings, writer: AuditWriter, outs: Sequence[OutRecord]) -> None:
    """Hand ``outs`` to the audit writer as consumed from crx.receipts, one batch."""
    records = [
        ConsumerRecord(settings.topic("receipts"), 0, i, 0, 0, None, o.value, None, 0, len(o.value), ())
        for i, o in enumerate(outs)
    ]
    assert await writer.handle(records) == []


def held_files(directory: Path) -> list[dict[str, Any]]:
    """The JSON files in a DirectorySink's directory, decoded."""
    return [json.loads(p.read_text("utf-8")) for p in sorted(directory.glob("*.json"))]
