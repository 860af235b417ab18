"""Supervisory report from the leaves alone."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
from typing import Any

import pytest

from services.audit.report import RESPONSE_COLUMNS, build_report
from services.cases.calendar import calendar_for
from services.kernel.audit_events import AuditEmitter, AuditEventType

T0 = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _leaf(
    event_type: AuditEventType,
    at: dt.datetime,
    recipients: list[str],
    purpose: str | None,
    outcome: str,
    *,
    component: str = "router",
    source: str | None = None,
    **fields: Any,
) -> bytes:
    """A leaf of the log: ``component``'s event as ``AuditEmitter`` makes it, acted by crx, with ``source`` as its
    source jurisdiction and ``fields`` (keyword arguments of ``AuditEmitter.event``); ids never repeat."""
    emitter = AuditEmitter(component, "crx.audit", b"secret")
    return emitter.event(
        event_type, occurred_at=at, actor="crx", outcome=outcome, recipients=recipients, purpose=purpose,
        source_jurisdiction=source, discriminator=str(uuid.uuid4()), **fields,
    ).value  # fmt: skip


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


def test_lookups_are_counted_apart_from_disclosures() -> None:
    """A lookup's event (DISCLOSURE with message type LOOKUP) is counted as LOOKUP, never as a disclosure of a
    record; and it opens no case."""
    lookup = _leaf(
        AuditEventType.DISCLOSURE, T0 + dt.timedelta(hours=2), ["FR"], "CRIMINAL_PROCEEDINGS", "ok",
        message_type="LOOKUP", message_id="l1", component="lookup", hits=["DE"],
    )  # fmt: skip
    report = build_report([*_log(), (5, lookup)], T0, T0 + dt.timedelta(days=30))
    rows = {(r["partner"], r["event_type"], r["outcome"]): r["count"] for r in report.rows()}
    assert (rows[("FR", "DISCLOSURE", "ok")], rows[("FR", "LOOKUP", "ok")]) == (2, 1)
    assert report.response_times == []


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


# Response times: requests disclosed in December 2026 (UTC), mostly from PL to DE for criminal proceedings.
DECEMBER = (dt.datetime(2026, 12, 1, tzinfo=dt.UTC), dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
CP = "CRIMINAL_PROCEEDINGS"
DISCLOSURE, REFUSAL = AuditEventType.DISCLOSURE, AuditEventType.REFUSAL


def _at(month: int, day: int, hour: int) -> dt.datetime:
    """An hour (UTC) of December 2026 or January 2027."""
    return dt.datetime(2026 if month == 12 else 2027, month, day, hour, tzinfo=dt.UTC)


def _request(request_id: str, at: dt.datetime, requesting: str, requested: str, purpose: str = CP) -> bytes:
    """The router's disclosure of a REQUEST to one requested state, with the case's deadline (10 working days)."""
    deadline = calendar_for(requested).add_working_days(at, 10)
    return _leaf(
        DISCLOSURE, at, [requested], purpose, "ok", message_type="REQUEST", message_id=request_id,
        source=requesting, requesting_authority="Sad Rejonowy", deadline=deadline,
    )  # fmt: skip


def _reply(message_type: str, request_id: str, at: dt.datetime, sender: str, to: str, purpose: str = CP) -> bytes:
    """The router's disclosure of a reply to ``request_id`` (a RESPONSE, a cancellation, ...)."""
    return _leaf(DISCLOSURE, at, [to], purpose, "ok", message_type=message_type, reply_to=request_id, source=sender)


def _notice(message_type: str, request_id: str, at: dt.datetime, requesting: str, requested: str) -> bytes:
    """The case service's reminder or overdue notice to the requested state."""
    return _leaf(
        DISCLOSURE, at, [requested], CP, "ok", message_type=message_type, reply_to=request_id, source=requesting,
        component="cases",
    )  # fmt: skip


def _orphan(at: dt.datetime, responder: str, to: str) -> bytes:
    """The router's refusal of a RESPONSE that names no open request."""
    return _leaf(
        REFUSAL, at, [to], CP, "refused", message_type="RESPONSE", reply_to="unknown", source=responder,
        reason="NO_OPEN_REQUEST",
    )  # fmt: skip


