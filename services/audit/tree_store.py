"""The audit log as an RFC 9162 Merkle tree over SQL tables, whatever the database: the shared logic.

Tables (the same in SQLite and PostgreSQL; types differ, see the backends):

- ``leaves(idx, event_id UNIQUE, event_type, submission_id, message_id, recipients, outcome, leaf)``: leaf
  ``idx`` (0, 1, 2 ...) is the audit event's canonical bytes (its Avro single-object encoding, which holds
  only ids, codes and salted commitments, never personal data). The other columns are copies of the
  event's fields, for queries; ``verify`` checks them against the leaf.
- ``nodes(level, idx, hash)``: every perfect-subtree hash (``merkle.appended_nodes``), level 0 being the
  leaf hashes, so a root or a proof is ``O(log n)`` point reads.
- ``checkpoints(size PRIMARY KEY, root, note)``: signed C2SP checkpoint notes (``notes.sign_note``).

A backend supplies transactions, statements and streaming reads (``TreeStore``'s abstract methods); the
SQL here uses ``?`` placeholders. Appends are serialised by the backend (one sequencer per log) and each
batch is one transaction: leaves, nodes and, when asked, the signed checkpoint commit together or not at
all. A checkpoint is signed only after a consistency proof, built from the stored nodes, verifies against
the latest stored checkpoint's signed root: a store whose history was rewritten refuses to sign.

A store object has one connection, which several threads may share (the writer on the event loop, the
proof API in worker threads): backends hold ``self._lock`` for a whole transaction and for each statement,
so no thread ever reads another's uncommitted batch.

``verify`` recomputes the tree from the leaves in one streaming pass and checks every node and checkpoint
against it: see ``tree_verify`` for what each kind of tampering looks like.
"""

from __future__ import annotations

import contextlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Generator, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

from schemas import AUDIT_EVENT
from services.audit.tree_verify import (
    CHECKPOINTS_IN_ORDER,
    LEAF_COLUMNS,
    LEAVES_IN_ORDER,
    NODES_IN_ORDER,
    Progress,
    Row,
    VerifyResult,
    event_columns,
    verify_rows,
)
from services.kernel.codec import codec
from services.kernel.errors import CrxError
from services.translog import merkle
from services.translog.notes import (
    Checkpoint,
    NoteError,
    NoteSigner,
    NoteVerifier,
    checkpoint_text,
    parse_checkpoint,
    sign_note,
)

DEFAULT_ORIGIN = "crx/audit"
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
EVENT_FILTERS = ("submission_id", "message_id", "event_type")
PAGE = 1000

Decoded = Sequence[dict[str, Any]] | None
"""The events of the leaves given to ``append``, decoded by the caller or the records they were encoded from
(None: ``append`` decodes them). Only their ids and query columns are read."""

_UNREADABLE: tuple[type[Exception], ...] = (CrxError, ValueError, TypeError, UnicodeDecodeError)


class AuditStoreError(CrxError, dead_letter=False, reason_code="AUDIT_STORE"):
    """A request the store cannot answer (an index or size beyond the log), or a damaged store."""


class InconsistentCheckpoint(CrxError, dead_letter=False, reason_code="INCONSISTENT_CHECKPOINT"):
    """The log no longer extends its latest signed checkpoint: history was rewritten. Nothing is signed."""


