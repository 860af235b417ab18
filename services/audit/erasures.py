"""Overdue erasure receipts: records a recipient should have erased and has not confirmed erasing.

From the audit log alone (its leaves, as the Merkle tree commits to them): the router's DISCLOSURE events are
the disclosure ledger's rows (``services/ledger/rebuild.py``), and the audit writer's ERASURE events are the
recipients' erasure receipts (an ACCEPTED receipt with operation ERASED, naming the message that brought or
deleted the record). Per (record, recipient), what the recipient holds is the latest version it was sent (a
deletion after the content of the same version), as ``DisclosureLedger.holdings`` says; its erasure is due

- for a deletion: when it was sent, plus ``erasure_grace_days``;
- for content with a retention end: that day (the first day it may not be held), plus ``erasure_grace_days``;
- for content without one: never.

It is overdue when due before ``now`` and the log holds no ERASURE from that recipient for a message of that
record at that version or later. The report is per recipient: how many, and the oldest due date; no record id
(not even the opaque keys) leaves this module. The audit service publishes it as
``crx_erasure_receipts_overdue{recipient}``; ``crx audit report --table erasures`` prints it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable
from dataclasses import dataclass

from schemas import AUDIT_EVENT
from schemas.records import AuditEvent
from services.kernel.codec import typed_codec
from services.ledger.rebuild import disclosures_of
from services.ledger.store import DELETION, Disclosure

COLUMNS = ("recipient", "overdue", "oldest_due")
Holder = tuple[str, str]  # (record key, recipient)


@dataclass(frozen=True)
class Owed:
    """One recipient's overdue erasure receipts: how many, and the earliest due instant among them."""

    recipient: str
    overdue: int
    oldest_due: dt.datetime | None


@dataclass(frozen=True)
class ErasureReport:
    """Every recipient ever sent a record (those owing nothing with 0), sorted by recipient."""

    now: dt.datetime
    grace_days: float
    recipients: tuple[Owed, ...]

    def overdue(self) -> dict[str, int]:
        """Recipient -> overdue count, for every recipient."""
        return {o.recipient: o.overdue for o in self.recipients}

    def rows(self) -> list[dict[str, str | int]]:
        """The recipients that owe receipts, as table rows (oldest_due in ISO 8601)."""
        return [
            {"recipient": o.recipient, "overdue": o.overdue, "oldest_due": o.oldest_due.isoformat()}
            for o in self.recipients
            if o.overdue and o.oldest_due is not None
        ]

    def as_json(self) -> str:
        """``{"now", "grace_days", "erasures": rows}``."""
        return json.dumps({"now": self.now.isoformat(), "grace_days": self.grace_days, "erasures": self.rows()})

    def as_csv(self) -> str:
        """The rows as CSV with a header."""
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(self.rows())
        return out.getvalue()


def _due(held: Disclosure, grace: dt.timedelta) -> dt.datetime | None:
    if held.message_type == DELETION:
        return held.disclosed_at + grace
    if held.retention_end is None:
        return None
    return dt.datetime.combine(held.retention_end, dt.time(), dt.UTC) + grace


def overdue_erasures(
    rows: Iterable[Disclosure], erasures: Iterable[tuple[str, str]], now: dt.datetime, grace_days: float
) -> ErasureReport:
    """The report at ``now`` from ledger ``rows`` and ERASURE events given as (recipient, message id)."""
    latest: dict[Holder, Disclosure] = {}
    version_of: dict[tuple[str, str], tuple[Holder, int]] = {}  # (recipient, message id) -> (holder, version)
    for row in rows:
        holder = (row.record_key, row.recipient)
        version_of[(row.recipient, row.message_id)] = (holder, row.version)
        known = latest.get(holder)
        if known is None or (row.version, row.message_type == DELETION) >= (
            known.version,
            known.message_type == DELETION,
        ):
            latest[holder] = row
    erased: dict[Holder, int] = {}
    for recipient, message_id in erasures:
        found = version_of.get((recipient, message_id))
        if found is not None:
            erased[found[0]] = max(erased.get(found[0], -1), found[1])
    grace = dt.timedelta(days=grace_days)
    owed: dict[str, list[dt.datetime]] = {}
    for holder, held in latest.items():
        dues = owed.setdefault(held.recipient, [])
        due = _due(held, grace)
        if due is not None and due < now and erased.get(holder, -1) < held.version:
            dues.append(due)
    recipients = tuple(Owed(r, len(d), min(d) if d else None) for r, d in sorted(owed.items()))
    return ErasureReport(now, grace_days, recipients)


def erasure_report(leaves: Iterable[tuple[int, bytes]], now: dt.datetime, grace_days: float) -> ErasureReport:
    """``overdue_erasures`` from the audit log's leaves (one pass), counting only events up to ``now``.
    Raises CodecError for a leaf that is not an audit event."""
    decode = typed_codec(AUDIT_EVENT).decode
    rows: list[Disclosure] = []
    erasures: list[tuple[str, str]] = []
    for _index, leaf in leaves:
        event: AuditEvent = decode(leaf)
        if event["occurred_at"] > now:
            continue
        if event["event_type"] == "ERASURE" and event["message_id"] is not None:
            erasures.append((event["actor"], str(event["message_id"])))
        else:
            rows.extend(disclosures_of(event))
    return overdue_erasures(rows, erasures, now, grace_days)
