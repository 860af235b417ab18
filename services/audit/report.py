"""Supervisory reports from the audit log alone: counts per partner, purpose, event type and outcome.

The input is the log's leaves (the audit events' canonical bytes), decoded here, not any index table: what
a supervisor counts is exactly what the Merkle tree commits to. An event with several recipients counts
once per recipient (a disclosure to FR and PL is two disclosures); an event with none is counted under
the partner ``-``. Only ids and codes are in an audit event, so a report holds no personal data.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from schemas import AUDIT_EVENT
from services.kernel.codec import typed_codec

NO_PARTNER = "-"
COLUMNS = ("partner", "purpose", "event_type", "outcome", "count")

Key = tuple[str, str, str, str]


@dataclass
class Report:
    """Counts over [start, end) (UTC), keyed by (partner, purpose, event type, outcome)."""

    start: dt.datetime
    end: dt.datetime
    counts: Counter[Key] = field(default_factory=Counter)
    events: int = 0
    first_index: int | None = None
    last_index: int | None = None

    def rows(self) -> list[dict[str, str | int]]:
        """One row per key, sorted, with its count."""
        return [dict(zip(COLUMNS, (*key, n), strict=True)) for key, n in sorted(self.counts.items())]

    def as_json(self) -> str:
        """The report as one JSON document (period, number of events, leaf index range, rows)."""
        return json.dumps(
            {
                "from": self.start.isoformat(),
                "to": self.end.isoformat(),
                "events": self.events,
                "leaf_indexes": [self.first_index, self.last_index],
                "rows": self.rows(),
            },
            indent=2,
        )

    def as_csv(self) -> str:
        """The rows as CSV with a header line."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()


def build_report(leaves: Iterable[tuple[int, bytes]], start: dt.datetime, end: dt.datetime) -> Report:
    """Count the events of ``leaves`` ((index, canonical bytes) pairs) that occurred in [start, end).

    Every event in the period counts once per recipient (once under ``-`` without one), keyed by its
    purpose (``-`` without one), type and outcome; ``first_index``/``last_index`` span the counted leaves.
    Raises ValueError for naive bounds, CodecError if a leaf is not an audit event (a log that fails
    ``verify`` should not be reported on).
    """
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("report bounds must be timezone-aware")
    decode = typed_codec(AUDIT_EVENT).decode
    report = Report(start, end)
    for index, leaf in leaves:
        event = decode(leaf)
        if not start <= event["occurred_at"] < end:
            continue
        report.events += 1
        report.first_index = index if report.first_index is None else report.first_index
        report.last_index = index
        purpose = event["purpose"] or NO_PARTNER
        for partner in event["recipients"] or [NO_PARTNER]:
            report.counts[(partner, purpose, event["event_type"], event["outcome"])] += 1
    return report
