"""The intake store: the outbox (``services/intake/outbox.py``) and the idempotency keys (``idempotency.py``).

- Outbox: a submission keeps its sealed outputs (ciphertext) only until the audit log shows it settled; a
  settled one keeps its id and answer (no bytes) for ``idempotency_ttl_seconds``, then the reconciler forgets
  it. Retention deletes settled rows accepted more than ``intake_retention_days`` ago as well (the reconciler
  may be off). It never deletes an unsettled one, however old: that would lose a submission crx answered 202;
  those are counted as ``held`` (the reconciler re-publishes or dead-letters them; an operator sees them in
  ``crx_intake_unsettled_oldest_seconds``).
- Idempotency keys: an entry past its time to live and older than ``intake_retention_days`` loses its body
  digest and answer (its key and generation stay: they keep the key's next use a new submission).
"""

from __future__ import annotations

import datetime as dt

from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.retention.report import INTAKE_IDEMPOTENCY, INTAKE_OUTBOX, StoreReport

OUTBOX_NOTE = "settled submissions past intake_retention_days; unsettled ones are held (never deleted)"
KEYS_NOTE = "idempotency answers past their time to live and intake_retention_days (keys stay)"


def purge_outbox(outbox: Outbox, now: dt.datetime, days: float, *, dry_run: bool, location: str = "") -> StoreReport:
    """Delete (unless ``dry_run``) the settled submissions accepted more than ``days`` before ``now``; count the
    unsettled ones as old as that as held. Raises TransientError when the database does not answer."""
    settled, unsettled = outbox.past_retention((now - dt.timedelta(days=days)).timestamp(), delete=not dry_run)
    purged = 0 if dry_run else settled
    return StoreReport(INTAKE_OUTBOX, due=settled, purged=purged, held=unsettled, note=OUTBOX_NOTE, location=location)


def purge_idempotency(
    store: IdempotencyStore, now: dt.datetime, days: float, *, dry_run: bool, location: str = ""
) -> StoreReport:
    """Empty (unless ``dry_run``) the idempotency answers older than ``days`` and their time to live."""
    due = store.forget_older(now, days, forget=not dry_run)
    return StoreReport(INTAKE_IDEMPOTENCY, due=due, purged=0 if dry_run else due, note=KEYS_NOTE, location=location)
