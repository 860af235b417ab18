"""The file-based key registry: every party's public keys, hot-reloaded, edited under a file lock."""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, get_args

from services.kernel.errors import KeyUnavailable
from services.kernel.logging import get_logger
from services.keys.entry import STATUS_ORDER, KeyEntry, Purpose, Use, allowed, parse_time

# --- the registry -----------------------------------------------------------------------------------------

_ENTRY_FIELDS = frozenset(f.name for f in fields(KeyEntry)) - {"party"}
FileIdentity = tuple[int, int, int, int]


def _identity(st: os.stat_result) -> FileIdentity:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _read_registry(path: Path) -> tuple[list[KeyEntry], FileIdentity]:
    """Parse the registry file. Raises FileNotFoundError, or KeyUnavailable when it is not a valid registry."""
    with path.open("rb") as handle:
        identity = _identity(os.fstat(handle.fileno()))
        raw = handle.read()
    try:
        data = json.loads(raw)
        entries = []
        for party, keys in data["parties"].items():
            for entry in keys:
                if not isinstance(entry, dict) or not set(entry) <= _ENTRY_FIELDS:
                    raise ValueError("unexpected entry fields")
                parsed = KeyEntry(party=party, **entry)
                if parsed.purpose not in get_args(Purpose) or parsed.status not in STATUS_ORDER:
                    raise ValueError("unknown purpose or status")
                entries.append(parsed)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise KeyUnavailable(f"key registry {path} is not valid") from None
    return entries, identity


