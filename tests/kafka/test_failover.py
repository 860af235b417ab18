"""Failover on a three-node Apache Kafka (replication 3, min.insync.replicas 2, acks=all): one broker is
killed with SIGKILL under a steady stream through the whole pipeline; nothing is lost, no receipt or audit
event is duplicated, and the time the pipeline stalled is measured."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from schemas import RECEIPT
from services.audit.accounting import account
from services.devstack.pipeline import Pipeline, ensure_keys
from services.intake.publisher import Submission
from services.kernel.auditbatch import audit_events_of
from services.kernel.codec import codec
from services.kernel.config import load_settings
from tests.integration.helpers import PARTNERS, sample_json
from tests.kafka.helpers import read_all
from tools.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.integration

RECORDS = 1_200
RATE = 100  # records per second offered
KILL_AFTER = 4.0  # seconds into the stream


def payload(i: int) -> bytes:
    """A DE notification about an FR+PL national (two recipients), distinct per ``i``."""
    import json

    return json.dumps(sample_json("DE-notification-fr-pl.json") | {"record_id": f"FAILOVER-{i:06d}"}).encode()


async def test_a_broker_killed_under_load_loses_and_duplicates_nothing(cluster3: KafkaCluster, tmp_path: Path) -> None:
    """1,200 records at 100/s; node 1 gets kill -9 after 4 s. Every record is delivered to FR and PL and
    receipted, each receipt and each audit event is on its topic once, and the stall is reported."""
    settings = load_settings(
        None, {}, kafka_bootstrap=cluster3.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=2, topic_replication=3, data_dir=tmp_path / "data", session_timeout_ms=6000,
        heartbeat_interval_ms=2000, audit_secret="test-audit-secret", instance_id="failover",
    )  # fmt: skip
    keyring = ensure_keys(settings, ("crx", *PARTNERS), dt.datetime.now(dt.UTC))
    pipeline = Pipeline.build(settings, keyring, partners=PARTNERS)
    await pipeline.start()
    submission_ids: list[str] = []
    progress: list[tuple[float, int]] = []  # (time, records delivered to FR and PL so far)
    killed_at = None

    def delivered() -> int:
        return sum(len(list((pipeline.out_dir / party).glob("*.json"))) for party in ("FR", "PL"))

    async def sample() -> None:
        while True:
            progress.append((time.monotonic(), delivered()))
            await asyncio.sleep(0.1)

    sampler = asyncio.create_task(sample())
    try:
        started = time.monotonic()
        for i in range(0, RECORDS, RATE // 10):
            batch = [Submission("DE", "json-v1", payload(j)) for j in range(i, i + RATE // 10)]
            results = await pipeline.publisher.publish(batch, dt.datetime.now(dt.UTC))
            assert all(r.accepted for r in results)
            submission_ids += [r.submission_id for r in results]
            if killed_at is None and time.monotonic() - started >= KILL_AFTER:
                cluster3.kill(0)
                killed_at = time.monotonic()
            await asyncio.sleep(max(0.0, started + (i + RATE // 10) / RATE - time.monotonic()))
        for _ in range(360):  # at most 180 s to drain
            books = account(pipeline.store, submission_ids)
            if books.complete:
                break
            await asyncio.sleep(0.5)
    finally:
        sampler.cancel()
        await pipeline.stop()
        cluster3.restart(0)

    assert killed_at is not None
    assert books.complete and books.pushed == RECORDS and dict(books.delivered) == {"FR": RECORDS, "PL": RECORDS}
    assert books.receipts == 2 * RECORDS

    receipts = [codec(RECEIPT).decode(v)["receipt_id"] for v in await read_all(settings, settings.topic("receipts"))]
    assert len(receipts) == 2 * RECORDS and not [r for r, n in Counter(receipts).items() if n > 1]
    events = [e["event_id"] for v in await read_all(settings, settings.topic("audit")) for e in audit_events_of(v)]
    duplicated = {e: n for e, n in Counter(events).items() if n > 1}
    assert not duplicated, f"{len(duplicated)} audit events on crx.audit more than once"

    after = [(at, n) for at, n in progress if at >= killed_at and n < 2 * RECORDS]
    stall = max((b[0] - a[0] for a, b in itertools.pairwise(after) if a[1] == b[1]), default=0.0)
    done = next((at for at, n in progress if n == 2 * RECORDS), progress[-1][0])
    print(
        f"failover: {RECORDS} records at {RATE}/s, broker killed {killed_at - started:.1f} s in; longest stall "
        f"without a new delivery {stall:.2f} s; last delivery {done - started:.1f} s after the first push"
    )
