"""Writing to a topic as a plain Kafka client does: no crx producer, so no signature, batch or checks."""

from __future__ import annotations

from aiokafka import AIOKafkaProducer

from services.kernel.config import Settings


async def produce_raw(settings: Settings, topic: str, value: bytes) -> None:
    """Write ``value`` to ``topic`` (a full topic name) with a plain producer, acknowledged by all replicas:
    what anyone allowed to write there can do, or a redelivery of bytes read earlier."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
