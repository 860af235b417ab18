"""A data directory holding what crx keeps on its own disks, aged: drop directory files and intake rows."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from services.intake.dropdir import DONE, FAILED
from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.kernel.config import Settings
from services.kernel.kafka import OutRecord

NOW = dt.datetime(2027, 6, 1, 12, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=40)  # past the default 30 days
FRESH = NOW - dt.timedelta(days=2)
SEALED = [OutRecord("crx.feed.DE", b"\x00sealed", key=b"k" * 16)]


def drop_file(settings: Settings, folder: str, name: str, at: dt.datetime) -> Path:
    """A file in the drop directory's ``folder`` (done or failed) for DE json-v1, last modified ``at``."""
    path = settings.drop_dir / folder / "DE" / "json-v1" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b'{"national": "payload in clear"}')
    os.utime(path, (at.timestamp(), at.timestamp()))
    return path


def aged_drop_files(settings: Settings) -> dict[str, Path]:
    """An old and a fresh file in done/, an old one in failed/."""
    return {
        "old_done": drop_file(settings, DONE, "export-1.json.s-old", OLD),
        "fresh_done": drop_file(settings, DONE, "export-2.json.s-fresh", FRESH),
        "old_failed": drop_file(settings, FAILED, "export-3.json", OLD),
    }


def aged_outbox(outbox: Outbox) -> None:
    """Submissions: settled-old, settled-fresh, open-old (a 202 never delivered), open-fresh."""
    outbox.keep([("settled-old", "DE", SEALED, ""), ("open-old", "DE", SEALED, "")], OLD.timestamp(), 5.0)
    outbox.keep([("settled-fresh", "DE", SEALED, ""), ("open-fresh", "DE", SEALED, "")], FRESH.timestamp(), 5.0)
    outbox.settle(["settled-old", "settled-fresh"], forget_at=(NOW + dt.timedelta(days=99)).timestamp())


def aged_keys(store: IdempotencyStore) -> None:
    """An idempotency answer 40 days old (expired) and one 2 days old (live)."""
    store.put("DE", "key-old", "digest-old", 202, '{"submission_id": "s-old"}', OLD)
    store.put("DE", "key-fresh", "digest-fresh", 202, '{"submission_id": "s-fresh"}', FRESH)


def aged_intake_store(settings: Settings) -> None:
    """The intake's own SQLite stores in ``settings.data_dir``, aged."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    outbox = Outbox(settings)
    aged_outbox(outbox)
    outbox.close()
    keys = IdempotencyStore(settings.data_dir / "intake-idempotency.sqlite3")
    aged_keys(keys)
    keys.close()
