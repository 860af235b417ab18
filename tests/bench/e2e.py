"""``make bench``: end-to-end throughput and latency, the floor, and per-stage costs; figures also in
``var/bench/results.json``.

End to end: json-v1 notifications from DE about persons of nationalities FR, PL and IT (3 recipients each),
the normaliser and the router as ``CRX_BENCH_PROCS`` processes each (one consumer group per stage; topics have
``settings.topic_partitions`` partitions) and one audit writer (the log's one sequencer), all separate
``crx ... run`` processes; the intake pushes from a process of its own (so its pacing is not held up), the
three partner clients run in this one and decrypt every copy.
Saturation: ``CRX_BENCH_RECORDS`` (10,000) pushed in batches of 500 as fast as the intake takes them, records/s
until the last copy is decrypted. Latency: push call -> the partner's decryption of each copy, at 100, 250 and
500 records/s offered for ``CRX_BENCH_SECONDS`` (18) each, the intake pushing every record due at each 20 ms
tick (so it catches up rather than drifting), the achieved offered rate reported beside it. Each run has fresh
topics and fresh processes. The floor (``tests.bench.floor``) is measured in the same run, after the runs,
with the audit events per record counted in the saturation run's audit store.

``CRX_BENCH_PROCS``: processes per stage, or a list (``1,2``) to measure saturation with each, the paced runs
then using the fastest. ``CRX_BENCH_KAFKA``: tansu (default), apache, or both (Apache Kafka needs Java and
Maven; results.json then holds the embedded broker's figures, Apache's under ``brokers``).
``CRX_KAFKA_BOOTSTRAP`` measures another Kafka. ``CRX_BENCH_MODE=pipeline`` runs the stages in this process.
``CRX_BENCH_RESULTS`` writes the results elsewhere; ``CRX_BENCH_MICRO=0`` skips the micro-benchmarks.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from adapters.base import ParseContext, get_adapter, record_message_id
from schemas import AUDIT_EVENT, CANONICAL_RECORD
from services.audit.store import open_store
from services.devstack.embedded_broker import EmbeddedBroker, free_port
from services.devstack.pipeline import Pipeline, ensure_keys
from services.intake.publisher import FeedPublisher, Submission
from services.kernel.audit_events import load_audit_secret
from services.kernel.codec import codec, typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer
from services.kernel.kafka import OutRecord, Producer, ensure_topics, standard_topics
from services.kernel.logging import configure_logging
from services.kernel.runtime import Ports, Runtime
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRing
from services.partner import client as partner
from services.partner.lifecycle import Delivery, Operation
from tests.bench import cpu, floor
from tests.bench.adapters import adapter_rates
from tests.bench.adapters import report as report_adapters
from tests.bench.audit import main as audit_figures
from tests.bench.batchauth import _us_per_call
from tests.bench.batchauth import primitives as batchauth_primitives
from tests.bench.batchauth import rates as batchauth_rates
from tests.bench.batchauth import report as report_batchauth
from tests.bench.envelope import report as report_envelope
from tests.bench.envelope import suite_rates
from tests.bench.floor import RECIPIENTS, payload, template

RATES = (100, 250, 500)
SATURATION_BATCH = 500
TICK = 0.02
DEFAULT_PROCS = "1"
RESULTS = Path(__file__).parents[2] / "var/bench/results.json"
CONFIGURATION_EVENTS = frozenset({"KEY_CHANGE", "POLICY_CHANGE"})  # logged once per run, not per record
PARTIES, _payload, _agreements = floor.PARTIES, payload, floor.write_agreements  # for tests.bench.hop


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


async def stages(settings: Settings, keyring: KeyRing) -> dict[str, float]:
    """CPU µs per record of what the floor leaves out or lumps together: a decode, an HPKE seal and a signature
    apart, and the wall µs per record of producing sealed envelopes to the broker; and an envelope's size."""
    [record] = get_adapter("json-v1").parse(payload(template(), 0), ParseContext("DE", dt.datetime.now(dt.UTC)))
    rec_codec = typed_codec(CANONICAL_RECORD)
    encoded = rec_codec.encode(record)
    now = dt.datetime.now(dt.UTC)
    seal_ctx = SealContext("out.FR", "m", "s", "crx", "FR", "avro/crx.v1.CriminalRecord", rec_codec.fingerprint)
    sealer = Sealer(keyring.registry, keyring.store, None)
    signing = keyring.registry.active("crx", "signing", now)
    sig_key = keyring.store.load("crx", signing.key_id)
    alg = signature_alg(signing.algorithm)
    signed = Sealer(keyring.registry, keyring.store, "crx").seal(encoded, seal_ctx, now)
    out = {
        "decode": _us_per_call(lambda: rec_codec.decode(encoded), floor.SECONDS),
        "seal": _us_per_call(lambda: sealer.seal(encoded, seal_ctx, now), floor.SECONDS),
        "sign": _us_per_call(lambda: alg.sign(sig_key, signed), floor.SECONDS),
    }
    topic = settings.topic("bench.produce")
    await ensure_topics(settings, [topic])
    producer = Producer(settings)
    await producer.start()
    try:
        n = 2000
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
async def service_processes(
    settings: Settings, procs: int, pids: dict[str, list[int]] | None = None
) -> AsyncIterator[None]:
    """``procs`` normalisers and ``procs`` routers (each stage one consumer group) and one audit writer, as
    separate ``crx ... run`` processes, as in production. One audit writer only: it is the log's one
    sequencer (DESIGN.md), and its store serialises appends anyway (SQLite's one write lock per file). Their
    process ids go into ``pids`` by service name."""
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
    names = ["normaliser"] * procs + ["router"] * procs + ["audit"]
    ports = [free_port() for _ in names]
    procs_started = [
        _spawn([crx, name, "run", "--metrics-port", str(port)], env) for name, port in zip(names, ports, strict=True)
    ]
    for name, proc in zip(names, procs_started, strict=True):
        if pids is not None:
            pids.setdefault(name, []).append(proc.pid)
    try:
        for port in ports:
            await _until_ready(f"http://127.0.0.1:{port}/readyz")
        yield
    finally:
        for proc in procs_started:
            proc.send_signal(signal.SIGTERM)
        for proc in procs_started:
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


