"""Publish national payloads to feed topics: checked, sealed to the broker, audited; refusals dead-lettered.

This is what ``crx push``, the demo and the HTTP intake call. A payload is refused at the door, with
a dead letter and an audit event, when its jurisdiction is not configured, its adapter is unknown or it is
larger than the payload limit; otherwise it is sealed to the broker's key and produced to
``crx.feed.<jurisdiction>``: in format 2 (``internal_format``, the default) when the producer signs its batches
as the intake (or ``crx dlq replay``), under that component's data key; else in format 1, signed by the
jurisdiction when this node holds its signing key (a national system's own ``crx push``), else by the broker.
Dead letters stay format 1.

Given an outbox (the intake's; ``crx push`` at a national system has none), what was produced for each
submission is kept there once the broker acknowledged it and before ``publish`` returns, so before any
answer: the reconciler re-publishes it if the log never shows it settled.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from adapters.base import get_adapter
from services.intake.outbox import Outbox, Stored
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.config import Settings
from services.kernel.deadletter import DeadLetters
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.errors import CrxError, KeyUnavailable, PayloadTooLarge, UnknownJurisdiction, handling
from services.kernel.internal import InternalSealer, feed_sealer
from services.kernel.kafka import OutRecord, Producer
from services.keys.ring import KeyRing

SUBMISSION_NAMESPACE = uuid.UUID("a3c7e0d4-61b2-5f0e-93d1-7b5e2c4f9a10")


@dataclass(frozen=True)
class Submission:
    """One payload to publish."""

    jurisdiction: str
    adapter: str
    payload: bytes
    idempotency_key: str | None = None


@dataclass(frozen=True)
class PushResult:
    """What became of a submission: accepted onto the feed, or refused with a reason code."""

    submission_id: str
    jurisdiction: str
    accepted: bool
    reason: str | None = None


def submission_id_of(sub: Submission) -> str:
    """Stable id: from the idempotency key when given, else from the payload digest (a retry is the same)."""
    return stable_submission_id(sub.jurisdiction, sub.idempotency_key, hashlib.sha256(sub.payload).digest())


def stable_submission_id(jurisdiction: str, idempotency_key: str | None, payload_sha256: bytes) -> str:
    """The submission id of a payload known by its digest (see ``submission_id_of``)."""
    basis = idempotency_key or payload_sha256.hex()
    return str(uuid.uuid5(SUBMISSION_NAMESPACE, f"{jurisdiction}\x1f{basis}"))


def keyed(idempotency_key: str, generation: int) -> str:
    """The basis of the submission id of the ``generation``-th use of an ``Idempotency-Key`` (each use after
    the key's time to live is a new submission with a new id; the first use keeps the key alone)."""
    return idempotency_key if generation == 0 else f"{idempotency_key}\x1f{generation}"


class FeedPublisher:
    """Seals and produces submissions; refuses bad ones into the dead-letter topic. Batch-oriented."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        producer: Producer,
        audit_secret: bytes,
        *,
        outbox: Outbox | None = None,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._keyring = keyring
        self._producer = producer
        self._emitter = AuditEmitter("intake", settings.topic("audit"), audit_secret)
        broker = settings.broker_party
        signer = broker if keyring.holds_private_signing_key(broker, dt.datetime.now(dt.UTC)) else None
        self._dead = DeadLetters(settings, "intake", Sealer(keyring.registry, keyring.store, signer), self._emitter)
        self._hop: InternalSealer | None = None  # format 2's sealer, made on first use (``_hop_sealer``)

    @property
    def dead_letters(self) -> DeadLetters:
        """The intake's dead letters (sealed to and signed by the broker), for the reconciler."""
        return self._dead

    async def publish(self, submissions: Sequence[Submission], now: dt.datetime) -> list[PushResult]:
        """Publish ``submissions`` as one batch; returns once every output is acknowledged.

        With an outbox, what is sent is kept first, and a submission kept already (the same id: a retry) is
        sent with its kept bytes. Raises TransientError if the broker does not acknowledge or the outbox
        cannot keep them (nothing is confirmed; what was kept is published by the reconciler, and publishing
        again is safe: the same ids and, with the outbox, the same bytes), OutboxFull before anything is sent
        when the outbox is full, and any other error that is not a payload's fault (``errors.handling``: a key
        not there yet) before anything is sent.
        """
        sids = [submission_id_of(sub) for sub in submissions]
        stored: dict[str, Stored] = {}
        if self._outbox is not None:
            stored = await asyncio.to_thread(self._outbox.stored, sids)
            self._outbox.room(len(set(sids) - set(stored)))
        kept: list[tuple[str, str, list[OutRecord], str]] = []
        again: list[OutRecord] = []  # kept earlier, not settled: sent again as they are
        results = []
        for sub, sid in zip(submissions, sids, strict=True):
            if sid in stored:
                known = stored[sid]
                again.extend(known.records)
                results.append(PushResult(sid, sub.jurisdiction, not known.result, known.result or None))
                continue
            try:
                kept.append((sid, sub.jurisdiction, self._accept(sub, sid, now), ""))
                results.append(PushResult(sid, sub.jurisdiction, True))
            except CrxError as exc:
                if handling(exc) == "retry":
                    raise  # not the payload's fault (no broker key yet...): nothing is published, the caller retries
                letter = self._dead.records(
                    exc,
                    value=sub.payload,
                    source_topic=self._settings.topic(f"feed.{sub.jurisdiction}"),
                    submission_id=sid,
                    jurisdiction=sub.jurisdiction if sub.jurisdiction in self._settings.jurisdictions else None,
                    now=now,
                )
                kept.append((sid, sub.jurisdiction, letter, exc.reason_code))
                results.append(PushResult(sid, sub.jurisdiction, False, exc.reason_code))
        await self._keep(kept)
        await self._producer.send_all([r for _, _, records, _ in kept for r in records] + again)
        return results

    async def _keep(self, kept: list[tuple[str, str, list[OutRecord], str]]) -> None:
        """Keep what is about to be sent in the outbox (when there is one; a submission kept already keeps its
        row), off the event loop: a durable write."""
        if self._outbox is not None:
            first = min(self._settings.reconcile_interval_seconds, self._settings.reconcile_after_seconds or 1.0)
            await asyncio.to_thread(self._outbox.keep, kept, time.time(), first)

    async def refuse_unread(
        self, jurisdiction: str, idempotency_key: str | None, size: int, payload_sha256: bytes, now: dt.datetime
    ) -> PushResult:
        """Dead-letter a submission too large to hold in memory: only its size and SHA-256 are known.

        Returns the refusal (reason PAYLOAD_TOO_LARGE) once the dead letter and its audit event are
        acknowledged. Raises TransientError if the broker does not acknowledge.
        """
        sid = stable_submission_id(jurisdiction, idempotency_key, payload_sha256)
        error = PayloadTooLarge(f"payload exceeds the limit of {self._settings.max_payload_bytes} bytes")
        if self._outbox is not None:
            stored = await asyncio.to_thread(self._outbox.stored, [sid])
            if sid in stored:
                await self._producer.send_all(stored[sid].records)
                return PushResult(sid, jurisdiction, False, error.reason_code)
        outputs = self._dead.records(
            error,
            value=b"",
            source_topic=self._settings.topic(f"feed.{jurisdiction}"),
            submission_id=sid,
            jurisdiction=jurisdiction if jurisdiction in self._settings.jurisdictions else None,
            now=now,
            unkept=(size, payload_sha256),
        )
        if self._outbox is not None:
            self._outbox.room(1)
        await self._keep([(sid, jurisdiction, outputs, error.reason_code)])
        await self._producer.send_all(outputs)
        return PushResult(sid, jurisdiction, False, error.reason_code)

    def _hop_sealer(self) -> InternalSealer | None:
        """The format-2 sealer of the component whose batch signature this publisher's producer carries (the
        intake, or ``crx dlq replay``), when ``internal_format`` is 2; else None: format 1 (a jurisdiction's own
        ``crx push``, whose batches it signs itself, always; a producer without a signer too). One sealer, so
        one data key, per publisher and component."""
        signer = self._producer.signer
        party = feed_sealer(self._settings, None if signer is None else signer.party)
        if party is None or self._settings.internal_format != 2:
            return None
        if self._hop is None or self._hop.producer != party:
            self._hop = InternalSealer(self._settings, self._keyring, party, None)
        return self._hop

    def _feed_signer(self, jurisdiction: str, now: dt.datetime) -> str:
        """Who signs a feed envelope: the jurisdiction itself where this node holds its private signing key
        (a national system running ``crx push`` with its own key store), else this broker (its intake, which
        authenticated the submitter). Never a party whose private key is not here. Raises KeyUnavailable
        when this node holds neither (not the payload's fault: the caller retries, nothing is dead-lettered).
        """
        for party in (jurisdiction, self._settings.broker_party):
            if self._keyring.holds_private_signing_key(party, now):
                return party
        raise KeyUnavailable(f"no private signing key here for {jurisdiction} or {self._settings.broker_party}")

    def _accept(self, sub: Submission, sid: str, now: dt.datetime) -> list[OutRecord]:
        if sub.jurisdiction not in self._settings.jurisdictions:
            raise UnknownJurisdiction("submission for a jurisdiction that is not configured")
        if len(sub.payload) > self._settings.max_payload_bytes:
            raise PayloadTooLarge(f"payload exceeds the limit of {self._settings.max_payload_bytes} bytes")
        get_adapter(sub.adapter)  # raises AdapterNotFound with the valid names
        ctx = SealContext(
            channel=f"feed.{sub.jurisdiction}",
            message_id=sid,
            correlation_id=sid,
            sender=sub.jurisdiction,
            recipient=self._settings.broker_party,
            content_type=f"feed/{sub.adapter}",
        )
        hop = self._hop_sealer()
        if hop is not None:
            sealed = hop.seal(sub.payload, ctx, now)
        else:
            signer = self._feed_signer(sub.jurisdiction, now)
            sealed = Sealer(self._keyring.registry, self._keyring.store, signer).seal(sub.payload, ctx, now)
        topic = self._settings.topic(ctx.channel)
        audit = self._emitter.event(
            AuditEventType.COLLECTION,
            occurred_at=now,
            actor=sub.jurisdiction,
            outcome="ok",
            submission_id=sid,
            source_jurisdiction=sub.jurisdiction,
            payload=sub.payload,
        )
        key = hashlib.sha256(f"{sub.jurisdiction}\x1f{sid}".encode()).digest()[:16]
        return [OutRecord(topic, sealed, key=key, headers=routing_headers(ctx)), audit]
