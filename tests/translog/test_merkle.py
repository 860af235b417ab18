"""RFC 9162 Merkle tree: public vectors, a real CT log, and properties of trees built by appending batches."""

from __future__ import annotations

import base64
import itertools
import json
import math
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import load_der_public_key
from hypothesis import given, settings
from hypothesis import strategies as st

from services.kernel.errors import CrxError
from services.translog import merkle
from services.translog.merkle import (
    EMPTY_ROOT,
    CompactRange,
    ProofError,
    appended_nodes,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    root,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"
INCLUSION = sorted((VECTORS / "merkle" / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "merkle" / "consistency").rglob("*.json"))
ARGON = VECTORS / "argon2020"
# Google Argon 2020 log public key (ECDSA P-256, SubjectPublicKeyInfo), from the CT log lists.
ARGON_KEY = (
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE6Tx2p1yKY4015NyIYvdrk36es0uAc1zA4PQ+TGRY+3ZjUTIYY9Wyu+3q/147JG4vNVKL"
    "tDWarZwVqGkg6lAYzA=="
)
ARGON_OLD_SIZE = 3654490
ARGON_OLD_ROOT = "AuIZ5V6sDUj1vn3Y1K85oOaQ7y+FJJKtyRTl1edIKBQ="  # from golang/mod sumdb/tlog/ct_test.go


def _b(s: str | None) -> bytes:
    return base64.b64decode(s) if s else b""


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(VECTORS)) for p in paths]


# -------------------------------------------------------------------------------------- public vectors


def test_vectors_are_vendored() -> None:
    """The vendored transparency-dev folders are all present (a lost glob would silently test nothing)."""
    assert len(INCLUSION) > 80
    assert len(CONSISTENCY) > 90
    assert any(p.parent.name == "single-entry" for p in INCLUSION)
    assert any(p.parent.name == "additional" for p in CONSISTENCY)


@pytest.mark.parametrize("path", INCLUSION, ids=_ids(INCLUSION))
def test_inclusion_vector(path: Path) -> None:
    """Each transparency-dev inclusion vector: happy paths verify, every wantErr case raises ProofError."""
    v = _load(path)
    args = (_b(v["leafHash"]), v["leafIdx"], v["treeSize"], [_b(p) for p in v["proof"] or []], _b(v["root"]))
    if v["wantErr"]:
        with pytest.raises(ProofError) as info:
            verify_inclusion(*args)
        assert info.value.reason_code == "PROOF"
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", CONSISTENCY, ids=_ids(CONSISTENCY))
def test_consistency_vector(path: Path) -> None:
    """Each transparency-dev consistency vector: happy paths verify, every wantErr case raises ProofError."""
    v = _load(path)
    args = (v["size1"], v["size2"], _b(v["root1"]), _b(v["root2"]), [_b(p) for p in v["proof"] or []])
    if v["wantErr"]:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_proof_error_is_a_crx_error() -> None:
    """ProofError sits in the crx error tree, reason code PROOF, not retriable."""
    err = ProofError("x")
    assert isinstance(err, CrxError)
    assert err.reason_code == "PROOF"
    assert not err.retriable


# ------------------------------------------------------------------------------------------- argon2020


def _argon() -> tuple[int, bytes, bytes, dict[str, Any], list[bytes]]:
    sth = _load(ARGON / "sth.json")
    leaf = base64.b64decode((ARGON / "leaf.b64").read_text().strip(), validate=True)
    rp = _load(ARGON / "proof.json")
    consistency = [base64.b64decode(h) for h in _load(ARGON / "consistency.json")["consistency"]]
    return sth["tree_size"], base64.b64decode(sth["sha256_root_hash"]), leaf, rp, consistency


def test_argon2020_tree_head_is_the_logs() -> None:
    """The vendored tree head (size 961984013) carries a valid RFC 6962 signature by the Argon 2020 log key."""
    sth = _load(ARGON / "sth.json")
    size, root_hash = sth["tree_size"], base64.b64decode(sth["sha256_root_hash"])
    assert size == 961984013
    assert len(root_hash) == 32
    signed = bytes([0, 1]) + struct.pack(">QQ", sth["timestamp"], size) + root_hash  # v1, tree_hash
    sig = base64.b64decode(sth["tree_head_signature"])
    assert sig[:2] == bytes([4, 3])  # sha256, ecdsa
    assert int.from_bytes(sig[2:4], "big") == len(sig) - 4
    key = load_der_public_key(base64.b64decode(ARGON_KEY))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(sig[4:], signed, ec.ECDSA(hashes.SHA256()))


