"""The dead-letter topic for operators: list what is there, and replay a record once its cause is fixed.

A dead letter keeps its typed reason in clear and the original bytes sealed to the broker (unless they were
too large to keep). Replaying opens them with the broker's key and sends them again:

- a record dead-lettered by the normaliser or the router is produced back, unchanged, to the topic it came
  from (a feed topic or ``crx.records``); it keeps its submission and message ids, so the books of that
  submission move from dead-lettered to delivered or refused once it goes through;
- a submission the intake's reconciler gave up on (stage ``reconciler``, reason ``UNDELIVERED``: a recipient
  that never receipted it) holds the intake's own feed record: produced back, unchanged, to that feed, like
  the normaliser's (before 2026-12-07 these letters said stage ``intake``: such a letter is refused, since
  its reason is not under the broker's signature and resubmitting it would send a sealed record as a payload);
- a payload refused at the door (stage ``intake``: unknown adapter, unknown jurisdiction...) never reached a
  feed, so it is submitted again through the intake publisher, for its jurisdiction, with the adapter the
  operator names; it becomes a new submission (id derived from the dead letter's id), audited as any other.

Only the broker's own dead letters are listed and replayed. A record on ``crx.dlq`` must be authenticated by
a component allowed to write it (``services/kernel/batchauth.py``, ``producers.py``; a national intake only
for letters refused at its own door); any other is left out of the list and counted (``DeadLetterScan``),
and replaying it is refused and audited (an ERROR event). The sealed payload must then be signed by the
broker and bind the letter's id, stage and jurisdiction, and the id must follow from the letter's clear
fields (``crx.dlq`` is written by the national intakes too: a forged or altered letter is refused). A
consumed record goes back only to a feed topic (matching the channel its envelope or format-2 record names) or
to ``crx.records``. The replay's own output is signed as the ``dlq`` component (``crx dlq replay`` loads that
key alone): a format-2 original (no signature of its own) is then opened by its stage only because its batch
signer is ``crx.dlq`` and it names the topic's own sealer as its producer (``services.kernel.internal``); a
payload refused at the door is resubmitted in ``internal_format``, producer ``crx.dlq``.

A letter whose original is sealed to a destroyed key (``KEY_DESTROYED``, crypto-shredding) is listed as not
replayable: it can never be opened again.

Each replay is audited (a COLLECTION event with reason ``REPLAYED_FROM_DLQ`` naming the dead letter), and
replaying the same dead letter twice produces nothing new downstream: ids are stable.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiokafka import ConsumerRecord

from schemas import DEAD_LETTER
from services.audit.accounting import UNDELIVERED
from services.intake.publisher import FeedPublisher, PushResult, Submission
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.batchauth import BatchVerifier, Reason
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.deadletter import DLQ_CHANNEL, RECONCILER_STAGE, dead_letter_id, sealed_content_type
from services.kernel.envelope import Opener
from services.kernel.errors import CrxError, EnvelopeError, KeyDestroyed
from services.kernel.gate import authenticate, refusal_event, refusal_reason
from services.kernel.internal import channel_of
from services.kernel.kafka import OutRecord, Producer, read_from_start
from services.kernel.producers import ProducerRules
from services.keys.ring import KeyRegistry, KeyRing

REPLAY_REASON = "REPLAYED_FROM_DLQ"


class ReplayError(CrxError, dead_letter=False, reason_code="REPLAY"):
    """The dead letter cannot be replayed: unknown id, payload not kept, or a required adapter missing."""


@dataclass(frozen=True)
class Replayed:
    """What a replay did: where the bytes went, and the new submission when it was resubmitted."""

    dead_letter_id: str
    topic: str
    submission: PushResult | None = None


@dataclass(frozen=True)
class RefusedLetter:
    """A record on ``crx.dlq`` that no allowed component produced: where it is, why it is refused, and the
    dead-letter id it claims when it decodes (untrusted: only to answer an operator who asks for it)."""

    record: ConsumerRecord[Any, Any]
    reason: Reason
    claimed_id: str | None


@dataclass(frozen=True)
class DeadLetterScan:
    """What ``crx.dlq`` holds: the authenticated dead letters (each once) and the refused records."""

    letters: list[dict[str, Any]] = field(default_factory=list)
    refused: list[RefusedLetter] = field(default_factory=list)

    def refused_by_reason(self) -> dict[str, int]:
        """How many records were refused, per reason."""
        return dict(Counter(r.reason for r in self.refused))


async def scan_dead_letters(settings: Settings, registry: KeyRegistry, idle_ms: int = 1000) -> DeadLetterScan:
    """Every record on ``crx.dlq`` from the beginning (no consumer group: nothing is committed), sorted into
    the dead letters authenticated by a component allowed to write them and the refused records. A letter
    signed by an allowed component that does not decode is a bug of that component: it raises CodecError."""
    decode = codec(DEAD_LETTER).decode
    rules, verifier = ProducerRules(settings), BatchVerifier(registry)
    letters: dict[str, dict[str, Any]] = {}
    refused: list[RefusedLetter] = []
    now = dt.datetime.now(dt.UTC)
    async with aclosing(read_from_start(settings, settings.topic(DLQ_CHANNEL), idle_ms)) as batches:
        async for records in batches:
            for record in records:
                value = record.value or b""
                reason = authenticate(verifier, rules, record, now)
                if reason is not None:
                    refused.append(RefusedLetter(record, reason, _claimed_id(value)))
                    continue
                letter = decode(value)
                letters[letter["dead_letter_id"]] = letter  # a redelivered dead letter counts once
    return DeadLetterScan(list(letters.values()), refused)


async def read_dead_letters(settings: Settings, registry: KeyRegistry, idle_ms: int = 1000) -> list[dict[str, Any]]:
    """The authenticated dead letters on ``crx.dlq`` (``scan_dead_letters``), each once."""
    return (await scan_dead_letters(settings, registry, idle_ms)).letters


def _claimed_id(value: bytes) -> str | None:
    try:
        return str(codec(DEAD_LETTER).decode(value)["dead_letter_id"])
    except CrxError:
        return None


async def refuse_unauthenticated(
    settings: Settings, producer: Producer, audit_secret: bytes, refused: RefusedLetter
) -> NoReturn:
    """Refuse to replay ``refused``: record the refusal as an ERROR audit event (sent by ``producer``), then
    raise ReplayError with reason ``UNAUTHENTICATED_<REASON>``; TransientError when the event is not sent."""
    emitter = AuditEmitter("dlq", settings.topic("audit"), audit_secret)
    now = dt.datetime.now(dt.UTC)
    await producer.send_all([refusal_event(emitter, refused.record, refused.reason, actor="operator", now=now)])
    raise ReplayError(
        f"the record with this id on crx.dlq is not authenticated by a crx component ({refused.reason})",
        reason_code=refusal_reason(refused.reason),
    )


def summary(letter: dict[str, Any]) -> dict[str, Any]:
    """The listable fields of a dead letter: ids, stage, reason, where it came from, whether it can be replayed."""
    return {
        "dead_letter_id": letter["dead_letter_id"],
        "stage": letter["stage"],
        "reason": letter["reason_code"],
        "detail": letter["detail"],
        "source": f"{letter['source_topic']}[{letter['source_partition']}]@{letter['source_offset']}",
        "submission_id": letter["submission_id"],
        "jurisdiction": letter["jurisdiction"],
        "bytes": letter["payload_size"],
        "replayable": letter["sealed_payload"] is not None and letter["reason_code"] != KeyDestroyed.reason_code,
        "occurred_at": letter["occurred_at"].isoformat(),
    }


async def replay(
    settings: Settings,
    keyring: KeyRing,
    producer: Producer,
    audit_secret: bytes,
    letter: dict[str, Any],
    adapter: str | None = None,
) -> Replayed:
    """Send the dead letter's original bytes again (see the module docstring). Raises ReplayError."""
    if letter["sealed_payload"] is None:
        raise ReplayError("the original payload was too large to keep; ask the sender to submit it again")
    if letter["reason_code"] == KeyDestroyed.reason_code:
        raise ReplayError("the original is sealed to a key that was destroyed: unreadable by design, not replayed")
    now = dt.datetime.now(dt.UTC)
    original = _authentic(settings, keyring, letter, now)
    emitter = AuditEmitter("dlq", settings.topic("audit"), audit_secret)
    if letter["stage"] == "intake":
        if letter["reason_code"] == UNDELIVERED:  # the reconciler's, before it had its own stage: a feed record
            raise ReplayError("an UNDELIVERED letter of an older intake holds a sealed feed record, not a payload")
        if adapter is None:
            raise ReplayError("a payload refused at the door needs --adapter to be submitted again")
        if letter["jurisdiction"] is None:
            raise ReplayError("the payload names no configured jurisdiction; it cannot be resubmitted")
        key = f"replay:{letter['dead_letter_id']}"
        [result] = await FeedPublisher(settings, keyring, producer, audit_secret).publish(
            [Submission(letter["jurisdiction"], adapter, original, idempotency_key=key)], now
        )
        await producer.send_all([_audit(emitter, letter, now, result.submission_id)])
        return Replayed(letter["dead_letter_id"], settings.topic(f"feed.{letter['jurisdiction']}"), result)
    topic = _destination(settings, letter, original)
    await producer.send_all([OutRecord(topic, original), _audit(emitter, letter, now, letter["submission_id"])])
    return Replayed(letter["dead_letter_id"], topic)


