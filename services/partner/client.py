"""The partner client: consume ``crx.out.<party>``, verify, open, decode, apply, and send a signed receipt.

The sink (``sinks``) applies each record's life: one copy per record at its latest version, erased on
DELETION; the receipt's ``operation`` says what was applied (STORED, REPLACED, ERASED, UNCHANGED, STALE).
Deduplicates by message id across restarts (a delivered message id is never delivered twice to the sink;
its receipt is re-sent, with the same receipt id and operation, so the audit log stays idempotent). Records
that fail verification or decryption are rejected with a negative receipt and skipped: never a crash.
``purge`` erases the records whose retention ended and sends their erasure receipts (``PartnerService`` runs it
periodically).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiokafka import ConsumerRecord
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter

from schemas import CANONICAL_RECORD, CASE_NOTICE, RECEIPT
from schemas.records import Receipt, ReceiptOutcomeSymbol
from services.cases.notices import COMPONENT as NOTICE_COMPONENT
from services.cases.notices import CONTENT_TYPE as NOTICE_CONTENT_TYPE
from services.kernel.audit_events import disclosure_event_id, erasure_event_id, receipt_event_id, stable_id
from services.kernel.codec import codec, typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import Opener, attach_signature
from services.kernel.errors import CrxError, TransientError
from services.kernel.kafka import OutRecord, Producer
from services.kernel.logging import bind_message_id, get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.periodic import Periodic
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService, Wiring
from services.kernel.suites import SignatureAlg, signature_alg
from services.keys.ring import KeyRing
from services.partner.callback import CallbackSink
from services.partner.directory import DirectorySink
from services.partner.lifecycle import Delivery, Operation
from services.partner.logwatch import CheckResult, LogWatcher
from services.partner.sinks import Sink
from services.translog.trust import VKEY_FILE, load_verifiers

PURGE_SECONDS = 3600.0
"""How often a partner client looks for records whose retention ended, by default."""


@dataclass(frozen=True)
class _Signing:
    """The key a batch's receipts are signed with: chosen once per batch (its ``now``), loaded once."""

    key_id: str
    key: Any
    algorithm: SignatureAlg


__all__ = ["CallbackSink", "DirectorySink", "PartnerClient", "PartnerService", "Sink", "build"]  # sinks: as before


