"""Helpers for integration tests: run the pipeline, read raw topics."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from adapters.base import get_adapter
from services.devstack.pipeline import Pipeline
from services.kernel.config import Settings
from services.kernel.kafka import client_options
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


async def read_topic(settings: Settings, topic: str, *, committed: bool = False) -> list[Any]:
    """Every record of ``topic`` from its beginning up to its end offsets as they are when called: all that
    was written before the call, however slow the topic, and never a record written after it. With
    ``committed``, only committed transactions' records (and plain ones)."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=50,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )  # fmt: skip
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        assert partitions, f"topic {topic} does not exist"
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)  # the last stable offset under read_committed
        out: list[Any] = []
        while True:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                return out
            batch = await consumer.getmany(timeout_ms=1000)
            out += [r for records in batch.values() for r in records]
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
