"""The batch loop on a real broker: a batch whose outputs the broker does not acknowledge is not committed, is
read again from its first offset and redone."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer, ConsumerRecord, TopicPartition
from prometheus_client import CollectorRegistry

from services.kernel.config import Settings
from services.kernel.errors import TransientError
from services.kernel.kafka import OutRecord, client_options, ensure_topics
from services.kernel.metrics import ServiceMetrics
from services.kernel.service import StreamService, Wiring
from tests.integration.helpers import read_topic, wait_for

pytestmark = pytest.mark.integration


def echo(settings: Settings) -> StreamService:
    """A service copying ``in`` to ``out`` on crx's kernel (batch loop, producer, topic watch)."""
    out = settings.topic("out")

    async def handler(records: list[ConsumerRecord[bytes, bytes]]) -> list[OutRecord]:
        return [OutRecord(out, r.value or b"", key=r.key) for r in records]

    registry = CollectorRegistry()
    wiring = Wiring(
        settings, "echo", registry, ServiceMetrics.create(registry), group_id=f"{settings.topic_prefix}.echo"
    )
    return StreamService(wiring, topics=[settings.topic("in")], output_topics=[out], handler=handler)


async def produce(settings: Settings, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send(settings.topic("in"), value, partition=0)
        await producer.flush()
    finally:
        await producer.stop()


async def test_a_batch_the_broker_does_not_acknowledge_is_redone_and_not_committed(settings: Settings) -> None:
    """The first two sends fail as a broker timeout would: nothing of the batch is committed meanwhile, the loop
    seeks back and redoes it, and every input is output once."""
    settings = settings.replace(topic_partitions=1)
    await ensure_topics(settings, [settings.topic("in"), settings.topic("out")])
    service = echo(settings)
    real_send = service.producer.send_all
    committed_at_failure: list[Any] = []

    async def failing(records: Any) -> None:
        if len(committed_at_failure) < 2:
            consumer = service.loop._consumer
            assert consumer is not None
            committed_at_failure.append(await consumer.committed(TopicPartition(settings.topic("in"), 0)))
            raise TransientError("produce failed: RequestTimedOutError")
        await real_send(records)

    service.producer.send_all = failing  # type: ignore[method-assign]
    inputs = [f"v{i:03d}".encode() for i in range(40)]
    await produce(settings, inputs)
    await service.start()
    try:
        await wait_for(lambda: service.loop.batches >= 1, seconds=30)
        await asyncio.sleep(0.5)
        out = [r.value for r in await read_topic(settings, settings.topic("out"))]
    finally:
        await service.stop()
    assert committed_at_failure == [None, None]  # no offset committed while the batch was failing
    assert sorted(out) == inputs  # redone from its first offset: every input once


async def test_a_position_past_the_end_of_a_lost_log_is_read_again_from_the_start(settings: Settings) -> None:
    """The broker lost a partition's log (an in-memory broker restarted): its new log ends before the loop's
    position, and the embedded broker answers such a fetch with nothing instead of OFFSET_OUT_OF_RANGE. The
    loop reads the partition again from its start, so the records written since are handled (at least once)."""
    settings = settings.replace(topic_partitions=1)
    await ensure_topics(settings, [settings.topic("in"), settings.topic("out")])
    service = echo(settings)
    await produce(settings, [b"before-0", b"before-1"])
    await service.start()
    try:
        await wait_for(lambda: service.loop.batches >= 1, seconds=30)
        consumer = service.loop._consumer
        assert consumer is not None
        async with service.loop._in_flight:  # between two batches
            consumer.seek(TopicPartition(settings.topic("in"), 0), 1000)  # as if the log had been lost under it
        await produce(settings, [b"after-0", b"after-1"])
        await wait_for(lambda: service.loop.rewound >= 1, seconds=30)
        await wait_for(lambda: service.loop.batches >= 2, seconds=30)
        await asyncio.sleep(0.5)
        out = {r.value for r in await read_topic(settings, settings.topic("out"))}
    finally:
        await service.stop()
    assert {b"after-0", b"after-1"} <= out