class PartnerClient:
    """The partner's handler: one instance per receiving party."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        party: str,
        sink: Sink,
        metrics: ServiceMetrics,
        registry: CollectorRegistry,
        watcher: LogWatcher | None = None,
    ) -> None:
        self.party = party
        self.watcher = watcher
        self._settings = settings
        self._keyring = keyring
        self._opener = Opener(keyring.registry, keyring.store, party)
        self._sink = sink
        self._codec = codec(CANONICAL_RECORD)
        self._receipt_codec = typed_codec(RECEIPT)
        self._notice_codec = codec(CASE_NOTICE)
        self._metrics = metrics
        self._broker = frozenset({settings.broker_party})
        self._channel = f"out.{party}"
        self._log = get_logger(f"partner-{party}")
        self.rejected = Counter(
            "crx_partner_rejected", "Deliveries refused by the partner client", ["party", "reason"], registry=registry
        )
        self.accepted = Counter("crx_partner_accepted", "Deliveries accepted", ["party"], registry=registry)
        self._accepted_count = self.accepted.labels(party)  # the child, looked up once

    async def handle(self, records: list[ConsumerRecord]) -> list[OutRecord]:
        """Deliver one batch; returns the receipts to send."""
        if not records:
            return []
        now = dt.datetime.now(dt.UTC)
        expected: list[tuple[str, str, str]] | None = [] if self.watcher is not None else None
        signing = self._signing(now)  # KeyUnavailable: the batch waits for the key, as when its first receipt failed
        receipts = [self._one(rec, now, signing, expected) for rec in records]
        if self.watcher is not None and expected is not None:
            self.watcher.expect(expected)  # one transaction per batch
        return receipts

    async def purge(self, now: dt.datetime, send: Callable[[list[OutRecord]], Awaitable[None]]) -> int:
        """Erase the records whose retention ended by ``now``'s (UTC) date, send an erasure receipt (ACCEPTED,
        operation ERASED) for the delivery that brought each, and note them sent once ``send`` returns.

        Receipts owed from an earlier round whose ``send`` failed are sent again (same receipt ids). Returns how
        many receipts were sent; raises what ``send`` raises (TransientError: try again later).
        """
        owed = self._sink.purge(now.date())
        if not owed:
            return 0
        expected: list[tuple[str, str, str]] | None = [] if self.watcher is not None else None
        signing = self._signing(now)
        receipts = [self._accepted(delivery, Operation.ERASED, now, signing, expected) for delivery in owed]
        await send(receipts)
        self._sink.erasures_sent(d.message_id for d in owed)
        if self.watcher is not None and expected is not None:
            self.watcher.expect(expected)
        self._log.info("retention ended: records erased", count=len(owed))
        return len(owed)

    def _signing(self, now: dt.datetime) -> _Signing:
        """This party's active signing key at ``now``, loaded. Raises KeyUnavailable."""
        entry = self._keyring.registry.active(self.party, "signing", now)
        key = self._keyring.store.load(self.party, entry.key_id)
        return _Signing(entry.key_id, key, signature_alg(entry.algorithm))

    def _one(
        self, rec: Any, now: dt.datetime, signing: _Signing, expected: list[tuple[str, str, str]] | None
    ) -> OutRecord:
        """The receipt of one consumed delivery: ACCEPTED once applied, REJECTED when it does not verify, open or
        decode. Adds the audit events an accepted one leads to to ``expected`` (None: nobody watches the log)."""
        value: bytes = rec.value or b""
        try:
            opened = self._opener.open(
                value, channel=self._channel, now=now, signers=self._broker, headers=dict(rec.headers or ())
            )
            with bind_message_id(message_id=opened.message_id):
                notice = opened.envelope["content_type"] == NOTICE_CONTENT_TYPE
                payload_codec = self._notice_codec if notice else self._codec
                fingerprint = opened.envelope["schema_fingerprint"]
                if not payload_codec.knows(fingerprint) or opened.plaintext[2:10] != fingerprint:
                    raise CrxError("unknown payload schema", reason_code="CODEC")
                message_id, correlation_id = opened.message_id, str(opened.envelope["correlation_id"])
                delivery = Delivery(message_id, correlation_id, hashlib.sha256(value).digest())
                operation = self._sink.applied(message_id)
                if operation is None:
                    record = payload_codec.decode(opened.plaintext)
                    named = record["notice_id"] if notice else record["header"]["message_id"]
                    if str(named) != message_id:
                        raise CrxError("record and envelope name different messages", reason_code="MISMATCH")
                    operation = self._sink.deliver(delivery, {"case_notice": record} if notice else record)
                self._accepted_count.inc()
                self._log.info("delivered", channel=self._channel, operation=operation.value)
                if expected is not None:
                    component = NOTICE_COMPONENT if notice else "router"
                    disclosure = disclosure_event_id(message_id, correlation_id, self.party, component)
                    expected.append((disclosure, "DISCLOSURE", message_id))
                return self._accepted(delivery, operation, now, signing, expected)
        except CrxError as exc:
            self.rejected.labels(self.party, exc.reason_code).inc()
            self._metrics.errors.labels(f"partner-{self.party}", type(exc).__name__).inc()
            self._log.warning("delivery rejected", reason=exc.reason_code, offset=rec.offset)
            env = self._peek(value)
            message_id = str(env.get("message_id") or stable_id("unreadable", rec.topic, str(rec.offset)))
            correlation_id = str(env.get("correlation_id") or message_id)
            delivery = Delivery(message_id, correlation_id, hashlib.sha256(value).digest())
            return self._receipt(delivery, "REJECTED", exc.reason_code, now, None, signing)

    def _accepted(
        self,
        delivery: Delivery,
        operation: Operation,
        now: dt.datetime,
        signing: _Signing,
        expected: list[tuple[str, str, str]] | None,
    ) -> OutRecord:
        """The ACCEPTED receipt of ``delivery``; adds the audit events it leads to (``logwatch``) to ``expected``
        (None: nobody watches the log, their ids are not computed)."""
        message_id, correlation_id = delivery.message_id, delivery.correlation_id
        receipt_id = self._receipt_id(message_id, "ACCEPTED")
        receipt = self._receipt(delivery, "ACCEPTED", None, now, operation, signing, receipt_id)
        if expected is None:
            return receipt
        receipt_event = receipt_event_id(message_id, correlation_id, self.party, receipt_id)
        expected.append((receipt_event, "DELIVERY_RECEIPT", message_id))
        if operation is Operation.ERASED:
            expected.append(
                (erasure_event_id(message_id, correlation_id, self.party, receipt_id), "ERASURE", message_id)
            )
        return receipt

    def _peek(self, value: bytes) -> dict[str, Any]:
        try:
            return self._opener.parse(value)
        except CrxError:
            return {}

    def _receipt_id(self, message_id: str, outcome: str) -> str:
        """The same for every receipt of one outcome of one message at this party, whatever the envelope's
        bytes: a record re-sealed and delivered again (after a key rotation, a retry) is receipted once, and
        the erasure receipt of a record whose retention ended repeats the id of its delivery's receipt (the
        audit writer logs its DELIVERY_RECEIPT once, and one ERASURE)."""
        return stable_id("receipt", self.party, message_id, outcome)

    def _receipt(
        self,
        delivery: Delivery,
        outcome: ReceiptOutcomeSymbol,
        reason: str | None,
        now: dt.datetime,
        operation: Operation | None,
        signing: _Signing,
        receipt_id: str | None = None,
    ) -> OutRecord:
        """The signed receipt of ``delivery`` (``receipt_id``: its id, when already computed)."""
        receipt: Receipt = {
            "receipt_id": receipt_id or self._receipt_id(delivery.message_id, outcome),
            "message_id": delivery.message_id,
            "correlation_id": delivery.correlation_id,
            "party": self.party,
            "channel": self._channel,
            "outcome": outcome,
            "reason": reason,
            "envelope_sha256": delivery.envelope_sha256,
            "received_at": now,
            "signer_key_id": signing.key_id,
            "operation": operation.symbol if operation is not None else None,
            "signature": None,
        }
        unsigned = self._receipt_codec.encode(receipt)
        signature = signing.algorithm.sign(signing.key, unsigned)
        return OutRecord(
            self._settings.topic("receipts"), attach_signature(unsigned, signature), key=delivery.message_id.encode()
        )


