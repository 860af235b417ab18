"""A consume-transform-produce service on crx's kernel (StreamService: BatchLoop + Producer), for the
transaction tests: copies every record of PREFIX.in to PREFIX.out unchanged.

    python -m tests.kafka.echo_service   (settings from CRX_* variables; runs until SIGTERM)
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from services.kernel.config import load_settings
from services.kernel.kafka import OutRecord
from services.kernel.logging import configure_logging
from services.kernel.metrics import ServiceMetrics
from services.kernel.service import StreamService, Wiring


async def main() -> None:
    """Run the echo service until SIGTERM; prints "transactional" or "at-least-once" once started."""
    settings = load_settings(None, os.environ)
    configure_logging("WARNING", sys.stderr)  # stdout carries only the delivery mode
    out = settings.topic("out")
    delay = float(os.environ.get("ECHO_BATCH_SECONDS", "0.01"))

    async def handler(records: list[ConsumerRecord]) -> list[OutRecord]:
        await asyncio.sleep(delay)  # some work, so that a kill or a rebalance can land anywhere in the batch
        return [OutRecord(out, r.value, key=r.key) for r in records]

    registry = CollectorRegistry()
    wiring = Wiring(settings, "echo", registry, ServiceMetrics.create(registry), group_id="crx-echo")
    service = StreamService(wiring, topics=[settings.topic("in")], output_topics=[out], handler=handler)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await service.start()
    print("transactional" if service.producer.transactional else "at-least-once", flush=True)
    await stop.wait()
    await service.stop()


if __name__ == "__main__":
    asyncio.run(main())
