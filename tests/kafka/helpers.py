"""Reading a whole topic back from Apache Kafka, as committed or as written."""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer, TopicPartition

from services.kernel.config import Settings
from services.kernel.kafka import client_options


async def read_all(settings: Settings, topic: str, *, committed: bool = True) -> list[bytes]:
    """Every value of ``topic`` up to its current end: only committed transactions' records (and plain
    ones) with ``committed``, else everything written, aborted transactions included."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False,
        isolation_level="read_committed" if committed else "read_uncommitted",
    )  # fmt: skip
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)  # the last stable offset under read_committed
        values: list[bytes] = []
        while True:
            positions = {tp: await consumer.position(tp) for tp in partitions}
            if all(positions[tp] >= ends[tp] for tp in partitions):
                return values
            batch = await consumer.getmany(timeout_ms=1000)
            values += [r.value for records in batch.values() for r in records if r.value is not None]
    finally:
        await consumer.stop()
