"""``make bench``: end-to-end throughput and latency on the embedded broker (and on Apache Kafka, side by
side, where Java and Maven are present), per-stage costs, and the cost of batch authentication per record.

10,000 json-v1 notifications from DE about persons of nationalities FR, PL and IT (3 recipients each) are
pushed in batches; latency is from the push call to the partner client's decryption of each copy. The
whole pipeline runs in this one process (one event loop, so effectively one core), as ``crx demo`` does.
Set ``CRX_KAFKA_BOOTSTRAP`` to measure against another Kafka, ``CRX_BENCH_KAFKA`` (tansu or apache) for one
of the two, ``CRX_BENCH_RECORDS`` to change the count.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml

from adapters.base import ParseContext, get_adapter, record_message_id
from schemas import CANONICAL_RECORD
from services.devstack.embedded_broker import EmbeddedBroker, free_port
from services.devstack.pipeline import Pipeline, ensure_keys
from services.intake.publisher import FeedPublisher, Submission
from services.kernel.audit_events import load_audit_secret
from services.kernel.codec import typed_codec
from services.kernel.config import Settings, load_settings
from services.kernel.envelope import Opener, SealContext, Sealer
from services.kernel.kafka import OutRecord, Producer, ensure_topics, standard_topics
from services.kernel.logging import configure_logging
from services.kernel.runtime import Ports, Runtime
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRing
from services.partner import client as partner
from services.partner.lifecycle import Delivery, Operation
from tests.bench.adapters import adapter_rates
from tests.bench.adapters import report as report_adapters
from tests.bench.audit import main as audit_figures
from tests.bench.batchauth import primitives as batchauth_primitives
from tests.bench.batchauth import rates as batchauth_rates
from tests.bench.batchauth import report as report_batchauth
from tests.bench.envelope import report as report_envelope
from tests.bench.envelope import suite_rates

RECIPIENTS = ("FR", "PL", "IT")
PARTIES = ("crx", "DE", *RECIPIENTS)


class TimingSink:
    """A partner sink that records when each message id was decrypted."""

    def __init__(self) -> None:
        self.seen: dict[str, float] = {}

    def applied(self, message_id: str) -> Operation | None:
        return Operation.OTHER if message_id in self.seen else None

    def deliver(self, delivery: Delivery, record: dict[str, Any]) -> Operation:
        self.seen[delivery.message_id] = time.perf_counter()
        return Operation.OTHER

    def purge(self, today: dt.date) -> list[Delivery]:
        return []

    def erasures_sent(self, message_ids: Iterable[str]) -> None:
        pass


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
    rec_codec = typed_codec(CANONICAL_RECORD)
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


@contextlib.asynccontextmanager
async def service_processes(settings: Settings) -> AsyncIterator[None]:
    """Normaliser, router and audit writer as separate ``crx ... run`` processes, as in production."""
    env = {
        **os.environ,
        "CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRX_DATA_DIR": str(settings.data_dir),
        "CRX_JURISDICTIONS": ",".join(settings.jurisdictions),
        "CRX_AGREEMENTS_FILE": str(settings.agreements_file),
        "CRX_TOPIC_PREFIX": settings.topic_prefix,
        "CRX_SESSION_TIMEOUT_MS": str(settings.session_timeout_ms),
        "CRX_HEARTBEAT_INTERVAL_MS": str(settings.heartbeat_interval_ms),
        "CRX_LOG_LEVEL": "WARNING",
    }
    crx = str(Path(sys.executable).parent / "crx")
    ports = [free_port() for _ in range(3)]
    procs = [
        _spawn([crx, name, "run", "--metrics-port", str(port)], env)
        for name, port in zip(("normaliser", "router", "audit"), ports, strict=True)
    ]
    try:
        for port in ports:
            await _until_ready(f"http://127.0.0.1:{port}/readyz")
        yield
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            await asyncio.to_thread(proc.wait, 30)


def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL)


async def _until_ready(url: str) -> None:
    for _ in range(300):
        try:
            with await asyncio.to_thread(urllib.request.urlopen, url) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"service not ready: {url}")


async def end_to_end(
    settings: Settings, keyring: KeyRing, template: dict[str, Any], count: int, *, mode: str, rate: float | None
) -> dict[str, Any]:
    """Push ``count`` records (as fast as possible, or at ``rate`` records/s) and wait for every delivery."""
    sinks = {r: TimingSink() for r in RECIPIENTS}
    if mode == "processes":
        runtime = Runtime.create(settings, keyring)
        partners = [partner.build(runtime, ports=Ports(), party=r, sink=sinks[r]) for r in RECIPIENTS]
        producer = Producer(settings, signer=runtime.signer("intake"))  # this process is the intake
        secret = load_audit_secret(None, settings.data_dir)
        publisher = FeedPublisher(settings, keyring, producer, secret)
        await ensure_topics(settings, standard_topics(settings))
        stack = contextlib.AsyncExitStack()
        await stack.enter_async_context(service_processes(settings))
        await producer.start()
        stack.push_async_callback(producer.stop)
        await asyncio.gather(*(p.start() for p in partners))
        for p in partners:
            stack.push_async_callback(p.stop)
    else:
        pipeline = Pipeline.build(settings, keyring, partners=RECIPIENTS, sinks=sinks)
        await pipeline.start()
        publisher = pipeline.publisher
        stack = contextlib.AsyncExitStack()
        stack.push_async_callback(pipeline.stop)
    pushed_at: dict[str, float] = {}
    async with stack:
        await asyncio.sleep(2)  # let the consumer groups settle before the clock starts
        started = time.perf_counter()
        batch = 500 if rate is None else max(1, int(rate / 20))
        for i in range(0, count, batch):
            if rate is not None:
                await asyncio.sleep(max(0.0, started + i / rate - time.perf_counter()))
            subs = [Submission("DE", "json-v1", _payload(template, j)) for j in range(i, min(i + batch, count))]
            t = time.perf_counter()
            await publisher.publish(subs, dt.datetime.now(dt.UTC))
            for j in range(i, min(i + batch, count)):
                pushed_at[record_message_id("DE", f"BENCH-{j:06d}", 1)] = t
        deadline = time.perf_counter() + 900
        while any(len(s.seen) < count for s in sinks.values()) and time.perf_counter() < deadline:  # noqa: ASYNC110 - sinks are fed by other tasks; bounded by the deadline
            await asyncio.sleep(0.05)
        elapsed = time.perf_counter() - started
    latencies = sorted((s.seen[m] - pushed_at[m]) * 1000 for s in sinks.values() for m in s.seen if m in pushed_at)
    delivered = {r: len(s.seen) for r, s in sinks.items()}
    q = statistics.quantiles(latencies, n=100)
    return {
        "records": count,
        "delivered": delivered,
        "seconds": round(elapsed, 2),
        "records_per_s": round(count / elapsed, 1),
        "deliveries_per_s": round(sum(delivered.values()) / elapsed, 1),
        "latency_ms": {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1)},
    }


def _settings(bootstrap: str, tmp: Path, agreements: Path, run: str, kind: str) -> Settings:
    """Each broker with its own group timings: Tansu's short ones (TANSU.md: joins take half the session
    timeout), Apache Kafka's defaults (a JVM broker on the same 2 cores can delay heartbeats past 3 s)."""
    timings = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000} if kind == "tansu" else {}
    return load_settings(
        None,
        {},
        kafka_bootstrap=bootstrap,
        jurisdictions="DE,FR,PL,IT",
        data_dir=tmp / run,
        agreements_file=agreements,
        topic_prefix=f"bench{run}{int(time.time())}",
        **timings,
    )