def _authentic(settings: Settings, keyring: KeyRing, letter: dict[str, Any], now: dt.datetime) -> bytes:
    """The original bytes, once the sealed payload is shown to be this broker's, for this very letter.

    The sealed payload must be signed by the broker and name the letter's id, stage and jurisdiction; the id
    must follow from the letter's clear fields (where it was consumed, or its submission and payload). A
    letter forged or altered on ``crx.dlq`` (whose producers include the national intakes) raises ReplayError.
    """
    refused = ReplayError("the dead letter is not one this broker sealed and signed, or it was altered")
    try:
        opened = Opener(keyring.registry, keyring.store, settings.broker_party).open(
            letter["sealed_payload"], channel=DLQ_CHANNEL, now=now, signers=frozenset({settings.broker_party})
        )
    except KeyDestroyed:
        raise ReplayError("the dead letter is sealed to a destroyed key: unreadable by design") from None
    except EnvelopeError:
        raise refused from None
    original = opened.plaintext
    expected_id = dead_letter_id(
        letter["stage"],
        letter["source_topic"],
        letter["source_partition"],
        letter["source_offset"],
        letter["submission_id"],
        hashlib.sha256(original).digest(),
    )
    if (
        opened.message_id != letter["dead_letter_id"]
        or expected_id != letter["dead_letter_id"]
        or opened.envelope["content_type"]
        != sealed_content_type(
            letter["stage"],
            letter["jurisdiction"],
            (letter["source_topic"], letter["source_partition"], letter["source_offset"]),
        )
    ):
        raise refused
    return original