@contextlib.asynccontextmanager
async def pipeline(
    settings: Settings,
    keyring: KeyRing,
    sinks: dict[str, TimingSink],
    mode: str,
    procs: int,
    pids: dict[str, list[int]] | None = None,
) -> AsyncIterator[None]:
    """The pipeline running, its partners (in this process) delivering into ``sinks``; the service processes'
    ids in ``pids``."""
    async with contextlib.AsyncExitStack() as stack:
        if mode == "processes":
            runtime = Runtime.create(settings, keyring)
            partners = [partner.build(runtime, ports=Ports(), party=r, sink=sinks[r]) for r in RECIPIENTS]
            await ensure_topics(settings, standard_topics(settings))
            await stack.enter_async_context(service_processes(settings, procs, pids))
            await asyncio.gather(*(p.start() for p in partners))
            for p in partners:
                stack.push_async_callback(p.stop)
        else:
            built = Pipeline.build(settings, keyring, partners=RECIPIENTS, sinks=sinks)
            await built.start()
            stack.push_async_callback(built.stop)
        yield


def push_process(settings: Settings, count: int, rate: float | None, conn: Connection) -> None:
    """The intake, in a process of its own (so the partners' work does not hold up its pacing): sends "ready"
    once its producer is up, pushes ``count`` submissions (``push``) when it receives "go", then sends back
    ``(pushed_at, push_seconds)``. Push times are ``time.perf_counter``: CLOCK_MONOTONIC, one clock for every
    process of the machine, so they compare with the partners' decryption times."""
    configure_logging("WARNING")

    async def run() -> tuple[dict[str, float], float]:
        keyring = KeyRing.open(settings.keys_dir, None)
        runtime = Runtime.create(settings, keyring)
        producer = Producer(settings, signer=runtime.signer("intake"))
        publisher = FeedPublisher(settings, keyring, producer, load_audit_secret(None, settings.data_dir))
        await producer.start()
        try:
            conn.send("ready")
            await asyncio.to_thread(conn.recv)
            pushed_at: dict[str, float] = {}
            return pushed_at, await push(publisher, count, rate, pushed_at)
        finally:
            await producer.stop()

    conn.send(asyncio.run(run()))