def _report(label: str, e2e: dict[str, Any]) -> None:
    lat = e2e["latency_ms"]
    print(
        f"{label}: {e2e['records']} records x {len(RECIPIENTS)} recipients in {e2e['seconds']} s = "
        f"{e2e['records_per_s']} records/s ({e2e['deliveries_per_s']} deliveries/s); "
        f"latency push -> partner decryption p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms"
    )


@contextlib.contextmanager
def _broker(kind: str, tmp: Path) -> Iterator[tuple[str, str]]:
    """A fresh broker of ``kind`` ("tansu", "apache" or "external"): yields (label, bootstrap)."""
    if kind == "external":
        yield os.environ["CRX_KAFKA_BOOTSTRAP"], os.environ["CRX_KAFKA_BOOTSTRAP"]
    elif kind == "apache":
        from tools.kafka.cluster import KafkaCluster
        from tools.kafka.distribution import fetch

        dist = fetch()
        with KafkaCluster(dist, tmp / "apache-kafka") as cluster:
            yield f"Apache Kafka {dist.version} (1 node, transactions)", cluster.bootstrap
    else:
        with EmbeddedBroker() as broker:
            yield "embedded Tansu (at-least-once)", broker.bootstrap


def _brokers() -> list[str]:
    """Which brokers to measure: CRX_KAFKA_BOOTSTRAP alone if set, else CRX_BENCH_KAFKA (tansu or apache),
    else Tansu and, where Java and Maven are present, Apache Kafka beside it."""
    if os.environ.get("CRX_KAFKA_BOOTSTRAP"):
        return ["external"]
    chosen = os.environ.get("CRX_BENCH_KAFKA") or ""
    if chosen:
        return [chosen]
    return ["tansu", "apache"] if shutil.which("java") and shutil.which("mvn") else ["tansu"]


