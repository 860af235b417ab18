"""The audit store on both backends: an append-only RFC 9162 tree, idempotent, with signed checkpoints, and
``verify`` naming the index of whatever an attacker with write access to the database changed."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import AUDIT_EVENT
from services.audit.tree_store import (
    DEFAULT_ORIGIN,
    AuditStoreError,
    InconsistentCheckpoint,
    TreeStore,
)
from services.audit.tree_verify import event_columns
from services.kernel.codec import codec
from services.kernel.errors import CodecError
from services.translog import merkle
from services.translog.notes import NoteSigner, open_note, parse_checkpoint
from tests.audit.conftest import Backend, events


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1, straight from the definition (the reference the store's roots are checked against)."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return merkle.leaf_hash(leaves[0])
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return merkle.node_hash(mth(leaves[:k]), mth(leaves[k:]))


def _filled(
    backend: Backend, signer: NoteSigner, batches: tuple[int, ...] = (3, 1, 4, 5)
) -> tuple[TreeStore, list[bytes]]:
    """A store with ``batches`` appended, a checkpoint after each."""
    store = backend.open()
    leaves = events(sum(batches))
    start = 0
    for n in batches:
        store.append(leaves[start : start + n], signers=[signer])
        start += n
    return store, leaves


def test_append_is_idempotent_per_event_id_and_survives_reopening(backend: Backend, note_signer: NoteSigner) -> None:
    """A redelivered batch adds nothing, duplicates inside a batch count once, and leaves keep their indexes."""
    store = backend.open()
    first = store.append(events(5))
    assert (first.added, first.size, first.checkpoint) == (5, 5, None)
    again = store.append(events(7) + events(2, 5))
    assert (again.added, again.size) == (2, 7)
    assert store.append(events(7)).added == 0
    assert store.size == 7
    assert [i for i, _ in store.leaves()] == list(range(7))
    assert [leaf for _, leaf in store.leaves()] == events(7)
    assert [leaf for _, leaf in store.leaves(2, 4)] == events(7)[2:4]
    reopened = backend.open()
    assert reopened.size == 7 and reopened.root() == store.root() == mth(events(7))
    assert reopened.append(events(9), signers=[note_signer]).added == 2
    assert store.verify([note_signer.verifier()]).ok


def test_queries_by_event_fields(backend: Backend) -> None:
    """events() filters by submission, message or type; index_of and leaf find an event's place."""
    store = backend.open()
    store.append(events(4))
    decoded = store.events()
    assert [e["submission_id"] for e in decoded] == ["s0", "s1", "s2", "s3"]
    assert [e["submission_id"] for e in store.events(submission_id="s2")] == ["s2"]
    assert len(store.events(event_type="COLLECTION")) == 4 and store.events(message_id="none") == []
    assert store.index_of(str(decoded[3]["event_id"])) == 3 and store.index_of("nope") is None
    assert store.leaf(3) == events(4)[3]
    with pytest.raises(AuditStoreError):
        store.events(outcome="ok")
    with pytest.raises(AuditStoreError):
        store.leaf(4)


def test_a_leaf_that_is_not_an_audit_event_is_refused(backend: Backend) -> None:
    """Only audit events enter the log; the batch with a stranger appends nothing."""
    store = backend.open()
    with pytest.raises(CodecError):
        store.append([*events(2), b"not an event"])
    assert store.size == 0


def test_roots_and_proofs_verify_for_every_index_and_size(backend: Backend, note_signer: NoteSigner) -> None:
    """Roots equal the RFC 9162 definition; every inclusion and consistency proof verifies; nodes are exactly
    the perfect subtrees (2n - popcount(n) of them)."""
    store, leaves = _filled(backend, note_signer, (1, 2, 5, 1, 8, 4))
    n = len(leaves)
    assert store.root(0) == merkle.EMPTY_ROOT
    for size in range(1, n + 1):
        root = store.root(size)
        assert root == mth(leaves[:size])
        for index in range(size):
            proof = store.inclusion_proof(index, size)
            merkle.verify_inclusion(merkle.leaf_hash(leaves[index]), index, size, proof, root)
        for old in range(1, size + 1):
            merkle.verify_consistency(old, size, store.root(old), root, store.consistency_proof(old, size))
    nodes = sum(1 for _ in _node_rows(backend))
    assert nodes == 2 * n - bin(n).count("1")
    with pytest.raises(AuditStoreError):
        store.root(n + 1)
    with pytest.raises(AuditStoreError):
        store.inclusion_proof(0, n + 1)


