"""``make bench``: end-to-end throughput and latency on the embedded broker, and per-stage costs.

10,000 json-v1 notifications from DE about persons of nationalities FR, PL and IT (3 recipients each) are
pushed in batches; latency is from the push call to the partner client's decryption of each copy. The
whole pipeline runs in this one process (one event loop, so effectively one core), as ``crx demo`` does.
Set ``CRX_KAFKA_BOOTSTRAP`` to measure against another Kafka; ``CRX_BENCH_RECORDS`` to change the count.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from adapters.base import ParseContext, get_adapter, record_message_id
from schemas import CANONICAL_RECORD
from services.embedded_broker import EmbeddedBroker
from services.intake.publisher import Submission
from services.kernel.codec import codec
from services.kernel.config import Settings, load_settings
from services.kernel.envelope import Opener, SealContext, Sealer
from services.kernel.kafka import OutRecord, Producer, ensure_topics
from services.kernel.keys import KeyRing
from services.kernel.logging import configure_logging
from services.kernel.suites import signature_alg
from services.pipeline import Pipeline, ensure_keys

RECIPIENTS = ("FR", "PL", "IT")
PARTIES = ("crx", "DE", *RECIPIENTS)


class TimingSink:
    """A partner sink that records when each message id was decrypted."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def delivered(self, message_id: str) -> bool:
        return message_id in self.seen

    def deliver(self, message_id: str, record: dict[str, Any]) -> None:
        self.seen[message_id] = time.perf_counter()


def _payload(template: dict[str, Any], i: int) -> bytes:
    doc = dict(template, record_id=f"BENCH-{i:06d}")
    doc["person"] = dict(template["person"], nationalities=list(RECIPIENTS))
    return json.dumps(doc).encode()


def _agreements(path: Path) -> None:
    profiles = yaml.safe_load((Path(__file__).parents[2] / "services/router/default_agreements.yaml").read_text())[
        "profiles"
    ]
    doc = {
        "version": 1,
        "profiles": profiles,
        "rules": [
            {
                "id": "ecris-notify-nationality-states",
                "message_types": ["NOTIFICATION", "UPDATE", "DELETION"],
                "recipients": "nationality-states",
            }
        ],
        "agreements": [
            {
                "id": f"bench-DE-{r}",
                "sender": "DE",
                "recipient": r,
                "legal_basis": ["EU-FD-2009/315"],
                "purposes": ["CRIMINAL_PROCEEDINGS", "ECRIS_NOTIFICATION"],
                "message_types": ["NOTIFICATION"],
                "profile": "ecris-full" if r != "PL" else "ecris-minimal",
                "retention_days": 365,
            }
            for r in RECIPIENTS
        ],
    }
    path.write_text(yaml.safe_dump(doc))


def _per_record_us(fn: Callable[[], object], n: int) -> float:
    started = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - started) / n * 1e6


async def stages(settings: Settings, keyring: KeyRing, template: dict[str, Any]) -> dict[str, float]:
    """Microsecond cost per record of each stage, measured in isolation."""
    adapter = get_adapter("json-v1")
    payload = _payload(template, 0)
    ctx = ParseContext("DE", dt.datetime.now(dt.UTC))
    [record] = adapter.parse(payload, ctx)
    rec_codec = codec(CANONICAL_RECORD)
    encoded = rec_codec.encode(record)
    now = dt.datetime.now(dt.UTC)
    seal_ctx = SealContext("out.FR", "m", "s", "crx", "FR", "avro/crx.v1.CriminalRecord", rec_codec.fingerprint)
    sealer = Sealer(keyring.registry, keyring.store, None)
    signing = keyring.registry.active("crx", "signing", now)
    sig_key = keyring.store.load("crx", signing.key_id)
    alg = signature_alg(signing.algorithm)
    signed = Sealer(keyring.registry, keyring.store, "crx").seal(encoded, seal_ctx, now)
    opener = Opener(keyring.registry, keyring.store, "FR")
    n = 2000
    out = {
        "parse": _per_record_us(lambda: adapter.parse(payload, ctx), n),
        "encode": _per_record_us(lambda: rec_codec.encode(record), n),
        "decode": _per_record_us(lambda: rec_codec.decode(encoded), n),
        "seal": _per_record_us(lambda: sealer.seal(encoded, seal_ctx, now), n),
        "sign": _per_record_us(lambda: alg.sign(sig_key, signed), n),
        "open": _per_record_us(lambda: opener.open(signed, channel="out.FR", now=now, signers=frozenset({"crx"})), n),
    }
    topic = settings.topic("bench.produce")
    await ensure_topics(settings, [topic])
    producer = Producer(settings)
    await producer.start()
    try:
        batch = [OutRecord(topic, signed, key=str(i).encode()) for i in range(n)]
        started = time.perf_counter()
        for i in range(0, n, 500):
            await producer.send_all(batch[i : i + 500])
        out["produce"] = (time.perf_counter() - started) / n * 1e6
    finally:
        await producer.stop()
    out["envelope_bytes"] = float(len(signed))
    return out


