"""The partner's check on the audit log: its own deliveries and receipts are logged, and history is never rewritten.

For each record it accepts, the partner client expects two audit events: the router's DISCLOSURE to it and
the audit writer's DELIVERY_RECEIPT of its receipt; for each erasure it receipts (a DELETION applied, or a
record whose retention ended), also the writer's ERASURE. These event ids are public functions of what the
partner holds (``audit_events.disclosure_event_id`` / ``receipt_event_id`` / ``erasure_event_id``).
``LogWatcher.check_once``:

1. fetches the latest signed checkpoint, verifies its signature with the log's verifier key and its origin,
   and checks it is consistent with the last checkpoint this partner accepted (a consistency proof from
   the log, verified here; a smaller size, or the same size with another root, is a rewritten history);
2. for each expected event, fetches its ``c2sp.org/tlog-proof@v1`` bundle and verifies it: the leaf is the
   expected event (type, message id, recipient), the inclusion path leads to the bundle's signed checkpoint,
   and that checkpoint is consistent with the accepted one. Events not yet covered by a checkpoint (409) or
   not yet appended (404) wait for the next round; one still missing after ``max_wait`` is a problem.

The accepted checkpoint and the expected events live in a small SQLite file, so checks survive restarts.
Every problem is counted (``crx_partner_log_problems_total{party,problem}``) and logged without personal
data: a log that fails these checks is an incident to raise with the operator and the supervisor.
"""

from __future__ import annotations

import base64
import datetime as dt
import sqlite3
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import CollectorRegistry, Counter

