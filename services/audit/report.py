"""Supervisory reports from the audit log alone: counts per partner, purpose, event type and outcome, and
the response times of requests.

The input is the log's leaves (the audit events' canonical bytes), decoded here, not any index table: what
a supervisor counts is exactly what the Merkle tree commits to. An event with several recipients counts
once per recipient (a disclosure to FR and PL is two disclosures); an event with none is counted under
the partner ``-``. Only ids and codes are in an audit event, so a report holds no personal data. A lookup's
event (a DISCLOSURE with message type LOOKUP: which states hold a record, told to the requesting state) is
counted under the event type ``LOOKUP``, never as a disclosure of a record.

Response times follow the cases in the log: a case is the router's DISCLOSURE of a ``REQUEST`` to one
requested state (it carries the case's deadline); a DISCLOSURE of a ``RESPONSE`` from that state naming the
request in ``reply_to`` answers it, a DISCLOSURE of a ``REQUEST/CANCELLATION`` to it cancels it, whichever
comes first (later ones change nothing). A REFUSAL with reason ``NO_OPEN_REQUEST`` is a response that matched
no open case. Requests disclosed in [start, end) are reported; their answers and cancellations are looked for
in the whole log given, so a report run again on a longer log moves requests from open to answered. A request
is overdue when answered after its deadline, or still open with its deadline before the report's end or the
log's last event, whichever is earlier (the log's own clock: a report to a future date predicts nothing; a
request disclosed without a deadline is never overdue). A case suspended for more information keeps the
deadline of its disclosure here. Other replies (``RESPONSE/MORE_INFORMATION_REQUEST``, ...)
and the case notices leave a case as it is.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from schemas import AUDIT_EVENT
from schemas.records import AuditEvent
from services.cases.calendar import calendar_for
from services.kernel.audit_events import LOOKUP, is_lookup
from services.kernel.codec import typed_codec

NO_PARTNER = "-"
COLUMNS = ("partner", "purpose", "event_type", "outcome", "count")
RESPONSE_COLUMNS = (
    "requesting",
    "requested",
    "purpose",
    "requests",
    "answered",
    "cancelled",
    "open",
    "overdue",
    "median_hours",
    "p90_hours",
    "max_hours",
    "median_working_days",
    "p90_working_days",
    "max_working_days",
    "orphan_responses",
)
TABLES = ("counts", "response-times")  # what as_csv can write
REQUEST, RESPONSE, CANCELLATION = "REQUEST", "RESPONSE", "REQUEST/CANCELLATION"  # message_type of case events
NO_OPEN_REQUEST = "NO_OPEN_REQUEST"  # the refusal reason of a response without an open case

Key = tuple[str, str, str, str]
RowKey = tuple[str, str, str]  # requesting state, requested state, purpose
CaseKey = tuple[str, str]  # the request's message id, the requested state
Cell = str | int | float | None


@dataclass
class ResponseTimes:
    """The requests from ``requesting`` to ``requested`` for ``purpose`` and how they were answered.

    ``answered + cancelled + open == requests``; ``overdue`` counts the late answers and the open requests past
    their deadline. The times are those of the answered requests: hours, and working days of the requested
    state (``working_days_between``: an answer on the day of receipt is 0). ``orphan_responses`` counts refused
    responses without an open case, by the purpose they carried.
    """

    requesting: str
    requested: str
    purpose: str
    requests: int = 0
    answered: int = 0
    hours: list[float] = field(default_factory=list)  # per answered request
    working_days: list[int] = field(default_factory=list)  # per answered request
    cancelled: int = 0
    open: int = 0
    overdue: int = 0
    orphan_responses: int = 0

    def row(self) -> dict[str, Cell]:
        """The row: counts, then median, 90th percentile (nearest rank) and maximum (None without answers)."""
        hours = _spread(self.hours)
        days = _spread(self.working_days)
        cells: tuple[Cell, ...] = (
            self.requesting,
            self.requested,
            self.purpose,
            self.requests,
            self.answered,
            self.cancelled,
            self.open,
            self.overdue,
            *(None if h is None else round(h, 2) for h in hours),
            *days,
            self.orphan_responses,
        )
        return dict(zip(RESPONSE_COLUMNS, cells, strict=True))


@dataclass
class Report:
    """Counts over [start, end) (UTC), keyed by (partner, purpose, event type, outcome), and the response
    times of the requests disclosed in it, one row per (requesting, requested, purpose), sorted."""

    start: dt.datetime
    end: dt.datetime
    counts: Counter[Key] = field(default_factory=Counter)
    response_times: list[ResponseTimes] = field(default_factory=list)
    events: int = 0
    first_index: int | None = None
    last_index: int | None = None

    def rows(self) -> list[dict[str, str | int]]:
        """One row per key, sorted, with its count."""
        return [dict(zip(COLUMNS, (*key, n), strict=True)) for key, n in sorted(self.counts.items())]

    def response_rows(self) -> list[dict[str, Cell]]:
        """One row per (requesting, requested, purpose), sorted (see ``ResponseTimes.row``)."""
        return [times.row() for times in self.response_times]

    def as_json(self) -> str:
        """The report as one JSON document (period, number of events, leaf index range, rows, response times)."""
        return json.dumps(
            {
                "from": self.start.isoformat(),
                "to": self.end.isoformat(),
                "events": self.events,
                "leaf_indexes": [self.first_index, self.last_index],
                "rows": self.rows(),
                "response_times": self.response_rows(),
            },
            indent=2,
        )

    def as_csv(self, table: str = "counts") -> str:
        """One table as CSV with a header line: the counts, or the response times (a missing time is empty).

        Raises ValueError for a table not in ``TABLES``.
        """
        if table not in TABLES:
            raise ValueError(f"no table {table!r}; tables are {', '.join(TABLES)}")
        columns, rows = (COLUMNS, self.rows()) if table == "counts" else (RESPONSE_COLUMNS, self.response_rows())
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        return out.getvalue()


@dataclass(frozen=True)
class _Case:
    """A request's disclosure to one requested state: who asked, for what, when, and by when."""

    requesting: str
    requested: str
    purpose: str
    opened_at: dt.datetime
    deadline: dt.datetime | None


