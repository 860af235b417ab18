"""Internal hops, format 2: one HPKE wrap per data key, AES-256-GCM per record with the context as associated
data, unique nonces, data keys rotated at their bound and with the epoch key, and crypto-shredding.

Real keys (the broker's P-256 HPKE key in the test's keys dir), real registry, real crypto; no broker.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable

import pytest

from services.kernel.config import Settings
from services.kernel.errors import EnvelopeError, KeyDestroyed, KeyUnavailable, handling
from services.kernel.hop import (
    MAGIC,
    MAX_RECORDS_PER_KEY,
    NONCE_BYTES,
    HopContext,
    HopOpener,
    HopRecord,
    HopSealer,
    is_hop,
)
from services.keys import epochs
from services.keys.lifecycle import rotate, set_status
from services.keys.ring import KeyRing

NORMALISER = "crx.normaliser"
PRODUCERS = frozenset({NORMALISER, "crx.dlq"})
CTX = HopContext("records", "m-1", "s-1", "avro/crx.v1.CriminalRecord", b"12345678")


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _pair(keyring: KeyRing, max_records: int = MAX_RECORDS_PER_KEY) -> tuple[HopSealer, HopOpener]:
    sealer = HopSealer(keyring.registry, "crx", NORMALISER, max_records=max_records)
    return sealer, HopOpener(keyring.registry, keyring.store, "crx")


def _opener(keyring: KeyRing, party: str = "crx") -> HopOpener:
    return HopOpener(keyring.registry, keyring.store, party)


def _open(opener: HopOpener, data: bytes, channel: str = "records") -> bytes:
    return opener.open(data, channel=channel, now=_now(), producers=PRODUCERS).plaintext


def test_round_trip_keeps_the_context(keyring: KeyRing) -> None:
    """The broker opens what a producer sealed, and sees the context under format-1 envelope names."""
    sealer, opener = _pair(keyring)
    now = _now()
    sealed = sealer.seal(b"conviction", CTX, now)
    assert is_hop(sealed) and sealed.startswith(MAGIC) and b"conviction" not in sealed
    opened = opener.open(sealed, channel="records", now=_now(), producers=PRODUCERS, headers={"crx-message-id": b"m-1"})
    env = opened.envelope
    assert opened.plaintext == b"conviction" and opened.message_id == "m-1"
    assert (env["format_version"], env["correlation_id"], env["producer"], env["recipient"]) == (
        2,
        "s-1",
        NORMALISER,
        "crx",
    )
    assert env["content_type"] == CTX.content_type and env["schema_fingerprint"] == b"12345678"
    assert env["created_at"] == now


def test_one_unwrap_per_data_key(keyring: KeyRing) -> None:
    """Records under one data key share its key block; the opener unwraps it once and caches it."""
    sealer, opener = _pair(keyring)
    records = [sealer.seal(f"r{i}".encode(), CTX, _now()) for i in range(50)]
    blocks = {HopRecord.parse(r).key_block for r in records}
    assert len(blocks) == 1
    assert [_open(opener, r) for r in records] == [f"r{i}".encode() for i in range(50)]
    assert opener.cached_keys == 1
    # a fresh opener (a consumer after a restart or rebalance) opens any one record on its own
    assert _open(HopOpener(keyring.registry, keyring.store, "crx"), records[37]) == b"r37"


@pytest.mark.parametrize(
    ("what", "attempt"),
    [
        ("another channel", lambda k, d: _opener(k).open(d, channel="feed.DE", now=_now())),
        ("another producer", lambda k, d: _opener(k).open(d, channel="records", now=_now(),
                                                          producers=frozenset({"crx.router"}))),
        ("another party", lambda k, d: _opener(k, "FR").open(d, channel="records", now=_now())),
        ("a header that disagrees", lambda k, d: _opener(k).open(d, channel="records", now=_now(),
                                                                 headers={"crx-message-id": b"m-2"})),
    ],
)  # fmt: skip
def test_wrong_expectations_are_refused(
    keyring: KeyRing, what: str, attempt: Callable[[KeyRing, bytes], object]
) -> None:
    """A record expected on another channel, from a producer not allowed, by another party, or whose routing
    headers disagree, is refused with the one opaque EnvelopeError."""
    sealer, _ = _pair(keyring)
    with pytest.raises(EnvelopeError) as info:
        attempt(keyring, sealer.seal(b"conviction", CTX, _now()))
    assert type(info.value) is EnvelopeError, what


def _replace_field(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with the length-prefixed field ``old`` replaced by ``new`` (same framing), exactly once."""
    framed_old, framed_new = len(old).to_bytes(2, "big") + old, len(new).to_bytes(2, "big") + new
    assert data.count(framed_old) == 1
    return data.replace(framed_old, framed_new)


