"""Bad input lands in crx.dlq with a typed reason; the services keep running; the books still balance."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas import DEAD_LETTER
from services.audit.accounting import account
from services.devstack.demo import bad_submissions
from services.intake.publisher import Submission
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.hop import is_hop
from services.kernel.kafka import OutRecord
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, running, sample, wait_for

pytestmark = pytest.mark.integration


async def test_bad_input_is_dead_lettered_and_services_survive(settings: Settings, keyring: KeyRing) -> None:
    """Invalid JSON, a missing field, unknown jurisdictions, 50 MB, an unknown adapter: each a typed DLQ entry."""
    good = sample("DE-notification-fr-pl.json")
    async with running(settings, keyring) as pipeline:
        now = dt.datetime.now(dt.UTC)
        bad = await pipeline.publisher.publish(bad_submissions(good), now)
        # Garbage produced straight onto a feed topic, bypassing intake, is dead-lettered too.
        await pipeline.producer.send_all([OutRecord(settings.topic("feed.DE"), b"\x00garbage")])
        later = await pipeline.publisher.publish([Submission("DE", "json-v1", good)], now)
        ids = [r.submission_id for r in bad + later]
        await wait_for(lambda: account(pipeline.store, ids).complete)
        acc = account(pipeline.store, ids)
        assert acc.balanced and acc.pushed == len(bad) + 1
        assert acc.dead_lettered == len(bad) and acc.delivered_records == 1
        assert set(acc.dead_letter_reasons) == {
            "MALFORMED",
            "MISSING_FIELD",
            "UNKNOWN_JURISDICTION",
            "PAYLOAD_TOO_LARGE",
            "UNKNOWN_ADAPTER",
        }
        for service in pipeline.services:
            assert service.loop.alive and service.loop.ready, service.name

        await wait_for(lambda: len(pipeline.store.events(event_type="DEAD_LETTER")) >= len(bad) + 1)
        letters = [codec(DEAD_LETTER).decode(r.value) for r in await read_topic(settings, settings.topic("dlq"))]
        assert len(letters) == len(bad) + 1
        assert all(letter["reason_code"] and letter["error_class"] for letter in letters)
        by_reason = {letter["reason_code"]: letter for letter in letters}
        too_large = by_reason["PAYLOAD_TOO_LARGE"]
        assert too_large["sealed_payload"] is None and too_large["payload_size"] > 50 * 1024 * 1024
        garbage = next(x for x in letters if x["submission_id"] is None)
        assert garbage["stage"] == "normaliser" and garbage["reason_code"] == "ENVELOPE"
        # A dead letter keeps the original bytes, sealed to the broker, so it can be replayed.
        opened = Opener(keyring.registry, keyring.store, "crx").open(
            by_reason["MISSING_FIELD"]["sealed_payload"], channel="dlq", now=now, signers=frozenset({"crx"})
        )
        assert is_hop(opened.plaintext)  # the feed record (format 2, the default), still sealed inside