def _node_rows(backend: Backend) -> list[tuple[int, int]]:
    store = backend.open()
    return [(int(r[0]), int(r[1])) for r in store._all("SELECT level, idx FROM nodes")]


def test_checkpoints_are_signed_notes_of_the_tree(backend: Backend, note_signer: NoteSigner) -> None:
    """Each checkpoint is a C2SP note (origin, size, root) signed by the note key; none is signed twice."""
    store, leaves = _filled(backend, note_signer)
    sizes = [cp.size for cp in store.checkpoints()]
    assert sizes == [3, 4, 8, 13]
    for cp in store.checkpoints():
        signed = parse_checkpoint(open_note(cp.note, [note_signer.verifier()]))
        assert (signed.origin, signed.size, signed.root) == (DEFAULT_ORIGIN, cp.size, mth(leaves[: cp.size]))
        assert cp.root == signed.root
    latest = store.latest_checkpoint()
    assert latest is not None and latest.size == 13
    assert store.checkpoint([note_signer]) is None  # nothing new
    store.append(events(2, 100))
    made = store.checkpoint([note_signer])
    assert made is not None and made.size == 15 and store.latest_checkpoint() == made
    result = store.verify([note_signer.verifier()])
    assert (result.ok, result.entries, result.signed) == (True, 15, 15)


def test_entries_after_the_last_checkpoint_verify_against_the_tree(backend: Backend, note_signer: NoteSigner) -> None:
    """An unsigned tail is normal between checkpoints: verify checks it against the stored nodes, says how much
    is signed, and still catches a change in it."""
    store, _ = _filled(backend, note_signer, (4,))
    store.append(events(3, 50))
    result = store.verify([note_signer.verifier()])
    assert (result.ok, result.entries, result.signed) == (True, 7, 4)
    backend.tamper("UPDATE leaves SET leaf = ? WHERE idx = ?", (_flipped(store.leaf(5)), 5))
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == 5


def _flipped(data: bytes, at: int | None = None) -> bytes:
    position = len(data) // 2 if at is None else at
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1 :]


@pytest.mark.parametrize("index", [0, 5, 12])
def test_a_changed_leaf_is_reported_with_its_index(backend: Backend, note_signer: NoteSigner, index: int) -> None:
    """One flipped bit in one leaf: verify fails and names that leaf."""
    store, _ = _filled(backend, note_signer)
    assert store.verify([note_signer.verifier()]).ok
    backend.tamper("UPDATE leaves SET leaf = ? WHERE idx = ?", (_flipped(store.leaf(index)), index))
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == index, result
    assert result.problem and str(index) in result.problem


def test_a_changed_column_is_reported(backend: Backend, note_signer: NoteSigner) -> None:
    """The query columns must agree with the leaf they were copied from."""
    store, _ = _filled(backend, note_signer)
    backend.tamper("UPDATE leaves SET outcome = ? WHERE idx = ?", ("refused", 6))
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == 6


@pytest.mark.parametrize("index", [0, 7, 12])
def test_a_removed_leaf_is_reported_with_its_index(backend: Backend, note_signer: NoteSigner, index: int) -> None:
    """Deleting a leaf (first, middle or last) leaves a gap, a node without leaf or a checkpoint beyond the log."""
    store, _ = _filled(backend, note_signer)
    backend.tamper("DELETE FROM leaves WHERE idx = ?", (index,))
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == index, result


def test_removing_the_tail_with_its_nodes_is_caught_by_the_checkpoint(
    backend: Backend, note_signer: NoteSigner
) -> None:
    """Truncating leaves and nodes consistently still leaves a signed checkpoint larger than the log."""
    store, _ = _filled(backend, note_signer)
    backend.tamper_many(
        [("DELETE FROM leaves WHERE idx >= ?", (10,)), ("DELETE FROM nodes WHERE ((idx + 1) << level) > ?", (10,))]
    )
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == 10 and "checkpoint 13" in (result.problem or ""), result


def test_swapped_leaves_are_reported_at_the_first(backend: Backend, note_signer: NoteSigner) -> None:
    """Reordering two leaves (with their columns) is a mismatch at the first of them."""
    store, _ = _filled(backend, note_signer)
    backend.tamper_many(
        [
            ("UPDATE leaves SET idx = ? WHERE idx = ?", (1000, 2)),
            ("UPDATE leaves SET idx = ? WHERE idx = ?", (2, 9)),
            ("UPDATE leaves SET idx = ? WHERE idx = ?", (9, 1000)),
        ]
    )
    assert [leaf for _, leaf in store.leaves()][2] == events(13)[9]
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == 2, result


