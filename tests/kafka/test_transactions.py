"""On Apache Kafka a consume-transform-produce service commits its outputs and input offsets in one
transaction: kill -9 in the middle of batches leaves no duplicate and loses nothing."""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.kernel.config import Settings, load_settings
from services.kernel.kafka import client_options, ensure_topics
from tests.kafka.helpers import read_all
from tools.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def echo_environ(settings: Settings, transactions: str) -> dict[str, str]:
    """The CRX_* environment of one echo service replica (a stable instance id, as after a restart)."""
    return os.environ | {
        "CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRX_TOPIC_PREFIX": settings.topic_prefix,
        "CRX_TOPIC_PARTITIONS": "2",
        "CRX_TOPIC_REPLICATION": str(settings.topic_replication),
        "CRX_INSTANCE_ID": "echo-1",
        "CRX_BATCH_MAX_RECORDS": "50",
        "CRX_SESSION_TIMEOUT_MS": "3000",
        "CRX_HEARTBEAT_INTERVAL_MS": "1000",
        "CRX_KAFKA_TRANSACTIONS": transactions,
    }


def start_echo(env: dict[str, str]) -> tuple[subprocess.Popen[str], str]:
    """Start the echo service; returns the process and the delivery mode it reports once started."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.kafka.echo_service"], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


async def loaded_input(cluster: KafkaCluster, count: int) -> tuple[Settings, list[bytes]]:
    """Settings of a fresh topic prefix on ``cluster`` (2 partitions, replication 3), with ``count`` distinct
    records already on its ``in`` topic (acks=all); returns them with the records."""
    settings = load_settings(
        None, {}, kafka_bootstrap=cluster.bootstrap, topic_prefix=f"t{uuid.uuid4().hex[:10]}",
        topic_partitions=2, topic_replication=3,
    )  # fmt: skip
    await ensure_topics(settings, [settings.topic("in"), settings.topic("out")])
    inputs = [f"record-{i:05d}".encode() for i in range(count)]
    producer = AIOKafkaProducer(**client_options(settings), acks="all")
    await producer.start()
    try:
        for value in inputs:
            await producer.send(settings.topic("in"), value, key=value[-1:])
        await producer.flush()
    finally:
        await producer.stop()
    return settings, inputs


async def test_kill_9_mid_batch_leaves_no_duplicate_and_loses_nothing(cluster3: KafkaCluster) -> None:
    """2,000 records through a service killed with SIGKILL six times at random moments, then run to the end:
    the committed output is exactly the input, once each; aborted transactions stay invisible."""
    settings, inputs = await loaded_input(cluster3, 2_000)

    env, rng = echo_environ(settings, "on"), random.Random(7)  # noqa: S311 - kill times, not secrets
    for _ in range(6):
        process, mode = start_echo(env)
        try:
            assert mode == "transactional"
            await asyncio.sleep(rng.uniform(0.3, 1.2))
        finally:
            process.kill()
            process.wait()
    process, _ = start_echo(env)
    try:
        for _ in range(120):  # at most about two minutes to finish
            if len(await read_all(settings, settings.topic("out"))) >= len(inputs):
                break
            await asyncio.sleep(1)
    finally:
        process.terminate()
        process.wait(30)

    committed = await read_all(settings, settings.topic("out"))
    written = await read_all(settings, settings.topic("out"), committed=False)
    assert sorted(committed) == sorted(inputs)  # every record once: none lost, none twice
    print(f"{len(written) - len(committed)} records of aborted transactions written and never seen")


async def test_a_rebalance_with_batches_in_flight_repeats_nothing(cluster3: KafkaCluster) -> None:
    """A second replica joins while the first is in the middle of slow batches, then leaves: each rebalance
    waits for the batch in flight (aiokafka commits transactional offsets without the group generation, so
    a new owner that read the committed offset before that batch's commit would process it again)."""
    settings, inputs = await loaded_input(cluster3, 1_000)

    slow = {"ECHO_BATCH_SECONDS": "0.3", "CRX_BATCH_MAX_RECORDS": "20"}
    first, mode = start_echo(echo_environ(settings, "on") | slow)
    second = None
    try:
        assert mode == "transactional"
        await asyncio.sleep(2.0)
        second, _ = start_echo(echo_environ(settings, "on") | slow | {"CRX_INSTANCE_ID": "echo-2"})
        await asyncio.sleep(4.0)
        second.terminate()
        second.wait(30)
        for _ in range(120):
            if len(await read_all(settings, settings.topic("out"))) >= len(inputs):
                break
            await asyncio.sleep(1)
    finally:
        for process in (first, second):
            if process is not None and process.poll() is None:
                process.terminate()
                process.wait(30)

    committed = await read_all(settings, settings.topic("out"))
    assert sorted(committed) == sorted(inputs)  # every record once across two rebalances
