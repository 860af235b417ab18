"""A retention run: every store crx keeps national data in, purged of what is past its period at ``now``.

``purge_intake`` is what the intake service does every ``retention_check_seconds`` with its open stores;
``run_retention`` is ``crx retention run``: the same, with the stores opened from the settings (those that
exist: a run creates nothing), plus the demo's partner outputs and what is only reported:

- dead letters live only on ``crx.dlq``, sealed to the broker's key: Kafka deletes them after
  ``dlq_retention_days`` (``retention.ms``, services/kernel/topics.py; the embedded broker ignores it), and the
  broker key epochs (services/keys) make older ones unreadable once their key is destroyed.

Key epochs: with ``key_epochs`` (``crx retention run --key-epochs``) a run also rotates the broker's encryption
key when its epoch is over and destroys the keys no retained copy may still need (services/keys/epochs.py), as
the store ``broker_keys``: run it only where the key store's master copy lives.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.kernel.config import Settings
from services.kernel.sqlstore import is_postgres
from services.keys.epochs import run_epoch
from services.retention.dropfiles import purge_drop_files
from services.retention.intakestore import purge_idempotency, purge_outbox
from services.retention.partners import purge_partner_outputs
from services.retention.report import BROKER_KEYS, DEAD_LETTERS, RetentionReport, StoreReport

IDEMPOTENCY_FILE = "intake-idempotency.sqlite3"  # services/intake/service.py opens it there
OUTBOX_FILE = "intake-outbox.sqlite3"  # services/intake/outbox.py's default
EPOCH_ELSEWHERE = "not run here: --key-epochs where the key store's master copy lives (crx keys epoch)"
DLQ_NOTE = "only on crx.dlq, sealed to the broker key: Kafka's retention.ms (dlq_retention_days) and key epochs"


def purge_intake(
    settings: Settings,
    now: dt.datetime,
    *,
    dry_run: bool,
    outbox: Outbox | None,
    idempotency: IdempotencyStore | None,
) -> list[StoreReport]:
    """The drop directory's done/ and failed/ files, and the intake store (given open, or None: not here).
    Raises OSError for a file that cannot be read or deleted, TransientError for a database that does not answer."""
    reports = purge_drop_files(settings.drop_dir, now, settings.done_retention_days, dry_run=dry_run)
    days = settings.intake_retention_days
    if outbox is not None:
        reports.append(purge_outbox(outbox, now, days, dry_run=dry_run, location=_outbox_location(settings)))
    if idempotency is not None:
        location = str(settings.data_dir / IDEMPOTENCY_FILE)
        reports.append(purge_idempotency(idempotency, now, days, dry_run=dry_run, location=location))
    return reports


def _outbox_location(settings: Settings) -> str:
    """Where the outbox is, said without a password: a PostgreSQL URI is named by its schema only."""
    if is_postgres(settings.intake_db or ""):
        return f"postgresql schema {settings.intake_pg_schema}"
    return settings.intake_db or str(settings.data_dir / OUTBOX_FILE)


def open_idempotency(settings: Settings) -> IdempotencyStore | None:
    """The intake's idempotency store when it exists (a run creates nothing)."""
    path = settings.data_dir / IDEMPOTENCY_FILE
    if not path.is_file():
        return None
    return IdempotencyStore(path, dt.timedelta(seconds=settings.idempotency_ttl_seconds))


def open_outbox(settings: Settings) -> Outbox | None:
    """The intake's outbox when it exists (PostgreSQL: always opened). Raises TransientError or ConfigError."""
    if not is_postgres(settings.intake_db or "") and not Path(_outbox_location(settings)).is_file():
        return None
    return Outbox(settings)


def _dead_letters() -> StoreReport:
    return StoreReport(DEAD_LETTERS, note=DLQ_NOTE)


def _key_epochs(settings: Settings, now: dt.datetime, *, dry_run: bool, key_epochs: bool) -> StoreReport:
    """The broker key epoch (``services.keys.epochs.run_epoch``: rotate when due, destroy what no retained copy
    may still need) when ``key_epochs``; else a note saying where it is to run. Only one place may run it: the
    key store's master copy (services that unpack their own copy would each rotate apart). Raises
    KeyAdminError, KeyUnavailable, OSError."""
    if not key_epochs:
        return StoreReport(BROKER_KEYS, note=EPOCH_ELSEWHERE)
    epoch = run_epoch(settings, now, dry_run=dry_run)
    rotated = int(epoch.rotated_from is not None)
    return StoreReport(
        BROKER_KEYS,
        due=len(epoch.destroyed),
        purged=0 if dry_run else len(epoch.destroyed),
        note="destroyed: past every retention of the copies sealed to them" if epoch.destroyed else "",
        location=str(settings.keys_dir),
        extra={"rotated": rotated, "kept": len(epoch.kept)},
    )


def run_retention(settings: Settings, now: dt.datetime, *, dry_run: bool, key_epochs: bool = False) -> RetentionReport:
    """Every store at ``now``: the intake's (``purge_intake``), the demo's partner outputs (``<data_dir>/out``),
    the dead letters (reported), and with ``key_epochs`` the broker key epoch (``_key_epochs``). Raises what
    ``purge_intake`` and ``_key_epochs`` raise."""
    outbox, idempotency = open_outbox(settings), open_idempotency(settings)
    try:
        stores = purge_intake(settings, now, dry_run=dry_run, outbox=outbox, idempotency=idempotency)
    finally:
        for store in (outbox, idempotency):
            if store is not None:
                store.close()
    out_dir = settings.data_dir / "out"  # where the demo pipeline's partners write (services/devstack/pipeline.py)
    stores.append(purge_partner_outputs(out_dir, now.date(), dry_run=dry_run))
    stores.append(_dead_letters())
    stores.append(_key_epochs(settings, now, dry_run=dry_run, key_epochs=key_epochs))
    return RetentionReport(now, dry_run, tuple(stores))
