"""A service run as its own process (`crx router run`): ready over HTTP, works, drains and exits on SIGTERM."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from services.devstack.embedded_broker import free_port
from services.intake.publisher import FeedPublisher, Submission
from services.kernel.audit_events import load_audit_secret
from services.kernel.config import Settings
from services.kernel.kafka import Producer, ensure_topics, standard_topics
from services.keys.ring import KeyRing
from tests.fixtures.keys import signer
from tests.integration.helpers import read_topic, sample

pytestmark = pytest.mark.integration


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback URL built here
            return int(response.status)
    except OSError:
        return 0


def _spawn(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


async def test_normaliser_process_serves_health_and_drains_on_sigterm(settings: Settings, keyring: KeyRing) -> None:
    """The normaliser process answers /healthz and /readyz, normalises a pushed record, exits 0 on SIGTERM."""
    await ensure_topics(settings, standard_topics(settings))
    port = free_port()
    env = {
        **os.environ,
        "CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRX_TOPIC_PREFIX": settings.topic_prefix,
        "CRX_DATA_DIR": str(settings.data_dir),
        "CRX_AUDIT_SECRET": "test-audit-secret",
        "CRX_SESSION_TIMEOUT_MS": "3000",
        "CRX_HEARTBEAT_INTERVAL_MS": "1000",
    }
    crx = str(Path(sys.executable).parent / "crx")
    proc = _spawn([crx, "normaliser", "run", "--metrics-port", str(port)], env)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(150):
            if await asyncio.to_thread(_get, f"{base}/readyz") == 200:
                break
            await asyncio.sleep(0.1)
        assert await asyncio.to_thread(_get, f"{base}/readyz") == 200
        assert await asyncio.to_thread(_get, f"{base}/healthz") == 200

        producer = Producer(settings, signer=signer(settings, keyring, "intake"))
        await producer.start()
        try:
            publisher = FeedPublisher(settings, keyring, producer, load_audit_secret("test-audit-secret", Path()))
            [result] = await publisher.publish(
                [Submission("DE", "json-v1", sample("DE-notification-fr.json"))], dt.datetime.now(dt.UTC)
            )
        finally:
            await producer.stop()
        assert result.accepted
        records: list[object] = []
        for _ in range(50):
            records = await read_topic(settings, settings.topic("records"))
            if records:
                break
        assert len(records) == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.to_thread(proc.communicate, None, 30)
    assert proc.returncode == 0, stderr[-2000:]
    events = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert any(e.get("event") == "stopped" and e.get("component") == "normaliser" for e in events)
