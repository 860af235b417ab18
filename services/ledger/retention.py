"""Retention: until when a recipient may keep a record it was sent."""

from __future__ import annotations

import datetime as dt

from schemas.records import CriminalRecord
from services.router.policy import Agreement


def retention_end(record: CriminalRecord, agreement: Agreement | None, now: dt.datetime) -> dt.date | None:
    """The day a recipient must erase ``record`` received ``now`` under ``agreement``: the record's own end (the
    latest of its convictions' ``retention_end``, when every conviction has one), bounded by the agreement's
    ``retention_days`` from today; None when neither says (a bare deletion, a record without convictions under
    no agreement)."""
    ends = [c["retention_end"] for c in record["convictions"]]
    own = max(ends) if ends and all(e is not None for e in ends) else None  # type: ignore[type-var]
    bound = now.date() + dt.timedelta(days=agreement.retention_days) if agreement is not None else None
    found = [d for d in (own, bound) if d is not None]
    return min(found) if found else None
