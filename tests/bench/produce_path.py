"""The kernel's produce path, CPU per record: ``Producer.send_all`` of 2,000 keyed 600-byte OutRecords to
the embedded broker (signed as the router, and unsigned), the BatchLoop's metrics bookkeeping of a batch (500
inputs, 1,500 outputs on 3 topics) and ``BatchSigner.sign`` of 500 records. Best of 5 (10 for the last two),
process CPU time (time.process_time), so a busy machine does not inflate them.
Run with ``python -m tests.bench.produce_path`` (needs the embedded broker).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from prometheus_client import CollectorRegistry

from services.devstack.embedded_broker import EmbeddedBroker
from services.kernel.config import Settings
from services.kernel.kafka import BatchLoop, OutRecord, Producer, ensure_topics
from services.kernel.metrics import ServiceMetrics
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring, signer

TOPICS = ("out.DE", "out.FR", "records")


def records(settings: Settings, count: int) -> list[OutRecord]:
    """``count`` records spread over three topics, keyed as a record's outputs are (three share a key)."""
    topics = [settings.topic(t) for t in TOPICS]
    return [
        OutRecord(topics[i % 3], os.urandom(600), key=f"rec-{i // 3:08d}-{os.urandom(8).hex()}".encode(),
                  headers=[("crx-hop", b"2")])
        for i in range(count)
    ]  # fmt: skip


def best(fn: Callable[[], object], repeat: int) -> float:
    """The least CPU seconds of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        fn()
        times.append(time.process_time() - started)
    return min(times)


async def best_async(fn: Callable[[], Awaitable[object]], repeat: int) -> float:
    """The least CPU seconds of ``repeat`` awaited calls of ``fn``."""
    times = []
    for _ in range(repeat):
        started = time.process_time()
        await fn()
        times.append(time.process_time() - started)
    return min(times)


def show(what: str, seconds: float, per: int, unit: str) -> None:
    print(f"{what:26s} {seconds * 1e3:7.1f} ms CPU  ({seconds / per * 1e6:5.1f} µs per {unit})")


async def main() -> None:
    with tempfile.TemporaryDirectory() as data, EmbeddedBroker() as broker:
        settings = make_settings(broker.bootstrap, Path(data))
        router = signer(settings, make_keyring(settings), "router")
        batch, now = records(settings, 500), dt.datetime.now(dt.UTC)
        show("sign 500 records", best(lambda: router.sign(batch, now), 10), 500, "record")

        metrics = ServiceMetrics.create(CollectorRegistry(), service="bench")
        loop = BatchLoop(settings, service="bench", group_id="bench", topics=["in"], handler=None,  # type: ignore[arg-type]
                         producer=None, metrics=metrics)  # type: ignore[arg-type]  # fmt: skip
        inputs: list[Any] = [SimpleNamespace(timestamp=time.time() * 1000) for _ in range(500)]
        outputs = records(settings, 1500)
        show("metrics 500 in, 1500 out", best(lambda: loop._bookkeeping(outputs, inputs), 10), 500, "input")

        await ensure_topics(settings, [settings.topic(t) for t in TOPICS])
        producer = Producer(settings, signer=router)
        await producer.start()
        try:
            sent = records(settings, 2000)
            await producer.send_all(sent)  # metadata and connections
            show("send_all 2000, signed", await best_async(lambda: producer.send_all(sent), 5), 2000, "record")
            producer.signer = None
            show("send_all 2000, unsigned", await best_async(lambda: producer.send_all(sent), 5), 2000, "record")
        finally:
            await producer.stop()


if __name__ == "__main__":
    asyncio.run(main())
