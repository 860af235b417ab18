"""``DirectorySink``: a partner's records as JSON files in one directory, one file per record.

Layout of ``<dir>``:

- ``<key>.json``: the latest version held of one conviction record, ``key`` = ``lifecycle.record_key`` (hex
  SHA-256 of source jurisdiction and source record id: the file name never shows the record id). Replaced
  when a newer version arrives, removed when the record is deleted or its retention ends;
- ``<message id>.json``: a message without record lifecycle (a request, a response, a case notice), as
  before. Records a version before records had a life wrote this way are re-filed under their key when the
  sink opens the directory;
- ``.crx-sink.sqlite3`` (and its ``-wal``/``-shm``): the ``SinkLedger`` (message ids applied, versions held,
  tombstones of erased records). Never edit or delete it while records are kept: a deleted record could come
  back with a redelivered older version.

Every write is a temporary file, fsync, rename, fsync of the directory; every removal is followed by an
fsync of the directory: a receipt never reports a change a power loss could undo.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from services.partner.jsonout import to_json
from services.partner.ledger import SinkLedger
from services.partner.lifecycle import Delivery, Operation, change_of
from services.partner.sinks import LedgerSink

LEDGER_FILE = ".crx-sink.sqlite3"


class DirectorySink(LedgerSink):
    """Writes records and messages as JSON files under ``directory`` (see the module docstring)."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        super().__init__(SinkLedger(directory / LEDGER_FILE))
        self.directory = directory
        self._adopt_per_message_records()

    def path_of(self, key: str) -> Path:
        """The file of the record ``key`` (or of the message ``key``, for messages without record life)."""
        return self.directory / f"{key}.json"

    def applied(self, message_id: str) -> Operation | None:
        """See ``Sink.applied``. A message file without a ledger row (written by a version before records had
        a life, or just before a crash) counts as applied: STORED."""
        operation = super().applied(message_id)
        if operation is None and self.path_of(message_id).exists():
            return Operation.STORED
        return operation

    def keep(self, key: str, record: dict[str, Any]) -> None:
        """Write ``<key>.json`` atomically and durably (replacing the version held)."""
        self._write(self.path_of(key), to_json(record))

    def drop(self, key: str, version: int) -> None:
        """Remove ``<key>.json`` (if there), then fsync the directory."""
        self.path_of(key).unlink(missing_ok=True)
        self._sync_directory()

    def keep_message(self, message_id: str, record: dict[str, Any]) -> None:
        """Write ``<message id>.json`` atomically and durably."""
        self._write(self.path_of(message_id), to_json(record))

    def _adopt_per_message_records(self) -> None:
        """Re-file the records a version before records had a life wrote per message (``<message id>.json`` of
        a NOTIFICATION, UPDATE or DELETION): each applied in version order as if delivered now (the latest
        version kept under its key, a deleted record removed and tombstoned), its message id noted, its file
        removed. Idempotent: a crash half-way is finished at the next start. Such a deletion is applied
        without a new receipt (it was receipted when delivered); requests and responses stay as they are."""
        found: list[tuple[str, int, Path, dict[str, Any]]] = []
        for path in self.directory.glob("*.json"):
            if not _is_uuid(path.stem) or self.ledger.applied(path.stem) is not None:
                continue  # a record's file (named by its key), or a message noted already
            try:
                record = json.loads(path.read_text("utf-8"))
                change = change_of(record)
            except (OSError, ValueError, KeyError, TypeError):
                continue  # not a message this sink wrote: left alone
            if change is None:  # a request, a response, a case notice: stays, noted (not read again)
                self.ledger.note(Delivery(path.stem, "", b""), Operation.STORED)
            else:
                found.append((change.key, change.version, path, record))
        for _key, _version, path, record in sorted(found, key=lambda item: item[:2]):
            self.deliver(Delivery(path.stem, "", b""), record)
            path.unlink(missing_ok=True)
            self._sync_directory()

    def _write(self, path: Path, text: str) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._sync_directory()

    def _sync_directory(self) -> None:
        directory = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _is_uuid(name: str) -> bool:
    try:
        uuid.UUID(name)
    except ValueError:
        return False
    return True