def _destination(settings: Settings, letter: dict[str, Any], original: bytes) -> str:
    """Where a consumed record goes back to: only a feed topic (the normaliser's input, the envelope's own
    channel) or ``records`` (the router's and the lookup service's). Raises ReplayError for any other stage or topic."""
    topic = letter["source_topic"]
    feeds = {settings.topic(f"feed.{j}"): f"feed.{j}" for j in settings.jurisdictions}
    if letter["stage"] in ("normaliser", RECONCILER_STAGE) and topic in feeds and channel_of(original) == feeds[topic]:
        return str(topic)  # format 1 or 2: the channel the record names is its feed's (the reconciler's: its own)
    if letter["stage"] in ("router", "lookup") and topic == settings.topic("records"):
        return str(topic)
    raise ReplayError("only records consumed from a feed or from crx.records are replayed, to where they came from")


def _audit(emitter: AuditEmitter, letter: dict[str, Any], now: dt.datetime, submission_id: str | None) -> OutRecord:
    return emitter.event(
        AuditEventType.COLLECTION,
        occurred_at=now,
        actor="operator",
        outcome="ok",
        submission_id=submission_id,
        source_jurisdiction=letter["jurisdiction"],
        reason=REPLAY_REASON,
        rule=f"dead letter {letter['dead_letter_id']}",
        discriminator=letter["dead_letter_id"],
    )
