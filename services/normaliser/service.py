"""The normaliser: open each feed record, parse it with its adapter, validate, seal the canonical records.

Per input record the outputs are either (canonical records sealed to the broker + NORMALISATION audit events)
or (a dead letter + a DEAD_LETTER audit event). Nothing raised by one bad record affects another.

What it accepts on ``feed.<J>`` (after the input gate: a batch signed by the intake, ``crx dlq replay`` or J):
a format-1 envelope signed by J or by the broker (its intake), or a format-2 record whose batch signer is the
intake or ``crx.dlq`` and which names the intake (or, resubmitted by ``crx dlq replay``, ``crx.dlq``) as its
producer; never a format-2 record J's own batch signature carries (``internal``). It writes ``records`` in
``internal_format`` (format 2: its own data key, producer ``crx.normaliser``); dead letters stay format 1.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter as Counter_
from typing import Any

from prometheus_client import CollectorRegistry, Counter

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.audit_events import AuditEventType
from services.kernel.codec import typed_codec
from services.kernel.envelope import SealContext, routing_headers
from services.kernel.errors import AdapterNotFound, PayloadTooLarge, UnmappedCode
from services.kernel.internal import InternalSealer
from services.kernel.kafka import OutRecord
from services.kernel.logging import bind_message_id
from services.kernel.metrics import ServiceMetrics
from services.kernel.producers import component_party
from services.kernel.recordkey import record_key
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService, Wiring
from services.kernel.stage import BrokerStage

NAME = "normaliser"
RECORD_CONTENT_TYPE = "avro/crx.v1.CriminalRecord"
UNKNOWN_CATEGORY = "UNKNOWN"


def unmapped_codes(record: CriminalRecord) -> Counter_[str]:
    """How many offence and sanction codes of ``record`` have no common category, by kind."""
    found: Counter_[str] = Counter_()
    for conviction in record["convictions"]:
        found["offence"] += sum(o["category"] == UNKNOWN_CATEGORY for o in conviction["offences"])
        found["sanction"] += sum(s["category"] == UNKNOWN_CATEGORY for s in conviction["sanctions"])
    found["offence"] += sum(c["category"] == UNKNOWN_CATEGORY for c in record["other_charges"])
    return +found


def partition_key(source_jurisdiction: str, source_record_id: str) -> bytes:
    """Opaque partition key that keeps every version of one record in order (never personal data)."""
    return record_key(source_jurisdiction, source_record_id)


class Normaliser(BrokerStage):
    """The normaliser's handler; ``build`` wraps it in the kernel's stream service."""

    def __init__(self, runtime: Runtime, metrics: ServiceMetrics, registry: CollectorRegistry | None = None) -> None:
        super().__init__(NAME, runtime, metrics)
        settings, keyring = runtime.settings, runtime.keyring
        self._unmapped = Counter(
            "crx_unmapped_codes",
            "National codes without a common category, by sending jurisdiction and kind (offence, sanction)",
            ["jurisdiction", "kind"],
            registry=registry,
        )
        self._codec = typed_codec(CANONICAL_RECORD)
        self._feeds = {settings.topic(f"feed.{j}"): j for j in settings.jurisdictions}
        party = component_party(settings.broker_party, NAME)
        self._records = InternalSealer(settings, keyring, party, settings.broker_party)  # one data key per process

    @property
    def feed_topics(self) -> list[str]:
        """The feed topics consumed."""
        return sorted(self._feeds)

    def one(self, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """Sealed canonical records and their NORMALISATION events, or the payload's dead letter."""
        jurisdiction = self._feeds.get(rec.topic)
        value: bytes = rec.value or b""
        submission_id: str | None = None
        try:
            if jurisdiction is None:
                raise AdapterNotFound("record on a topic that is not a configured feed")
            if len(value) > self._settings.max_envelope_bytes:  # the payload is checked once opened
                raise PayloadTooLarge("envelope exceeds the configured payload limit and its overhead")
            signers = frozenset({jurisdiction, self._settings.broker_party})  # format 1: the sender, or our intake
            opened = self.open_input(rec, channel=f"feed.{jurisdiction}", signers=signers, now=now)
            submission_id = opened.message_id
            if len(opened.plaintext) > self._settings.max_payload_bytes:
                raise PayloadTooLarge("payload exceeds the configured limit")
            adapter_name = str(opened.envelope["content_type"]).removeprefix("feed/")
            received = opened.envelope["created_at"]  # sealed at the intake: the same on every publication
            canonical = get_adapter(adapter_name).parse(opened.plaintext, ParseContext(jurisdiction, received))
            unmapped = self._check_codes(canonical, jurisdiction)
            return [
                out
                for record, unknown in zip(canonical, unmapped, strict=True)
                for out in self._seal_record(record, unknown, submission_id, now)
            ]
        except Exception as exc:  # dead-lettered when the payload's fault (or a bug), else the batch is retried
            return self.failed(exc, rec, submission_id=submission_id, jurisdiction=jurisdiction, now=now)

    def _check_codes(self, records: list[CriminalRecord], jurisdiction: str) -> list[Counter_[str]]:
        """Count unmapped codes (returned per record); a strict jurisdiction's payload with any is refused
        whole (UnmappedCode)."""
        per_record = [unmapped_codes(record) for record in records]
        total: Counter_[str] = Counter_()
        for counts in per_record:
            total.update(counts)
        for kind, count in total.items():
            self._unmapped.labels(jurisdiction, kind).inc(count)
        if total and jurisdiction in self._settings.strict_mapping:
            raise UnmappedCode(f"{total.total()} codes without a common category; {jurisdiction} is configured strict")
        return per_record

    def _seal_record(
        self, record: CriminalRecord, unknown: Counter_[str], submission_id: str, now: dt.datetime
    ) -> list[OutRecord]:
        header = record["header"]
        message_id = str(header["message_id"])
        with bind_message_id(message_id=message_id):
            encoded = self._codec.encode(record)
            if unknown:
                self._log.info("codes without a common category", **unknown)
            ctx = SealContext(
                channel="records",
                message_id=message_id,
                correlation_id=submission_id,
                sender=self._settings.broker_party,
                recipient=self._settings.broker_party,
                content_type=RECORD_CONTENT_TYPE,
                schema_fingerprint=self._codec.fingerprint,
            )
            sealed = self._records.seal(encoded, ctx, now)
            self._log.debug(
                "normalised", source_jurisdiction=header["source_jurisdiction"], submission_id=submission_id
            )
            key = partition_key(header["source_jurisdiction"], header["source_record_id"])
            audit = self.record_event(
                AuditEventType.NORMALISATION, header, now=now, submission_id=submission_id, payload=encoded
            )
        return [
            OutRecord(self._settings.topic("records"), sealed, key=key, headers=routing_headers(ctx)),
            audit,
        ]


def build(runtime: Runtime, *, ports: Ports) -> StreamService:
    """The normaliser as a runnable service: every feed topic in, sealed canonical records out."""
    settings, wiring = runtime.settings, Wiring.of(runtime, NAME, ports)
    normaliser = Normaliser(runtime, wiring.metrics, wiring.registry)
    return StreamService(
        wiring,
        topics=normaliser.feed_topics,
        output_topics=[settings.topic("records"), settings.topic("audit"), settings.topic("dlq")],
        handler=normaliser.handle,
    )
