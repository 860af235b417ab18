"""A watched drop directory for batch files (legacy exports): each file published once, then moved aside.

Layout under the drop root, per configured jurisdiction and adapter::

    <root>/<JURISDICTION>/<adapter>/            incoming: the national system writes files here
    <root>/.claimed/<JURISDICTION>/<adapter>/   claimed by crx, being published
    <root>/done/<JURISDICTION>/<adapter>/       published to the feed (accepted or dead-lettered)
    <root>/failed/<JURISDICTION>/<adapter>/     could not be read or moved (quarantined, logged, counted)

Writers must make a file appear atomically: write ``name.part`` (or a name starting with ``.``), then rename
it; such names are never picked up. A file is claimed by an atomic rename into ``.claimed`` before it is
read, so no file is read twice by concurrent watchers, and it moves to ``done`` (with the submission id in
its name) only after the broker acknowledged it. A crash in between leaves it in ``.claimed``, where the
next start publishes it again with the same submission id (ids derive from the content), so downstream
treats it as a duplicate. The move to ``done`` or ``failed`` sets the file's modification time to that
moment: retention (``services/retention``) deletes such files ``done_retention_days`` later. Each file is
handled on its own: one that cannot be read or moved (a name too long for the ``done`` suffix once was one) is
quarantined in ``failed`` and the others go on; only a fault that is no file's (the broker, a key) stops the
scan, to be retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import itertools
import os
from collections import deque
from pathlib import Path

from services.intake.publisher import FeedPublisher, PushResult, Submission
from services.kernel.errors import CrxError
from services.kernel.logging import get_logger
from services.kernel.periodic import Periodic

CLAIMED = ".claimed"
DONE = "done"
FAILED = "failed"
NAME_MAX_BYTES = 255  # what Linux file systems allow for one name
PARTIAL_SUFFIX = ".part"
RECENT = 1000


def _fitting(name: str, suffix: str) -> str:
    """``name`` + ``suffix``, the name cut (on a character boundary) so that the whole fits NAME_MAX_BYTES."""
    room = NAME_MAX_BYTES - len(suffix.encode())
    return name.encode()[:room].decode("utf-8", "ignore") + suffix


def _move(path: Path, target: Path) -> None:
    """Rename ``path`` to ``target`` and set its modification time to now (retention counts from the move)."""
    os.rename(path, target)
    with contextlib.suppress(OSError):  # the file is moved: a time left as it was only shortens its retention
        os.utime(target)


def _is_candidate(path: Path) -> bool:
    return path.is_file() and not path.name.startswith(".") and not path.name.endswith(PARTIAL_SUFFIX)


class DropDirectory:
    """Polls ``root`` every ``interval`` seconds and publishes what it finds."""

    def __init__(
        self,
        root: Path,
        publisher: FeedPublisher,
        jurisdictions: tuple[str, ...],
        adapters: list[str],
        interval: float = 0.5,
        max_bytes: int | None = None,
    ) -> None:
        self._root = root
        self._publisher = publisher
        self._folders = list(itertools.product(jurisdictions, adapters))  # (jurisdiction, adapter) pairs
        self._max_bytes = max_bytes
        self._log = get_logger("intake.dropdir")
        self._polling = Periodic(
            "crx-dropdir", self.scan_once, interval, errors=(CrxError, OSError), on_error=self._scan_failed, drain=True
        )
        self.published: deque[PushResult] = deque(maxlen=RECENT)  # the latest results, for status and tests
        self.failed = 0  # files quarantined since start

    def folder(self, jurisdiction: str, adapter: str) -> Path:
        """Where ``jurisdiction``'s national system drops ``adapter`` files."""
        return self._root / jurisdiction / adapter

    def prepare(self) -> None:
        """Create the incoming, claimed and done folders of every jurisdiction and adapter."""
        for jurisdiction, adapter in self._folders:
            for base in (self._root, self._root / CLAIMED, self._root / DONE, self._root / FAILED):
                (base / jurisdiction / adapter).mkdir(parents=True, exist_ok=True)

    async def scan_once(self) -> list[PushResult]:
        """Claim and publish every waiting file (earlier claims first). Returns what was published.

        Raises TransientError when the broker does not acknowledge; the claimed files stay claimed and
        the next scan publishes them again.
        """
        claimed = await asyncio.to_thread(self._claim)
        results = []
        for path in claimed:
            try:
                result = await self._publish(path)
            except OSError as exc:  # this file's own fault (unreadable, unmovable): set aside, go on
                await asyncio.to_thread(self._quarantine, path, exc)
                continue
            results.append(result)
            self.published.append(result)
        return results

    def _quarantine(self, path: Path, exc: OSError) -> None:
        """Move ``path`` to ``failed`` (under a name that fits) and say so; never raises."""
        jurisdiction, adapter = path.parent.parent.name, path.parent.name
        self.failed += 1
        self._log.error("dropped file quarantined", jurisdiction=jurisdiction, adapter=adapter,
                        error_class=type(exc).__name__)  # fmt: skip
        target = self._root / FAILED / jurisdiction / adapter / _fitting(path.name, "")
        try:
            _move(path, target)
        except OSError as again:
            self._log.error("quarantine failed; the file stays claimed", error_class=type(again).__name__)

    def _claim(self) -> list[Path]:
        """Files claimed earlier and not finished, then every new candidate, moved into ``.claimed``."""
        claimed = [p for p in sorted((self._root / CLAIMED).glob("*/*/*")) if _is_candidate(p)]
        for jurisdiction, adapter in self._folders:
            for path in sorted(self.folder(jurisdiction, adapter).iterdir()):
                if _is_candidate(path):
                    target = self._root / CLAIMED / jurisdiction / adapter / path.name
                    with contextlib.suppress(FileNotFoundError):  # another watcher claimed it first
                        os.rename(path, target)
                        claimed.append(target)
        return claimed

    def _load(self, path: Path) -> tuple[bytes | None, int, bytes]:
        """(content, or None when over the limit; size; SHA-256). Reads an oversized file in blocks."""
        size = path.stat().st_size
        if self._max_bytes is None or size <= self._max_bytes:
            content = path.read_bytes()
            return content, len(content), hashlib.sha256(content).digest()
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return None, size, digest.digest()

    async def _publish(self, path: Path) -> PushResult:
        jurisdiction, adapter = path.parent.parent.name, path.parent.name
        now = dt.datetime.now(dt.UTC)
        content, size, digest = await asyncio.to_thread(self._load, path)
        if content is None:
            result = await self._publisher.refuse_unread(jurisdiction, None, size, digest, now)
        else:
            [result] = await self._publisher.publish([Submission(jurisdiction, adapter, content)], now)
        done = self._root / DONE / jurisdiction / adapter / _fitting(path.name, f".{result.submission_id}")
        await asyncio.to_thread(_move, path, done)
        self._log.info(
            "dropped file published",
            jurisdiction=jurisdiction,
            adapter=adapter,
            submission_id=result.submission_id,
            accepted=result.accepted,
            reason=result.reason,
        )
        return result

    async def start(self) -> None:
        """Create the folders and start polling (a scan at once, then every ``interval``)."""
        if not self._polling.running:
            self.prepare()
            self._polling.start()

    async def stop(self) -> None:
        """Stop polling once the scan under way (if any) has finished."""
        await self._polling.stop()

    def _scan_failed(self, exc: Exception) -> None:
        """Log a scan that stopped; the next one goes on."""
        if isinstance(exc, CrxError):  # not the files' fault (they are dead-lettered by the publisher when they are)
            self._log.warning("not published; claimed files will be on the next scan", reason=exc.reason_code)
        else:
            self._log.error("drop directory scan failed", error_class=type(exc).__name__)
