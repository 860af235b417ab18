"""No personal data in clear: not in any topic's raw bytes, not in any log line, not in any metric."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
import urllib.request
from pathlib import Path

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from services.audit.accounting import account
from services.intake.publisher import Submission
from services.kernel.config import Settings
from services.kernel.logging import configure_logging
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, running, sample_json, wait_for

pytestmark = pytest.mark.integration

FAMILY = "Qwxzvbnmlkj"
GIVEN = "Pyjkhgfdsaq"
BIRTH = "1911-11-11"
TOWN = "Zzyzxtown"


def _distinctive_record() -> bytes:
    record = sample_json("DE-notification-fr-pl.json")
    record["record_id"] = "DE-PII-SCAN-1"
    record["person"]["names"] = [{"kind": "CURRENT", "given": GIVEN, "family": FAMILY}]
    record["person"]["birth_date"] = BIRTH
    record["person"]["birth_place"] = {"town": TOWN, "country": "DE"}
    return json.dumps(record).encode()


def _scrape(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:  # noqa: S310 - a loopback URL the test itself built
        body: bytes = response.read()
    return body


def _needles() -> list[bytes]:
    out = []
    for text in (FAMILY, GIVEN, BIRTH, TOWN):
        out += [text.encode("utf-8"), text.encode("utf-16-le"), text.lower().encode()]
    return out


async def test_no_personal_data_in_topics_logs_or_metrics(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """A record with a distinctive name, birth date and town leaves no trace of them in clear anywhere crx writes."""
    logs = io.StringIO()
    configure_logging("DEBUG", logs)
    try:
        async with running(settings, keyring) as pipeline:
            payloads = [_distinctive_record(), _distinctive_record()[:-7]]  # one good, one broken (dead-lettered)
            results = await pipeline.publisher.publish(
                [Submission("DE", "json-v1", p) for p in payloads], dt.datetime.now(dt.UTC)
            )
            ids = [r.submission_id for r in results]
            await wait_for(lambda: account(pipeline.store, ids).complete)
            acc = account(pipeline.store, ids)
            assert acc.delivered_records == 1 and acc.dead_lettered == 1
            # The partner did receive the name (so the scan below is looking for something that exists).
            delivered = " ".join(p.read_text() for p in pipeline.out_dir.glob("*/*.json"))
            assert FAMILY in delivered
            metrics = b""
            for url in pipeline.ops_urls().values():
                metrics += await asyncio.to_thread(_scrape, f"{url}/metrics")
            assert b"crx_records_in_total" in metrics
    finally:
        configure_logging("INFO")

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await admin.start()
    try:
        topics = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix + ".")]
    finally:
        await admin.close()
    assert len(topics) >= 9
    raw = b""
    for topic in topics:
        for rec in await read_topic(settings, topic):
            raw += (rec.key or b"") + (rec.value or b"") + b"".join(k.encode() + v for k, v in rec.headers)
    assert len(raw) > 1000
    log_text = logs.getvalue().encode()
    assert log_text.count(b"\n") > 5
    for needle in _needles():
        assert needle not in raw, "personal data in clear on a topic"
        assert needle not in log_text, "personal data in a log line"
        assert needle not in metrics, "personal data in a metric"
    # The audit store holds no personal data in clear either.
    store_bytes = await asyncio.to_thread(Path(settings.audit_db_path).read_bytes)
    for needle in _needles():
        assert needle not in store_bytes, "personal data in the audit store"
