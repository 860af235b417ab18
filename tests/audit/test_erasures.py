"""Overdue erasure receipts from a real audit store, at an injected instant: a recipient owes one for each record
past its retention end, or deleted, plus the grace, until an ERASURE from it is logged; the audit service's
gauge and ``crx audit report --table erasures`` say how many per recipient, and the oldest due date."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

from click.testing import CliRunner
from prometheus_client import CollectorRegistry

from services.audit.erasure_watch import ErasureWatch
from services.audit.erasures import erasure_report
from services.audit.sqlite_store import SqliteAuditStore
from services.cli.main import main
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.config import Settings

T0 = dt.datetime(2027, 1, 10, 9, tzinfo=dt.UTC)
ROUTER = AuditEmitter("router", "crx.audit", b"secret")
WRITER = AuditEmitter("audit", "crx.audit", b"secret")


def _disclosure(key: str, version: int, message_id: str, recipients: list[str], message_type: str = "NOTIFICATION",
                at: dt.datetime = T0, retention_end: dt.date | None = None) -> bytes:  # fmt: skip
    return ROUTER.event(
        AuditEventType.DISCLOSURE, occurred_at=at, actor="crx", outcome="ok", message_id=message_id,
        recipients=recipients, rule=f"ecris/{recipients[0]}", message_type=message_type, record_key=key,
        record_version=version, retention_end=retention_end,
    ).value  # fmt: skip


def _erasure(party: str, message_id: str, at: dt.datetime) -> bytes:
    return WRITER.event(
        AuditEventType.ERASURE, occurred_at=at, actor=party, outcome="erased", message_id=message_id,
        recipients=[party], discriminator=f"receipt-{party}-{message_id}",
    ).value  # fmt: skip


def _store(path: Path) -> SqliteAuditStore:
    """A log: record a to FR and PL until 2027-02-01 (PL confirmed its erasure); record b to FR, updated to v2
    until 2027-03-01; record c to PL, deleted on 2027-02-10 (no receipt); record d to FR without an end."""
    store = SqliteAuditStore(str(path))
    store.append([
        _disclosure("a" * 32, 1, "m-a1", ["FR", "PL"], retention_end=dt.date(2027, 2, 1)),
        _disclosure("b" * 32, 1, "m-b1", ["FR"], retention_end=dt.date(2027, 1, 20)),
        _disclosure("b" * 32, 2, "m-b2", ["FR"], "UPDATE", T0 + dt.timedelta(days=1), dt.date(2027, 3, 1)),
        _disclosure("c" * 32, 1, "m-c1", ["PL"], retention_end=dt.date(2027, 9, 1)),
        _disclosure("c" * 32, 2, "m-c2", ["PL"], "DELETION", dt.datetime(2027, 2, 10, tzinfo=dt.UTC)),
        _disclosure("d" * 32, 1, "m-d1", ["FR"]),
        _erasure("PL", "m-a1", dt.datetime(2027, 2, 1, 1, tzinfo=dt.UTC)),
        _erasure("FR", "m-b1", dt.datetime(2027, 1, 20, 1, tzinfo=dt.UTC)),  # erased v1, then v2 came
    ])  # fmt: skip
    return store


def test_overdue_receipts_per_recipient_at_an_instant(tmp_path: Path) -> None:
    """Before any due date nothing is owed; past a's end plus the grace FR owes a (PL erased it); past c's
    deletion plus the grace PL owes c; past b's second end FR owes b too (its v1 erasure does not cover v2)."""
    store = _store(tmp_path / "audit.sqlite3")

    def at(year: int, month: int, day: int, hour: int = 0) -> dict[str, int]:
        return erasure_report(store.leaves(), dt.datetime(year, month, day, hour, tzinfo=dt.UTC), 2.0).overdue()

    assert at(2027, 2, 2) == {"FR": 0, "PL": 0}
    assert at(2027, 2, 4) == {"FR": 1, "PL": 0}
    assert at(2027, 2, 13) == {"FR": 1, "PL": 1}
    assert at(2027, 3, 4) == {"FR": 2, "PL": 1}
    report = erasure_report(store.leaves(), dt.datetime(2027, 3, 4, tzinfo=dt.UTC), 2.0)
    assert report.rows() == [
        {"recipient": "FR", "overdue": 2, "oldest_due": "2027-02-03T00:00:00+00:00"},
        {"recipient": "PL", "overdue": 1, "oldest_due": "2027-02-12T00:00:00+00:00"},
    ]
    store.append([_erasure("FR", "m-a1", dt.datetime(2027, 3, 3, tzinfo=dt.UTC))])
    assert at(2027, 3, 4) == {"FR": 1, "PL": 1}
    assert at(2027, 3, 2, 12) == {"FR": 1, "PL": 1}  # an ERASURE logged after the instant does not count yet


async def test_the_audit_service_gauge(tmp_path: Path, settings: Settings) -> None:
    """The audit service's watch publishes crx_erasure_receipts_overdue per recipient (0 for none owed)."""
    store = _store(tmp_path / "audit.sqlite3")
    registry = CollectorRegistry()
    watch = ErasureWatch(settings, store, registry, clock=lambda: dt.datetime(2027, 2, 13, tzinfo=dt.UTC))
    await watch.run_once()

    def value(recipient: str) -> float | None:
        return registry.get_sample_value("crx_erasure_receipts_overdue", {"recipient": recipient})

    assert (value("FR"), value("PL")) == (1.0, 1.0)
    store.append([_erasure("PL", "m-c2", dt.datetime(2027, 2, 12, tzinfo=dt.UTC))])
    await watch.run_once()
    assert (value("FR"), value("PL")) == (1.0, 0.0)


def test_the_report_command(tmp_path: Path) -> None:
    """``crx audit report --table erasures`` prints per recipient the count and oldest due date, no record key."""
    data = tmp_path / "data"
    _store(data / "audit.sqlite3").close()
    runner = CliRunner(env={"CRX_DATA_DIR": str(data), "CRX_ERASURE_GRACE_DAYS": "1"})
    args = ["audit", "report", "--table", "erasures", "--now", "2027-02-12"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["erasures"] == [
        {"recipient": "FR", "overdue": 1, "oldest_due": "2027-02-02T00:00:00+00:00"},
        {"recipient": "PL", "overdue": 1, "oldest_due": "2027-02-11T00:00:00+00:00"},
    ]
    assert "aaaa" not in result.output and "m-a1" not in result.output
    csv_out = runner.invoke(main, [*args, "--format", "csv"])
    assert next(iter(csv.DictReader(io.StringIO(csv_out.output)))) == {
        "recipient": "FR", "overdue": "1", "oldest_due": "2027-02-02T00:00:00+00:00",
    }  # fmt: skip
    refused = runner.invoke(main, ["audit", "report"])
    assert refused.exit_code == 2 and "--from and --to" in refused.output