def test_argon2020_inclusion() -> None:
    """A real CT log's audit path for leaf 10000 verifies against its signed tree head; tampering fails."""
    size, root_hash, leaf, rp, _ = _argon()
    index, path = rp["leaf_index"], [base64.b64decode(h) for h in rp["audit_path"]]
    assert index == 10000
    verify_inclusion(leaf_hash(leaf), index, size, path, root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(leaf + b"\x00"), index, size, path, root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(leaf), index + 1, size, path, root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(leaf), index, size, path[:-1], root_hash)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(leaf), index, size // 2, path, root_hash)


def test_argon2020_consistency() -> None:
    """The real log's consistency proof from tree 3654490 to its signed tree head verifies; tampering fails."""
    size, root_hash, _, _, proof = _argon()
    old_root = base64.b64decode(ARGON_OLD_ROOT)
    verify_consistency(ARGON_OLD_SIZE, size, old_root, root_hash, proof)
    with pytest.raises(ProofError):
        verify_consistency(ARGON_OLD_SIZE + 1, size, old_root, root_hash, proof)
    with pytest.raises(ProofError):
        verify_consistency(ARGON_OLD_SIZE, size, root_hash, old_root, proof)
    with pytest.raises(ProofError):
        verify_consistency(ARGON_OLD_SIZE, size, old_root, root_hash, proof[1:])


# ----------------------------------------------------------------------------------- reference model


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 MTH, recursively, over leaf hashes."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(_mth(leaves[:k]), _mth(leaves[k:]))


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 2.1.3.1 PATH, recursively."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def _subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 2.1.4.1 SUBPROOF, recursively."""
    n = len(leaves)
    if m == n:
        return [] if whole else [_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return [*_subproof(m, leaves[:k], whole), _mth(leaves[k:])]
    return [*_subproof(m - k, leaves[k:], False), _mth(leaves[:k])]


class CountingReader:
    """A dict-backed NodeReader that counts reads."""

    def __init__(self) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.reads = 0

    def __call__(self, level: int, index: int) -> bytes:
        self.reads += 1
        return self.nodes[(level, index)]

    def count(self, fn: Callable[..., object], *args: object) -> int:
        """The number of reads ``fn(*args)`` makes."""
        before = self.reads
        fn(*args)
        return self.reads - before


def _build(leaves: list[bytes], cuts: list[int]) -> CountingReader:
    """Append ``leaves`` through appended_nodes in the batches delimited by ``cuts``."""
    store = CountingReader()
    bounds = sorted({0, len(leaves), *(c for c in cuts if 0 < c < len(leaves))})
    for start, end in itertools.pairwise(bounds):
        before = store.reads
        nodes = appended_nodes(start, leaves[start:end], store)
        assert store.reads - before <= bin(start).count("1")  # only the right edge
        _store(store, nodes)
    return store


def _store(store: CountingReader, nodes: list[tuple[int, int, bytes]]) -> None:
    for level, index, h in nodes:
        assert (level, index) not in store.nodes
        store.nodes[(level, index)] = h


def _bound(n: int) -> int:
    """The O(log n) read budget: c * log2(n) + c with c = 2."""
    return 2 * math.ceil(math.log2(max(n, 2))) + 2


def _flip(h: bytes, bit: int) -> bytes:
    return bytes([h[0] ^ (1 << (bit % 8)), *h[1:]])


@st.composite
def trees(draw: st.DrawFn) -> tuple[int, list[int]]:
    """A tree size and the batch boundaries to append it in."""
    n = draw(st.integers(min_value=1, max_value=160))
    cuts = draw(st.lists(st.integers(min_value=1, max_value=n - 1), max_size=12)) if n > 1 else []
    return n, cuts


@settings(max_examples=60, deadline=None)
@given(tree=trees(), salt=st.binary(max_size=4), data=st.data())
def test_appended_tree_matches_rfc(tree: tuple[int, list[int]], salt: bytes, data: st.DataObject) -> None:
    """Trees grown in random batches keep exactly the perfect-subtree nodes; roots and proofs match RFC 9162,
    verify, fail when tampered with, and cost O(log n) node reads."""
    n, cuts = tree
    leaves = [leaf_hash(salt + i.to_bytes(4, "big")) for i in range(n)]
    store = _build(leaves, cuts)
    assert len(store.nodes) == 2 * n - bin(n).count("1")
    for (level, index), h in store.nodes.items():
        assert h == _mth(leaves[index << level : (index + 1) << level])

    roots = [_mth(leaves[:size]) for size in range(n + 1)]
    for size in range(1, n + 1):
        assert store.count(root, size, store) <= bin(size).count("1")
        assert root(size, store) == roots[size]
    assert root(0, store) == EMPTY_ROOT == roots[0]

    size = data.draw(st.integers(min_value=1, max_value=n), label="size")
    for index in range(size):
        proof = inclusion_proof(index, size, store)
        assert store.count(inclusion_proof, index, size, store) <= _bound(size)
        assert proof == _path(index, leaves[:size])
        verify_inclusion(leaves[index], index, size, proof, roots[size])
        if proof:
            bit = data.draw(st.integers(min_value=0, max_value=len(proof) * 8 - 1), label="bit")
            bad = list(proof)
            bad[bit // 8 % len(bad)] = _flip(bad[bit // 8 % len(bad)], bit)
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, size, bad, roots[size])
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], index, size, proof[:-1], roots[size])
        with pytest.raises(ProofError):
            verify_inclusion(leaves[index], index, size, [*proof, leaves[0]], roots[size])
        with pytest.raises(ProofError):
            verify_inclusion(_flip(leaves[index], index), index, size, proof, roots[size])
        if size > 1:
            with pytest.raises(ProofError):
                verify_inclusion(leaves[index], (index + 1) % size, size, proof, roots[size])

    for old in range(1, size + 1):
        proof = consistency_proof(old, size, store)
        assert store.count(consistency_proof, old, size, store) <= _bound(size)
        assert proof == _subproof(old, leaves[:size], True)
        verify_consistency(old, size, roots[old], roots[size], proof)
        if proof:
            k = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="element")
            bad = list(proof)
            bad[k] = _flip(bad[k], k)
            with pytest.raises(ProofError):
                verify_consistency(old, size, roots[old], roots[size], bad)
            with pytest.raises(ProofError):
                verify_consistency(old, size, roots[old], roots[size], proof[:-1])
            with pytest.raises(ProofError):
                verify_consistency(old, size, _flip(roots[old], 0), roots[size], proof)
            with pytest.raises(ProofError):
                verify_consistency(old, size, roots[old], _flip(roots[size], 1), proof)
        with pytest.raises(ProofError):
            verify_consistency(old, size, roots[old], roots[size], [*proof, leaves[0]])