async def push(publisher: FeedPublisher, count: int, rate: float | None, pushed_at: dict[str, float]) -> float:
    """Push ``count`` submissions: in batches of ``SATURATION_BATCH`` as fast as the intake takes them, or at
    ``rate`` records/s (at each ``TICK``, every record due by then). Records each record's message id -> push
    time in ``pushed_at``; returns the seconds until the last push returned."""
    doc = template()
    started = time.perf_counter()
    sent = 0
    while sent < count:
        if rate is not None and sent:
            await asyncio.sleep(TICK - (time.perf_counter() - started) % TICK)
        due = count if rate is None else min(count, int((time.perf_counter() - started) * rate) + 1)
        n = min(due - sent, SATURATION_BATCH)
        if n <= 0:
            continue
        subs = [Submission("DE", "json-v1", payload(doc, j)) for j in range(sent, sent + n)]
        t = time.perf_counter()
        await publisher.publish(subs, dt.datetime.now(dt.UTC))
        for j in range(sent, sent + n):
            pushed_at[record_message_id("DE", f"BENCH-{j:06d}", 1)] = t
        sent += n
    return time.perf_counter() - started


def audit_counts(settings: Settings, *, quiet: float = 3.0, limit: float = 120.0) -> dict[str, int]:
    """Events in the run's audit log by type, read once the log has stopped growing for ``quiet`` seconds."""
    store = open_store(settings)
    try:
        size, since, deadline = store.size, time.monotonic(), time.monotonic() + limit
        while time.monotonic() - since < quiet and time.monotonic() < deadline:
            time.sleep(0.25)
            if store.size != size:
                size, since = store.size, time.monotonic()
        decode = codec(AUDIT_EVENT).decode
        return dict(Counter(str(decode(leaf)["event_type"]) for _, leaf in store.leaves()))
    finally:
        store.close()


def per_record(counts: dict[str, int], records: int) -> float:
    """Audit events per record: every event but the run's configuration events (keys, policy)."""
    return round(sum(n for t, n in counts.items() if t not in CONFIGURATION_EVENTS) / records, 3)


