"""Both internal formats through the real pipeline (embedded broker, every service, partner clients): a running
pipeline writing format 2 still delivers what a version writing format 1 left on ``crx.feed.<J>`` and
``crx.records``, and what a jurisdiction pushes itself (format 1, signed by it), and refuses a format-2 feed record
under a jurisdiction's own batch signature."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from services.audit.accounting import account
from services.intake.publisher import FeedPublisher, Submission
from services.kernel.audit_events import load_audit_secret
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.hop import HopRecord, is_hop
from services.kernel.internal import batch_signer
from services.kernel.kafka import OutRecord, Producer
from services.keys.ring import KeyRing
from services.normaliser.service import RECORD_CONTENT_TYPE
from tests.fixtures.keys import signer
from tests.integration.helpers import read_topic, running, sample, wait_for
from tests.normaliser.test_formats import feed_value

pytestmark = pytest.mark.integration


def old_records_value(settings: Settings, keyring: KeyRing, now: dt.datetime) -> tuple[bytes, SealContext]:
    """PL's notification about a DE+FR national as a format-1 normaliser left it on crx.records."""
    [record] = get_adapter("json-v1").parse(sample("PL-notification-de-fr.json"), ParseContext("PL", now))
    rec_codec = typed_codec(CANONICAL_RECORD)
    ctx = SealContext(channel="records", message_id=str(record["header"]["message_id"]), correlation_id="sub-old",
                      sender="crx", recipient="crx", content_type=RECORD_CONTENT_TYPE,
                      schema_fingerprint=rec_codec.fingerprint)  # fmt: skip
    return Sealer(keyring.registry, keyring.store, "crx").seal(rec_codec.encode(record), ctx, now), ctx


async def test_both_formats_through_the_pipeline(settings: Settings, keyring: KeyRing) -> None:
    assert settings.internal_format == 2
    secret = load_audit_secret(None, settings.data_dir)
    now = dt.datetime.now(dt.UTC)
    async with running(settings, keyring) as pipeline:
        old_intake = FeedPublisher(settings.replace(internal_format=1), keyring, pipeline.producer, secret)
        [old] = await old_intake.publish([Submission("DE", "json-v1", sample("DE-notification-fr.json"))], now)
        [new] = await pipeline.publisher.publish([Submission("FR", "json-v1", sample("FR-notification-de.json"))], now)
        value, ctx = old_records_value(settings, keyring, now)
        normaliser = Producer(settings, signer=signer(settings, keyring, "normaliser"))
        de = Producer(settings, signer=signer(settings, keyring, "DE"))
        for producer in (normaliser, de):
            await producer.start()
        try:
            await normaliser.send_all([OutRecord(settings.topic("records"), value, headers=routing_headers(ctx))])
            forged = feed_value(keyring, fmt=2, producer="crx.intake", offset=99)  # format 2 under DE's batch
            await de.send_all([OutRecord(settings.topic("feed.DE"), forged)])
            national = FeedPublisher(settings, keyring, de, secret)  # DE's own `crx push`: format 1, signed by DE
            [own] = await national.publish([Submission("DE", "json-v1", sample("DE-notification-fr-pl.json"))], now)
        finally:
            for producer in (normaliser, de):
                await producer.stop()

        ids = [old.submission_id, new.submission_id, own.submission_id]
        await wait_for(lambda: account(pipeline.store, ids).complete, seconds=60)
        acc = account(pipeline.store, ids)
        assert acc.delivered_records == 3 and acc.dead_lettered == 0

        def disclosed() -> list[str]:
            events = pipeline.store.events(submission_id="sub-old")
            return sorted(r for e in events if e["event_type"] == "DISCLOSURE" for r in e["recipients"])

        await wait_for(lambda: disclosed() == ["DE", "FR"])
        await wait_for(
            lambda: any(e["reason"] == "ENVELOPE" for e in pipeline.store.events(event_type="DEAD_LETTER")), seconds=30
        )
    # DE's feed: format 1 from the intake before the switch and from DE's own push, format 2 only in the forgery
    feed = [(batch_signer(r), is_hop(r.value)) for r in await read_topic(settings, settings.topic("feed.DE"))]
    assert sorted(feed) == [("DE", False), ("DE", True), ("crx.intake", False)]
    assert is_hop(next(r.value for r in await read_topic(settings, settings.topic("feed.FR"))))
    on_records = await read_topic(settings, settings.topic("records"))
    written = [r.value for r in on_records if r.value != value]
    assert written and all(HopRecord.parse(v).producer == "crx.normaliser" for v in written)
    for j in ("DE", "FR", "PL"):
        assert not any(is_hop(r.value) for r in await read_topic(settings, settings.topic(f"out.{j}")))
