"""RFC 9162 Merkle tree hashing, proofs and proof verification over stored perfect-subtree nodes.

Pure functions, no I/O. A tree is read through a ``NodeReader``: ``node(level, index)`` returns the hash of
the *perfect* subtree of ``2**level`` leaves starting at leaf ``index * 2**level`` (level 0 = leaf hashes).
A store keeps exactly those nodes, ``2n - popcount(n)`` of them for ``n`` leaves, and writes the ones
``appended_nodes`` returns after each batch.

Every range the RFC 9162 algorithms hash (section 2.1.1 MTH, 2.1.3.1 PATH, 2.1.4.1 PROOF/SUBPROOF) starts
at a multiple of a power of two at least as large as itself, so a range that is not perfect is the fold,
right to left, of the perfect subtrees its size decomposes into. Hence ``root``, ``inclusion_proof`` and
``consistency_proof`` read ``O(log n)`` nodes, and ``appended_nodes`` reads only the right edge
(``popcount(size)`` nodes).

``verify_inclusion`` and ``verify_consistency`` are the algorithms of RFC 9162 sections 2.1.3.2 and
2.1.4.2. They return ``None`` on success and raise ``ProofError`` on any failure, malformed input
included. Edge-case policy (as the transparency-dev/merkle test vectors pin it): hashes are 32 bytes,
``index < size``, ``0 < size1 <= size2``; when ``size1 == size2`` the proof must be empty and the two roots
equal (compared as given).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Sequence

from services.kernel.errors import CrxError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "CompactRange",
    "NodeReader",
    "ProofError",
    "appended_nodes",
    "consistency_proof",
    "frontier",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_frontier",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32

NodeReader = Callable[[int, int], bytes]
"""``node(level, index)``: hash of the perfect subtree of ``2**level`` leaves from leaf ``index * 2**level``."""


class ProofError(CrxError, dead_letter=False, reason_code="PROOF"):
    """A Merkle proof does not verify, or the sizes, indices or hashes given are malformed."""


def leaf_hash(leaf: bytes) -> bytes:
    """RFC 9162 leaf hash: ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


EMPTY_ROOT: bytes = hashlib.sha256(b"").digest()
"""MTH of the empty tree: ``SHA-256()`` of no bytes."""


# --------------------------------------------------------------------------------------------- tree state


def _right_edge(size: int) -> list[tuple[int, int]]:
    """The (level, index) of the perfect subtrees that make up ``[0, size)``, largest (leftmost) first."""
    return [(level, (size >> level) - 1) for level in reversed(range(size.bit_length())) if size >> level & 1]


def frontier(size: int, node: NodeReader) -> list[bytes]:
    """The hashes of the perfect subtrees making up the first ``size`` leaves, largest first.

    Reads exactly ``popcount(size)`` nodes. ``root_from_frontier(frontier(n, node)) == root(n, node)``.
    """
    _check_size(size)
    return [node(level, index) for level, index in _right_edge(size)]


