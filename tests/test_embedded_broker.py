"""The embedded broker starts, answers, carries records, and stops without leaving a process."""

from __future__ import annotations

import os

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.embedded_broker import EmbeddedBroker
from services.kernel.config import load_settings
from services.kernel.kafka import ensure_topics


async def test_start_produce_consume_stop() -> None:
    """A record produced to a created topic is consumed back; stop() ends the process."""
    with EmbeddedBroker() as broker:
        pid = broker.pid
        assert pid is not None
        settings = load_settings(None, {}, kafka_bootstrap=broker.bootstrap)
        await ensure_topics(settings, ["probe"])
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait("probe", b"hello", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            "probe", bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        try:
            batch = await consumer.getmany(timeout_ms=5000)
        finally:
            await consumer.stop()
        assert [r.value for part in batch.values() for r in part] == [b"hello"]
    try:
        os.kill(pid, 0)
        alive = True
    except ProcessLookupError:
        alive = False
    assert not alive


def test_broker_is_out_of_reach_of_the_terminals_ctrl_c() -> None:
    """The broker runs in its own session, so Ctrl-C (SIGINT to the foreground group) reaches only crx,
    which drains its services before stopping the broker."""
    with EmbeddedBroker() as broker:
        assert broker.pid is not None
        assert os.getsid(broker.pid) != os.getsid(0) and os.getpgid(broker.pid) != os.getpgid(0)
    assert broker.pid is None  # stopped by crx itself