@pytest.mark.parametrize(
    ("old", "new", "channel"),
    [
        (b"records", b"recordz", "recordz"),  # the channel, opened as if it were that channel
        (b"m-1", b"m-2", "records"),  # the message id
        (b"s-1", b"s-2", "records"),  # the correlation id
        (NORMALISER.encode(), b"crx.dlq", "records"),  # the producer (an allowed one): the unwrap fails
        (b"12345678", b"87654321", "records"),  # the schema fingerprint
        (b"avro/crx.v1.CriminalRecord", b"feed/json-v1", "records"),  # the content type
    ],
)
def test_every_context_field_is_bound(keyring: KeyRing, old: bytes, new: bytes, channel: str) -> None:
    """Changing the channel, message id, correlation id, producer, fingerprint or content type in the clear
    prefix makes the record fail to open, even where the opener's own checks would accept the new value."""
    sealer, opener = _pair(keyring)
    sealed = sealer.seal(b"conviction", CTX, _now())
    assert _open(opener, sealed) == b"conviction"  # the key is cached: the AEAD alone must catch the change
    with pytest.raises(EnvelopeError):
        _open(opener, _replace_field(sealed, old, new), channel)


def test_tampering_anywhere_fails(keyring: KeyRing) -> None:
    """Flipping any byte of the value (ciphertext, tag, nonce, time, key block) or truncating it is refused;
    a key id changed to one this node does not know (yet) waits for it (KeyUnavailable, retriable: on a topic
    only a record whose batch signature holds gets this far, so its key id is one a component wrapped to)."""
    sealer, opener = _pair(keyring)
    sealed = sealer.seal(b"conviction " * 8, CTX, _now())
    key_id = HopRecord.parse(sealed).recipient_key_id.encode()
    start = sealed.index(key_id)
    for index in range(len(sealed)):
        tampered = bytearray(sealed)
        tampered[index] ^= 0x01
        expected = KeyUnavailable if start <= index < start + len(key_id) else EnvelopeError
        with pytest.raises(expected) as info:
            _open(opener, bytes(tampered))
        assert handling(info.value) == ("retry" if expected is KeyUnavailable else "dead_letter")
    for length in (0, 3, len(sealed) // 2, len(sealed) - 1):
        with pytest.raises(EnvelopeError):
            _open(opener, sealed[:length])


def test_a_record_spliced_onto_another_key_block_fails(keyring: KeyRing) -> None:
    """The key block is associated data too: another producer's key block with this record's rest fails."""
    first, opener = _pair(keyring)
    second = HopSealer(keyring.registry, "crx", NORMALISER)
    a, b = first.seal(b"conviction", CTX, _now()), second.seal(b"conviction", CTX, _now())
    block_a, block_b = HopRecord.parse(a).key_block, HopRecord.parse(b).key_block
    assert block_a != block_b and len(block_a) == len(block_b)
    with pytest.raises(EnvelopeError):
        _open(opener, a.replace(block_a, block_b))


def test_nonces_are_unique(keyring: KeyRing) -> None:
    """Over many records and several data keys, no (data key, nonce) pair repeats; within a key the nonce
    is the key's random prefix and a counter from 0."""
    sealer, _ = _pair(keyring, max_records=1000)
    seen: set[tuple[bytes, bytes]] = set()
    prefixes: dict[bytes, bytes] = {}
    for i in range(5000):
        rec = HopRecord.parse(sealer.seal(b"x", CTX, _now()))
        assert len(rec.nonce) == NONCE_BYTES
        prefix = prefixes.setdefault(rec.data_key_id, rec.nonce[:4])
        assert rec.nonce == prefix + (i % 1000).to_bytes(8, "big")
        seen.add((rec.data_key_id, rec.nonce))
    assert len(seen) == 5000 and len(prefixes) == 5


def test_data_key_rotates_at_the_bound_and_with_age(keyring: KeyRing) -> None:
    """A data key seals ``max_records`` records, then a new one (new id, new wrap) takes over; also after
    ``max_age``. Records of both keys stay openable."""
    sealer, opener = _pair(keyring, max_records=3)
    now = _now()
    records = [sealer.seal(b"r", CTX, now) for _ in range(7)]
    ids = [HopRecord.parse(r).data_key_id for r in records]
    assert ids[0] == ids[1] == ids[2] != ids[3] == ids[4] == ids[5] != ids[6]
    assert all(_open(opener, r) == b"r" for r in records) and opener.cached_keys == 3
    current = sealer.data_key_id
    sealer.seal(b"r", CTX, now + dt.timedelta(minutes=59))
    assert sealer.data_key_id == current
    sealer.seal(b"r", CTX, now + dt.timedelta(hours=1))
    assert sealer.data_key_id != current


def test_epoch_rotation_changes_the_data_key(keyring: KeyRing, settings: Settings) -> None:
    """When the broker's encryption key rotates, the next record is under a new data key wrapped to the new
    key; records under the old (now retiring) key still open."""
    sealer, opener = _pair(keyring)
    before = sealer.seal(b"old", CTX, _now())
    rotate(keyring, "crx", "encryption", _now())
    after = sealer.seal(b"new", CTX, _now())
    old_rec, new_rec = HopRecord.parse(before), HopRecord.parse(after)
    assert old_rec.recipient_key_id != new_rec.recipient_key_id
    assert new_rec.recipient_key_id == keyring.registry.active("crx", "encryption", _now()).key_id
    assert (_open(opener, before), _open(opener, after)) == (b"old", b"new")


def test_destroyed_epoch_key_makes_its_records_unreadable(keyring: KeyRing, settings: Settings) -> None:
    """Crypto-shredding: once the epoch key is destroyed, a record under a data key wrapped to it raises the
    typed KeyDestroyed (dead-lettered, never retried), even on an opener that had the data key cached and
    even on a fresh opener, while records under the new epoch key still open."""
    sealer, opener = _pair(keyring)
    old = sealer.seal(b"old", CTX, _now())
    assert _open(opener, old) == b"old" and opener.cached_keys == 1
    rotate(keyring, "crx", "encryption", _now())
    new = sealer.seal(b"new", CTX, _now())
    old_key = HopRecord.parse(old).recipient_key_id
    epochs.destroy(keyring, settings, "crx", old_key, _now(), force=True)
    assert not keyring.store.holds("crx", old_key)
    for reader in (opener, HopOpener(keyring.registry, keyring.store, "crx")):
        with pytest.raises(KeyDestroyed) as info:
            _open(reader, old)
        assert info.value.reason_code == "KEY_DESTROYED" and handling(info.value) == "dead_letter"
    assert opener.cached_keys == 0  # the unwrapped copy went with it
    assert _open(opener, new) == b"new"


def test_purge_drops_keys_no_longer_usable(keyring: KeyRing) -> None:
    """``purge`` drops cached data keys whose epoch key was revoked, without any record arriving; a record
    under a revoked key is refused (opaque, not KeyDestroyed)."""
    sealer, opener = _pair(keyring)
    old = sealer.seal(b"old", CTX, _now())
    _open(opener, old)
    rotate(keyring, "crx", "encryption", _now())
    _open(opener, sealer.seal(b"new", CTX, _now()))
    assert opener.purge(_now()) == 0 and opener.cached_keys == 2
    set_status(keyring, "crx", HopRecord.parse(old).recipient_key_id, "revoked")
    assert opener.purge(_now()) == 1 and opener.cached_keys == 1
    with pytest.raises(EnvelopeError) as info:
        _open(opener, old)
    assert type(info.value) is EnvelopeError


def test_a_forked_sealer_draws_a_new_key(keyring: KeyRing) -> None:
    """A sealer copied into another process (fork) never reuses its parent's data key and counter."""
    sealer, _ = _pair(keyring)
    sealer.seal(b"r", CTX, _now())
    parent_key = sealer.data_key_id
    key = sealer._key
    assert key is not None
    sealer._key = dataclasses.replace(key, pid=key.pid + 1)  # as the child sees it: created by another pid
    sealer.seal(b"r", CTX, _now())
    assert sealer.data_key_id != parent_key
