"""The broker-side stage: what the normaliser and the router share around their per-record transform.

A stage refuses input not authenticated by a producer allowed on its topic (``gate``), opens what is
addressed to the broker in either internal format (``internal``: a format-2 record only with the batch
signer the gate verified), seals what it produces, emits audit events, and turns a record's fault into a dead
letter while letting every other error retry the batch (``errors.handling``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from aiokafka import ConsumerRecord

from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.codec import typed_codec
from services.kernel.deadletter import DeadLetters
from services.kernel.envelope import Opened, Sealer
from services.kernel.errors import handling
from services.kernel.gate import InputGate, refusal_event
from services.kernel.hop import is_hop
from services.kernel.internal import InternalReader, batch_signer
from services.kernel.kafka import OutRecord
from services.kernel.logging import bind_message_id, get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime

YIELD_SECONDS = 0.05  # the longest a batch holds the event loop without giving it a turn


def message_type_label(header: Mapping[str, Any]) -> str:
    """The audit events' ``message_type`` of a record: its type, then ``/`` and its case message if any."""
    case_message = header.get("case_message")
    return str(header["message_type"]) + (f"/{case_message}" if case_message else "")


class BrokerStage:
    """Opener, sealer, audit emitter and dead letters of one stage; subclasses implement ``one``."""

    def __init__(self, name: str, runtime: Runtime, metrics: ServiceMetrics) -> None:
        settings, keyring = runtime.settings, runtime.keyring
        self._settings = settings
        self._reader = InternalReader(settings, keyring)
        self._authenticated: Any = None  # the record ``one`` is handling, once the gate accepted it
        self._sealer = Sealer(keyring.registry, keyring.store, settings.broker_party)
        self._emitter = AuditEmitter(name, settings.topic("audit"), runtime.audit_secret)
        self._dead = DeadLetters(settings, name, self._sealer, self._emitter, metrics)
        self._gate = InputGate(settings, keyring.registry, metrics.unauthenticated, name)
        self._log = get_logger(name)

    async def handle(self, records: list[ConsumerRecord]) -> list[OutRecord]:
        """Transform one batch into outputs. A record not authenticated by a producer allowed on its topic is
        refused (``gate``): its output is the ERROR event recording the refusal, nothing else. A record's fault
        becomes its dead letter (the others go on); any other error propagates, and the batch loop retries the
        whole batch with backoff.

        The work is CPU-bound (parsing, sealing) and runs on the event loop: every ``YIELD_SECONDS`` of it the
        loop gets a turn, so the consumer's heartbeats and the ops endpoints keep answering during a batch of
        large documents (a batch that held the loop past the session timeout would cost the group).
        """
        now = dt.datetime.now(dt.UTC)
        outputs: list[OutRecord] = []
        turn = time.monotonic()
        with self.batch(records):
            for rec in records:
                reason = self._gate.refusal(rec, now)
                if reason is None:
                    self._authenticated = rec
                    try:
                        outputs.extend(self.one(rec, now))
                    finally:
                        self._authenticated = None
                else:
                    event = refusal_event(self._emitter, rec, reason, actor=self._settings.broker_party, now=now)
                    outputs.append(event)
                if time.monotonic() - turn >= YIELD_SECONDS:
                    await asyncio.sleep(0)
                    turn = time.monotonic()
        return outputs

    @contextmanager
    def batch(self, records: list[ConsumerRecord]) -> Iterator[None]:
        """The per-batch hook: entered before the first record of a batch is handled (``one``), left after the
        last, before the batch's outputs are returned, so before any of them is produced. Left by an exception
        when the batch fails (it is done again whole). Nothing here; the router reads and writes its ledger
        once per batch in it. Raises what the subclass's work raises (TransientError: the batch waits)."""
        del records
        yield

    def one(self, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """The outputs of one consumed record."""
        raise NotImplementedError

    def open_input(self, rec: Any, *, channel: str, signers: frozenset[str], now: dt.datetime) -> Opened:
        """Open the consumed record ``rec`` addressed to the broker on logical ``channel``, in either format
        (``internal.InternalReader``): a format-1 envelope signed by one of ``signers``; a format-2 record
        whose batch signature (checked by the gate in ``handle``; checked here for a record handled any other
        way) is one allowed to carry format 2 on its topic. Raises EnvelopeError, KeyDestroyed (an
        EnvelopeError: dead-lettered), KeyUnavailable (retriable: the batch waits)."""
        gated = rec is self._authenticated and is_hop(rec.value)
        signer = batch_signer(rec) if gated else None  # the proof the gate verified names it
        return self._reader.open(rec, channel=channel, signers=signers, now=now, authenticated=signer)

    def record_event(
        self,
        event_type: AuditEventType,
        header: Mapping[str, Any],
        *,
        now: dt.datetime,
        submission_id: str,
        outcome: str = "ok",
        **fields: Any,
    ) -> OutRecord:
        """The audit event of this stage's act on one canonical record, by the broker: message id, legal basis,
        purpose, reply-to, source jurisdiction, message type (with its case message) and requesting authority
        from the record's ``header``; ``fields`` as ``event`` takes them (recipients, reason, rule, payload,
        deadline). Raises ValidationError if the event does not fit the schema."""
        return self._emitter.event(
            event_type,
            occurred_at=now,
            actor=self._settings.broker_party,
            outcome=outcome,
            message_id=str(header["message_id"]),
            submission_id=submission_id,
            legal_basis=header["legal_basis"],
            purpose=header["purpose"],
            reply_to=header["reply_to"],
            source_jurisdiction=header["source_jurisdiction"],
            message_type=message_type_label(header),
            requesting_authority=header.get("requesting_authority"),
            **fields,
        )

    def failed(
        self, exc: Exception, rec: Any, *, submission_id: str | None, jurisdiction: str | None, now: dt.datetime
    ) -> list[OutRecord]:
        """The dead letter of ``rec`` when ``exc`` is its fault (or a bug met on it: kept whole for replay);
        re-raises ``exc`` when it is not (a key not there yet, a broker not answering): the record waits."""
        if handling(exc) == "retry":
            raise exc
        return self._dead.for_consumed(exc, rec, submission_id=submission_id, jurisdiction=jurisdiction, now=now)


class RecordStage(BrokerStage):
    """A stage that consumes the broker's canonical records (``crx.records``); subclasses implement ``record``.

    ``one`` opens each consumed record (sealed by the broker, in either internal format), decodes the canonical
    record, and hands it to ``record`` with the message id bound to the log context; any exception becomes the
    record's dead letter when it is the record's fault, else it propagates and the batch is retried
    (``failed``)."""

    def __init__(self, name: str, runtime: Runtime, metrics: ServiceMetrics) -> None:
        super().__init__(name, runtime, metrics)
        self._codec = typed_codec(CANONICAL_RECORD)
        self._broker = frozenset({runtime.settings.broker_party})

    def one(self, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """The outputs ``record`` makes of the canonical record in ``rec``; or the record's dead letter."""
        submission_id = None
        try:
            opened = self.open_input(rec, channel="records", signers=self._broker, now=now)
            submission_id = str(opened.envelope["correlation_id"])
            record = self._codec.decode(opened.plaintext)
            with bind_message_id(message_id=opened.message_id):
                return self.record(record, submission_id, rec, now)
        except Exception as exc:  # dead-lettered when the record's fault (or a bug), else the batch is retried
            return self.failed(exc, rec, submission_id=submission_id, jurisdiction=None, now=now)

    def record(self, record: CriminalRecord, submission_id: str, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """The outputs of one opened canonical ``record`` (``rec``: the consumed Kafka record it came in). Raises
        what the stage's work raises; ``one`` sorts it into a dead letter or a retry."""
        raise NotImplementedError