from schemas import AUDIT_EVENT
from services.kernel.codec import codec
from services.kernel.errors import CrxError
from services.kernel.logging import get_logger
from services.translog import merkle
from services.translog.notes import (
    Checkpoint,
    NoteError,
    NoteVerifier,
    open_note,
    parse_checkpoint,
    parse_tlog_proof_with_extra,
    verify_tlog_proof,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS accepted (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, root BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS expected (
    event_id TEXT PRIMARY KEY, event_type TEXT NOT NULL, message_id TEXT NOT NULL, since TEXT NOT NULL
);
"""


# What a partner's own events must say: a disclosure that went out, a receipt that accepted, an erasure done (a
# logged REFUSAL or REJECTED outcome under the expected id is another event than the one the partner took part in).
EXPECTED_OUTCOME = {"DISCLOSURE": "ok", "DELIVERY_RECEIPT": "accepted", "ERASURE": "erased"}


class LogProblem(CrxError, dead_letter=False, reason_code="LOG_PROBLEM"):
    """The audit log failed a check: a bad signature, an inconsistent history, a wrong or missing event."""


@dataclass(frozen=True)
class CheckResult:
    """One round: the checkpoint size accepted, events verified, events still waiting, problems found."""

    size: int
    verified: int
    waiting: int
    problems: tuple[str, ...]


class LogWatcher:
    """Verifies, for ``party``, the audit log served at ``api_url()`` (a callable: the URL may be known late)."""

    def __init__(
        self,
        party: str,
        api_url: Callable[[], str],
        verifiers: Sequence[NoteVerifier],
        origin: str,
        state_path: Path,
        registry: CollectorRegistry | None = None,
        max_wait: dt.timedelta = dt.timedelta(minutes=10),
    ) -> None:
        self.party = party
        self._api_url = api_url
        self._verifiers = list(verifiers)
        self._origin = origin
        self._max_wait = max_wait
        state_path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(state_path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._log = get_logger(f"partner-{party}.logwatch")
        self.verified = Counter(
            "crx_partner_log_verified", "Own audit events proven included in the log", ["party", "event_type"],
            registry=registry,
        )  # fmt: skip
        self.problems = Counter(
            "crx_partner_log_problems", "Audit log checks that failed", ["party", "problem"], registry=registry
        )

    def expect(self, events: Sequence[tuple[str, str, str]]) -> None:
        """Remember, in one transaction, that each ``(event id, event type, message id)`` must appear in the log."""
        if not events:
            return
        since = dt.datetime.now(dt.UTC).isoformat()
        with self._lock, self._db:
            self._db.execute("BEGIN")
            self._db.executemany(
                "INSERT OR IGNORE INTO expected VALUES (?, ?, ?, ?)", [(*event, since) for event in events]
            )

    def accepted(self) -> tuple[int, bytes] | None:
        """The last accepted checkpoint as (size, root), or None."""
        with self._lock:
            row = self._db.execute("SELECT size, root FROM accepted").fetchone()
        return None if row is None else (int(row[0]), bytes(row[1]))

    def waiting(self) -> int:
        """How many expected events are not yet proven."""
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM expected").fetchone()[0])

    def close(self) -> None:
        """Close the state file."""
        with self._lock:
            self._db.close()

    async def check_once(self, session: aiohttp.ClientSession) -> CheckResult:
        """One round of checks (see the module docstring). Never raises for a misbehaving log: counts it."""
        problems: list[str] = []
        base = self._api_url()
        try:
            async with session.get(f"{base}/v1/checkpoint") as response:
                if response.status == 404:
                    return CheckResult(0, 0, self.waiting(), ())
                note = await response.text()
            checkpoint = self._open(note)
            await self._advance(session, base, checkpoint)
        except LogProblem as exc:
            self._problem(exc.detail, problems)
            return CheckResult(self._size(), 0, self.waiting(), tuple(problems))
        verified = 0
        with self._lock:
            rows = self._db.execute("SELECT event_id, event_type, message_id, since FROM expected").fetchall()
        for event_id, event_type, message_id, since in rows:
            try:
                if await self._prove(session, base, event_id, event_type, message_id, since):
                    verified += 1
                    self.verified.labels(self.party, event_type).inc()
                    with self._lock:
                        self._db.execute("DELETE FROM expected WHERE event_id = ?", (event_id,))
            except LogProblem as exc:
                self._problem(exc.detail, problems)
        return CheckResult(self._size(), verified, self.waiting(), tuple(problems))

    def _problem(self, problem: str, problems: list[str]) -> None:
        problems.append(problem)
        self.problems.labels(self.party, problem.split(":", 1)[0]).inc()
        self._log.error("audit log check failed", problem=problem)

    def _size(self) -> int:
        accepted = self.accepted()
        return 0 if accepted is None else accepted[0]

    def _open(self, note: str) -> Checkpoint:
        try:
            checkpoint = parse_checkpoint(open_note(note, self._verifiers))
        except NoteError:
            raise LogProblem("BAD_CHECKPOINT: the checkpoint's signature or format does not verify") from None
        if checkpoint.origin != self._origin:
            raise LogProblem("BAD_CHECKPOINT: the checkpoint names another log")
        return checkpoint

    async def _consistent(
        self, session: aiohttp.ClientSession, base: str, old: tuple[int, bytes], new: Checkpoint
    ) -> None:
        """Raise LogProblem unless the log proves ``new`` extends ``old`` (or is an earlier state of it)."""
        (old_size, old_root), (new_size, new_root) = old, (new.size, new.root)
        if old_size == new_size:
            if old_root != new_root:
                raise LogProblem("FORK: two signed roots for the same size")
            return
        small, large = sorted(((old_size, old_root), (new_size, new_root)))
        async with session.get(f"{base}/v1/consistency", params={"old": str(small[0]), "new": str(large[0])}) as r:
            if r.status != 200:
                raise LogProblem(f"NO_CONSISTENCY: the log gives no consistency proof ({r.status})")
            answer: dict[str, Any] = await r.json(content_type=None)
        try:
            proof = [base64.b64decode(h, validate=True) for h in answer["proof"]]
            merkle.verify_consistency(small[0], large[0], small[1], large[1], proof)
        except (KeyError, TypeError, ValueError, merkle.ProofError):
            raise LogProblem(
                "INCONSISTENT: the log's history changed since a checkpoint this partner accepted"
            ) from None

    async def _advance(self, session: aiohttp.ClientSession, base: str, checkpoint: Checkpoint) -> None:
        accepted = self.accepted()
        if accepted is not None:
            if checkpoint.size < accepted[0]:
                raise LogProblem("ROLLBACK: the latest checkpoint is smaller than one already accepted")
            await self._consistent(session, base, accepted, checkpoint)
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO accepted VALUES (1, ?, ?)", (checkpoint.size, checkpoint.root))

    async def _prove(
        self, session: aiohttp.ClientSession, base: str, event_id: str, event_type: str, message_id: str, since: str
    ) -> bool:
        async with session.get(f"{base}/v1/proof/{event_id}") as response:
            if response.status in (404, 409):
                if dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(since) > self._max_wait:
                    raise LogProblem(f"MISSING: an expected {event_type} event is still not in a signed checkpoint")
                return False
            text = await response.text()
        try:
            _, leaf = parse_tlog_proof_with_extra(text)
            if leaf is None:
                raise LogProblem("BAD_PROOF: the proof bundle carries no leaf")
            checkpoint = verify_tlog_proof(text, merkle.leaf_hash(leaf), self._verifiers, self._origin)
            event = codec(AUDIT_EVENT).decode(leaf)
        except (NoteError, merkle.ProofError, CrxError) as exc:
            if isinstance(exc, LogProblem):
                raise
            raise LogProblem(f"BAD_PROOF: the inclusion proof of an expected {event_type} does not verify") from None
        if (
            str(event["event_id"]) != event_id
            or event["event_type"] != event_type
            or event["message_id"] != message_id
            or self.party not in event["recipients"]
            or event["outcome"] != EXPECTED_OUTCOME.get(event_type, event["outcome"])
        ):
            raise LogProblem(f"WRONG_EVENT: the log proves another event in place of an expected {event_type}")
        accepted = self.accepted()
        if accepted is not None:
            await self._consistent(session, base, accepted, checkpoint)
        return True
