"""The audit writer's handler without a broker: CPU per event, codec decodes and SQLite statements per record,
and messages per record on crx.audit, for what the pipeline puts there per record (a COLLECTION by the intake,
a NORMALISATION by the normaliser, a DISCLOSURE per recipient by the router) plus the recipients' receipts.

    python -m tests.bench.audit_writer [records] [--single] [--no-receipts] [--profile]

Each stage's events are produced in batches of ``PRODUCED`` records, signed per batch as the stage's Producer
sends them (``--single``: one message per event, as before audit batching; ``--no-receipts``: the audit
events alone); the writer handles them in consumed
batches of at most ``batch_max_records`` messages, on a fresh SQLite file. ``--profile`` prints the cProfile
top functions too.
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from schemas import RECEIPT
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.writer import AuditWriter
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.auditbatch import batch_audit
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import attach_signature
from services.kernel.kafka import OutRecord
from services.kernel.logging import configure_logging
from services.kernel.metrics import ServiceMetrics
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRing
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import consumed, make_keyring, signed

PRODUCED = 100  # records per batch a stage handles and produces
ROUNDS = 3
RECIPIENTS = ("FR", "PL", "DE")


def _stage_events(settings: Settings, run: str, n: int) -> dict[str, list[OutRecord]]:
    """Per producing component, the audit events of ``n`` records, in production order."""
    topic, now = settings.topic("audit"), dt.datetime.now(dt.UTC)
    intake, normaliser, router = (AuditEmitter(c, topic, b"secret") for c in ("intake", "normaliser", "router"))
    out: dict[str, list[OutRecord]] = {"intake": [], "normaliser": [], "router": []}
    for i in range(n):
        sid, mid = f"{run}-{i}", str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}-{i}"))
        common: dict[str, Any] = {"occurred_at": now, "actor": "crx", "submission_id": sid, "message_id": mid}
        out["intake"].append(
            intake.event(AuditEventType.COLLECTION, outcome="ok", source_jurisdiction="DE", payload=b"x", **common)
        )
        out["normaliser"].append(normaliser.event(AuditEventType.NORMALISATION, outcome="ok", **common))
        out["router"] += [
            router.event(AuditEventType.DISCLOSURE, outcome="ok", recipients=[r], rule="ecris", **common)
            for r in RECIPIENTS
        ]
    return out


def _receipts(settings: Settings, keyring: KeyRing, run: str, n: int) -> list[OutRecord]:
    """Every recipient's signed receipt of each of ``n`` records."""
    now, out = dt.datetime.now(dt.UTC), []
    for party in RECIPIENTS:
        entry = keyring.registry.active(party, "signing", now)
        alg, private = signature_alg(entry.algorithm), keyring.store.load(party, entry.key_id)
        for i in range(n):
            unsigned = codec(RECEIPT).encode(
                {"receipt_id": f"r{run}{i}{party}", "message_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{run}-{i}")),
                 "correlation_id": f"{run}-{i}", "party": party, "channel": f"out.{party}", "outcome": "ACCEPTED",
                 "reason": None, "envelope_sha256": bytes(32), "received_at": now, "signer_key_id": entry.key_id,
                 "signature": None}
            )  # fmt: skip
            out.append(OutRecord(settings.topic("receipts"), attach_signature(unsigned, alg.sign(private, unsigned))))
    return out


def messages(
    settings: Settings, keyring: KeyRing, n: int, *, single: bool, receipts: bool = True
) -> tuple[list[ConsumerRecord], int]:
    """What the writer consumes for ``n`` records (consecutive offsets), and how many are on crx.audit."""
    run = uuid.uuid4().hex[:8]
    produced: list[OutRecord] = []
    for component, events in _stage_events(settings, run, n).items():
        per_batch = len(events) // n * PRODUCED
        for start in range(0, len(events), per_batch):
            chunk = events[start : start + per_batch]
            batch = chunk if single else batch_audit(chunk, settings.topic("audit"), settings.topic_partitions)
            produced += signed(settings, keyring, component, batch)
    audit = len(produced)
    return consumed(produced + (_receipts(settings, keyring, run, n) if receipts else [])), audit


async def run(n: int, *, single: bool, receipts: bool, profiler: cProfile.Profile | None) -> tuple[float, int, int]:
    """Handle the messages of ``n`` records on a fresh store: (CPU seconds, leaves, crx.audit messages)."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings("127.0.0.1:9", Path(tmp) / "data")
        keyring = make_keyring(settings)
        registry = CollectorRegistry()
        store = SqliteAuditStore(str(Path(tmp) / "audit.sqlite3"), origin=settings.audit_log_origin)
        writer = AuditWriter(settings, keyring, store, b"secret", ServiceMetrics.create(registry), registry)
        records, on_audit = messages(settings, keyring, n, single=single, receipts=receipts)
        size = settings.batch_max_records
        started = time.process_time()
        if profiler is not None:
            profiler.enable()
        for start in range(0, len(records), size):
            assert await writer.handle(records[start : start + size]) == []
        if profiler is not None:
            profiler.disable()
        cpu = time.process_time() - started
        entries = store.size
        store.close()
    return cpu, entries, on_audit


async def main(n: int, *, single: bool, receipts: bool, profile: bool) -> None:
    """Print the figures: CPU the least of ``ROUNDS`` runs without the profiler, counts from a profiled one."""
    configure_logging("WARNING")
    runs = [await run(n, single=single, receipts=receipts, profiler=None) for _ in range(ROUNDS)]
    cpu, entries, on_audit = min(runs)
    profiler = cProfile.Profile()
    await run(n, single=single, receipts=receipts, profiler=profiler)
    stats = pstats.Stats(profiler)
    calls = {f"{func[0].rsplit('/', 1)[-1]}:{func[2]}": s[1] for func, s in stats.stats.items()}  # type: ignore[attr-defined]
    decodes = calls.get("codec.py:decode", 0)
    sql = sum(v for k, v in calls.items() if "sqlite3.Connection" in k)
    print(
        f"audit writer, {n} records ({'one message per event' if single else 'audit batches'}"
        f"{'' if receipts else ', no receipts'}): "
        f"{on_audit / n:.2f} crx.audit messages/record, {entries} leaves, {cpu / entries * 1e6:.1f} µs CPU/leaf "
        f"({cpu / n * 1e6:.0f} µs/record), {decodes / n:.1f} decodes/record, {sql / n:.2f} SQLite statements/record"
    )
    if profile:
        stats.sort_stats("tottime").print_stats(15)


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(next((a for a in args if a.isdigit()), "3000"))
    asyncio.run(
        main(count, single="--single" in args, receipts="--no-receipts" not in args, profile="--profile" in args)
    )