def _case_log() -> list[tuple[int, bytes]]:
    leaves = [
        _request("r7", _at(11, 20, 10), "FR", "PL"),  # before the period: not reported, though answered in it
        _orphan(_at(11, 25, 9), "DE", "PL"),  # before the period: not reported
        _request("r5", _at(12, 1, 10), "PL", "DE"),  # never answered, due 15 Dec: open and overdue
        _leaf(REFUSAL, _at(12, 1, 10), ["US"], CP, "refused", message_type="REQUEST", message_id="r5", source="PL"),
        _request("r2", _at(12, 7, 10), "PL", "DE"),  # due at the end of Mon 21 Dec, answered Tue 22: overdue
        _request("r3", _at(12, 10, 10), "PL", "DE"),
        _reply("REQUEST/CANCELLATION", "r3", _at(12, 11, 9), "PL", "DE"),
        _orphan(_at(12, 12, 9), "DE", "PL"),  # DE answers r3 after its cancellation: refused
        _reply("RESPONSE", "r7", _at(12, 14, 9), "PL", "FR"),
        _request("r1", _at(12, 18, 13), "PL", "DE"),  # Fri 14:00 in Berlin
        _request("r1", _at(12, 18, 13), "PL", "FR"),  # the same request to FR: nobody answers it
        _request("r6", _at(12, 18, 13), "FR", "DE", "EMPLOYMENT"),
        _reply("RESPONSE", "r6", _at(12, 18, 16), "DE", "FR", "EMPLOYMENT"),  # the same day: 0 working days
        _notice("CASE_NOTICE/OVERDUE", "r5", _at(12, 16, 8), "PL", "DE"),
        _reply("RESPONSE", "r2", _at(12, 22, 8), "DE", "PL"),
        _reply("RESPONSE", "r1", _at(12, 22, 9), "DE", "PL"),  # Tue 10:00 in Berlin: working day 2
        _reply("REQUEST/CANCELLATION", "r1", _at(12, 23, 9), "PL", "DE"),  # too late: r1 is answered
        _request("r4", _at(12, 28, 10), "PL", "DE"),
        _request("r8", _at(12, 30, 10), "PL", "DE"),  # due 13 Jan: open, not overdue
        _reply("RESPONSE/MORE_INFORMATION_REQUEST", "r8", _at(12, 31, 10), "DE", "PL"),  # not an answer
        _reply("RESPONSE", "r8", _at(12, 31, 10), "FR", "PL"),  # r8 was not asked of FR: not DE's answer
        _orphan(_at(12, 31, 11), "US", "DE"),
        _reply("RESPONSE", "r4", _at(1, 4, 8), "DE", "PL"),  # after the period: still r4's answer
        _reply("RESPONSE", "r2", _at(1, 5, 8), "DE", "PL"),  # a second answer: the first one counts
    ]
    return list(enumerate(leaves))


def test_response_times_per_requesting_requested_and_purpose() -> None:
    """Requests disclosed in the period (a refused one opens no case), settled by the first answer or
    cancellation anywhere in the log; overdue when answered late or open past the deadline; times in hours and
    in DE working days (nearest-rank p90); refused orphan responses of the period under the pair; other
    replies and case notices change nothing."""
    report = build_report(_case_log(), *DECEMBER)
    rows = {(r["requesting"], r["requested"], r["purpose"]): r for r in report.response_rows()}
    assert list(rows) == [("DE", "US", CP), ("FR", "DE", "EMPLOYMENT"), ("PL", "DE", CP), ("PL", "FR", CP)]  # no PL/US
    counts = ("requests", "answered", "cancelled", "open", "overdue", "orphan_responses")
    times = ("median_hours", "p90_hours", "max_hours", "median_working_days", "p90_working_days", "max_working_days")
    assert [rows[("PL", "DE", CP)][c] for c in counts] == [6, 3, 1, 2, 2, 1]
    # r1 92 h (Fri 18 to Tue 22 Dec, 2 working days), r4 166 h (Mon 28 Dec to Mon 4 Jan past New Year: 4),
    # r2 358 h (Mon 7 to Tue 22 Dec: 11)
    assert [rows[("PL", "DE", CP)][c] for c in times] == [166.0, 358.0, 358.0, 4, 11, 11]
    assert [rows[("FR", "DE", "EMPLOYMENT")][c] for c in counts + times] == [1, 1, 0, 0, 0, 0, 3.0, 3.0, 3.0, 0, 0, 0]
    assert [rows[("PL", "FR", CP)][c] for c in counts + times] == [1, 0, 0, 1, 0, 0, *[None] * 6]
    assert [rows[("DE", "US", CP)][c] for c in counts] == [0, 0, 0, 0, 0, 1]