@dataclass(frozen=True)
class StoredCheckpoint:
    """A signed checkpoint as stored: tree size, root and the signed note."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class AppendResult:
    """What one ``append`` did: entries added, log size after it, the checkpoint signed (if any), and the
    leaves refused because their event id is logged with other bytes (the logged events stand)."""

    added: int
    size: int
    checkpoint: StoredCheckpoint | None = None
    conflicts: tuple[bytes, ...] = ()


def note_text(note: str) -> str:
    """The text of a signed note, signatures not checked (``open_note`` checks them)."""
    split = note.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no signature block")
    return note[: split + 1]


class TreeStore(ABC):
    """The Merkle tree audit log over a database backend (``SqliteAuditStore``, ``PostgresAuditStore``)."""

    #: exceptions of the database driver that mean "the store could not be read" during ``verify``
    driver_errors: tuple[type[Exception], ...] = ()

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self._codec = codec(AUDIT_EVENT)
        self._lock = threading.RLock()  # held by the backends around transactions and statements

    # ------------------------------------------------------------------------------------ backend hooks

    @abstractmethod
    def _write(self) -> AbstractContextManager[None]:
        """One write transaction, serialised against every other writer of this log."""

    @abstractmethod
    def _snapshot(self) -> AbstractContextManager[None]:
        """One read-only transaction seeing a single consistent state (for ``verify``)."""

    @abstractmethod
    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run one statement and return its rows."""

    @abstractmethod
    def _stream(self, sql: str, params: Sequence[Any] = ()) -> Generator[Row, None, None]:
        """Rows of one query, fetched lazily (inside ``_snapshot``)."""

    @abstractmethod
    def _many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement for each of ``rows``."""

    @abstractmethod
    def close(self) -> None:
        """Close the database connection."""

    def _storage_problem(self) -> str | None:
        """A problem the database itself reports (page corruption), checked first by ``verify``."""
        return None

    # ----------------------------------------------------------------------------------------- reading

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = self._all(sql, params)
        return rows[0] if rows else None

    def _node(self, level: int, index: int) -> bytes:
        row = self._one("SELECT hash FROM nodes WHERE level = ? AND idx = ?", (level, index))
        if row is None:
            raise AuditStoreError(f"node ({level}, {index}) is missing: the store is damaged")
        return bytes(row[0])

    @property
    def size(self) -> int:
        """Number of leaves."""
        row = self._one("SELECT MAX(idx) FROM leaves")
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def _check_size(self, size: int) -> None:
        if not 0 <= size <= self.size:
            raise AuditStoreError(f"tree size {size} is not in [0, {self.size}]")

    def root(self, size: int | None = None) -> bytes:
        """The RFC 9162 root of the first ``size`` leaves (default: all). ``O(log n)`` reads."""
        if size is None:
            size = self.size
        self._check_size(size)
        return merkle.root(size, self._node)

    def leaf(self, index: int) -> bytes:
        """The canonical bytes of leaf ``index``."""
        row = self._one("SELECT leaf FROM leaves WHERE idx = ?", (index,))
        if row is None:
            raise AuditStoreError(f"no leaf {index}")
        return bytes(row[0])

    def leaves(self, start: int = 0, end: int | None = None) -> Iterator[tuple[int, bytes]]:
        """``(index, leaf)`` for leaves in ``[start, end)``, in order, read a page at a time."""
        stop = self.size if end is None else end
        while start < stop:
            page = self._all(
                "SELECT idx, leaf FROM leaves WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?",
                (start, stop, PAGE),
            )
            if not page:
                return
            for idx, leaf in page:
                yield int(idx), bytes(leaf)
            start = int(page[-1][0]) + 1

    def index_of(self, event_id: str) -> int | None:
        """The leaf index of the event ``event_id``, or None if it was never logged."""
        row = self._one("SELECT idx FROM leaves WHERE event_id = ?", (event_id,))
        return None if row is None else int(row[0])

    def events(self, **where: str) -> list[dict[str, Any]]:
        """Decoded events in log order, optionally filtered by one of submission_id, message_id, event_type."""
        if not set(where) <= set(EVENT_FILTERS) or len(where) > 1:
            raise AuditStoreError("events(): filter by at most one of submission_id, message_id, event_type")
        sql = "SELECT leaf FROM leaves"
        params: tuple[str, ...] = ()
        if where:
            ((column, value),) = where.items()
            sql, params = f"{sql} WHERE {column} = ?", (value,)  # column is one of EVENT_FILTERS
        return [self._codec.decode(bytes(row[0])) for row in self._all(sql + " ORDER BY idx", params)]

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves (default: all)."""
        if size is None:
            size = self.size
        self._check_size(size)
        return merkle.inclusion_proof(index, size, self._node)

    def consistency_proof(self, old: int, new: int | None = None) -> list[bytes]:
        """RFC 9162 consistency proof from the tree of ``old`` leaves to that of ``new`` (default: all)."""
        if new is None:
            new = self.size
        self._check_size(new)
        return merkle.consistency_proof(old, new, self._node)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        """The signed checkpoint of the largest size, if any."""
        row = self._one("SELECT size, root, note FROM checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else StoredCheckpoint(int(row[0]), bytes(row[1]), str(row[2]))

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every signed checkpoint, smallest first."""
        rows = self._all("SELECT size, root, note FROM checkpoints ORDER BY size")
        return [StoredCheckpoint(int(size), bytes(root), str(note)) for size, root, note in rows]

    # ----------------------------------------------------------------------------------------- writing

    def append(
        self, leaves: Sequence[bytes], *, signers: Sequence[NoteSigner] = (), decoded: Decoded = None
    ) -> AppendResult:
        """Append audit events (canonical bytes) in one transaction; with ``signers``, sign a checkpoint too.
        ``decoded``, when the caller has the leaves' events already (the audit writer: decoded, or the records
        it encoded), is each leaf's event (``Decoded``): the leaves are then not decoded again.

        Events whose event id is already logged (or repeated in ``leaves``) are skipped, so a redelivered
        batch adds nothing; one that records another act than the logged one (``_same_act``: a stage that
        redoes a batch after a crash acts again, later, on the same input) is named in ``conflicts``. With
        ``signers``, a checkpoint of the new size is signed and stored in the same transaction, unless the
        latest checkpoint already has that size. Raises CodecError for a leaf that is
        not an audit event, InconsistentCheckpoint (and appends nothing) when the stored tree does not
        extend the latest checkpoint, TransientError when the database fails.
        """
        if decoded is None:
            events = [(leaf, self._codec.decode(leaf)) for leaf in leaves]
        else:
            events = list(zip(leaves, decoded, strict=True))
        with self._write():
            size = self.size
            fresh, conflicts = self._fresh(events)
            if fresh:
                rows = [
                    (size + i, *event_columns(event, event_id), leaf) for i, (leaf, event, event_id) in enumerate(fresh)
                ]
                hashes = [merkle.leaf_hash(leaf) for leaf, _, _ in fresh]
                nodes = merkle.appended_nodes(size, hashes, self._edge_reader(size))
                self._many(
                    f"INSERT INTO leaves ({LEAF_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"  # noqa: S608 - constant
                    " ON CONFLICT (event_id) DO NOTHING",
                    rows,
                )
                (count,) = self._one("SELECT COUNT(*) FROM leaves WHERE idx >= ?", (size,)) or (0,)
                if count != len(fresh):  # an event id logged meanwhile by a writer that ignored the lock
                    raise AuditStoreError("leaves were appended concurrently; batch not appended")
                self._many("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", nodes)
            new_size = size + len(fresh)
            checkpoint = self._sign(new_size, signers) if signers else None
        return AppendResult(len(fresh), new_size, checkpoint, tuple(conflicts))

    def _edge_reader(self, size: int) -> merkle.NodeReader:
        """A node reader that has the right edge of the tree of ``size`` leaves (the nodes ``appended_nodes``
        reads: one perfect subtree per bit of ``size``) from one statement, and reads any other node alone."""
        wanted = [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]
        edge: dict[tuple[int, int], bytes] = {}
        if wanted:
            where = " OR ".join(["(level = ? AND idx = ?)"] * len(wanted))
            rows = self._all(f"SELECT level, idx, hash FROM nodes WHERE {where}", [v for w in wanted for v in w])  # noqa: S608 - placeholders
            edge = {(int(level), int(idx)): bytes(hash_) for level, idx, hash_ in rows}

        def node(level: int, index: int) -> bytes:
            found = edge.get((level, index))
            return self._node(level, index) if found is None else found

        return node

    def checkpoint(self, signers: Sequence[NoteSigner]) -> StoredCheckpoint | None:
        """Sign a checkpoint of the current size if none exists yet (see ``append``); return it, or None."""
        return self.append([], signers=signers).checkpoint

    def _fresh(
        self, events: list[tuple[bytes, dict[str, Any]]]
    ) -> tuple[list[tuple[bytes, dict[str, Any], str]], list[bytes]]:
        """The events not logged yet (first of each id) with their id as text, and the leaves whose id came again
        with other bytes."""
        seen: dict[str, bytes] = {}
        named = [str(event["event_id"]) for _, event in events]  # a decoded id is a UUID: made text once
        ids = list(dict.fromkeys(named))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" * len(chunk))
            query = f"SELECT event_id, leaf FROM leaves WHERE event_id IN ({marks})"  # noqa: S608 - placeholders
            seen.update((str(row[0]), bytes(row[1])) for row in self._all(query, chunk))
        fresh, conflicts = [], []
        for (leaf, event), event_id in zip(events, named, strict=True):
            logged = seen.get(event_id)
            if logged is None:
                seen[event_id] = leaf
                fresh.append((leaf, event, event_id))
            elif logged != leaf and not self._same_act(logged, leaf):
                conflicts.append(leaf)
        return fresh, conflicts

    def _same_act(self, logged: bytes, leaf: bytes) -> bool:
        """Whether ``event`` records the act ``logged`` does, at another time: every field but ``occurred_at``
        equal, and for a receipt also but the commitment to its bytes (a partner re-sending the receipt of a
        message delivered before signs it anew, with the same receipt id and outcome)."""
        first, event = self._codec.decode(logged), self._codec.decode(leaf)
        loose = {"occurred_at": None}
        if event["event_type"] == "DELIVERY_RECEIPT":
            loose["payload_commitment"] = None
        return first | loose == event | loose

    def _sign(self, size: int, signers: Sequence[NoteSigner]) -> StoredCheckpoint | None:
        """Inside the write transaction: check consistency with the latest checkpoint, sign, store."""
        latest = self.latest_checkpoint()
        if size == 0 or (latest is not None and latest.size == size):
            return None
        root = merkle.root(size, self._node)
        if latest is not None:
            self._check_extends(latest, size, root)
        note = sign_note(checkpoint_text(Checkpoint(self.origin, size, root)), signers)
        self._many("INSERT INTO checkpoints (size, root, note) VALUES (?, ?, ?)", [(size, root, note)])
        return StoredCheckpoint(size, root, note)

    def _check_extends(self, latest: StoredCheckpoint, size: int, root: bytes) -> None:
        try:
            signed = parse_checkpoint(note_text(latest.note))
        except NoteError:
            raise InconsistentCheckpoint(f"checkpoint {latest.size} is unreadable: nothing signed") from None
        if signed.origin != self.origin or signed.size != latest.size or signed.root != latest.root:
            raise InconsistentCheckpoint(f"checkpoint {latest.size} disagrees with its note: nothing signed")
        if latest.size > size:
            raise InconsistentCheckpoint(f"the log has {size} entries, fewer than checkpoint {latest.size}")
        try:
            proof = merkle.consistency_proof(latest.size, size, self._node)
            merkle.verify_consistency(latest.size, size, signed.root, root, proof)
        except merkle.ProofError:
            raise InconsistentCheckpoint(
                f"the tree of {size} entries does not extend checkpoint {latest.size}: nothing signed"
            ) from None

    # ----------------------------------------------------------------------------------------- verifying

    def verify(self, verifiers: Sequence[NoteVerifier]) -> VerifyResult:
        """Recompute the whole tree from the leaves and check it against every node and checkpoint
        (``tree_verify``), in one read transaction, streaming: ``O(n)`` time, ``O(log n)`` memory.

        Never raises for a damaged store: returns ok=False with the first problem found and its index.
        """
        problem = self._storage_problem()
        if problem is not None:
            return VerifyResult(False, 0, problem)
        progress = Progress()
        try:
            with self._snapshot(), contextlib.ExitStack() as streams:
                leaves, nodes, checkpoints = (
                    streams.enter_context(contextlib.closing(self._stream(query)))
                    for query in (LEAVES_IN_ORDER, NODES_IN_ORDER, CHECKPOINTS_IN_ORDER)
                )
                return verify_rows(
                    leaves,
                    nodes,
                    checkpoints,
                    origin=self.origin,
                    verifiers=verifiers,
                    decode=self._codec.decode,
                    progress=progress,
                )
        except self.driver_errors + _UNREADABLE as exc:
            return progress.fail(
                f"store unreadable near leaf {progress.entries}: {type(exc).__name__}", progress.entries
            )