@settings(max_examples=30, deadline=None)
@given(sizes=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=8))
def test_compact_range_tracks_the_root(sizes: list[int]) -> None:
    """A CompactRange fed batch by batch always holds the current root and returns the same nodes as
    appended_nodes over the store."""
    store = CountingReader()
    cr = CompactRange()
    leaves: list[bytes] = []
    for count in sizes:
        batch = [leaf_hash(len(leaves).to_bytes(4, "big") + bytes([i])) for i in range(count)]
        expected = appended_nodes(len(leaves), batch, store)
        assert cr.append(batch) == expected
        _store(store, expected)
        leaves += batch
        assert cr.size == len(leaves)
        assert cr.root() == _mth(leaves) == root(len(leaves), store)
        assert CompactRange.from_reader(cr.size, store).hashes == cr.hashes


# ----------------------------------------------------------------------------------- argument checking


def test_bad_arguments_raise_proof_error() -> None:
    """Out-of-range indices and sizes and wrong-length hashes raise ProofError, never another exception."""
    store = _build([leaf_hash(bytes([i])) for i in range(5)], [])
    r = root(5, store)
    with pytest.raises(ProofError):
        inclusion_proof(5, 5, store)
    with pytest.raises(ProofError):
        inclusion_proof(-1, 5, store)
    with pytest.raises(ProofError):
        consistency_proof(0, 5, store)
    with pytest.raises(ProofError):
        consistency_proof(6, 5, store)
    with pytest.raises(ProofError):
        root(-1, store)
    with pytest.raises(ProofError):
        appended_nodes(5, [b"short"], store)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"\x00"), -1, 5, inclusion_proof(0, 5, store), r)
    with pytest.raises(ProofError):
        verify_inclusion(leaf_hash(b"\x00"), 0, 5, inclusion_proof(0, 5, store), r[:31])
    with pytest.raises(ProofError):
        verify_consistency(2, 5, root(2, store)[:31], r, consistency_proof(2, 5, store))
    with pytest.raises(ProofError):
        CompactRange(3, [r])
    assert consistency_proof(5, 5, store) == []
    verify_consistency(5, 5, r, r, [])


def test_hash_functions() -> None:
    """Leaf and node hashes are domain-separated SHA-256, the empty root is SHA-256 of nothing."""
    assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert node_hash(b"a", b"b") != node_hash(b"b", b"a")
    assert merkle.HASH_SIZE == 32