def test_response_times_in_json_and_csv() -> None:
    """JSON carries the response-time rows beside the counts; the CSV of that table has the same rows, a time
    that does not exist left empty; an unknown table is refused."""
    report = build_report(_case_log(), *DECEMBER)
    doc = json.loads(report.as_json())
    assert doc["response_times"] == report.response_rows() and len(doc["rows"]) > 0
    lines = list(csv.DictReader(io.StringIO(report.as_csv("response-times"))))
    assert tuple(lines[0]) == RESPONSE_COLUMNS
    assert [line["median_working_days"] for line in lines] == ["", "0", "4", ""]
    assert [int(line["requests"]) for line in lines] == [r["requests"] for r in doc["response_times"]]
    with pytest.raises(ValueError):
        report.as_csv("cases")


def test_the_deadline_itself_is_in_time() -> None:
    """An answer at the deadline's last millisecond is in time, one a millisecond later is overdue; an open
    request is overdue once its deadline is before the report's end, not at it."""
    start = DECEMBER[0]
    due = calendar_for("DE").add_working_days(_at(12, 1, 10), 10)
    leaves = [
        _request("on-time", _at(12, 1, 10), "PL", "DE"),
        _request("late", _at(12, 1, 10), "PL", "DE"),
        _reply("RESPONSE", "on-time", due, "DE", "PL"),
        _reply("RESPONSE", "late", due + dt.timedelta(milliseconds=1), "DE", "PL"),
    ]
    [row] = build_report(enumerate(leaves), start, due).response_rows()
    assert (row["answered"], row["overdue"]) == (2, 1)
    later = due + dt.timedelta(days=1)
    open_leaves = list(enumerate([*leaves[:2], _notice("CASE_NOTICE/OVERDUE", "late", later, "PL", "DE")]))
    [at_deadline] = build_report(open_leaves, start, due).response_rows()
    [after_deadline] = build_report(open_leaves, start, due + dt.timedelta(milliseconds=1)).response_rows()
    assert (at_deadline["open"], at_deadline["overdue"]) == (2, 0)
    assert (after_deadline["open"], after_deadline["overdue"]) == (2, 2)


def test_a_report_to_a_future_date_predicts_nothing() -> None:
    """An open request is overdue only once the log itself has passed its deadline: a report run today up to the
    end of the month does not call a request overdue because its deadline falls before the month's end."""
    asked = _at(12, 1, 10)
    due = calendar_for("DE").add_working_days(asked, 10)
    leaves = [
        _request("r", asked, "PL", "DE"),
        _notice("CASE_NOTICE/REMINDER", "r", asked + dt.timedelta(days=5), "PL", "DE"),
    ]
    [row] = build_report(enumerate(leaves), DECEMBER[0], DECEMBER[1]).response_rows()
    assert due < DECEMBER[1] and (row["open"], row["overdue"]) == (1, 0)
    overdue = [*leaves, _notice("CASE_NOTICE/OVERDUE", "r", due + dt.timedelta(hours=1), "PL", "DE")]
    [row] = build_report(enumerate(overdue), DECEMBER[0], DECEMBER[1]).response_rows()
    assert (row["open"], row["overdue"]) == (1, 1)


def test_the_first_of_answer_and_cancellation_settles_a_case() -> None:
    """Cancelled, then answered (the answer crossed the cancellation): cancelled; answered and cancelled at the
    same instant: answered; cancelled, answered, cancelled again: still cancelled."""
    t = _at(12, 1, 10)
    hour = dt.timedelta(hours=1)
    leaves = [
        _request("crossed", t, "PL", "DE"),
        _reply("REQUEST/CANCELLATION", "crossed", t + hour, "PL", "DE"),
        _reply("RESPONSE", "crossed", t + 2 * hour, "DE", "PL"),
        _request("tie", t, "PL", "DE"),
        _reply("RESPONSE", "tie", t + hour, "DE", "PL"),
        _reply("REQUEST/CANCELLATION", "tie", t + hour, "PL", "DE"),
        _request("twice", t, "PL", "DE"),
        _reply("REQUEST/CANCELLATION", "twice", t + hour, "PL", "DE"),
        _reply("RESPONSE", "twice", t + 2 * hour, "DE", "PL"),
        _reply("REQUEST/CANCELLATION", "twice", t + 3 * hour, "PL", "DE"),
    ]
    [row] = build_report(enumerate(leaves), *DECEMBER).response_rows()
    assert (row["requests"], row["answered"], row["cancelled"], row["open"]) == (3, 1, 2, 0)
