"""Store-and-forward: a 202 is kept even when the broker loses everything it acknowledged.

Each test runs its own embedded broker (Tansu keeps everything in memory: a kill -9 loses every topic,
record and committed offset, as a broker that lost its volume would), with the whole pipeline in process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.audit.accounting import UNDELIVERED, account
from services.devstack.embedded_broker import EmbeddedBroker, free_port
from services.devstack.pipeline import Pipeline
from services.dlq.replay import read_dead_letters, replay
from services.intake.publisher import Submission
from services.intake.settlement import LogSettlement
from services.kernel.audit_events import load_audit_secret
from services.kernel.config import Settings
from services.kernel.deadletter import RECONCILER_STAGE
from services.kernel.errors import TransientError
from services.kernel.kafka import Producer
from services.keys.ring import KeyRing
from tests.fixtures.keys import signer
from tests.integration.helpers import PARTNERS, read_topic, sample_json, wait_for

pytestmark = pytest.mark.integration


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    """An embedded broker of this test's own."""
    with EmbeddedBroker() as running:
        yield running


def fast(settings: Settings, broker: EmbeddedBroker, **overrides: object) -> Settings:
    """Settings on ``broker`` with a reconciler that acts within seconds and services that notice a lost
    topic within a second."""
    fields: dict[str, object] = {
        "kafka_bootstrap": broker.bootstrap, "reconcile_after_seconds": 3.0, "reconcile_interval_seconds": 0.5,
        "topic_check_seconds": 1.0, "session_timeout_ms": 3000, "heartbeat_interval_ms": 1000,
    }  # fmt: skip
    return settings.replace(**(fields | overrides))


def submissions(count: int, prefix: str) -> list[Submission]:
    """DE notifications about an FR+PL national, distinct records."""
    doc = sample_json("DE-notification-fr-pl.json")
    return [
        Submission("DE", "json-v1", json.dumps(doc | {"record_id": f"{prefix}-{i:04d}"}).encode()) for i in range(count)
    ]


async def test_a_broker_that_loses_everything_loses_no_accepted_submission(
    settings: Settings, keyring: KeyRing, broker: EmbeddedBroker
) -> None:
    """40 submissions acknowledged by the broker (so answered 202), which is then killed and restarted empty:
    the intake's reconciler publishes the unsettled ones again, and each is delivered to FR and PL once,
    receipted, and logged once; the outbox empties."""
    local = fast(settings, broker)
    pipeline = Pipeline.build(local, keyring, partners=PARTNERS)
    await pipeline.start()
    try:
        results = await pipeline.publisher.publish(submissions(40, "LOST"), dt.datetime.now(dt.UTC))
        assert all(r.accepted for r in results)
        ids = [r.submission_id for r in results]
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)  # what was acknowledged is gone: feed, records, out topics, offsets
        broker.stop()
        await asyncio.sleep(1.0)
        broker.start()
        await wait_for(lambda: account(pipeline.store, ids).complete, seconds=120)
        books = account(pipeline.store, ids)
        assert books.delivered_records == 40 and dict(books.delivered) == {"FR": 40, "PL": 40}
        # A republished submission is checked again only when its backoff ends (after * 2**attempts): the
        # outbox empties at the latest one full backoff after the books balance.
        longest_backoff = local.reconcile_after_seconds * 2**local.reconcile_attempts
        await wait_for(lambda: pipeline.intake.outbox.size() == 0, seconds=longest_backoff + 10)
        republished = pipeline.intake.reconciler.republished._value.get()
        events = [str(e["event_id"]) for e in pipeline.store.events()]
        assert not [e for e, n in Counter(events).items() if n > 1]
    finally:
        await pipeline.stop()
    for party in ("FR", "PL"):
        files = list((pipeline.out_dir / party).glob("*.json"))
        assert len(files) == 40, party  # each record once at each partner
    print(f"after the broker lost everything: {republished:.0f} submissions published again, 40/40 delivered")