def run_figures(
    records: int, delivered: dict[str, int], seconds: float, latencies_ms: list[float], *,
    offered: float | None, push_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    """One run's figures: rates, latency quantiles (per copy; None without two copies delivered), offered and
    achieved push rates."""
    q: list[float | None] = [None] * 99
    if len(latencies_ms) >= 2:
        q = [round(x, 1) for x in statistics.quantiles(sorted(latencies_ms), n=100, method="inclusive")]
    return {
        "records": records,
        "delivered": delivered,
        "complete": all(n >= records for n in delivered.values()),
        "seconds": round(seconds, 2),
        "records_per_s": round(records / seconds, 1),
        "deliveries_per_s": round(sum(delivered.values()) / seconds, 1),
        "latency_ms": {"p50": q[49], "p95": q[94], "p99": q[98]},
        "offered": offered,
        "achieved": round(records / push_seconds, 1),
    }


async def end_to_end(
    settings: Settings, keyring: KeyRing, count: int, *, mode: str, procs: int, rate: float | None, audit: bool,
    broker_pids: Iterable[int] = (),
) -> dict[str, Any]:  # fmt: skip
    """Push ``count`` records (as fast as possible, or at ``rate`` records/s) and wait for every delivery;
    with ``audit``, also count the events the run wrote to its audit log. ``cpu_us_per_record``: the CPU each
    process (the broker's ``broker_pids`` too) used from the push's start to the last decryption, per record
    (``tests.bench.cpu``; empty where ``/proc`` cannot tell)."""
    sinks = {r: TimingSink() for r in RECIPIENTS}
    spawn = multiprocessing.get_context("spawn")
    conn, child_end = spawn.Pipe()
    pusher = spawn.Process(target=push_process, args=(settings, count, rate, child_end), daemon=True)
    pusher.start()
    child_end.close()  # so a pusher that dies is an EOFError here, not a hang
    pids: dict[str, list[int]] = {"broker": list(broker_pids)} if broker_pids else {}
    try:
        async with pipeline(settings, keyring, sinks, mode, procs, pids):
            await asyncio.to_thread(conn.recv)  # the intake's producer is up
            await asyncio.sleep(2 * procs)  # let the consumer groups settle (each member's join) first
            assert pusher.pid is not None  # started
            pids |= {"intake (pusher)": [pusher.pid], "partners (3, bench process)": [os.getpid()]}
            cpu_before = cpu.snapshot(pids)
            started = time.perf_counter()
            conn.send("go")
            pushed_at, push_seconds = await asyncio.to_thread(conn.recv)
            deadline = time.perf_counter() + 300
            while any(len(s.seen) < count for s in sinks.values()) and time.perf_counter() < deadline:  # noqa: ASYNC110 - sinks are fed by other tasks; bounded by the deadline
                await asyncio.sleep(0.02)
            elapsed = time.perf_counter() - started
            cpu_used = cpu.per_record(cpu_before, cpu.snapshot(pids), count)
            counts = await asyncio.to_thread(audit_counts, settings) if audit else None
    finally:
        await asyncio.to_thread(pusher.join, 30)
        if pusher.is_alive():
            pusher.kill()
    latencies = [(s.seen[m] - pushed_at[m]) * 1000 for s in sinks.values() for m in s.seen if m in pushed_at]
    delivered = {r: len(s.seen) for r, s in sinks.items()}
    figures = run_figures(count, delivered, elapsed, latencies, offered=rate, push_seconds=push_seconds)
    figures["procs"] = procs
    figures["cpu_us_per_record"] = cpu_used
    if counts is not None:
        figures["audit_events"] = counts
        figures["audit_events_per_record"] = per_record(counts, count)
    return figures


def _run_settings(bootstrap: str, tmp: Path, run: str, kind: str) -> Settings:
    """Each run with its own data and topics, each broker with its own group timings: Tansu's short ones
    (TANSU.md: joins take half the session timeout), Apache Kafka's defaults (a JVM broker on the same 2 cores
    can delay heartbeats past 3 s). The keys are a copy of ``tmp/keys``."""
    timings = {"session_timeout_ms": 3000, "heartbeat_interval_ms": 1000} if kind == "tansu" else {}
    settings = floor.bench_settings(
        bootstrap, tmp / run, tmp / "agreements.yaml", f"bench{run}{int(time.time())}", **timings
    )
    if (tmp / "keys").exists():
        shutil.copytree(tmp / "keys", settings.keys_dir)
    return settings


@contextlib.contextmanager
def _broker(kind: str, tmp: Path) -> Iterator[tuple[str, str, list[int]]]:
    """A fresh broker of ``kind`` ("tansu", "apache" or "external"): yields (label, bootstrap, its process ids,
    none for an external one)."""
    if kind == "external":
        yield os.environ["CRX_KAFKA_BOOTSTRAP"], os.environ["CRX_KAFKA_BOOTSTRAP"], []
    elif kind == "apache":
        from tools.kafka.cluster import KafkaCluster
        from tools.kafka.distribution import fetch

        dist = fetch()
        with KafkaCluster(dist, tmp / "apache-kafka") as cluster:
            pids = [node.process.pid for node in cluster.nodes if node.process is not None]
            yield f"Apache Kafka {dist.version} (1 node, transactions)", cluster.bootstrap, pids
    else:
        with EmbeddedBroker() as broker:
            yield "embedded Tansu (at-least-once)", broker.bootstrap, [broker.pid] if broker.pid else []


def brokers() -> list[str]:
    """Which brokers to measure: CRX_KAFKA_BOOTSTRAP alone if set, else CRX_BENCH_KAFKA: tansu (the default),
    apache, or both (tansu first). Raises SystemExit for another value."""
    if os.environ.get("CRX_KAFKA_BOOTSTRAP"):
        return ["external"]
    chosen = os.environ.get("CRX_BENCH_KAFKA") or "tansu"
    if chosen not in ("tansu", "apache", "both"):
        raise SystemExit(f"CRX_BENCH_KAFKA (make bench KAFKA=...): tansu, apache or both, not {chosen!r}")
    return ["tansu", "apache"] if chosen == "both" else [chosen]


def procs_per_stage() -> list[int]:
    """CRX_BENCH_PROCS: processes per stage, one count or a comma-separated list. Raises SystemExit if invalid."""
    raw = os.environ.get("CRX_BENCH_PROCS") or DEFAULT_PROCS
    try:
        counts = [int(part) for part in raw.split(",")]
    except ValueError:
        counts = []
    if not counts or min(counts) < 1:
        raise SystemExit(f"CRX_BENCH_PROCS (make bench PROCS=...): a count or a list such as 1,2, not {raw!r}")
    return counts


async def broker_runs(
    kind: str, tmp: Path, *, count: int, seconds: float, mode: str, procs: list[int], stage: dict[str, float]
) -> dict[str, Any]:
    """On a fresh broker of ``kind``: saturation with each process count, then the paced runs with the fastest.
    Fills ``stage`` (``stages``) on the first broker, and makes the keys every run copies."""
    with _broker(kind, tmp / kind) as (label, bootstrap, broker_pids):
        if not stage:
            settings = _run_settings(bootstrap, tmp, f"{kind}-stages", kind)
            keyring = ensure_keys(settings, PARTIES, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
            stage.update(await stages(settings, keyring))
            shutil.copytree(settings.keys_dir, tmp / "keys")
        keyring = KeyRing.open(tmp / "keys", None)
        saturation: dict[str, dict[str, Any]] = {}
        for n in procs:
            settings = _run_settings(bootstrap, tmp, f"{kind}-sat{n}", kind)
            saturation[str(n)] = await end_to_end(
                settings, keyring, count, mode=mode, procs=n, rate=None, audit=True, broker_pids=broker_pids
            )
        best = max(procs, key=lambda n: saturation[str(n)]["records_per_s"])
        paced: dict[str, dict[str, Any]] = {}
        for rate in RATES:
            settings = _run_settings(bootstrap, tmp, f"{kind}-{rate}", kind)
            paced[str(rate)] = await end_to_end(
                settings, keyring, max(2, int(rate * seconds)), mode=mode, procs=best, rate=rate, audit=False,
                broker_pids=broker_pids,
            )  # fmt: skip
    return {"label": label, "procs": best, "saturation": saturation, "paced": paced}


def broker_figures(runs: dict[str, Any]) -> dict[str, Any]:
    """The headline figures of one broker's runs (``broker_runs``)."""
    best = runs["saturation"][str(runs["procs"])]
    return {
        "e2e_records_per_s": best["records_per_s"],
        "latency_ms": {rate: run["latency_ms"] for rate, run in runs["paced"].items()},
        "records": best["records"],
        "broker": runs["label"],
        "procs_per_stage": runs["procs"],
        "saturation_by_procs": {n: run["records_per_s"] for n, run in runs["saturation"].items()},
        "achieved_rates": {rate: run["achieved"] for rate, run in runs["paced"].items()},
        "audit_events_per_record": best.get("audit_events_per_record"),
    }


def results_document(runs: dict[str, Any], floor_figures: dict[str, Any], *, others: Iterable[dict[str, Any]] = ()
) -> dict[str, Any]:  # fmt: skip
    """What ``var/bench/results.json`` holds: the headline figures of ``runs`` (the first broker measured), the
    floor and the ratio, the runs in full, and each other broker's headline figures under ``brokers``."""
    figures = broker_figures(runs)
    return {
        **figures,
        "floor_records_per_s": floor_figures["records_per_s"],
        "floor_ratio": round(figures["e2e_records_per_s"] / floor_figures["records_per_s"], 4),
        "recipients": floor_figures["recipients"],
        "cores": floor_figures["cores"],
        "floor": floor_figures,
        "runs": {"saturation": runs["saturation"], "paced": runs["paced"]},
        "brokers": {other["label"]: broker_figures(other) for other in others},
        "git_commit": _git_commit(),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def write_results(doc: dict[str, Any], path: Path) -> None:
    """Write ``doc`` as JSON to ``path`` (its directory made if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _git_commit() -> str | None:
    """The checked-out commit (``+dirty`` when the tree has changes), or None outside a git checkout."""
    root = Path(__file__).parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True)
        status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def report(doc: dict[str, Any], mode: str) -> None:
    """Print the summary of a results document."""
    shape = (
        f"normaliser x {doc['procs_per_stage']}, router x {doc['procs_per_stage']}, audit writer x 1 as separate "
        "processes" if mode == "processes" else "all stages in one process"
    )  # fmt: skip
    print(f"crx bench: {doc['cores']} cores, {doc['broker']}, {shape}; {doc['recipients']} recipients per record")
    sat = doc["runs"]["saturation"][str(doc["procs_per_stage"])]
    print(
        f"saturation: {sat['records']} records in {sat['seconds']} s = {sat['records_per_s']} records/s "
        f"({sat['deliveries_per_s']} partner decryptions/s)"
    )
    used = sat.get("cpu_us_per_record") or {}
    if used:
        parts = ", ".join(f"{name} {us:,.0f}" for name, us in used.items() if name != "total")
        print(
            f"  CPU per record at saturation (µs, /proc): {parts}; total {used['total']:,.0f} = at most "
            f"{doc['cores'] * 1e6 / used['total']:,.0f} records/s on {doc['cores']} cores at this cost"
        )
    if len(doc["saturation_by_procs"]) > 1:
        by_procs = doc["saturation_by_procs"].items()
        print("  by processes per stage: " + ", ".join(f"{n}: {r} records/s" for n, r in by_procs))
    print("latency push -> partner decryption, per copy:")
    for rate, run in doc["runs"]["paced"].items():
        lat = run["latency_ms"]
        missing = "" if run["complete"] else f"  NOT ALL DELIVERED: {run['delivered']}"
        print(
            f"  {rate:>4} records/s offered (achieved {run['achieved']}/s, {run['records']} records, "
            f"{run['seconds']} s): p50 {lat['p50']} ms, p95 {lat['p95']} ms, p99 {lat['p99']} ms{_busy(run)}{missing}"
        )
    floor.report(doc["floor"])
    print(
        f"the pipeline runs at {doc['floor_ratio']:.1%} of the floor "
        f"({doc['e2e_records_per_s']} / {doc['floor_records_per_s']:,.0f} records/s)"
    )


def _busy(run: dict[str, Any]) -> str:
    """ ", N cores busy": the CPU all the run's processes used over its duration (empty without the figures)."""
    used = run.get("cpu_us_per_record") or {}
    if not used or not run["seconds"]:
        return ""
    return f", {used['total'] * run['records'] / run['seconds'] / 1e6:.2f} cores busy"


def _side_by_side(docs: dict[str, dict[str, Any]]) -> None:
    """One table, one column per broker."""
    labels = list(docs)
    rows: list[tuple[str, list[str]]] = [
        ("records/s at saturation", [str(docs[x]["e2e_records_per_s"]) for x in labels]),
        *(
            (f"{rate}/s offered: p50 / p95 / p99 ms",
             [" / ".join(str(docs[x]["latency_ms"][str(rate)][q]) for q in ("p50", "p95", "p99")) for x in labels])
            for rate in RATES
        ),
    ]  # fmt: skip
    print("| end to end | " + " | ".join(labels) + " |")
    print("|---|" + "---|" * len(labels))
    for name, cells in rows:
        print(f"| {name} | " + " | ".join(cells) + " |")


def micro(stage: dict[str, float]) -> None:
    """The micro-benchmarks: per-stage costs, batch authentication, adapters, envelope suites, internal hops,
    the audit log's appends and proofs."""
    print(f"envelope size (one canonical record, sealed and signed): {int(stage.pop('envelope_bytes'))} bytes")
    print("other per-stage costs (µs/record, one core): " + ", ".join(f"{k} {v:.0f}" for k, v in stage.items()))
    with tempfile.TemporaryDirectory() as keys_tmp:
        report_batchauth(batchauth_rates(Path(keys_tmp)), batchauth_primitives())
    report_adapters(adapter_rates())
    with tempfile.TemporaryDirectory() as keys_tmp:
        report_envelope(suite_rates(Path(keys_tmp)))
    from tests.bench import hop  # here: tests.bench.hop takes the workload (payload, agreements) from this module

    with tempfile.TemporaryDirectory() as hop_tmp:
        hop.report(hop.rates(Path(hop_tmp)))
    audit_figures()


async def main() -> None:
    count = int(os.environ.get("CRX_BENCH_RECORDS", "10000"))
    seconds = float(os.environ.get("CRX_BENCH_SECONDS", "18"))
    mode = os.environ.get("CRX_BENCH_MODE", "processes")
    procs = procs_per_stage()
    configure_logging("WARNING")
    stage: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        floor.write_agreements(tmp / "agreements.yaml")
        started = time.perf_counter()
        measured = [
            await broker_runs(kind, tmp, count=count, seconds=seconds, mode=mode, procs=procs, stage=stage)
            for kind in brokers()
        ]
        runs_done = time.perf_counter()
        events = measured[0]["saturation"][str(measured[0]["procs"])].get("audit_events_per_record")
        floor_figures = floor.measure(tmp / "floor", audit_events_per_record=events)
    doc = results_document(measured[0], floor_figures, others=measured[1:])
    doc["bench_seconds"] = {"end_to_end": round(runs_done - started), "floor": round(time.perf_counter() - runs_done)}
    path = Path(os.environ.get("CRX_BENCH_RESULTS") or RESULTS)
    write_results(doc, path)
    report(doc, mode)
    if len(measured) > 1:
        _side_by_side({doc["broker"]: doc, **doc["brokers"]})
    print(f"figures written to {path} (end-to-end runs {doc['bench_seconds']['end_to_end']} s, floor "
          f"{doc['bench_seconds']['floor']} s)")  # fmt: skip
    if os.environ.get("CRX_BENCH_MICRO", "1") != "0":
        started = time.perf_counter()
        micro(stage)
        print(f"micro-benchmarks: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    asyncio.run(main())