def build(
    runtime: Runtime,
    *,
    ports: Ports,
    party: str,
    sink: Path | Sink,
    audit_url: Callable[[], str] | None = None,
    purge_seconds: float | None = PURGE_SECONDS,
) -> PartnerService:
    """A partner client for ``party`` writing JSON records to a directory (``DirectorySink``; or any other sink).

    With an audit log URL (``audit_url``, else the configured ``audit_api_url``) the client also proves,
    every ``partner_log_check_seconds``, that its deliveries and receipts are in the audit log and that the
    log's history only ever grows (``logwatch``), against the log keys in ``<keys_dir>/audit-note.vkey``.
    Every ``purge_seconds`` (and once at start; None: never) it erases the records whose retention ended and
    sends their erasure receipts (``PartnerClient.purge``).
    Raises KeyUnavailable when a log is to be watched and that file is missing or malformed.
    """
    settings, registry = runtime.settings, runtime.new_registry()
    if audit_url is None and settings.audit_api_url:
        configured = settings.audit_api_url.rstrip("/")
        audit_url = lambda: configured  # noqa: E731 - a constant URL
    watcher = None
    if audit_url is not None:
        verifiers = load_verifiers(settings.keys_dir / VKEY_FILE)
        state = settings.data_dir / "logwatch" / f"{party}.sqlite3"  # each partner proves its own events
        watcher = LogWatcher(party, audit_url, verifiers, settings.audit_log_origin, state, registry)
    metrics = ServiceMetrics.create(registry, service=f"partner-{party}")
    group = settings.group(f"partner.{party}")
    wiring = Wiring(settings, f"partner-{party}", registry, metrics, metrics_port=ports.metrics, group_id=group)
    client = PartnerClient(
        settings,
        runtime.keyring,
        party,
        DirectorySink(sink) if isinstance(sink, Path) else sink,
        metrics,
        registry,
        watcher,
    )
    return PartnerService(
        wiring,
        watcher=watcher,
        client=client,
        purge_seconds=purge_seconds,
        topics=[settings.topic(f"out.{party}")],
        output_topics=[settings.topic("receipts")],
        handler=client.handle,
    )


