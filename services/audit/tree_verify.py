"""Verifying a stored audit log in one streaming pass: pure, over the rows of its three tables.

The leaves, in index order, are hashed into a ``merkle.CompactRange`` (``O(log n)`` memory); every node
that becomes complete is compared with the next stored node (nodes streamed in the order they complete:
by end position, then level), and whenever the leaf count reaches a checkpoint's size, that checkpoint's
signature, origin, size and root are checked against the recomputed root. All checkpoints are thus checked
against the one recomputed sequence of leaves, so checkpoints that pass are mutually consistent (any two are
related by a valid consistency proof).

What each kind of tampering looks like (``bad_index`` in brackets):

- a leaf changed [its index]: its hash differs from the stored level-0 node; or, when its query columns
  were changed, they disagree with the decoded leaf;
- a leaf removed [its index]: a gap in the indexes, a node with no leaf, or a checkpoint beyond the log;
- leaves reordered [the first moved index]: a leaf hash mismatch at that index;
- a node changed [the first leaf under it];
- leaves and nodes rewritten consistently [where the last checkpoint that still verifies ends]: only a
  signed root can disagree, so the change lies between that checkpoint and the first one that fails;
- a checkpoint changed [none]: its signature, or its stored columns against the signed note.

Not detectable from the store alone: removing the newest leaves together with their nodes *and* every
checkpoint that covers them (the log is then a valid shorter log). Whoever holds a later checkpoint (a
partner, a witness) detects it with a consistency proof.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from services.kernel.errors import CrxError
from services.translog import merkle
from services.translog.notes import NoteError, NoteVerifier, open_note, parse_checkpoint

Row = tuple[Any, ...]

LEAF_COLUMNS = "idx, event_id, event_type, submission_id, message_id, recipients, outcome, leaf"
LEAVES_IN_ORDER = f"SELECT {LEAF_COLUMNS} FROM leaves ORDER BY idx"  # noqa: S608 - constant
NODES_IN_ORDER = "SELECT level, idx, hash FROM nodes ORDER BY ((idx + 1) << level), level"
CHECKPOINTS_IN_ORDER = "SELECT size, root, note FROM checkpoints ORDER BY size"


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of a full verification.

    ``entries``: leaves checked; ``signed``: size of the latest checkpoint verified (entries beyond it are
    checked against the stored tree only, until the next checkpoint signs them). On failure, ``problem``
    says what is wrong and ``bad_index`` is the first leaf index concerned (see the module docstring).
    """

    ok: bool
    entries: int
    problem: str | None = None
    bad_index: int | None = None
    signed: int = 0


@dataclass
class Progress:
    """How far a verification got: leaves checked and size of the last checkpoint verified."""

    entries: int = 0
    signed: int = 0

    def fail(self, problem: str, bad_index: int | None) -> VerifyResult:
        """A failed result at the current position."""
        return VerifyResult(False, self.entries, problem, bad_index, self.signed)


def event_columns(event: dict[str, Any], event_id: str | None = None) -> tuple[Any, ...]:
    """The query columns copied from an audit event, in table order after ``idx`` (``event_id``: its id as
    text, when the caller has it already)."""
    return (
        str(event["event_id"]) if event_id is None else event_id,
        event["event_type"],
        event["submission_id"],
        event["message_id"],
        ",".join(event["recipients"]),
        event["outcome"],
    )


def verify_rows(
    leaves: Iterable[Row],
    nodes: Iterator[Row],
    checkpoints: Iterator[Row],
    *,
    origin: str,
    verifiers: Sequence[NoteVerifier],
    decode: Callable[[bytes], dict[str, Any]],
    progress: Progress,
) -> VerifyResult:
    """Check the rows of ``LEAVES_IN_ORDER``, ``NODES_IN_ORDER`` and ``CHECKPOINTS_IN_ORDER`` against each other.

    Returns the first problem found. Exceptions of the row iterators propagate (``progress`` says where).
    """
    tree = merkle.CompactRange()
    pending = next(checkpoints, None)
    if pending is not None and int(pending[0]) <= 0:
        return progress.fail(f"checkpoint of size {pending[0]}", None)
    for row in leaves:
        index = progress.entries
        if int(row[0]) != index:
            return progress.fail(f"leaf {index} is missing (next stored leaf is {row[0]})", index)
        leaf = bytes(row[7])
        try:
            event = decode(leaf)
        except CrxError:
            return progress.fail(f"leaf {index} is not an audit event", index)
        if tuple(row[1:7]) != event_columns(event):
            return progress.fail(f"leaf {index}: its columns disagree with the logged event", index)
        for level, idx, digest in tree.append([merkle.leaf_hash(leaf)]):
            stored = next(nodes, None)
            if stored is None or (int(stored[0]), int(stored[1])) != (level, idx):
                return progress.fail(f"node ({level}, {idx}) is missing", idx << level)
            if bytes(stored[2]) != digest:
                what = f"leaf {index}" if level == 0 else f"node ({level}, {idx})"
                return progress.fail(f"{what} differs from the stored tree", idx << level)
        progress.entries += 1
        while pending is not None and int(pending[0]) == progress.entries:
            problem = _checkpoint_problem(pending, tree.root(), origin, verifiers, progress.signed)
            if problem is not None:
                return progress.fail(*problem)
            progress.signed = progress.entries
            pending = next(checkpoints, None)
    extra = next(nodes, None)
    if extra is not None:
        return progress.fail(
            f"leaf {progress.entries} is missing (node ({extra[0]}, {extra[1]}) remains)", progress.entries
        )
    if pending is not None:
        return progress.fail(
            f"leaf {progress.entries} is missing: checkpoint {pending[0]} signs more entries than the log has",
            progress.entries,
        )
    return VerifyResult(True, progress.entries, signed=progress.signed)


def _checkpoint_problem(
    row: Row, recomputed: bytes, origin: str, verifiers: Sequence[NoteVerifier], last_good: int
) -> tuple[str, int | None] | None:
    size, root, note = int(row[0]), bytes(row[1]), str(row[2])
    try:
        signed = parse_checkpoint(open_note(note, verifiers))
    except NoteError:
        return f"checkpoint {size}: no valid signature by a trusted key", None
    if signed.origin != origin:
        return f"checkpoint {size}: origin is not {origin!r}", None
    if signed.size != size or signed.root != root:
        return f"checkpoint {size}: stored size or root disagrees with the signed note", None
    if signed.root != recomputed:
        return (
            f"checkpoint {size}: the leaves' root differs from the signed root "
            f"(a leaf in [{last_good}, {size}) was altered)",
            last_good,
        )
    return None