def root_from_frontier(hashes: Sequence[bytes]) -> bytes:
    """Fold a frontier (perfect-subtree hashes, largest first) right to left into the tree root.

    An empty frontier is the empty tree (``EMPTY_ROOT``).
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


class CompactRange:
    """The right edge of a tree of ``size`` leaves: ``O(log n)`` state enough to append and to compute the root.

    ``levels[i]`` is the level of ``hashes[i]``; both are ordered largest subtree first, levels strictly
    decreasing and equal to the set bits of ``size``.
    """

    __slots__ = ("hashes", "levels", "size")

    def __init__(self, size: int = 0, hashes: Sequence[bytes] = ()) -> None:
        """Build from a frontier; raises ``ProofError`` if ``hashes`` does not match ``popcount(size)``."""
        _check_size(size)
        edge = _right_edge(size)
        if len(hashes) != len(edge):
            raise ProofError("frontier does not match the tree size")
        for h in hashes:
            _check_hash(h, "frontier hash")
        self.size = size
        self.levels = [level for level, _ in edge]
        self.hashes = list(hashes)

    @classmethod
    def from_reader(cls, size: int, node: NodeReader) -> CompactRange:
        """Read the right edge of a stored tree (``popcount(size)`` node reads)."""
        return cls(size, frontier(size, node))

    def append(self, new_leaf_hashes: Iterable[bytes]) -> list[tuple[int, int, bytes]]:
        """Append leaf hashes; return every ``(level, index, hash)`` node that became complete, in order.

        The list includes the new leaves themselves at level 0; a parent always follows its children.
        Raises ``ProofError`` (and changes nothing) if a leaf hash is not ``HASH_SIZE`` bytes.
        """
        leaves = list(new_leaf_hashes)
        for h in leaves:
            _check_hash(h, "leaf hash")
        out: list[tuple[int, int, bytes]] = []
        levels, hashes = self.levels, self.hashes
        for h in leaves:
            position = self.size
            out.append((0, position, h))
            level, acc = 0, h
            while levels and levels[-1] == level:
                levels.pop()
                acc = node_hash(hashes.pop(), acc)
                level += 1
                out.append((level, position >> level, acc))
            levels.append(level)
            hashes.append(acc)
            self.size += 1
        return out

    def root(self) -> bytes:
        """MTH of the leaves appended so far (no reads)."""
        return root_from_frontier(self.hashes)


def appended_nodes(size: int, new_leaf_hashes: Sequence[bytes], node: NodeReader) -> list[tuple[int, int, bytes]]:
    """Every ``(level, index, hash)`` that becomes complete when ``new_leaf_hashes`` follow ``size`` leaves.

    Includes the new leaves at level 0; children come before their parent. Reads only the right edge of the
    existing tree (``popcount(size)`` nodes). Raises ``ProofError`` on a negative size or a leaf hash that is
    not ``HASH_SIZE`` bytes.
    """
    return CompactRange.from_reader(size, node).append(new_leaf_hashes)


# ------------------------------------------------------------------------------------ hashing and proofs


def _range_hash(begin: int, end: int, node: NodeReader) -> bytes:
    """MTH of leaves ``[begin, end)``, where ``begin`` is a multiple of the largest power of two <= its size.

    Reads ``popcount(end - begin)`` nodes: the range's perfect subtrees, folded right to left.
    """
    hashes: list[bytes] = []
    start = begin
    for level in reversed(range((end - begin).bit_length())):
        if (end - begin) >> level & 1:
            hashes.append(node(level, start >> level))
            start += 1 << level
    return root_from_frontier(hashes)


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def root(size: int, node: NodeReader) -> bytes:
    """MTH (RFC 9162 2.1.1) of the first ``size`` leaves; ``EMPTY_ROOT`` for 0. ``popcount(size)`` reads."""
    _check_size(size)
    return _range_hash(0, size, node)


def inclusion_proof(index: int, size: int, node: NodeReader) -> list[bytes]:
    """The audit path PATH(index, D[size]) of RFC 9162 2.1.3.1, leaf-side sibling first.

    Reads at most ``2 * log2(size) + 1`` nodes. Raises ``ProofError`` unless ``0 <= index < size``.
    """
    _check_size(size)
    if not 0 <= index < size:
        raise ProofError("leaf index out of range")
    path: list[bytes] = []
    begin, end, m = 0, size, index
    while end - begin > 1:
        k = _split(end - begin)
        if m < k:
            path.append(_range_hash(begin + k, end, node))
            end = begin + k
        else:
            path.append(_range_hash(begin, begin + k, node))
            begin, m = begin + k, m - k
    path.reverse()
    return path


def consistency_proof(old_size: int, new_size: int, node: NodeReader) -> list[bytes]:
    """PROOF(old_size, D[new_size]) of RFC 9162 2.1.4.1; empty when the sizes are equal.

    Reads at most ``2 * log2(new_size) + 2`` nodes. Raises ``ProofError`` unless
    ``0 < old_size <= new_size``.
    """
    _check_size(new_size)
    if not 0 < old_size <= new_size:
        raise ProofError("consistency proof needs 0 < old_size <= new_size")
    out: list[bytes] = []
    begin, end, m, whole = 0, new_size, old_size, True
    while m != end - begin:
        k = _split(end - begin)
        if m <= k:
            out.append(_range_hash(begin + k, end, node))
            end = begin + k
        else:
            out.append(_range_hash(begin, begin + k, node))
            begin, m, whole = begin + k, m - k, False
    if not whole:
        out.append(_range_hash(begin, end, node))
    out.reverse()
    return out


# ------------------------------------------------------------------------------------------ verification


def verify_inclusion(leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` leaves with head ``root``.

    RFC 9162 2.1.3.2. Returns ``None`` on success; raises ``ProofError`` if the proof does not verify, if
    ``index`` is not in ``[0, size)``, or if any hash is not ``HASH_SIZE`` bytes.
    """
    _check_hash(leaf_hash, "leaf hash")
    _check_hash(root, "root")
    for p in proof:
        _check_hash(p, "proof hash")
    if not 0 <= index < size:
        raise ProofError("leaf index out of range")
    r = leaf_hash
    for p, left in _walk(index, size - 1, proof, "inclusion"):
        r = node_hash(p, r) if left else node_hash(r, p)
    if not hmac.compare_digest(r, root):
        raise ProofError("inclusion proof does not match the root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree (``new_size``, ``new_root``) extends the tree (``old_size``, ``old_root``).

    RFC 9162 2.1.4.2. Returns ``None`` on success; raises ``ProofError`` if the proof does not verify, if
    not ``0 < old_size <= new_size``, or if a proof hash (or, for different sizes, a root) is not
    ``HASH_SIZE`` bytes. Equal sizes need an empty proof and equal roots.
    """
    if old_size <= 0 or new_size < old_size:
        raise ProofError("consistency needs 0 < old_size <= new_size")
    for p in proof:
        _check_hash(p, "proof hash")
    if old_size == new_size:
        if proof:
            raise ProofError("equal sizes need an empty consistency proof")
        if not hmac.compare_digest(old_root, new_root):
            raise ProofError("equal sizes but different roots")
        return
    _check_hash(old_root, "old root")
    _check_hash(new_root, "new root")
    if not proof:
        raise ProofError("empty consistency proof")
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # old tree is a perfect subtree: its root is the implicit first hash
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c, left in _walk(fn, sn, path[1:], "consistency"):
        if left:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
        else:
            sr = node_hash(sr, c)
    if not (hmac.compare_digest(fr, old_root) & hmac.compare_digest(sr, new_root)):
        raise ProofError("consistency proof does not match the roots")


def _walk(fn: int, sn: int, path: Sequence[bytes], what: str) -> Iterator[tuple[bytes, bool]]:
    """Each hash of ``path`` with True when it is a left sibling, walking up from node ``fn`` of a tree whose
    last node is ``sn``: the loop both verifications share (RFC 9162 2.1.3.2 step 3, 2.1.4.2 step 6). Raises
    ProofError (``what`` names the proof) when the path is longer or shorter than the walk to the root."""
    for p in path:
        if sn == 0:
            raise ProofError(f"{what} proof too long")
        left = bool(fn & 1) or fn == sn
        yield p, left
        if left:
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"{what} proof too short")


def _check_hash(h: bytes, what: str) -> None:
    if len(h) != HASH_SIZE:
        raise ProofError(f"{what} is not {HASH_SIZE} bytes")


def _check_size(size: int) -> None:
    if size < 0:
        raise ProofError("negative tree size")
