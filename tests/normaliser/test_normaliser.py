"""The normaliser's handler on real keys and real envelopes, without a broker: what one batch becomes."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from adapters.base import ParseContext, get_adapter
from schemas import AUDIT_EVENT, CANONICAL_RECORD, DEAD_LETTER
from services.kernel import stage
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.errors import KeyUnavailable
from services.kernel.internal import InternalReader
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys import epochs, lifecycle
from services.keys.ring import KeyRing
from services.normaliser.service import Normaliser
from tests.fixtures.keys import consumed, signed

SAMPLE = "DE-notification-fr-pl.json"


def _feed(
    settings: Settings, keyring: KeyRing, payload: bytes, adapter: str = "json-v1", offset: int = 0
) -> ConsumerRecord[Any, Any]:
    """``payload`` as the intake puts it on crx.feed.DE: sealed to the broker, signed by DE, in a batch signed
    by the intake component."""
    ctx = SealContext(
        channel="feed.DE",
        message_id=f"submission-{offset}",
        correlation_id=f"submission-{offset}",
        sender="DE",
        recipient="crx",
        content_type=f"feed/{adapter}",
    )
    now = dt.datetime.now(dt.UTC)
    sealed = Sealer(keyring.registry, keyring.store, "DE").seal(payload, ctx, now)
    appended = int(now.timestamp() * 1000)  # the broker's append time: the adapters' time of receipt
    produced = OutRecord(settings.topic("feed.DE"), sealed, headers=routing_headers(ctx))
    [record] = consumed(signed(settings, keyring, "intake", [produced]), offset=offset, timestamp=appended)
    return record


def _normaliser(settings: Settings, keyring: KeyRing) -> Normaliser:
    registry = CollectorRegistry()
    return Normaliser(Runtime(settings, keyring, b"secret"), ServiceMetrics.create(registry), registry)


def _by_topic(outputs: list[OutRecord]) -> dict[str, list[OutRecord]]:
    topics: dict[str, list[OutRecord]] = {}
    for out in outputs:
        topics.setdefault(out.topic, []).append(out)
    return topics


async def test_a_feed_becomes_sealed_canonical_records_each_audited(settings: Settings, keyring: KeyRing) -> None:
    payload = dict(get_adapter("json-v1").samples())[SAMPLE]
    expected = get_adapter("json-v1").parse(payload, ParseContext("DE", dt.datetime.now(dt.UTC)))

    topics = _by_topic(await _normaliser(settings, keyring).handle([_feed(settings, keyring, payload)]))

    records, audit = settings.topic("records"), settings.topic("audit")
    assert set(topics) == {records, audit}
    assert len(topics[records]) == len(expected) == len(topics[audit])
    reader = InternalReader(settings, keyring)  # as the router reads them: either format
    now = dt.datetime.now(dt.UTC)
    for out, record in zip(consumed(signed(settings, keyring, "normaliser", topics[records])), expected, strict=True):
        opened = reader.open(out, channel="records", now=now, signers=frozenset({"crx"}))
        decoded = codec(CANONICAL_RECORD).decode(opened.plaintext)
        assert str(decoded["header"]["message_id"]) == str(record["header"]["message_id"])
        assert decoded["person"]["nationalities"] == record["person"]["nationalities"]
        assert opened.envelope["correlation_id"] == "submission-0"
    events = [codec(AUDIT_EVENT).decode(out.value) for out in topics[audit]]
    assert {e["event_type"] for e in events} == {"NORMALISATION"}


async def test_a_bad_payload_is_dead_lettered_and_the_rest_of_the_batch_goes_on(
    settings: Settings, keyring: KeyRing
) -> None:
    good = dict(get_adapter("json-v1").samples())[SAMPLE]
    batch = [
        _feed(settings, keyring, b"{not json", offset=0),
        _feed(settings, keyring, good, adapter="no-such", offset=1),
    ]
    batch.append(_feed(settings, keyring, good, offset=2))

    topics = _by_topic(await _normaliser(settings, keyring).handle(batch))

    letters = [codec(DEAD_LETTER).decode(out.value) for out in topics[settings.topic("dlq")]]
    assert [(letter["source_offset"], letter["reason_code"]) for letter in letters] == [
        (0, "MALFORMED"),
        (1, "UNKNOWN_ADAPTER"),
    ]
    assert all(not letter["retriable"] for letter in letters)
    assert len(topics[settings.topic("records")]) >= 1  # the good one, after two bad ones
    events = [codec(AUDIT_EVENT).decode(out.value)["event_type"] for out in topics[settings.topic("audit")]]
    assert events.count("DEAD_LETTER") == 2


async def test_a_missing_broker_key_retries_the_batch_instead_of_dead_lettering(
    settings: Settings, keyring: KeyRing
) -> None:
    """The normaliser seals to the broker itself: with no usable broker encryption key the record is not at
    fault, so the handler raises (the batch loop retries with backoff) and emits no dead letter."""
    payload = dict(get_adapter("json-v1").samples())[SAMPLE]
    feed = _feed(settings, keyring, payload)
    now = dt.datetime.now(dt.UTC)
    lifecycle.rotate(keyring, "crx", "encryption", now)  # the old key retires: still opens the feed...
    newest = keyring.registry.active("crx", "encryption", now).key_id
    lifecycle.set_status(keyring, "crx", newest, "revoked")  # ...but nothing may be sealed to the broker now
    with pytest.raises(KeyUnavailable):
        await _normaliser(settings, keyring).handle([feed])


async def test_a_feed_sealed_to_a_destroyed_broker_key_is_dead_lettered_once_not_retried(
    settings: Settings, keyring: KeyRing
) -> None:
    """Crypto-shredding: a feed envelope sealed to a broker key since destroyed is unreadable by design. It is
    not retried (that would hold its partition forever): it becomes a dead letter, reason KEY_DESTROYED, with its
    DEAD_LETTER event, and the rest of the batch (sealed to the new key) is normalised."""
    payload = dict(get_adapter("json-v1").samples())[SAMPLE]
    old = _feed(settings, keyring, payload, offset=0)
    now = dt.datetime.now(dt.UTC)
    old_key = keyring.registry.active("crx", "encryption", now).key_id
    lifecycle.rotate(keyring, "crx", "encryption", now)
    epochs.destroy(keyring, settings, "crx", old_key, now, force=True)
    new = _feed(settings, keyring, dict(get_adapter("json-v1").samples())["DE-notification-fr.json"], offset=1)

    topics = _by_topic(await _normaliser(settings, keyring).handle([old, new]))

    [letter] = [codec(DEAD_LETTER).decode(out.value) for out in topics[settings.topic("dlq")]]
    assert (letter["source_offset"], letter["reason_code"], letter["error_class"]) == (
        0,
        "KEY_DESTROYED",
        "KeyDestroyed",
    )
    assert not letter["retriable"] and old_key in letter["detail"]
    assert len(topics[settings.topic("records")]) == 1
    events = [codec(AUDIT_EVENT).decode(out.value) for out in topics[settings.topic("audit")]]
    assert [e["reason"] for e in events if e["event_type"] == "DEAD_LETTER"] == ["KEY_DESTROYED"]


@pytest.mark.parametrize("extra", [-1, 0, 1])
async def test_payload_size_is_checked_on_the_plaintext_and_a_refused_one_stays_replayable(
    settings: Settings, keyring: KeyRing, extra: int
) -> None:
    """limit-1 and limit bytes of payload are normalised (the envelope's overhead is allowed for); limit+1 is
    dead-lettered as PAYLOAD_TOO_LARGE with its sealed envelope kept, so it can be replayed once the limit is
    raised (it used to be dead-lettered without its payload at the limit already)."""
    payload = dict(get_adapter("json-v1").samples())[SAMPLE]
    limit = len(payload) + 100
    small = settings.replace(max_payload_bytes=limit)
    padded = payload + b" " * (limit + extra - len(payload))  # trailing white space: the same JSON document
    assert len(padded) == limit + extra

    topics = _by_topic(await _normaliser(small, keyring).handle([_feed(small, keyring, padded)]))

    if extra <= 0:
        assert small.topic("records") in topics and small.topic("dlq") not in topics
    else:
        [letter] = [codec(DEAD_LETTER).decode(out.value) for out in topics[small.topic("dlq")]]
        assert letter["reason_code"] == "PAYLOAD_TOO_LARGE" and letter["sealed_payload"] is not None


async def test_a_long_batch_gives_the_event_loop_turns(
    settings: Settings, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler's CPU-bound work lets other tasks run (the consumer's heartbeat, the ops endpoints): a task
    ticking on the loop advances while one batch of many records is normalised (turns every millisecond here,
    so that the check does not depend on how fast this machine parses)."""
    monkeypatch.setattr(stage, "YIELD_SECONDS", 0.001)
    payload = dict(get_adapter("json-v1").samples())[SAMPLE]
    batch = [_feed(settings, keyring, payload, offset=i) for i in range(150)]
    normaliser = _normaliser(settings, keyring)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    started = ticks
    try:
        outputs = await normaliser.handle(batch)
    finally:
        task.cancel()
    assert len(outputs) == 2 * len(batch)
    assert ticks - started > 1, "the batch held the event loop from start to end"


@pytest.mark.parametrize(("producer", "reason"), [(None, "unsigned"), ("router", "not_allowed"), ("FR", "not_allowed")])
async def test_a_feed_record_its_intake_did_not_sign_is_refused_counted_and_audited(
    settings: Settings, keyring: KeyRing, producer: str | None, reason: str
) -> None:
    """A record on crx.feed.DE produced by neither the intake nor DE's own `crx push` (unsigned, signed by a
    component that may not write feeds, by another jurisdiction) is not opened: no record, no dead letter
    holding its bytes; its one output is an ERROR event with a commitment to it, and it is counted by reason.
    A genuine record of the same batch, and one DE signed itself, go on."""
    payload = dict(get_adapter("json-v1").samples())[SAMPLE]
    genuine = _feed(settings, keyring, payload, offset=0)
    unsigned = OutRecord(genuine.topic, genuine.value, headers=[h for h in genuine.headers if h[0] == "crx-channel"])
    forged = unsigned if producer is None else signed(settings, keyring, producer, [unsigned])[0]
    [by_de] = consumed(signed(settings, keyring, "DE", [unsigned]), offset=2, timestamp=genuine.timestamp)
    registry = CollectorRegistry()
    normaliser = Normaliser(Runtime(settings, keyring, b"secret"), ServiceMetrics.create(registry), registry)

    [refused] = consumed([forged], offset=1, timestamp=genuine.timestamp)
    topics = _by_topic(await normaliser.handle([genuine, refused, by_de]))

    assert settings.topic("dlq") not in topics
    assert len(topics[settings.topic("records")]) == 2
    events = [codec(AUDIT_EVENT).decode(out.value) for out in topics[settings.topic("audit")]]
    [error] = [e for e in events if e["event_type"] == "ERROR"]
    assert (error["reason"], error["rule"]) == (f"UNAUTHENTICATED_{reason.upper()}", f"{genuine.topic}[0]@1")
    assert error["payload_commitment"] is not None and error["outcome"] == "rejected"
    labels = {"service": "normaliser", "topic": genuine.topic, "reason": reason}
    assert registry.get_sample_value("crx_unauthenticated_messages_total", labels) == 1