class KeyRegistry:
    """Read and update the registry file. Lookups are in memory and see file changes (hot reload).

    ``save()`` writes atomically. Entries added in memory and not saved are dropped when the file changes.
    """

    def __init__(self, path: Path, entries: list[KeyEntry] | None = None, *, reload_interval: float = 1.0) -> None:
        self.path = path
        self.reload_interval = reload_interval
        self._entries: tuple[KeyEntry, ...] = tuple(entries or ())
        self._identity: FileIdentity | None = None
        self._checked_at = time.monotonic()
        self._reloading = threading.Lock()
        self._log = get_logger("keys")
        # get(): the entries by (party, key id), for one entries tuple; active(): its answers for one entries
        # tuple and one instant (a batch's "now"). Each replaced as a whole tuple, so a reader never mixes them.
        self._id_index: tuple[tuple[KeyEntry, ...], dict[tuple[str, str], KeyEntry]] = ((), {})
        self._active_memo: tuple[tuple[KeyEntry, ...], dt.datetime, dict[tuple[str, str], KeyEntry]] | None = None

    @classmethod
    def load(cls, path: Path, *, reload_interval: float = 1.0) -> KeyRegistry:
        """Load the registry at ``path`` (empty if the file does not exist). Raises KeyUnavailable if corrupt."""
        registry = cls(path, reload_interval=reload_interval)
        try:
            entries, identity = _read_registry(path)
        except FileNotFoundError:
            return registry
        registry._entries, registry._identity = tuple(entries), identity
        return registry

    def refresh(self, *, force: bool = False) -> bool:
        """Reload the file if it changed (checked at most once per ``reload_interval`` unless ``force``).

        Returns True when new entries were swapped in. An invalid or missing file keeps the current entries.
        """
        now = time.monotonic()
        if not force and now - self._checked_at < self.reload_interval:
            return False
        if not self._reloading.acquire(blocking=False):
            return False
        try:
            self._checked_at = now
            try:
                identity: FileIdentity | None = _identity(os.stat(self.path))
            except FileNotFoundError:
                identity = None
            if identity == self._identity:
                return False
            try:
                entries, identity = _read_registry(self.path)
            except (FileNotFoundError, KeyUnavailable):
                self._identity = identity  # warn once per change; a later valid write is picked up
                self._log.warning("key_registry_invalid_kept_last_good", path=str(self.path), kept=len(self._entries))
                return False
            self._entries, self._identity = tuple(entries), identity
            self._log.info("key_registry_reloaded", path=str(self.path), entries=len(entries))
            return True
        finally:
            self._reloading.release()

    def save(self) -> None:
        """Write the registry atomically (temp file + rename)."""
        parties: dict[str, list[dict[str, Any]]] = {}
        for entry in self._entries:
            record = asdict(entry)
            parties.setdefault(record.pop("party"), []).append(record)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(self.path, json.dumps({"version": 1, "parties": parties}, indent=2).encode())
        with contextlib.suppress(FileNotFoundError):
            self._identity = _identity(os.stat(self.path))

    def add(self, entry: KeyEntry) -> None:
        """Register ``entry``; an entry with the same key id is replaced in place."""
        entries = list(self._entries)
        for i, existing in enumerate(entries):
            if existing.key_id == entry.key_id:
                entries[i] = entry
                break
        else:
            entries.append(entry)
        self._entries = tuple(entries)

    def entries(self, party: str | None = None) -> list[KeyEntry]:
        """All entries, or those of one party."""
        self.refresh()
        return [e for e in self._entries if party is None or e.party == party]

    def get(self, party: str, key_id: str) -> KeyEntry:
        """The entry of ``party`` with ``key_id``. Raises KeyUnavailable if there is none.

        A key id not found makes the registry look at its file at once: a key just rotated in elsewhere.
        """
        self.refresh()
        for attempt in range(2):
            entry = self._by_id().get((party, key_id))
            if entry is not None:
                return entry
            if attempt == 0 and not self.refresh(force=True):
                break
        raise KeyUnavailable(f"no key {key_id} for party {party}")

    def _by_id(self) -> dict[tuple[str, str], KeyEntry]:
        """The current entries by (party, key id), built once per entries tuple (the first of duplicates wins,
        as a scan in file order would find it)."""
        entries, index = self._id_index
        if entries is not self._entries:
            entries = self._entries
            index = {}
            for entry in entries:
                index.setdefault((entry.party, entry.key_id), entry)
            self._id_index = (entries, index)
        return index

    def active(self, party: str, purpose: Purpose, now: dt.datetime) -> KeyEntry:
        """The key to seal to (encryption) or sign with (signing) now: the newest by not_before among the
        party's active keys valid at ``now`` (a key scheduled for later takes over when it becomes valid).
        Raises KeyUnavailable."""
        self.refresh()
        entries, memo = self._entries, self._active_memo
        if memo is None or memo[0] is not entries or memo[1] != now:
            memo = self._active_memo = (entries, now, {})  # one tuple: a reader never pairs old answers with new
        known = memo[2].get((party, purpose))
        if known is not None:
            return known
        use: Use = "seal" if purpose == "encryption" else "sign"
        candidates = [(i, e) for i, e in enumerate(e for e in entries if e.party == party) if allowed(e, use, now)]
        if not candidates:
            raise KeyUnavailable(f"no active {purpose} key for party {party}")
        chosen = max(candidates, key=lambda c: (parse_time(c[1].not_before), c[0]))[1]
        memo[2][(party, purpose)] = chosen
        return chosen

    def for_use(self, party: str, key_id: str, use: Use, now: dt.datetime) -> KeyEntry:
        """The entry ``key_id`` of ``party`` if the rules allow ``use`` at ``now``. Raises KeyUnavailable."""
        entry = self.get(party, key_id)
        if not allowed(entry, use, now):
            raise KeyUnavailable(f"key {key_id} of party {party} may not be used to {use}")
        return entry


@contextlib.contextmanager
def editing(path: Path) -> Iterator[KeyRegistry]:
    """Read-modify-write the registry under an exclusive lock (``<registry>.lock``); saved on success."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with (path.parent / f"{path.name}.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            registry = KeyRegistry.load(path)
            yield registry
            registry.save()
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def atomic_write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` via a temp file in the same directory and a rename (never half-written)."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
