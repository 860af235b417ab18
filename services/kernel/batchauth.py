"""Batch authentication: which component produced a Kafka record, at one signature per produced batch.

The producer hashes each record of a batch into a leaf, builds an RFC 9162 Merkle tree over the batch, signs
its head once, and gives every record Kafka headers that carry the signature and the record's audit path. A
consumer checks the path up to the signed head and the signature once per batch (verified heads are cached),
so the cost per record is a few hashes. The format (schemas/ENVELOPE.md, "Batch authentication")::

    leaf data  = "crx-batch-leaf/1" 0x00 || u16 len(topic) || topic || opt(key) || opt(value)
                 where opt(b) = 0x00 for null, else 0x01 || u32 len(b) || b
    leaf hash  = SHA-256(0x00 || leaf data)                 (RFC 9162 2.1.1; node = SHA-256(0x01 || l || r))
    signed     = "crx-batch-sig/1" 0x00 || u16 len(signer) || signer || u16 len(key id) || key id
                 || u32 batch size || tree head (32 bytes)
    headers    crx-auth-signer  the signing party (UTF-8), crx-auth-key  its key id (ASCII hex),
               crx-auth-root    the tree head, crx-auth-sig  the signature (the key's algorithm),
               crx-auth-leaf    u32 index || u32 batch size, crx-auth-path  the audit path, 32 bytes per hash,
               leaf side first (RFC 9162 2.1.3.1)

Integers are big-endian. The topic is the full Kafka topic name, so a record copied to another topic fails;
the key and value are bound; other headers are not (routing hints, checked against the signed envelope).
A verifier answers with one of ``REASONS``; ``bad_path`` covers headers that are missing, repeated or
malformed, and ``bad_signature`` a record that is not the one signed (altered, or moved to another topic).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Literal, get_args

from cryptography.exceptions import InvalidSignature

from services.kernel.errors import CrxError, KeyUnavailable
from services.kernel.kafka import OutRecord
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRegistry, KeyRing
from services.translog.merkle import HASH_SIZE, ProofError, leaf_hash, verify_inclusion

HEADER_SIGNER = "crx-auth-signer"
HEADER_KEY = "crx-auth-key"
HEADER_ROOT = "crx-auth-root"
HEADER_SIGNATURE = "crx-auth-sig"
HEADER_LEAF = "crx-auth-leaf"
HEADER_PATH = "crx-auth-path"
AUTH_HEADERS = (HEADER_SIGNER, HEADER_KEY, HEADER_ROOT, HEADER_SIGNATURE, HEADER_LEAF, HEADER_PATH)
LEAF_LABEL = b"crx-batch-leaf/1\x00"
SIGNATURE_LABEL = b"crx-batch-sig/1\x00"
MAX_BATCH = 2**32 - 1

Reason = Literal["unsigned", "unknown_key", "not_allowed", "bad_signature", "bad_path"]
REASONS: tuple[Reason, ...] = get_args(Reason)


class Unauthenticated(CrxError, dead_letter=False, reason_code="UNAUTHENTICATED"):
    """A consumed record is not authenticated by a producer allowed on its topic. ``reason`` is one of
    ``REASONS``; the record is refused (never processed, never dead-lettered with its bytes)."""

    def __init__(self, reason: Reason) -> None:
        super().__init__(f"message not authenticated ({reason})")
        self.reason: Reason = reason


# --- encodings ------------------------------------------------------------------------------------------


def _optional(data: bytes | None) -> bytes:
    return b"\x00" if data is None else b"\x01" + len(data).to_bytes(4, "big") + data


def _short(data: bytes) -> bytes:
    """``u16 len(data) || data``. Raises ValueError for more than 65,535 bytes."""
    if len(data) > 0xFFFF:
        raise ValueError("field longer than 65,535 bytes")
    return len(data).to_bytes(2, "big") + data


def leaf_data(topic: str, key: bytes | None, value: bytes | None) -> bytes:
    """The bytes a record's leaf hash is computed over (module docstring). Raises ValueError for a topic
    name longer than 65,535 bytes."""
    return LEAF_LABEL + _short(topic.encode("utf-8")) + _optional(key) + _optional(value)


def signed_message(signer: str, key_id: str, size: int, head: bytes) -> bytes:
    """The bytes a batch signature is made over (module docstring). Raises ValueError for a signer or key id
    longer than 65,535 bytes, or a key id that is not ASCII."""
    try:
        kid = key_id.encode("ascii")
    except UnicodeEncodeError:
        raise ValueError("key id is not ASCII") from None
    return SIGNATURE_LABEL + _short(signer.encode("utf-8")) + _short(kid) + size.to_bytes(4, "big") + head


def _path_length(index: int, size: int) -> int:
    """How many hashes the RFC 9162 audit path of leaf ``index`` in a tree of ``size`` leaves has."""
    count, begin, end = 0, 0, size
    while end - begin > 1:
        split = 1 << ((end - begin - 1).bit_length() - 1)
        count += 1
        if index - begin < split:
            end = begin + split
        else:
            begin += split
    return count


# --- signing --------------------------------------------------------------------------------------------


def _tree(leaves: Sequence[bytes]) -> tuple[bytes, list[bytes]]:
    """The RFC 9162 tree head (MTH, 2.1.1) over the leaf hashes ``leaves`` and each leaf's audit path (PATH,
    2.1.3.1, leaf side first), its hashes joined. Built bottom up: each level pairs its nodes left to right and
    carries an unpaired last node up unchanged, which is the tree RFC 9162 splits top down at the largest power
    of two; a leaf's path is its sibling on each level that gives it one. Each node is hashed once and each
    path is one concatenation of its sibling and its parent's: O(n)."""
    levels = [list(leaves)]
    level = levels[0]
    sha256 = hashlib.sha256
    while len(level) > 1:
        upper = [sha256(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) & 1:
            upper.append(level[-1])
        levels.append(upper)
        level = upper
    paths = [b""]  # top down: a node's path is its sibling (if any) then its parent's path
    for nodes in reversed(levels[:-1]):
        count = len(nodes)
        paths = [(nodes[i ^ 1] if i ^ 1 < count else b"") + paths[i >> 1] for i in range(count)]
    return level[0], paths


def _leaf_hashes(records: Sequence[OutRecord]) -> list[bytes]:
    """``leaf_hash(leaf_data(...))`` of each record, the topic's part of the leaf encoded once per topic.
    Raises ValueError for a topic name longer than 65,535 bytes."""
    prefixes: dict[str, bytes] = {}
    hashes = []
    sha256 = hashlib.sha256
    for record in records:
        prefix = prefixes.get(record.topic)
        if prefix is None:
            prefix = prefixes[record.topic] = b"\x00" + LEAF_LABEL + _short(record.topic.encode("utf-8"))
        hashes.append(sha256(prefix + _optional(record.key) + _optional(record.value)).digest())
    return hashes


def sign_batch(
    records: Sequence[OutRecord], *, signer: str, key_id: str, sign: Callable[[bytes], bytes]
) -> list[OutRecord]:
    """``records`` with the batch-authentication headers of one signature by ``sign`` (given the signed
    message, it returns the signature). Any ``crx-auth-*`` header the records carried is replaced.

    Raises ValueError for an empty batch or one of more than ``MAX_BATCH`` records.
    """
    if not records or len(records) > MAX_BATCH:
        raise ValueError("a signed batch holds 1 to 2**32 - 1 records")
    size = len(records)
    head, paths = _tree(_leaf_hashes(records))
    signature = bytes(sign(signed_message(signer, key_id, size, head)))
    common = [(HEADER_SIGNER, signer.encode("utf-8")), (HEADER_KEY, key_id.encode("ascii")), (HEADER_ROOT, head),
              (HEADER_SIGNATURE, signature)]  # fmt: skip
    suffix = size.to_bytes(4, "big")
    signed = []
    for index, record in enumerate(records):
        headers = [header for header in record.headers if not header[0].startswith("crx-auth-")]
        headers += common
        headers.append((HEADER_LEAF, index.to_bytes(4, "big") + suffix))
        headers.append((HEADER_PATH, paths[index]))
        signed.append(OutRecord(record.topic, record.value, record.key, headers))
    return signed


class BatchSigner:
    """Signs produced batches as ``party`` with its active signing key (a rotation is picked up at the next
    batch). Loads that one private key, on first use, from the key ring's store."""

    def __init__(self, party: str, keyring: KeyRing) -> None:
        self.party = party
        self._keyring = keyring

    def check(self, now: dt.datetime) -> None:
        """Raise KeyUnavailable (naming the command that makes the key) unless this node holds the private half
        of an active signing key of ``party``."""
        if not self._keyring.holds_private_signing_key(self.party, now):
            raise KeyUnavailable(
                f"no active signing key of {self.party} held here: `crx keys generate --party {self.party}`"
            )

    def sign(self, records: Sequence[OutRecord], now: dt.datetime) -> list[OutRecord]:
        """``records`` signed as one batch (``sign_batch``); no records, none. Raises KeyUnavailable when there
        is no active signing key of ``party`` or its private half is not here."""
        if not records:
            return []
        entry = self._keyring.registry.active(self.party, "signing", now)
        private = self._keyring.store.load(self.party, entry.key_id)
        alg = signature_alg(entry.algorithm)
        return sign_batch(records, signer=self.party, key_id=entry.key_id, sign=lambda m: alg.sign(private, m))


# --- verification ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class BatchProof:
    """The batch-authentication headers of one record, parsed."""

    signer: str
    key_id: str
    head: bytes
    signature: bytes
    index: int
    size: int
    path: tuple[bytes, ...]

    @classmethod
    def parse(cls, headers: Sequence[tuple[str, bytes]] | None) -> BatchProof:
        """Parse a consumed record's headers. Raises Unauthenticated: ``unsigned`` without a signature header,
        ``bad_path`` when any auth header is missing, repeated or malformed, or the path does not fit."""
        found: dict[str, bytes] = {}
        for name, value in headers or ():
            if name in AUTH_HEADERS:
                if name in found or value is None:  # repeated, or a null header value
                    raise Unauthenticated("bad_path")
                found[name] = bytes(value)
        if HEADER_SIGNATURE not in found:
            raise Unauthenticated("unsigned")
        if len(found) != len(AUTH_HEADERS):
            raise Unauthenticated("bad_path")
        try:
            signer, key_id = found[HEADER_SIGNER].decode("utf-8"), found[HEADER_KEY].decode("ascii")
        except UnicodeDecodeError:
            raise Unauthenticated("bad_path") from None
        position, path, head = found[HEADER_LEAF], found[HEADER_PATH], found[HEADER_ROOT]
        if len(position) != 8 or len(head) != HASH_SIZE:
            raise Unauthenticated("bad_path")
        index, size = int.from_bytes(position[:4], "big"), int.from_bytes(position[4:], "big")
        if not index < size or len(path) != HASH_SIZE * _path_length(index, size):
            raise Unauthenticated("bad_path")
        hashes = tuple(path[i : i + HASH_SIZE] for i in range(0, len(path), HASH_SIZE))
        return cls(signer, key_id, head, found[HEADER_SIGNATURE], index, size, hashes)


class BatchVerifier:
    """Checks a consumed record against the producers allowed for it, verifying each batch's signature once.

    The signer's key is looked up in the registry for every record (a revoked or expired key is refused at
    once, cached batches included); verified signatures are remembered in a bounded cache.
    """

    def __init__(self, registry: KeyRegistry, *, cache_size: int = 4096) -> None:
        self._registry = registry
        self._verified: OrderedDict[tuple[str, str, int, bytes, bytes], None] = OrderedDict()
        self._cache_size = cache_size

    def verify(
        self,
        topic: str,
        key: bytes | None,
        value: bytes | None,
        headers: Sequence[tuple[str, bytes]] | None,
        *,
        allowed: frozenset[str],
        now: dt.datetime,
    ) -> str:
        """The party that produced the record, if it is one of ``allowed`` and its signature holds at ``now``.

        Raises Unauthenticated with the first reason that applies, in this order: ``unsigned``, ``bad_path``
        (headers), ``not_allowed``, ``unknown_key`` (not registered, not a signing key, revoked or expired),
        ``bad_signature`` (the record is not in the signed batch, or the signature does not verify).
        """
        proof = BatchProof.parse(headers)
        if proof.signer not in allowed:
            raise Unauthenticated("not_allowed")
        try:
            entry = self._registry.for_use(proof.signer, proof.key_id, "verify", now)
        except KeyUnavailable:
            raise Unauthenticated("unknown_key") from None
        try:
            verify_inclusion(leaf_hash(leaf_data(topic, key, value)), proof.index, proof.size, proof.path, proof.head)
        except (ProofError, ValueError):
            raise Unauthenticated("bad_signature") from None
        cached = (proof.signer, proof.key_id, proof.size, proof.head, proof.signature)
        if cached in self._verified:
            self._verified.move_to_end(cached)
            return proof.signer
        message = signed_message(proof.signer, proof.key_id, proof.size, proof.head)
        try:
            signature_alg(entry.algorithm).verify(entry.load_public(), proof.signature, message)
        except (InvalidSignature, CrxError, TypeError, ValueError):
            raise Unauthenticated("bad_signature") from None
        self._verified[cached] = None
        if len(self._verified) > self._cache_size:
            self._verified.popitem(last=False)
        return proof.signer
