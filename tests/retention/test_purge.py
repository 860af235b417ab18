"""Retention of crx's own copies, with an injected clock: the drop directory's done/ and failed/ files and the
intake store past their period are purged, fresh ones and unsettled submissions are kept, a dry run deletes
nothing."""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

from services.intake import dropdir
from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.kernel.config import Settings
from services.retention.dropfiles import purge_drop_files
from services.retention.intakestore import purge_idempotency, purge_outbox
from services.retention.report import DROP_DONE, DROP_FAILED, INTAKE_OUTBOX
from tests.intake.test_outbox import outbox  # noqa: F401 - the fixture (SQLite and PostgreSQL)
from tests.retention.helpers import FRESH, NOW, aged_drop_files, aged_keys, aged_outbox


def test_done_and_failed_files_past_retention_are_deleted(settings: Settings) -> None:
    """Files older than done_retention_days go; a fresh one stays; the report counts, per folder."""
    files = aged_drop_files(settings)
    reports = purge_drop_files(settings.drop_dir, NOW, 30, dry_run=False)
    assert [(r.store, r.due, r.purged) for r in reports] == [(DROP_DONE, 1, 1), (DROP_FAILED, 1, 1)]
    assert {name for name, path in files.items() if path.exists()} == {"fresh_done"}
    later = purge_drop_files(settings.drop_dir, FRESH + dt.timedelta(days=31), 30, dry_run=False)
    assert [r.purged for r in later] == [1, 0] and not files["fresh_done"].exists()


def test_a_dry_run_deletes_no_file(settings: Settings) -> None:
    """--dry-run counts what is due and leaves every file where it is."""
    files = aged_drop_files(settings)
    reports = purge_drop_files(settings.drop_dir, NOW, 30, dry_run=True)
    assert [(r.due, r.purged) for r in reports] == [(1, 0), (1, 0)]
    assert all(path.exists() for path in files.values())


def test_a_missing_drop_directory_is_nothing_due(tmp_path: Path) -> None:
    """No drop directory (the intake never ran here): nothing due, nothing created."""
    reports = purge_drop_files(tmp_path / "drop", NOW, 30, dry_run=False)
    assert [r.due for r in reports] == [0, 0] and not (tmp_path / "drop").exists()


def test_the_move_to_done_starts_the_retention_period(tmp_path: Path) -> None:
    """The drop directory's move to done/ sets the file's time to the move, not the time it was written."""
    written = tmp_path / "incoming.json"
    written.write_bytes(b"{}")
    os.utime(written, (0, 0))
    done = tmp_path / "done.json"
    dropdir._move(written, done)
    assert abs(done.stat().st_mtime - time.time()) < 60


def test_settled_submissions_past_retention_are_deleted_unsettled_ones_held(outbox: Outbox) -> None:  # noqa: F811
    """A settled submission accepted more than intake_retention_days ago is deleted; an unsettled one as old is
    held (it is a 202 not yet delivered), and fresh ones stay; a dry run only counts."""
    aged_outbox(outbox)
    dry = purge_outbox(outbox, NOW, 30, dry_run=True)
    assert (dry.store, dry.due, dry.purged, dry.held) == (INTAKE_OUTBOX, 1, 0, 1)
    assert set(outbox.stored(["settled-old"])) == {"settled-old"}
    done = purge_outbox(outbox, NOW, 30, dry_run=False)
    assert (done.due, done.purged, done.held) == (1, 1, 1)
    assert set(outbox.stored(["settled-old", "settled-fresh", "open-old", "open-fresh"])) == {
        "settled-fresh",
        "open-old",
        "open-fresh",
    }
    assert outbox.size() == 2  # both unsettled submissions are still kept
    assert purge_outbox(outbox, NOW, 30, dry_run=False).purged == 0


def test_idempotency_answers_past_retention_are_forgotten_live_ones_kept(tmp_path: Path) -> None:
    """An expired answer older than intake_retention_days loses its digest and answer (its key stays, so its
    next use is a new generation); a live one keeps both, whatever the retention days say."""
    store = IdempotencyStore(tmp_path / "keys.sqlite3", dt.timedelta(days=7))
    try:
        aged_keys(store)
        assert purge_idempotency(store, NOW, 30, dry_run=True).due == 1
        assert store.generation("DE", "key-old", NOW) == 1
        report = purge_idempotency(store, NOW, 30, dry_run=False)
        assert (report.due, report.purged) == (1, 1)
        assert store.get("DE", "key-fresh", NOW) is not None
        assert purge_idempotency(store, NOW, 0, dry_run=False).purged == 0  # live: kept despite 0 days
        assert store.generation("DE", "key-old", NOW) == 1
    finally:
        store.close()