async def test_a_submission_never_receipted_is_dead_lettered_after_the_last_attempt(
    settings: Settings, keyring: KeyRing, broker: EmbeddedBroker
) -> None:
    """PL runs no partner client, so a record for FR and PL is never fully receipted: published again
    ``reconcile_attempts`` times, then dead-lettered (UNDELIVERED, its feed envelope kept for replay),
    counted, and settled as dead-lettered in the books. The intake asks the audit service's API here, as
    where it shares no volume with the audit writer."""
    port = free_port()
    local = fast(settings, broker, reconcile_after_seconds=1.0, reconcile_attempts=1, audit_api_port=port,
                 audit_api_url=f"http://127.0.0.1:{port}")  # fmt: skip
    pipeline = Pipeline.build(local, keyring, partners=("FR",), audit_api_port=None)
    await pipeline.start()
    try:
        [result] = await pipeline.publisher.publish(submissions(1, "NOPL"), dt.datetime.now(dt.UTC))
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).dead_lettered == 1, seconds=60)
        books = account(pipeline.store, [result.submission_id])
        assert dict(books.dead_letter_reasons) == {UNDELIVERED: 1} and books.complete
        assert dict(books.delivered) == {}  # FR's receipt alone is not the delivery of the submission
        reconciler = pipeline.intake.reconciler
        assert reconciler.republished._value.get() == 1 and reconciler.undelivered._value.get() == 1
        await wait_for(lambda: pipeline.intake.outbox.size() == 0, seconds=30)
        [letter] = pipeline.store.events(event_type="DEAD_LETTER")
        assert letter["reason"] == UNDELIVERED and letter["submission_id"] == result.submission_id
    finally:
        await pipeline.stop()
    # PL's partner is back: `crx dlq replay` sends the intake's own feed record back to its feed as it was
    # (no --adapter: it is not a payload to submit again), and the submission is delivered to both.
    [dead] = [x for x in await read_dead_letters(local, keyring.registry) if x["reason_code"] == UNDELIVERED]
    assert dead["stage"] == RECONCILER_STAGE and dead["source_topic"] == local.topic("feed.DE")
    pipeline = Pipeline.build(local, keyring, partners=("FR", "PL"), audit_api_port=None)
    replayer = Producer(local, signer=signer(local, keyring, "dlq"))  # as `crx dlq replay` signs
    await pipeline.start()
    await replayer.start()
    try:
        secret = load_audit_secret(None, local.data_dir)
        done = await replay(local, keyring, replayer, secret, dead)
        assert done.topic == local.topic("feed.DE") and done.submission is None
        await wait_for(lambda: dict(account(pipeline.store, [result.submission_id]).delivered) == {"FR": 1, "PL": 1})
    finally:
        await replayer.stop()
        await pipeline.stop()


async def test_without_the_writers_log_nothing_is_taken_for_unsettled(settings: Settings, tmp_path: Path) -> None:
    """An intake that cannot see the audit writer's SQLite file (another volume) fails its passes loudly
    instead of reading an empty log and publishing everything again."""
    source = LogSettlement(settings.replace(audit_db=str(tmp_path / "elsewhere" / "audit.sqlite3")))
    with pytest.raises(TransientError, match="no audit log"):
        await source.states(["s-1"])
    assert not (tmp_path / "elsewhere").exists()


async def test_a_late_retry_of_a_settled_submission_is_answered_and_not_sealed_again(
    settings: Settings, keyring: KeyRing, broker: EmbeddedBroker
) -> None:
    """Once settled, a submission keeps only its id and answer in the outbox; the same submission sent again
    (a client's late retry) gets the same answer and nothing reaches the feed a second time."""
    local = fast(settings, broker)
    pipeline = Pipeline.build(local, keyring, partners=PARTNERS)
    await pipeline.start()
    try:
        [sub] = submissions(1, "LATE")
        [first] = await pipeline.publisher.publish([sub], dt.datetime.now(dt.UTC))
        await wait_for(lambda: account(pipeline.store, [first.submission_id]).complete, seconds=60)
        await wait_for(lambda: pipeline.intake.outbox.size() == 0, seconds=30)  # settled: bytes dropped
        assert pipeline.intake.outbox.stored([first.submission_id])[first.submission_id].settled
        [again] = await pipeline.publisher.publish([sub], dt.datetime.now(dt.UTC))
        assert again == first
    finally:
        await pipeline.stop()
    assert len(await read_topic(local, local.topic("feed.DE"))) == 1
