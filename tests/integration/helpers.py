"""Helpers for integration tests: run the pipeline, read raw topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer

from adapters.base import get_adapter
from services.devstack.pipeline import Pipeline
from services.kernel.config import Settings
from services.keys.ring import KeyRing

PARTNERS = ("DE", "FR", "PL")


def sample(name: str) -> bytes:
    """A json-v1 sample payload by file name."""
    return dict(get_adapter("json-v1").samples())[name]


def sample_json(name: str) -> dict[str, Any]:
    """A json-v1 sample, parsed, for editing."""
    data: dict[str, Any] = json.loads(sample(name))
    return data


@contextlib.asynccontextmanager
async def running(settings: Settings, keyring: KeyRing) -> AsyncIterator[Pipeline]:
    """A started pipeline with partner clients for DE, FR and PL; stopped on exit."""
    pipeline = Pipeline.build(settings, keyring, partners=PARTNERS)
    await pipeline.start()
    try:
        yield pipeline
    finally:
        await pipeline.stop()


async def read_topic(settings: Settings, topic: str, idle_ms: int = 1500) -> list[Any]:
    """Every record on ``topic`` from the beginning (stops after ``idle_ms`` without new records)."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    await consumer.start()
    out: list[Any] = []
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=idle_ms)
            if not batch:
                return out
            for part in batch.values():
                out.extend(part)
    finally:
        await consumer.stop()


async def eventually(predicate: Any, seconds: float = 30.0) -> bool:
    """Poll ``predicate`` until true (True) or for ``seconds`` (False): for fixtures that record what happened
    and leave the verdict to the tests."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def wait_for(predicate: Any, seconds: float = 30.0) -> None:
    """Poll ``predicate`` until true; fail the test after ``seconds``."""
    if not await eventually(predicate, seconds):
        raise AssertionError("condition not reached in time")