async def end_to_end(settings: Settings, keyring: KeyRing, template: dict[str, Any], count: int) -> dict[str, Any]:
    """Push ``count`` records and wait until every recipient decrypted every one."""
    sinks = {r: TimingSink() for r in RECIPIENTS}
    pipeline = Pipeline.build(settings, keyring, partners=RECIPIENTS, sinks=sinks)
    await pipeline.start()
    pushed_at: dict[str, float] = {}
    try:
        await asyncio.sleep(2)  # let the consumer groups settle before the clock starts
        started = time.perf_counter()
        batch = 500
        for i in range(0, count, batch):
            subs = [Submission("DE", "json-v1", _payload(template, j)) for j in range(i, min(i + batch, count))]
            t = time.perf_counter()
            await pipeline.publisher.publish(subs, dt.datetime.now(dt.UTC))
            for j in range(i, min(i + batch, count)):
                pushed_at[record_message_id("DE", f"BENCH-{j:06d}", 1)] = t
            await asyncio.sleep(0)
        deadline = time.perf_counter() + 600
        while any(len(s.seen) < count for s in sinks.values()) and time.perf_counter() < deadline:  # noqa: ASYNC110 - sinks are fed by other tasks; bounded by the deadline
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
        latencies = sorted((s.seen[m] - pushed_at[m]) * 1000 for s in sinks.values() for m in s.seen if m in pushed_at)
        delivered = {r: len(s.seen) for r, s in sinks.items()}
    finally:
        await pipeline.stop()
    q = statistics.quantiles(latencies, n=100)
    return {
        "records": count,
        "deliveries": sum(delivered.values()),
        "delivered": delivered,
        "seconds": round(elapsed, 2),
        "records_per_s": round(count / elapsed, 1),
        "deliveries_per_s": round(sum(delivered.values()) / elapsed, 1),
        "latency_ms": {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1)},
    }


async def main() -> None:
    count = int(os.environ.get("CRX_BENCH_RECORDS", "10000"))
    configure_logging("WARNING")
    template = json.loads(dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"])
    with tempfile.TemporaryDirectory() as tmp:
        bootstrap = os.environ.get("CRX_KAFKA_BOOTSTRAP")
        broker = None if bootstrap else EmbeddedBroker()
        if broker:
            broker.start()
            bootstrap = broker.bootstrap
        try:
            agreements = Path(tmp) / "agreements.yaml"
            _agreements(agreements)
            settings = load_settings(
                None,
                {},
                kafka_bootstrap=bootstrap,
                jurisdictions="DE,FR,PL,IT",
                data_dir=Path(tmp) / "data",
                agreements_file=agreements,
                topic_prefix=f"bench{int(time.time())}",
                session_timeout_ms=3000,
                heartbeat_interval_ms=1000,
            )
            keyring = ensure_keys(settings, PARTIES, dt.datetime.now(dt.UTC))
            stage = await stages(settings, keyring, template)
            e2e = await end_to_end(settings, keyring, template, count)
        finally:
            if broker:
                broker.stop()
    print(f"crx bench on {os.cpu_count()} cores ({'embedded Tansu' if broker else bootstrap}), one process")
    print(
        f"end to end: {e2e['records']} records x {len(RECIPIENTS)} recipients in {e2e['seconds']} s: "
        f"{e2e['records_per_s']} records/s, {e2e['deliveries_per_s']} deliveries/s; delivered {e2e['delivered']}"
    )
    lat = e2e["latency_ms"]
    print(f"latency push -> partner decryption: p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms")
    print(f"envelope size (one canonical record, signed): {int(stage.pop('envelope_bytes'))} bytes")
    print("per stage (µs/record): " + ", ".join(f"{k} {v:.0f}" for k, v in stage.items()))


if __name__ == "__main__":
    asyncio.run(main())