@dataclass
class _Cases:
    """The case events of a whole log: each case, the first answer and cancellation of each, refused orphans."""

    requests: dict[CaseKey, _Case] = field(default_factory=dict)
    answers: dict[CaseKey, dt.datetime] = field(default_factory=dict)
    cancellations: dict[CaseKey, dt.datetime] = field(default_factory=dict)
    orphans: list[tuple[dt.datetime, RowKey]] = field(default_factory=list)
    latest: dt.datetime | None = None  # the log's own clock: the last act it records

    def add(self, event: AuditEvent) -> None:
        """Keep what ``event`` says about cases, if anything."""
        at, reply_to, source = event["occurred_at"], event["reply_to"], event["source_jurisdiction"]
        self.latest = at if self.latest is None else max(self.latest, at)
        if event["event_type"] == "REFUSAL" and event["reason"] == NO_OPEN_REQUEST:
            # The responder is the source; the recipient it addressed is the state that would have asked.
            responder, purpose = source or NO_PARTNER, event["purpose"] or NO_PARTNER
            for requesting in event["recipients"] or [NO_PARTNER]:
                self.orphans.append((at, (requesting, responder, purpose)))
        if event["event_type"] != "DISCLOSURE":
            return
        message_type = event["message_type"]
        if message_type == REQUEST and event["message_id"] is not None:
            for requested in event["recipients"]:
                key = (event["message_id"], requested)
                if key not in self.requests or at < self.requests[key].opened_at:
                    purpose = event["purpose"] or NO_PARTNER
                    self.requests[key] = _Case(source or NO_PARTNER, requested, purpose, at, event["deadline"])
        elif message_type == RESPONSE and reply_to is not None and source is not None:
            _keep_earliest(self.answers, (reply_to, source), at)
        elif message_type == CANCELLATION and reply_to is not None:
            for requested in event["recipients"]:
                _keep_earliest(self.cancellations, (reply_to, requested), at)

    def response_times(self, start: dt.datetime, end: dt.datetime) -> list[ResponseTimes]:
        """One row per (requesting, requested, purpose) of the requests disclosed and orphans refused in
        [start, end), sorted."""
        rows: dict[RowKey, ResponseTimes] = {}
        as_of = end if self.latest is None else min(end, self.latest)  # a report to a future date predicts nothing
        for key, case in self.requests.items():
            if not start <= case.opened_at < end:
                continue
            row_key = (case.requesting, case.requested, case.purpose)
            row = rows.setdefault(row_key, ResponseTimes(*row_key))
            row.requests += 1
            answered, cancelled = self.answers.get(key), self.cancellations.get(key)
            if answered is not None and (cancelled is None or answered <= cancelled):
                row.answered += 1
                row.overdue += int(case.deadline is not None and answered > case.deadline)
                answered = max(answered, case.opened_at)  # clocks of two components may disagree by a little
                row.hours.append((answered - case.opened_at).total_seconds() / 3600)
                row.working_days.append(calendar_for(case.requested).working_days_between(case.opened_at, answered))
            elif cancelled is not None:
                row.cancelled += 1
            else:
                row.open += 1
                row.overdue += int(case.deadline is not None and case.deadline < as_of)
        for at, row_key in self.orphans:
            if start <= at < end:
                rows.setdefault(row_key, ResponseTimes(*row_key)).orphan_responses += 1
        return [rows[key] for key in sorted(rows)]


def _keep_earliest(first: dict[CaseKey, dt.datetime], key: CaseKey, at: dt.datetime) -> None:
    """Record ``at`` under ``key`` unless an earlier instant is there already."""
    if key not in first or at < first[key]:
        first[key] = at


def _spread(values: Sequence[float]) -> tuple[float | None, float | None, float | None]:
    """Median, 90th percentile (nearest rank: an observed value) and maximum; Nones for no values."""
    if not values:
        return None, None, None
    ordered = sorted(values)
    return statistics.median(ordered), ordered[math.ceil(0.9 * len(ordered)) - 1], ordered[-1]


def build_report(leaves: Iterable[tuple[int, bytes]], start: dt.datetime, end: dt.datetime) -> Report:
    """Count the events of ``leaves`` ((index, canonical bytes) pairs) that occurred in [start, end), and
    follow the requests disclosed in that period through the whole of ``leaves`` (see the module docstring).

    Every event in the period counts once per recipient (once under ``-`` without one), keyed by its
    purpose (``-`` without one), type and outcome; ``first_index``/``last_index`` span the counted leaves.
    Raises ValueError for naive bounds, CodecError if a leaf is not an audit event (a log that fails
    ``verify`` should not be reported on).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("report bounds must be timezone-aware")
    decode = typed_codec(AUDIT_EVENT).decode
    report = Report(start, end)
    cases = _Cases()
    for index, leaf in leaves:
        event = decode(leaf)
        cases.add(event)
        if not start <= event["occurred_at"] < end:
            continue
        report.events += 1
        report.first_index = index if report.first_index is None else report.first_index
        report.last_index = index
        purpose = event["purpose"] or NO_PARTNER
        for partner in event["recipients"] or [NO_PARTNER]:
            kind = LOOKUP if is_lookup(event) else event["event_type"]
            report.counts[(partner, purpose, kind, event["outcome"])] += 1
    report.response_times = cases.response_times(start, end)
    return report