async def main() -> None:
    count = int(os.environ.get("CRX_BENCH_RECORDS", "10000"))
    mode = os.environ.get("CRX_BENCH_MODE", "processes")
    configure_logging("WARNING")
    template = json.loads(dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"])
    results: dict[str, dict[str, dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        agreements = tmp / "agreements.yaml"
        _agreements(agreements)
        stage: dict[str, float] = {}
        for kind in _brokers():
            with _broker(kind, tmp / kind) as (label, bootstrap):
                if not stage:
                    settings = _settings(bootstrap, tmp, agreements, "stages", kind)
                    keyring = ensure_keys(settings, PARTIES, dt.datetime.now(dt.UTC))
                    stage = await stages(settings, keyring, template)
                    shutil.copytree(settings.keys_dir, tmp / "keys")
                runs: dict[str, dict[str, Any]] = {}
                for run, rate_of in (("burst", None), ("paced", 0.5)):
                    run_settings = _settings(bootstrap, tmp, agreements, f"{kind}-{run}", kind)
                    shutil.copytree(tmp / "keys", run_settings.keys_dir)
                    rate = None if rate_of is None else rate_of * runs["burst"]["records_per_s"]
                    n = count if rate is None else min(count, int(rate * 30))
                    runs[run] = await end_to_end(run_settings, keyring, template, n, mode=mode, rate=rate)
                    runs[run]["rate"] = rate
                results[label] = runs
    shape = "normaliser, router, audit as separate processes" if mode == "processes" else "all in one process"
    print(f"crx bench: {os.cpu_count()} cores, {shape}")
    for label, runs in results.items():
        print(f"== {label}")
        _report("throughput (all pushed at once)", runs["burst"])
        _report(f"latency at {runs['paced']['rate']:.0f} records/s offered (half the throughput)", runs["paced"])
    if len(results) > 1:
        _side_by_side(results)
    print(f"envelope size (one canonical record, sealed and signed): {int(stage.pop('envelope_bytes'))} bytes")
    print("per stage (µs/record, one core): " + ", ".join(f"{k} {v:.0f}" for k, v in stage.items()))
    with tempfile.TemporaryDirectory() as keys_tmp:
        report_batchauth(batchauth_rates(Path(keys_tmp)), batchauth_primitives())
    report_adapters(adapter_rates())
    with tempfile.TemporaryDirectory() as keys_tmp:
        report_envelope(suite_rates(Path(keys_tmp)))
    from tests.bench import hop  # here: tests.bench.hop takes the workload (payload, agreements) from this module

    with tempfile.TemporaryDirectory() as hop_tmp:
        hop.report(hop.rates(Path(hop_tmp)))
    audit_figures()


def _side_by_side(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    """One table, one column per broker."""

    def latencies(run: dict[str, Any], quantiles: tuple[str, ...]) -> str:
        return " / ".join(str(run["latency_ms"][q]) for q in quantiles)

    labels = list(results)
    rows: list[tuple[str, list[str]]] = [
        ("records/s, all pushed at once", [str(results[x]["burst"]["records_per_s"]) for x in labels]),
        ("burst latency p50 / p99 ms", [latencies(results[x]["burst"], ("p50", "p99")) for x in labels]),
        ("paced: offered records/s", [f"{results[x]['paced']['rate']:.0f}" for x in labels]),
        ("paced latency p50 / p95 / p99 ms", [latencies(results[x]["paced"], ("p50", "p95", "p99")) for x in labels]),
    ]
    print("| end to end | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    asyncio.run(main())
