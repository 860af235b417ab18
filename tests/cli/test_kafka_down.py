"""Commands that need Kafka, run while it is out of reach: one line that says so, exit 1, no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.devstack.embedded_broker import free_port

SAMPLE = Path(__file__).parents[2] / "adapters" / "json_v1" / "samples" / "DE-notification-fr-pl.json"


@pytest.mark.parametrize(
    "args",
    [
        ["dlq", "list"],
        ["push", "--jurisdiction", "DE", "--adapter", "json-v1", str(SAMPLE)],
    ],
    ids=["dlq-list", "push"],
)
def test_a_command_says_in_one_line_that_kafka_is_out_of_reach(args: list[str], tmp_path: Path) -> None:
    bootstrap = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {**os.environ, "CRX_KAFKA_BOOTSTRAP": bootstrap, "CRX_DATA_DIR": str(tmp_path)}
    crx = str(Path(sys.executable).parent / "crx")
    done = subprocess.run([crx, *args], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"Error: Kafka at {bootstrap} is not reachable (KafkaConnectionError)"]
    assert "Traceback" not in done.stdout + done.stderr
