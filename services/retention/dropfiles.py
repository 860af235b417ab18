"""The drop directory's ``done/`` and ``failed/`` files: national payloads in clear, kept
``done_retention_days`` after the intake handled them, then deleted.

A file's age is its modification time, which the drop directory sets when it moves the file to ``done/`` or
``failed/`` (``services/intake/dropdir.py``): the period runs from when crx handled the file, not from when the
national system wrote it. Files moved by an older crx keep the writer's time, so they go sooner, never later.
File names hold what the national system chose (and the submission id): a report counts them, never names them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from pathlib import Path

from services.intake.dropdir import DONE, FAILED
from services.retention.report import DROP_DONE, DROP_FAILED, StoreReport

NOTE = "files past done_retention_days since the intake handled them"


def _files(folder: Path) -> list[Path]:
    """The files under ``folder/<JURISDICTION>/<adapter>/``."""
    return [p for p in folder.glob("*/*/*") if p.is_file()] if folder.is_dir() else []


def purge_folder(folder: Path, store: str, cutoff: dt.datetime, *, dry_run: bool) -> StoreReport:
    """Delete (unless ``dry_run``) the files under ``folder`` last modified before ``cutoff``; report how many
    were due and deleted. A file another purge deleted first is not counted as purged. Raises OSError when the
    folder cannot be read or a file cannot be deleted (what was deleted stays deleted)."""
    limit = cutoff.timestamp()
    due = [p for p in _files(folder) if p.stat().st_mtime < limit]
    purged = 0
    if not dry_run:
        for path in due:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                purged += 1
    return StoreReport(store, due=len(due), purged=purged, note=NOTE, location=str(folder))


def purge_drop_files(drop_root: Path, now: dt.datetime, days: float, *, dry_run: bool) -> list[StoreReport]:
    """``done/`` and ``failed/`` of the drop directory at ``drop_root``, purged of what is older than ``days``."""
    cutoff = now - dt.timedelta(days=days)
    return [
        purge_folder(drop_root / DONE, DROP_DONE, cutoff, dry_run=dry_run),
        purge_folder(drop_root / FAILED, DROP_FAILED, cutoff, dry_run=dry_run),
    ]