class PartnerService(StreamService):
    """The partner's stream service, plus the periodic audit-log check when a watcher is given and the periodic
    purge of records whose retention ended (its receipts go through a producer of their own, started when the
    first is owed: the batch loop's producer is transactional and busy with its batches)."""

    def __init__(
        self,
        wiring: Wiring,
        *,
        watcher: LogWatcher | None,
        client: PartnerClient | None = None,
        purge_seconds: float | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(wiring, **kwargs)
        settings = wiring.settings
        self.watcher = watcher
        self.client = client
        self._checks = Periodic(
            f"{self.name}-logwatch",
            self._check,
            settings.partner_log_check_seconds,
            wait_first=True,
            errors=(aiohttp.ClientError, TimeoutError),  # the log is unreachable: try again later
            on_error=self._unreachable,
        )
        self._session: aiohttp.ClientSession | None = None  # the checks', from their start to their stop
        self._purge_period = purge_seconds if client is not None else None
        self._purges = Periodic(
            f"{self.name}-purge",
            self.purge_once,
            self._purge_period,  # only started when not None
            errors=(CrxError, OSError),  # the broker or the sink's store is away: receipts stay owed
            on_error=self._purge_failed,
        )
        self._purge_producer: Producer | None = None
        self.last_check: CheckResult | None = None

    async def start(self) -> None:
        """Start consuming, then the log checks and the purges."""
        await super().start()
        if self.watcher is not None and self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            self._checks.start()
        if self._purge_period is not None:
            self._purges.start()

    async def stop(self) -> None:
        """Stop the log checks and the purges, then drain and stop consuming."""
        session, self._session = self._session, None
        try:
            await self._checks.stop()
        finally:
            if session is not None:
                await session.close()
        await self._purges.stop()
        producer, self._purge_producer = self._purge_producer, None
        if producer is not None:
            await producer.stop()
        await super().stop()

    async def purge_once(self) -> int:
        """One purge now (``PartnerClient.purge``); returns how many erasure receipts were sent."""
        assert self.client is not None
        return await self.client.purge(dt.datetime.now(dt.UTC), self._send_receipts)

    async def _send_receipts(self, receipts: list[OutRecord]) -> None:
        if self._purge_producer is None:
            producer = Producer(self._settings)
            try:
                await producer.start()
            except KafkaError as exc:
                raise TransientError(f"receipt producer: {type(exc).__name__}") from None
            self._purge_producer = producer
        await self._purge_producer.send_all(receipts)

    def _purge_failed(self, exc: Exception) -> None:
        self._log.warning("purge not completed", error_class=type(exc).__name__)

    async def _check(self) -> None:
        assert self.watcher is not None and self._session is not None
        self.last_check = await self.watcher.check_once(self._session)

    def _unreachable(self, exc: Exception) -> None:
        self._log.warning("audit log unreachable", error_class=type(exc).__name__)