def _rewrite(backend: Backend, store: TreeStore, index: int, leaf: bytes) -> None:
    """Replace leaf ``index`` and recompute every node from the leaves: the rewrite a careful attacker makes."""
    leaves = [old for _, old in store.leaves()]
    leaves[index] = leaf
    nodes = merkle.CompactRange().append([merkle.leaf_hash(x) for x in leaves])
    columns = event_columns(codec(AUDIT_EVENT).decode(leaf))
    statements: list[tuple[str, tuple[object, ...]]] = [
        (
            "UPDATE leaves SET event_id = ?, event_type = ?, submission_id = ?, message_id = ?, recipients = ?,"
            " outcome = ?, leaf = ? WHERE idx = ?",
            (*columns, leaf, index),
        ),
        ("DELETE FROM nodes WHERE idx >= ?", (0,)),
    ]
    backend.tamper_many(statements)
    for level, idx, digest in nodes:
        backend.tamper("INSERT INTO nodes (level, idx, hash) VALUES (?, ?, ?)", (level, idx, digest))


def test_a_consistent_rewrite_disagrees_with_the_signed_roots(backend: Backend, note_signer: NoteSigner) -> None:
    """Leaf and nodes rewritten together pass the node checks but not the first later signed checkpoint; the
    index reported is where the last checkpoint that still verifies ends."""
    store, _ = _filled(backend, note_signer)  # checkpoints 3, 4, 8, 13
    other = events(1, 500)[0]
    _rewrite(backend, store, 5, other)
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == 4 and result.signed == 4, result
    assert "checkpoint 8" in (result.problem or "")


def test_a_changed_node_is_reported_at_its_first_leaf(backend: Backend, note_signer: NoteSigner) -> None:
    """A stored node that the leaves do not produce is reported with the first leaf under it."""
    store, _ = _filled(backend, note_signer)
    backend.tamper("UPDATE nodes SET hash = ? WHERE level = ? AND idx = ?", (bytes(32), 2, 1))
    result = store.verify([note_signer.verifier()])
    assert not result.ok and result.bad_index == 4 and "node (2, 1)" in (result.problem or ""), result


def test_a_changed_checkpoint_fails_its_signature(backend: Backend, note_signer: NoteSigner) -> None:
    """A checkpoint note altered anywhere, or signed by an unknown key, does not verify."""
    store, _ = _filled(backend, note_signer)
    cp = store.checkpoints()[1]
    backend.tamper(
        "UPDATE checkpoints SET note = ? WHERE size = ?", (cp.note.replace("crx/audit", "crx/audiT"), cp.size)
    )
    result = store.verify([note_signer.verifier()])
    assert not result.ok and "checkpoint 4" in (result.problem or "")
    stranger = NoteSigner(DEFAULT_ORIGIN, Ed25519PrivateKey.generate())
    assert not store.verify([stranger.verifier()]).ok


def test_an_inconsistent_checkpoint_is_never_signed(backend: Backend, note_signer: NoteSigner) -> None:
    """After a consistent rewrite of history, the next checkpoint fails its consistency proof against the last
    signed root: the batch is not appended and nothing is signed."""
    store, _ = _filled(backend, note_signer)
    _rewrite(backend, store, 2, events(1, 500)[0])
    with pytest.raises(InconsistentCheckpoint):
        store.append(events(3, 200), signers=[note_signer])
    assert store.size == 13 and [cp.size for cp in store.checkpoints()] == [3, 4, 8, 13]
    with pytest.raises(InconsistentCheckpoint):
        store.append(events(3, 200), signers=[note_signer])
    assert store.append(events(3, 200)).added == 3  # appending unsigned still works: verify will tell


def test_a_log_shorter_than_its_checkpoint_is_never_signed(backend: Backend, note_signer: NoteSigner) -> None:
    """Truncation below the latest checkpoint is refused too."""
    store, _ = _filled(backend, note_signer)
    backend.tamper_many(
        [("DELETE FROM leaves WHERE idx >= ?", (11,)), ("DELETE FROM nodes WHERE ((idx + 1) << level) > ?", (11,))]
    )
    with pytest.raises(InconsistentCheckpoint):
        store.append(events(1, 300), signers=[note_signer])
