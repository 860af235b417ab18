"""`crx demo --once --json` on a fresh data dir: everything accounted for, audit verified, nothing left running;
the record's life: no partner keeps a deleted record, one ERASURE per deletion and recipient."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ParseContext, get_adapter
from schemas.records import CriminalRecord
from services.audit.store import open_store
from services.devstack.lifecycle import lifecycle_steps
from services.kernel.config import Settings
from services.kernel.recordkey import record_key
from services.ledger.store import DisclosureLedger

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


@dataclass(frozen=True)
class DemoOutcome:
    """One ``crx demo --once --json`` run: its data directory, its JSON line, the tag of its processes."""

    data_dir: Path
    result: dict[str, Any]
    tag: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoOutcome:
    """``crx demo --once --json`` run once on a fresh data dir, for every test of this module."""
    tmp_path = tmp_path_factory.mktemp("demo")
    tag = uuid.uuid4().hex
    env = {k: v for k, v in os.environ.items() if k != "CRX_KAFKA_BOOTSTRAP"} | {"DEMO_TEST_TAG": tag}
    crx = Path(sys.executable).parent / "crx"
    ports = ["--metrics-port", "0", "--intake-port", "0", "--audit-port", "0"]
    proc = subprocess.run(
        [str(crx), "demo", "--once", "--json", "--data-dir", str(tmp_path), *ports],
        capture_output=True, text=True, timeout=240, env=env, check=False,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return DemoOutcome(tmp_path, json.loads(proc.stdout.strip().splitlines()[-1]), tag)


def test_demo_once_json_balances_and_cleans_up(demo: DemoOutcome) -> None:
    """The demo prints the accounting JSON, balances, verifies the audit log and stops its broker."""
    result = demo.result
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
    assert not _tansu_pids(demo.tag), "the demo left a broker process behind"
    assert list((demo.data_dir / "out" / "FR").glob("*.json"))


def _held(out: Path) -> dict[str, set[str]]:
    """Per party, the ledger key (``key_of``) of every record its output directory holds."""
    return {
        party.name: {key_of(json.loads(f.read_text("utf-8"))) for f in party.glob("*.json") if len(f.stem) == 64}
        for party in out.iterdir()
    }


def test_demo_shows_the_record_life_and_no_partner_keeps_a_deleted_record(demo: DemoOutcome) -> None:
    """After the demo (the lifecycle sample set: FR+PL notified, nationality now PL only, an update, a stale
    resubmission, a deletion; a record whose retention ended): no partner output holds a record its last
    disclosure deleted or whose retention ended, the audit log has exactly one ERASURE per deletion disclosed
    to a recipient, and ``lifecycle`` counts what the audit log holds."""
    settings = Settings(data_dir=demo.data_dir)
    store = open_store(settings, create=False)
    ledger = DisclosureLedger.open(settings)
    try:
        events = store.events()
        rows = ledger.rows()
    finally:
        store.close()
        ledger.close()
    life = demo.result["lifecycle"]
    [person] = {key_of(r) for r in _lifecycle_records() if r["header"]["message_type"] == "DELETION"}
    mine = [(r.recipient, r.version, r.message_type) for r in rows if r.record_key == person]
    assert mine == [
        ("FR", 1, "NOTIFICATION"), ("FR", 2, "UPDATE"), ("FR", 3, "UPDATE"), ("FR", 4, "DELETION"),
        ("PL", 1, "NOTIFICATION"), ("PL", 2, "UPDATE"), ("PL", 3, "UPDATE"), ("PL", 4, "DELETION"),
    ], mine  # fmt: skip

    held = _held(demo.data_dir / "out")
    last: dict[tuple[str, str], tuple[int, bool]] = {}
    for row in rows:  # ordered by key, recipient, version, then the deletion of a version after its content
        last[(row.record_key, row.recipient)] = (row.version, row.message_type == "DELETION")
    deleted = {pair for pair, (_, gone) in last.items() if gone}
    assert (person, "FR") in deleted and (person, "PL") in deleted
    assert not {(key, party) for party, keys in held.items() for key in keys} & deleted
    today = dt.datetime.now(dt.UTC).date()
    expired = {(r.record_key, r.recipient) for r in rows if r.retention_end is not None and r.retention_end <= today}
    assert expired and not {(key, party) for party, keys in held.items() for key in keys} & expired

    def triple(e: dict[str, Any]) -> tuple[str, str, str]:
        return str(e["message_id"]), e["recipients"][0], str(e["submission_id"])

    deletions = [
        triple(e) for e in events
        if e["event_type"] == "DISCLOSURE" and e["record_key"] is not None and e["message_type"] == "DELETION"
    ]  # fmt: skip
    erasures = Counter(triple(e) for e in events if e["event_type"] == "ERASURE")
    assert deletions and all(erasures[d] == 1 for d in deletions), (deletions, erasures)
    assert max(erasures.values()) == 1
    assert life["deletions"] == len(deletions) and life["erasure_receipts"] == erasures.total()
    assert life["updates"] >= 4 and life["stale_refused"] >= 1 and life["retention_purged"] >= 1
    assert life["erasure_receipts"] >= life["deletions"] + life["retention_purged"]
    stale = [e for e in events if e["event_type"] == "REFUSAL" and e["reason"] == "STALE_VERSION"]
    assert life["stale_refused"] == len(stale) and any(e["record_key"] == person for e in stale)


def _lifecycle_records() -> list[CriminalRecord]:
    """The canonical records of the lifecycle sample set (as parsed now)."""
    now = dt.datetime.now(dt.UTC)
    return [
        record
        for step in lifecycle_steps()
        for sub in step
        for record in get_adapter(sub.adapter).parse(sub.payload, ParseContext(sub.jurisdiction, now))
    ]


def key_of(record: CriminalRecord | dict[str, Any]) -> str:
    """The disclosure ledger's key of a record (decoded, or read back from a partner's JSON file)."""
    header = record["header"]
    return record_key(header["source_jurisdiction"], header["source_record_id"]).hex()


def test_adapters_list_names_json_v1() -> None:
    """`crx adapters list` prints the registered adapters."""
    crx = Path(sys.executable).parent / "crx"
    out = subprocess.run([str(crx), "adapters", "list"], capture_output=True, text=True, check=True).stdout
    assert "json-v1" in out.split()
