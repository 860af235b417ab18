"""The router's dead letters: a record the normaliser genuinely produced (its component signature, a broker-
sealed envelope) that the router cannot read is dead-lettered by the router with a typed reason and its
DEAD_LETTER event, kept whole for replay; the records after it are routed as usual."""

from __future__ import annotations

import datetime as dt

import pytest
from aiokafka import AIOKafkaProducer

from schemas import DEAD_LETTER
from services.audit.accounting import account
from services.intake.publisher import Submission
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.kafka import OutRecord, client_options
from services.keys.ring import KeyRing
from services.normaliser.service import RECORD_CONTENT_TYPE
from tests.fixtures.keys import signed
from tests.integration.helpers import read_topic, running, sample, wait_for

pytestmark = pytest.mark.integration


async def test_a_record_the_router_cannot_read_is_its_dead_letter(settings: Settings, keyring: KeyRing) -> None:
    now = dt.datetime.now(dt.UTC)
    ctx = SealContext(channel="records", message_id="msg-unreadable", correlation_id="sub-unreadable",
                      sender=settings.broker_party, recipient=settings.broker_party, content_type=RECORD_CONTENT_TYPE,
                      schema_fingerprint=b"\x00" * 8)  # fmt: skip
    sealed = Sealer(keyring.registry, keyring.store, settings.broker_party).seal(b"not a canonical record", ctx, now)
    unsigned = OutRecord(settings.topic("records"), sealed, key=b"k", headers=routing_headers(ctx))
    [record] = signed(settings, keyring, "normaliser", [unsigned])
    async with running(settings, keyring) as pipeline:
        producer = AIOKafkaProducer(**client_options(settings), acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(record.topic, record.value, key=record.key, headers=record.headers)
        finally:
            await producer.stop()
        [after] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", sample("DE-notification-fr-pl.json"))], now
        )
        await wait_for(lambda: bool(pipeline.store.events(submission_id="sub-unreadable")), seconds=30)
        await wait_for(lambda: account(pipeline.store, [after.submission_id]).complete, seconds=60)
        await wait_for(lambda: len(pipeline.store.events(submission_id="sub-unreadable")) == 2, seconds=30)
        events = pipeline.store.events(submission_id="sub-unreadable")
        [event] = [e for e in events if e["component"] == "router"]  # the lookup service dead-letters it too
        assert (event["event_type"], event["component"], event["outcome"]) == ("DEAD_LETTER", "router", "dead_lettered")
    letters = [codec(DEAD_LETTER).decode(r.value) for r in await read_topic(settings, settings.topic("dlq"))]
    [letter, mirror] = sorted((x for x in letters if x["submission_id"] == "sub-unreadable"),
                              key=lambda x: x["stage"] != "router")  # fmt: skip
    assert mirror["stage"] == "lookup" and mirror["dead_letter_id"] != letter["dead_letter_id"]
    assert letter["stage"] == "router" and letter["reason_code"] == event["reason"]
    assert letter["sealed_payload"] is not None  # kept whole: replayable once the cause is fixed
