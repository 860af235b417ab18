"""Dead-letter output: a typed reason in clear, the original bytes sealed to the broker, and an audit event.

Nothing is lost: a record that cannot be processed becomes a ``DeadLetter`` on ``crx.dlq`` that can be
replayed once the cause is fixed (``crx dlq replay``: open the sealed payload, send it back).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, replace
from typing import Any

from schemas import DEAD_LETTER
from services.kernel.audit_events import AuditEmitter, AuditEventType, stable_id
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer
from services.kernel.errors import CrxError
from services.kernel.kafka import OutRecord
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics

DLQ_CHANNEL = "dlq"
# The intake's reconciler: its letters hold the intake's own sealed feed record (a submission it stopped
# re-sending, UNDELIVERED), replayed to that feed as they are, never resubmitted as a payload.
RECONCILER_STAGE = "reconciler"


def sealed_content_type(stage: str, jurisdiction: str | None, source: tuple[str, int, int]) -> str:
    """The content type a dead letter's sealed payload carries: it binds, under the broker's signature, the
    stage, the jurisdiction and the source (topic, partition, offset) that the letter states in clear (a
    replay checks them; the id binds them only where it derives from them)."""
    topic, partition, offset = source
    return f"raw/dead-letter;stage={stage};jurisdiction={jurisdiction or ''};source={topic}/{partition}/{offset}"


# Stages whose input is the intake's own feed envelope: the same bytes every time the intake publishes the
# submission (its reconciler publishes an unsettled one again, at another offset), so their dead letters are
# identified by submission and payload, not by offset: the second publication is the same dead letter.
BY_SUBMISSION = frozenset({"normaliser"})
# Stages that read a topic another stage reads too (the lookup service reads crx.records beside the router):
# their letters' ids name the stage, so the two letters of one record that both refuse are two letters.
SECOND_READERS = frozenset({"lookup"})


def dead_letter_id(
    stage: str, source_topic: str, partition: int, offset: int, submission_id: str | None, value_sha256: bytes
) -> str:
    """A dead letter's stable id: from its stage, submission and payload digest when it was refused at the door
    (never on a topic) or by a stage in ``BY_SUBMISSION``, else from where it was consumed. The sealed payload
    carries it as its message id."""
    if offset >= 0 and not (submission_id is not None and stage in BY_SUBMISSION):
        where = (source_topic, str(partition), str(offset))
        return stable_id("dlq", stage, *where) if stage in SECOND_READERS else stable_id("dlq", *where)
    return stable_id("dlq", stage, submission_id or "", value_sha256.hex())


@dataclass(frozen=True)
class DeadLetters:
    """Builds dead-letter records and their audit events for one ``stage``: payloads sealed to the broker by
    ``sealer``, events made by ``emitter``, each dead letter counted on ``metrics`` when given."""

    settings: Settings
    stage: str
    sealer: Sealer
    emitter: AuditEmitter
    metrics: ServiceMetrics | None = None

    @property
    def topic(self) -> str:
        """The dead-letter topic."""
        return self.settings.topic(DLQ_CHANNEL)

    def as_stage(self, stage: str) -> DeadLetters:
        """The same dead letters (sealer, audit emitter, metrics) for another ``stage`` of the same component."""
        return replace(self, stage=stage)

    def for_consumed(
        self,
        error: BaseException,
        rec: Any,
        *,
        submission_id: str | None,
        jurisdiction: str | None,
        now: dt.datetime,
    ) -> list[OutRecord]:
        """Dead-letter the consumed Kafka record ``rec``: count it, log it (ids only), build the outputs."""
        reason = error.reason_code if isinstance(error, CrxError) else "INTERNAL"
        if self.metrics is not None:
            self.metrics.dead_letters.labels(self.stage, reason).inc()
            self.metrics.errors.labels(self.stage, type(error).__name__).inc()
        get_logger(self.stage).warning(
            "dead-lettered", reason=reason, error_class=type(error).__name__, topic=rec.topic, offset=rec.offset
        )
        return self.records(
            error,
            value=rec.value or b"",
            source_topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            submission_id=submission_id,
            jurisdiction=jurisdiction,
            now=now,
        )

    def records(
        self,
        error: BaseException,
        *,
        value: bytes,
        source_topic: str,
        partition: int = -1,
        offset: int = -1,
        submission_id: str | None,
        jurisdiction: str | None,
        now: dt.datetime,
        unkept: tuple[int, bytes] | None = None,
    ) -> list[OutRecord]:
        """The dead letter and its DEAD_LETTER audit event for ``value`` that failed with ``error``.

        The payload is kept (sealed to the broker) unless it exceeds the payload limit, in which case only
        its size and SHA-256 are kept. ``unkept`` = (size, SHA-256) describes a payload that was never held
        in memory (an oversized HTTP body read as a stream); ``value`` is then ignored and the audit event
        carries no commitment. Error details come from crx's typed errors only; any other exception is
        recorded by class name alone.
        """
        if unkept is not None:
            value = b""
        size, digest = unkept or (len(value), hashlib.sha256(value).digest())
        reason = error.reason_code if isinstance(error, CrxError) else "INTERNAL"
        detail = error.detail if isinstance(error, CrxError) else "unexpected error"
        retriable = bool(getattr(error, "retriable", False))
        dl_id = dead_letter_id(self.stage, source_topic, partition, offset, submission_id, digest)
        sealed = None
        if unkept is None and len(value) <= self.settings.max_envelope_bytes:  # a feed envelope is kept whole
            sealed = self.sealer.seal(
                value,
                SealContext(
                    channel=DLQ_CHANNEL,
                    message_id=dl_id,
                    correlation_id=submission_id or dl_id,
                    sender=self.settings.broker_party,
                    recipient=self.settings.broker_party,
                    content_type=sealed_content_type(self.stage, jurisdiction, (source_topic, partition, offset)),
                ),
                now,
            )
        letter = {
            "dead_letter_id": dl_id,
            "stage": self.stage,
            "source_topic": source_topic,
            "source_partition": partition,
            "source_offset": offset,
            "submission_id": submission_id,
            "jurisdiction": jurisdiction,
            "error_class": type(error).__name__,
            "reason_code": reason,
            "detail": detail,
            "retriable": retriable,
            "occurred_at": now,
            "payload_size": size,
            "payload_sha256": digest,
            "sealed_payload": sealed,
        }
        audit = self.emitter.event(
            AuditEventType.DEAD_LETTER,
            occurred_at=now,
            actor=self.settings.broker_party,
            outcome="dead_lettered",
            submission_id=submission_id,
            source_jurisdiction=jurisdiction,
            reason=reason,
            payload=None if unkept is not None else value,
            discriminator=dl_id,
        )
        key = (submission_id or dl_id).encode()
        return [OutRecord(self.topic, codec(DEAD_LETTER).encode(letter), key=key), audit]
