"""Internal hops, format 2: one HPKE wrap per data key, AES-256-GCM per record.

On the broker's own topics (``feed.<J>``, ``records``, ``dlq``) the recipient is always the broker itself, and
which component produced a record is already proven by the batch signature (``batchauth``: its leaf covers the
topic, key and the whole value of every record). Format 1 pays an HPKE seal (a KEM) and an envelope signature
per record there; format 2 pays them per *data key*:

- a producer (one component instance, one ``HopSealer``) draws a random 32-byte AES-256-GCM data key and a
  16-byte data-key id, and wraps the key once with HPKE (RFC 9180 base mode, single shot) to the broker's
  active encryption key (the epoch key, ``services.keys.epochs``), the ``info`` binding the format version,
  the producer, the recipient, the key id, the suite and the data-key id;
- each record is AES-256-GCM under the data key, with the record's whole clear prefix (the wrapped key block,
  the context: channel, message id, correlation id, content type, schema fingerprint, creation time, and the
  nonce) as associated data;
- every record carries the wrapped key block itself (about 200 bytes for P-256 and X25519, 1.3 KB for the
  hybrid), so each record opens on its own: after a restart, a rebalance, a replay from the dead-letter topic or
  years in the intake's store. The opener caches the unwrapped key by the exact bytes of the key block, so it
  pays one HPKE open per data key, not per record.

Nonces: ``prefix (4 random bytes drawn with the data key) || counter (u64, from 0)``. The data key is fresh
random per ``HopSealer`` and never leaves its process, so the counter alone makes each (key, nonce) pair unique;
the prefix is defence in depth, and a sealer that finds itself in a forked child (another pid) draws a new key
before it seals. A data key seals at most ``MAX_RECORDS_PER_KEY`` (2^24) records and lives at most
``MAX_KEY_AGE``; the sealer also draws a new one as soon as the broker's active encryption key changes.

Crypto-shredding: a data key exists in clear only in the memory of its sealer and of the openers that
unwrapped it; on disk and on the wire it exists only wrapped to the epoch key. Destroying the epoch key makes
every data key wrapped to it unrecoverable, so every record sealed under them. An opener checks the epoch
key's status in the registry for every record, before its cache: a record sealed under a destroyed key raises
``KeyDestroyed`` (and the cached keys wrapped to it are dropped), a revoked one ``EnvelopeError``; ``purge``
drops cached keys whose epoch key can no longer open, for a process that meets no such record.

Authentication is not here: HPKE base mode proves nothing about the sender (anyone holding the broker's public
key can wrap a data key). A format-2 record is opened only once ``batchauth`` has verified its batch signature
(``BrokerStage.handle`` runs the gate first), and the opener checks the producer the record names against the
producers the caller allows. The byte layout is in schemas/ENVELOPE.md ("Internal hops, format 2").
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import struct
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.kernel.envelope import HEADER_CHANNEL, HEADER_MESSAGE_ID, HEADER_RECIPIENT, Opened
from services.kernel.errors import CrxError, EnvelopeError, KeyDestroyed, KeyUnavailable
from services.kernel.suites import hpke_suite
from services.keys.entry import allowed
from services.keys.ring import KeyRegistry, PrivateKeyStore

FORMAT_VERSION = 2
MAGIC = b"CRX\x02"
"""The first four bytes of a format-2 value; a format-1 envelope starts with ``C3 01`` (Avro single object)."""
WRAP_LABEL = b"crx-hop-key/2"
DATA_KEY_BYTES = 32
DATA_KEY_ID_BYTES = 16
NONCE_PREFIX_BYTES = 4
NONCE_BYTES = 12
TAG_BYTES = 16
MAX_RECORDS_PER_KEY = 2**24
"""Records sealed under one data key at most (far below 2^32, NIST SP 800-38D's bound for one GCM key)."""
MAX_KEY_AGE = dt.timedelta(hours=1)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclass(frozen=True)
class HopContext:
    """What a record is about; all of it travels in clear and is bound as associated data."""

    channel: str
    message_id: str
    correlation_id: str
    content_type: str
    schema_fingerprint: bytes = b""


def _field(value: str | bytes) -> bytes:
    """``u16 len || bytes`` (UTF-8 for text). Raises EnvelopeError beyond 65,535 bytes."""
    data = value.encode("utf-8") if isinstance(value, str) else value
    if len(data) > 0xFFFF:
        raise EnvelopeError()
    return len(data).to_bytes(2, "big") + data


def wrap_info(producer: str, recipient: str, key_id: str, suite: str, data_key_id: bytes) -> bytes:
    """The HPKE ``info`` of a data-key wrap: label, then each field as ``u16 len || bytes``."""
    return WRAP_LABEL + b"".join(_field(v) for v in (producer, recipient, key_id, suite, data_key_id))


def is_hop(data: bytes | None) -> bool:
    """True when ``data`` is (claims to be) a format-2 record rather than a format-1 envelope."""
    return data is not None and data[:4] == MAGIC


@dataclass
class _SealingKey:
    """A producer's current data key: its wrapped block, cipher, nonce prefix and counter."""

    key_block: bytes
    data_key_id: bytes
    wrapping_key_id: str
    aead: AESGCM
    prefix: bytes
    born: dt.datetime
    pid: int
    counter: itertools.count[int] = field(default_factory=itertools.count)


class HopSealer:
    """Seals records of producer ``producer`` (a component party, ``crx.normaliser``) to ``recipient`` (the
    broker party) in format 2. One per producing process; a data key is drawn on first use and again at each
    bound (records, age, epoch key change, fork)."""

    def __init__(
        self,
        registry: KeyRegistry,
        recipient: str,
        producer: str,
        *,
        max_records: int = MAX_RECORDS_PER_KEY,
        max_age: dt.timedelta = MAX_KEY_AGE,
    ) -> None:
        if not 0 < max_records <= 2**32:
            raise ValueError("max_records must be between 1 and 2**32")
        self._registry = registry
        self.recipient = recipient
        self.producer = producer
        self._max_records = max_records
        self._max_age = max_age
        self._key: _SealingKey | None = None

    @property
    def data_key_id(self) -> bytes | None:
        """The id of the data key in use (None before the first seal)."""
        return None if self._key is None else self._key.data_key_id

    def seal(self, plaintext: bytes, ctx: HopContext, now: dt.datetime) -> bytes:
        """The format-2 record of ``plaintext``. Raises KeyUnavailable (retriable) when the recipient has no
        active encryption key, EnvelopeError for a context field longer than 65,535 bytes."""
        key = self._current(now)
        index = next(key.counter)
        if index >= self._max_records:
            self._key = None
            key = self._current(now)
            index = next(key.counter)
        created = (now - EPOCH) // dt.timedelta(microseconds=1)
        nonce = key.prefix + index.to_bytes(8, "big")
        head = b"".join(
            (
                MAGIC,
                key.key_block,
                _field(ctx.channel),
                _field(ctx.message_id),
                _field(ctx.correlation_id),
                _field(ctx.content_type),
                _field(ctx.schema_fingerprint),
                struct.pack(">q", created),
                nonce,
            )
        )
        return head + key.aead.encrypt(nonce, plaintext, head)

    def _current(self, now: dt.datetime) -> _SealingKey:
        entry = self._registry.active(self.recipient, "encryption", now)
        key = self._key
        if (
            key is None
            or key.wrapping_key_id != entry.key_id
            or now - key.born >= self._max_age
            or key.pid != os.getpid()
        ):
            key = self._key = self._new_key(entry.key_id, entry.algorithm, entry.load_public(), now)
        return key

    def _new_key(self, key_id: str, suite_name: str, public: Any, now: dt.datetime) -> _SealingKey:
        data_key, data_key_id = AESGCM.generate_key(bit_length=256), os.urandom(DATA_KEY_ID_BYTES)
        suite = hpke_suite(suite_name)
        info = wrap_info(self.producer, self.recipient, key_id, suite.name, data_key_id)
        wrapped = suite.encrypt(data_key, public, info)
        block = b"".join(
            (
                _field(self.producer),
                _field(self.recipient),
                _field(key_id),
                _field(suite.name),
                data_key_id,
                _field(wrapped),
            )
        )
        return _SealingKey(
            block, data_key_id, key_id, AESGCM(data_key), os.urandom(NONCE_PREFIX_BYTES), now, os.getpid()
        )


class _Reader:
    """Reads a format-2 record front to back. Every malformation raises EnvelopeError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.at = 0

    def take(self, n: int) -> bytes:
        end = self.at + n
        if end > len(self.data):
            raise EnvelopeError()
        chunk, self.at = self.data[self.at : end], end
        return chunk

    def field(self) -> bytes:
        return self.take(int.from_bytes(self.take(2), "big"))

    def text(self) -> str:
        try:
            return self.field().decode("utf-8")
        except UnicodeDecodeError:
            raise EnvelopeError() from None


@dataclass(frozen=True)
class HopRecord:
    """A parsed (not yet opened) format-2 record: its clear fields, the key block, nonce and ciphertext."""

    producer: str
    recipient: str
    recipient_key_id: str
    suite: str
    data_key_id: bytes
    wrapped: bytes
    key_block: bytes
    channel: str
    message_id: str
    correlation_id: str
    content_type: str
    schema_fingerprint: bytes
    created_at: dt.datetime
    nonce: bytes
    aad: bytes
    ciphertext: bytes

    @classmethod
    def parse(cls, data: bytes) -> HopRecord:
        """Parse ``data`` without decrypting anything. Raises EnvelopeError when it is not a format-2 record."""
        r = _Reader(data)
        if r.take(4) != MAGIC:
            raise EnvelopeError()
        producer, recipient, key_id, suite = r.text(), r.text(), r.text(), r.text()
        data_key_id, wrapped = r.take(DATA_KEY_ID_BYTES), r.field()
        key_block = data[4 : r.at]
        channel, message_id, correlation_id, content_type = r.text(), r.text(), r.text(), r.text()
        fingerprint = r.field()
        try:
            created = EPOCH + dt.timedelta(microseconds=struct.unpack(">q", r.take(8))[0])
        except OverflowError:
            raise EnvelopeError() from None
        nonce = r.take(NONCE_BYTES)
        aad, ciphertext = data[: r.at], data[r.at :]
        if len(ciphertext) < TAG_BYTES:
            raise EnvelopeError()
        return cls(producer, recipient, key_id, suite, data_key_id, wrapped, key_block, channel, message_id,
                   correlation_id, content_type, fingerprint, created, nonce, aad, ciphertext)  # fmt: skip

    def envelope(self) -> dict[str, Any]:
        """The fields under the names a format-1 envelope uses (``Opened.envelope``), plus the producer and the
        data-key id; ``sender`` is the producer, and there is no envelope signature (``batchauth`` is it)."""
        return {
            "format_version": FORMAT_VERSION,
            "message_id": self.message_id,
            "correlation_id": self.correlation_id,
            "channel": self.channel,
            "sender": self.producer,
            "producer": self.producer,
            "recipient": self.recipient,
            "recipient_key_id": self.recipient_key_id,
            "suite": self.suite,
            "data_key_id": self.data_key_id,
            "content_type": self.content_type,
            "schema_fingerprint": self.schema_fingerprint,
            "created_at": self.created_at,
            "signer": None,
            "signer_key_id": None,
            "signature": None,
        }


class HopOpener:
    """Opens format-2 records addressed to ``party`` (the broker), one HPKE open per data key: unwrapped keys
    are cached (least recently used, at most ``cache_size``) by the exact bytes of their key block."""

    def __init__(self, registry: KeyRegistry, store: PrivateKeyStore, party: str, *, cache_size: int = 1024) -> None:
        self._registry = registry
        self._store = store
        self.party = party
        self._cache: OrderedDict[bytes, tuple[str, AESGCM]] = OrderedDict()
        self._cache_size = cache_size

    @property
    def cached_keys(self) -> int:
        """How many unwrapped data keys this opener holds in memory."""
        return len(self._cache)

    def open(
        self,
        data: bytes,
        *,
        channel: str,
        now: dt.datetime,
        producers: frozenset[str] | None = None,
        headers: Mapping[str, bytes] | None = None,
    ) -> Opened:
        """Decrypt ``data`` expected on logical ``channel``, sealed by one of ``producers`` (None: any; the batch
        signature, checked before, says who produced this copy). ``headers``: Kafka routing hints, each of which
        must agree with the record. Raises EnvelopeError for any failure; KeyDestroyed (an EnvelopeError) when
        the record is for this party but its data key is wrapped to an epoch key that was destroyed;
        KeyUnavailable (retriable: the batch waits) when the epoch key is not in this node's registry yet or
        its private half is not here: a record reaches the key lookup only once its producer is checked (and
        its batch signature before that), so a key id unknown here is one this node has not caught up with."""
        rec = HopRecord.parse(data)
        if rec.channel != channel or rec.recipient != self.party:
            raise EnvelopeError()
        if producers is not None and rec.producer not in producers:
            raise EnvelopeError()
        if headers:
            _check_headers(rec, headers)
        aead = self._data_key(rec, now)
        try:
            plaintext = aead.decrypt(rec.nonce, rec.ciphertext, rec.aad)
        except InvalidTag:
            raise EnvelopeError() from None
        return Opened(rec.envelope(), plaintext)

    def _data_key(self, rec: HopRecord, now: dt.datetime) -> AESGCM:
        """The data key of ``rec``: the epoch key's status first (every record), then the cache, else unwrap."""
        key_id = rec.recipient_key_id
        try:
            entry = self._registry.get(self.party, key_id)  # KeyUnavailable: not in this node's registry yet
        except KeyUnavailable:
            raise
        except CrxError:
            raise EnvelopeError() from None
        if entry.status == "destroyed":
            self._drop(key_id)
            self._store.forget(self.party, key_id)
            raise KeyDestroyed(key_id)
        if not allowed(entry, "open", now) or entry.algorithm != rec.suite:
            self._drop(key_id)
            raise EnvelopeError()
        cached = self._cache.get(rec.key_block)
        if cached is not None:
            self._cache.move_to_end(rec.key_block)
            return cached[1]
        info = wrap_info(rec.producer, rec.recipient, key_id, rec.suite, rec.data_key_id)
        private = self._store.load(self.party, key_id)  # KeyUnavailable: its private half is not here (yet)
        try:
            data_key = hpke_suite(rec.suite).suite().decrypt(rec.wrapped, private, info)
        except (CrxError, InvalidTag, ValueError, TypeError):
            raise EnvelopeError() from None
        if len(data_key) != DATA_KEY_BYTES:
            raise EnvelopeError()
        aead = AESGCM(data_key)
        self._cache[rec.key_block] = (key_id, aead)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return aead

    def _drop(self, key_id: str) -> None:
        for block in [b for b, (wrapping, _) in self._cache.items() if wrapping == key_id]:
            del self._cache[block]

    def purge(self, now: dt.datetime) -> int:
        """Drop every cached data key whose epoch key may no longer open (destroyed, revoked, or gone from the
        registry); returns how many. A service calls it periodically, so a key destroyed while no record
        sealed under it arrives leaves no unwrapped copy behind in this process."""
        dropped = 0
        for key_id in {wrapping for wrapping, _ in self._cache.values()}:
            try:
                usable = allowed(self._registry.get(self.party, key_id), "open", now)
            except CrxError:
                usable = False
            if not usable:
                before = len(self._cache)
                self._drop(key_id)
                dropped += before - len(self._cache)
        return dropped


def _check_headers(rec: HopRecord, headers: Mapping[str, bytes]) -> None:
    """Raise EnvelopeError when a routing hint present in ``headers`` disagrees with the record."""
    for name, value in ((HEADER_MESSAGE_ID, rec.message_id), (HEADER_CHANNEL, rec.channel),
                        (HEADER_RECIPIENT, rec.recipient)):  # fmt: skip
        got = headers.get(name)
        if got is not None and got.decode("utf-8", "replace") != value:
            raise EnvelopeError()
