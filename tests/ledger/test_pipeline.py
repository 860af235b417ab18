"""The disclosure ledger through the whole pipeline on the real broker: a notification to FR and PL, the
person's nationality changes, an update and a deletion still reach both, a stale version is refused; and the
ledger rebuilt from the audit log alone is the ledger the router wrote."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from services.audit.accounting import account
from services.devstack.pipeline import Pipeline
from services.intake.publisher import PushResult, Submission
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from services.ledger.rebuild import rebuild
from services.ledger.store import DisclosureLedger
from tests.integration.helpers import running, sample_json, wait_for

pytestmark = pytest.mark.integration


def version(n: int, kind: str, nationalities: list[str]) -> bytes:
    doc = sample_json("DE-notification-fr-pl.json")
    doc.update(version=n, type=kind)
    doc["person"]["nationalities"] = nationalities
    return json.dumps(doc).encode()


async def push(pipeline: Pipeline, payload: bytes) -> PushResult:
    [result] = await pipeline.publisher.publish([Submission("DE", "json-v1", payload)], dt.datetime.now(dt.UTC))
    assert result.accepted, result
    await wait_for(lambda: account(pipeline.store, [result.submission_id]).complete, 60)
    return result


def ms(at: dt.datetime) -> dt.datetime:
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def test_update_and_deletion_reach_every_earlier_recipient(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    async with running(settings, keyring) as pipeline:
        first = await push(pipeline, version(1, "NOTIFICATION", ["FR", "PL"]))
        # Each recipient's view carries its erase-by date: PL's profile (ecris-minimal) drops the record's own
        # retention end, yet PL gets the day its agreement (1825 days) says, so its client can purge on time.
        held = {p: [json.loads(f.read_text()) for f in (pipeline.out_dir / p).glob("*.json")] for p in ("FR", "PL")}
        today = dt.datetime.now(dt.UTC).date()
        [pl] = held["PL"]
        assert {c["retention_end"] for c in pl["convictions"]} == {(today + dt.timedelta(days=1825)).isoformat()}
        [fr] = held["FR"]
        assert {c["retention_end"] for c in fr["convictions"]} == {(today + dt.timedelta(days=3650)).isoformat()}
        update = await push(pipeline, version(2, "UPDATE", ["FR"]))  # no longer a PL national
        deletion = await push(pipeline, version(3, "DELETION", ["FR"]))
        stale = await push(pipeline, version(1, "NOTIFICATION", ["FR"]))  # version 1 again, arriving late
        delivered = {
            r.submission_id: account(pipeline.store, [r.submission_id]).delivered for r in (first, update, deletion)
        }
        stale_events = pipeline.store.events(submission_id=stale.submission_id)
        leaves = list(pipeline.store.leaves())
    assert all(d == {"FR": 1, "PL": 1} for d in delivered.values()), delivered
    assert [(e["reason"], e["record_version"]) for e in stale_events if e["event_type"] == "REFUSAL"] == [
        ("STALE_VERSION", 1)
    ]
    ledger = DisclosureLedger.open(settings)
    rows = ledger.rows()
    ledger.close()
    assert [(r.recipient, r.version, r.message_type) for r in rows] == [
        ("FR", 1, "NOTIFICATION"), ("FR", 2, "UPDATE"), ("FR", 3, "DELETION"),
        ("PL", 1, "NOTIFICATION"), ("PL", 2, "UPDATE"), ("PL", 3, "DELETION"),
    ]  # fmt: skip
    assert {r.agreement for r in rows} == {"ecris-DE-FR", "ecris-DE-PL"} and all(r.retention_end for r in rows[:2])

    rebuilt = DisclosureLedger(str(tmp_path / "rebuilt.sqlite3"))
    assert rebuild(rebuilt, leaves) == len(rows)
    assert rebuild(rebuilt, leaves) == len(rows)  # again: nothing added twice
    again = rebuilt.rows()
    rebuilt.close()
    assert [r.__class__(**{**r.__dict__, "disclosed_at": ms(r.disclosed_at)}) for r in rows] == again
