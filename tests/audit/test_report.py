"""Supervisory report from the leaves alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid

import pytest

from schemas import AUDIT_EVENT
from schemas.records import AuditEvent
from services.audit.report import build_report
from services.kernel.audit_events import AuditEventType
from services.kernel.codec import typed_codec

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _leaf(
    event_type: AuditEventType, at: dt.datetime, recipients: list[str], purpose: str | None, outcome: str
) -> bytes:
    event: AuditEvent = {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type.symbol,
        "occurred_at": at,
        "component": "router",
        "actor": "crx",
        "recipients": recipients,
        "legal_basis": None,
        "purpose": purpose,
        "message_id": None,
        "submission_id": None,
        "reply_to": None,
        "source_jurisdiction": None,
        "outcome": outcome,
        "reason": None,
        "rule": None,
        "payload_commitment": None,
        "message_type": None,
        "requesting_authority": None,
        "deadline": None,
    }
    return typed_codec(AUDIT_EVENT).encode(event)


def _log() -> list[tuple[int, bytes]]:
    events = [
        (AuditEventType.COLLECTION, T0, [], None, "ok"),
        (AuditEventType.DISCLOSURE, T0 + dt.timedelta(hours=1), ["FR", "PL"], "CRIMINAL_PROCEEDINGS", "ok"),
        (AuditEventType.DISCLOSURE, T0 + dt.timedelta(days=1), ["FR"], "CRIMINAL_PROCEEDINGS", "ok"),
        (AuditEventType.REFUSAL, T0 + dt.timedelta(days=2), ["US"], "CRIMINAL_PROCEEDINGS", "refused"),
        (AuditEventType.DISCLOSURE, T0 + dt.timedelta(days=40), ["FR"], "CRIMINAL_PROCEEDINGS", "ok"),  # outside
    ]
    return [(i, _leaf(*e)) for i, e in enumerate(events)]


def test_counts_per_partner_purpose_type_and_outcome() -> None:
    """Each recipient counts once per event; events outside [from, to) are left out; no partner is '-'."""
    report = build_report(_log(), T0, T0 + dt.timedelta(days=30))
    rows = {(r["partner"], r["event_type"], r["outcome"]): r["count"] for r in report.rows()}
    assert rows == {
        ("-", "COLLECTION", "ok"): 1,
        ("FR", "DISCLOSURE", "ok"): 2,
        ("PL", "DISCLOSURE", "ok"): 1,
        ("US", "REFUSAL", "refused"): 1,
    }
    assert (report.events, report.first_index, report.last_index) == (4, 0, 3)


def test_json_and_csv_carry_the_same_rows() -> None:
    """Both outputs hold the same rows; the JSON also states the period and the leaf range."""
    report = build_report(_log(), T0, T0 + dt.timedelta(days=30))
    doc = json.loads(report.as_json())
    assert doc["events"] == 4 and doc["leaf_indexes"] == [0, 3] and doc["from"].startswith("2026-11-01")
    from_csv = list(csv.DictReader(io.StringIO(report.as_csv())))
    assert [{**r, "count": int(r["count"])} for r in from_csv] == doc["rows"]


def test_naive_bounds_are_refused() -> None:
    """Bounds must say their time zone: a report period is a legal fact."""
    with pytest.raises(ValueError):
        build_report(_log(), dt.datetime(2026, 11, 1), T0)
