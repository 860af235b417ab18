"""Services as their own processes when the broker goes away: bounded shutdown, and recovery after a restart.

Each test runs its own embedded broker (Tansu keeps everything in memory: killing it loses every topic, as a
broker that lost its volume would), so the session's broker is never disturbed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.devstack.embedded_broker import EmbeddedBroker, free_port
from services.intake.publisher import FeedPublisher, Submission
from services.kernel.config import Settings
from services.kernel.kafka import Producer
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from tests.fixtures.keys import signer
from tests.integration.helpers import read_topic, sample

pytestmark = pytest.mark.integration

SHUTDOWN_SECONDS = 2.0


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as response:
            return int(response.status) == 200
    except OSError:
        return False


def _spawn(service: str, settings: Settings, broker: EmbeddedBroker, port: int) -> subprocess.Popen[str]:
    """``crx SERVICE run`` on ``broker``, with short group timings and shutdown steps."""
    env = {
        **os.environ,
        "CRX_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CRX_TOPIC_PREFIX": settings.topic_prefix,
        "CRX_DATA_DIR": str(settings.data_dir),
        "CRX_AUDIT_SECRET": "test-audit-secret",
        "CRX_SESSION_TIMEOUT_MS": "3000",
        "CRX_HEARTBEAT_INTERVAL_MS": "1000",
        "CRX_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
        "CRX_TOPIC_CHECK_SECONDS": "1",
        "CRX_INTAKE_PORT": str(free_port()),
        "CRX_AUDIT_API_PORT": str(free_port()),
    }
    crx = str(Path(sys.executable).parent / "crx")
    args = [crx, service, "run", "--metrics-port", str(port)]
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def broker() -> Iterator[EmbeddedBroker]:
    """An embedded broker of this test's own."""
    with EmbeddedBroker() as running:
        yield running


def _start(service: str, settings: Settings, broker: EmbeddedBroker) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = _spawn(service, settings, broker, port)
    deadline = time.monotonic() + 30
    while not _ready(port):
        assert proc.poll() is None, proc.communicate()[1][-2000:]
        assert time.monotonic() < deadline, f"{service} not ready"
        time.sleep(0.1)
    return proc, port


@pytest.mark.parametrize("service", ["intake", "normaliser", "router", "cases", "audit"])
def test_sigterm_with_the_broker_gone_exits_promptly_and_cleanly(
    service: str, settings: Settings, keyring: KeyRing, broker: EmbeddedBroker
) -> None:
    """The broker is killed under a running service; SIGTERM still ends it within its shutdown budget (each
    step at most CRX_SHUTDOWN_SECONDS), with exit code 0, one log line per step given up, no traceback."""
    proc, _ = _start(service, settings, broker)
    try:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        time.sleep(1.0)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err[-2000:]
    assert took < 4 * SHUTDOWN_SECONDS + 3, took
    assert "Traceback" not in err


async def test_a_service_recreates_its_topics_after_the_broker_lost_them(
    settings: Settings, keyring: KeyRing, broker: EmbeddedBroker
) -> None:
    """The broker crashes and comes back empty on the same port: the normaliser recreates the topics it reads
    and writes, rejoins its group, and normalises the next submission; no restart of the service."""
    proc, port = _start("normaliser", settings, broker)
    try:
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGKILL)
        broker.stop()
        await asyncio.sleep(1.0)
        broker.start()
        local = settings.replace(kafka_bootstrap=broker.bootstrap)
        records = local.topic("records")
        deadline = time.monotonic() + 30
        while records not in await _topics(local):  # recreated by the running normaliser, not by this test
            assert time.monotonic() < deadline, "topics not recreated"
            await asyncio.sleep(0.5)
        runtime = Runtime.create(local, keyring)
        producer = Producer(local, signer=signer(local, keyring, "intake"))
        await producer.start()
        try:
            publisher = FeedPublisher(local, keyring, producer, runtime.audit_secret)
            submission = Submission("DE", "json-v1", sample("DE-notification-fr-pl.json"))
            deadline = time.monotonic() + 30
            found: list[object] = []
            while not found:
                assert time.monotonic() < deadline, "nothing normalised after the broker came back"
                [result] = await publisher.publish([submission], dt.datetime.now(dt.UTC))
                assert result.accepted, result
                await asyncio.sleep(2.0)
                found = await read_topic(local, records)
        finally:
            await producer.stop()
        assert _ready(port)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)


async def _topics(settings: Settings) -> set[str]:
    from aiokafka.admin import AIOKafkaAdminClient

    from services.kernel.kafka import client_options

    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()
