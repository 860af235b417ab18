"""The input gate: what a consumer does with each record before it processes it.

A record is processed only when it is authenticated by a producer allowed for it (``batchauth`` for the
signature, ``producers.ProducerRules`` for who may write what). Any other record is refused: not processed,
counted (``crx_unauthenticated_messages_total{service,topic,reason}``), logged in one line without content
(topic, partition, offset, reason), and recorded as an audit ERROR event committing to its bytes
(``refusal_event``): never a crash, never a dead letter holding forged bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import Counter

from services.kernel.audit_events import AuditEmitter, AuditEventType, AuditOut
from services.kernel.batchauth import BatchVerifier, Reason, Unauthenticated
from services.kernel.config import Settings
from services.kernel.logging import get_logger
from services.kernel.producers import ProducerRules
from services.keys.ring import KeyRegistry


def refusal_reason(reason: Reason) -> str:
    """The audit reason code of a refusal: ``UNAUTHENTICATED_`` and the reason in capitals."""
    return f"UNAUTHENTICATED_{reason.upper()}"


def source_of(rec: Any) -> str:
    """Where a consumed record sits: ``topic[partition]@offset`` (as ``crx dlq list`` shows sources)."""
    return f"{rec.topic}[{rec.partition}]@{rec.offset}"


def refusal_event(emitter: AuditEmitter, rec: Any, reason: Reason, *, actor: str, now: dt.datetime) -> AuditOut:
    """The ERROR event recording that the consumed record ``rec`` was refused for ``reason``: where it sat
    (``rule``), a salted commitment to its bytes (never the bytes), a stable id per (topic, partition,
    offset), so a redelivered refusal is the same event (with its record, ``AuditOut.event``). Raises
    ValidationError only on a schema mismatch."""
    return emitter.event(
        AuditEventType.ERROR,
        occurred_at=now,
        actor=actor,
        outcome="rejected",
        reason=refusal_reason(reason),
        rule=source_of(rec),
        payload=rec.value or b"",
        discriminator=source_of(rec),
    )


def authenticate(verifier: BatchVerifier, rules: ProducerRules, rec: Any, now: dt.datetime) -> Reason | None:
    """None when the consumed record ``rec`` is authenticated by a producer ``rules`` allow for it, else the
    reason to refuse it. Never raises: a record that makes the check itself fail is refused as ``bad_path``
    (logged with the error class), so that no record can stop a partition."""
    try:
        allowed = rules.allowed(rec.topic, rec.value)
        verifier.verify(rec.topic, rec.key, rec.value, rec.headers, allowed=allowed, now=now)
    except Unauthenticated as exc:
        return exc.reason
    except Exception as exc:  # no check foresaw this record: refused all the same
        get_logger("gate").error("unexpected error authenticating a record", error_class=type(exc).__name__)
        return "bad_path"
    return None


class InputGate:
    """Authenticates the records one service consumes, and counts and logs those it refuses."""

    def __init__(
        self,
        settings: Settings,
        registry: KeyRegistry,
        counter: Counter,
        service: str,
    ) -> None:
        self._rules = ProducerRules(settings)
        self._verifier = BatchVerifier(registry)
        self._counter = counter
        self._service = service
        self._log = get_logger(service)

    def refusal(self, rec: Any, now: dt.datetime) -> Reason | None:
        """None when ``rec`` (a consumed record) is authenticated by a producer allowed for it; else the reason
        it is refused (``authenticate``), counted and logged. Never raises."""
        reason = authenticate(self._verifier, self._rules, rec, now)
        if reason is not None:
            self.refused(rec, reason)
        return reason

    def refused(self, rec: Any, reason: Reason) -> None:
        """Count and log (one line, no content) the refusal of ``rec`` for ``reason``."""
        self._counter.labels(self._service, rec.topic, reason).inc()
        self._log.warning(
            "unauthenticated message refused",
            topic=rec.topic,
            partition=rec.partition,
            offset=rec.offset,
            reason=reason,
        )
