"""`crx demo --once --json` on a fresh data dir: everything accounted for, audit verified, nothing left running."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def _tansu_pids(tag: str) -> set[int]:
    """Broker processes started by this test's demo: they inherit its environment, tag included.

    Other test runs on the machine start brokers of their own; only ours must be gone.
    """
    out = subprocess.run(["pgrep", "-f", "tansu"], capture_output=True, text=True, check=False).stdout
    ours = set()
    for pid in (int(p) for p in out.split()):
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        if f"DEMO_TEST_TAG={tag}".encode() in environ.split(b"\0"):
            ours.add(pid)
    return ours


def test_demo_once_json_balances_and_cleans_up(tmp_path: Path) -> None:
    """The demo prints the accounting JSON, balances, verifies the audit log and stops its broker."""
    tag = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "CRX_KAFKA_BOOTSTRAP"} | {"DEMO_TEST_TAG": tag}
    crx = Path(sys.executable).parent / "crx"
    proc = subprocess.run(
        [
            str(crx),
            "demo",
            "--once",
            "--json",
            "--data-dir",
            str(tmp_path),
            "--metrics-port",
            "0",
            "--intake-port",
            "0",
            "--audit-port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("pushed", "delivered", "refused", "dead_lettered", "receipts", "audit_entries", "audit_verified"):
        assert key in result
    assert result["audit_verified"] is True and result["balanced"] is True and result["pending"] == 0
    assert result["pushed"] == result["delivered_records"] + result["refused"] + result["dead_lettered"]
    assert result["delivered_records"] >= 4 and result["refused"] >= 1 and result["dead_lettered"] >= 5
    assert set(result["delivered"]) <= {"DE", "FR", "PL"} and result["delivered"]["FR"] >= 2
    assert result["receipts"] == sum(result["delivered"].values())
    # A request answered (PL asks DE), one left open (FR asks PL), orphan responses refused (issue 13).
    cases = result["cases"]
    assert cases["answered"] >= 1 and cases["open"] >= 1 and cases["orphan_responses_refused"] >= 1, cases
    assert cases["opened"] == cases["answered"] + cases["open"] and cases["overdue"] == 0
    assert result["refusal_reasons"]["NO_OPEN_REQUEST"] == cases["orphan_responses_refused"]
    assert not _tansu_pids(tag), "the demo left a broker process behind"
    assert list((tmp_path / "out" / "FR").glob("*.json"))


def test_adapters_list_names_json_v1() -> None:
    """`crx adapters list` prints the registered adapters."""
    crx = Path(sys.executable).parent / "crx"
    out = subprocess.run([str(crx), "adapters", "list"], capture_output=True, text=True, check=True).stdout
    assert "json-v1" in out.split()
