"""Re-keying the lookup index after an index-key rotation, without downtime: ``crx lookup reindex``.

The index holds no identities (by design), so it cannot derive new pseudonyms by itself; the records on
``crx.records`` can. A re-index reads that topic from the earliest retained offset (no consumer group:
nothing committed, the lookup service's own position untouched), authenticates each record as the router
does (a producer allowed on the topic, ``gate.authenticate``; then either internal format, ``InternalReader``:
the broker's signature and seal, or a format-2 record of the batch signer allowed to seal it),
and for each NOTIFICATION or UPDATE still current in the index (indexed at exactly the version read:
``LookupIndex.rekey``) writes its pseudonyms under every live key. A record removed from the index (deleted,
expired, ended) or replaced by a newer version is never written back. Lookups keep answering throughout:
they ask with every live key, and the old key's rows stay until it is destroyed.

What it cannot do: a record older than the topic's retention, or sealed to a broker key destroyed since
(``KeyDestroyed``), is not on the topic in a readable form; it stays under the old key alone and is counted
in ``records_missing``. Such a record hits again once its source sends it anew; destroying the old key before
that retires its entries (``crx lookup keys destroy --force``).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.batchauth import BatchVerifier
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.errors import CodecError, EnvelopeError, KeyDestroyed
from services.kernel.gate import authenticate
from services.kernel.internal import InternalReader, batch_signer
from services.kernel.kafka import read_from_start
from services.kernel.logging import get_logger
from services.kernel.producers import ProducerRules
from services.keys.ring import KeyRing
from services.lookup.index import LookupIndex
from services.lookup.indexing import INDEXED_TYPES, key_of
from services.lookup.indexkey import IndexKey
from services.lookup.pseudonyms import pseudonyms_of_record


@dataclass
class ReindexReport:
    """What a re-index did: records read, by outcome; records re-keyed (each once); and per live key, how
    many indexed records still have no row under it."""

    read: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    rekeyed: set[bytes] = field(default_factory=set, repr=False)
    records_missing: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``crx lookup reindex`` prints (counts and key ids only)."""
        return {
            "read": self.read,
            "outcomes": dict(sorted(self.outcomes.items())),
            "records_rekeyed": len(self.rekeyed),
            "records_missing": self.records_missing,
        }


class RecordsReader:
    """Reads ``crx.records`` from the start and opens each record as the router does: authenticated by a
    producer allowed on the topic, then opened in either internal format (``InternalReader``)."""

    def __init__(self, settings: Settings, keyring: KeyRing) -> None:
        self._settings = settings
        self._rules, self._verifier = ProducerRules(settings), BatchVerifier(keyring.registry)
        self._reader = InternalReader(settings, keyring)
        self._broker = frozenset({settings.broker_party})
        self._codec = typed_codec(CANONICAL_RECORD)
        self._log = get_logger("lookup-reindex")

    def open(self, rec: Any, now: dt.datetime) -> CriminalRecord | str:
        """The canonical record ``rec`` holds, or why it cannot be read: ``refused_<reason>`` (not
        authenticated), ``key_destroyed`` (sealed to a destroyed broker key), ``unreadable``. Never raises for a
        record's fault."""
        reason = authenticate(self._verifier, self._rules, rec, now)
        if reason is not None:
            self._log.warning("record refused", partition=rec.partition, offset=rec.offset, reason=reason)
            return f"refused_{reason}"
        try:
            signer = batch_signer(rec)  # verified just above
            opened = self._reader.open(rec, channel="records", signers=self._broker, now=now, authenticated=signer)
            return self._codec.decode(opened.plaintext)
        except KeyDestroyed:
            return "key_destroyed"
        except (EnvelopeError, CodecError):
            return "unreadable"

    async def read(self, *, idle_ms: int = 1000) -> AsyncGenerator[tuple[Any, CriminalRecord | str]]:
        """(consumed record, ``open`` of it) for every record of ``crx.records``, in offset order per partition,
        until none came for ``idle_ms``. Raises KafkaError when the broker does not answer."""
        now = dt.datetime.now(dt.UTC)
        async with aclosing(read_from_start(self._settings, self._settings.topic("records"), idle_ms)) as batches:
            async for records in batches:
                for rec in records:
                    yield rec, self.open(rec, now)


class Reindexer:
    """Re-keys the records of ``crx.records`` that the index holds at their version."""

    def __init__(self, reader: RecordsReader, index: LookupIndex, keys: list[IndexKey]) -> None:
        self._reader = reader
        self._index = index
        self._keys = keys

    def one(self, record: CriminalRecord, indexed: dict[bytes, int], report: ReindexReport) -> str:
        """Re-key one record if the index holds it at its version; returns the outcome."""
        header = record["header"]
        if header["message_type"] not in INDEXED_TYPES:
            return "not_indexed_type"
        key, version = key_of(record), header["source_record_version"]
        if indexed.get(key) != version:
            return "not_current"  # removed, never indexed, or another version indexed
        if not self._index.rekey(key, version, pseudonyms_of_record(record["person"], self._keys)):
            return "not_current"  # changed since the snapshot
        report.rekeyed.add(key)
        return "rekeyed"

    async def run(self, *, idle_ms: int = 1000) -> ReindexReport:
        """Read ``crx.records`` from the start and re-key (see the module docstring). Raises TransientError
        when the index does not answer, KafkaError when the broker does not."""
        report = ReindexReport()
        indexed = self._index.versions()
        async with aclosing(self._reader.read(idle_ms=idle_ms)) as records:
            async for _rec, opened in records:
                report.read += 1
                report.outcomes[opened if isinstance(opened, str) else self.one(opened, indexed, report)] += 1
        report.records_missing = {k.key_id: len(self._index.records_missing(k.key_id)) for k in self._keys}
        return report


async def reindex(
    settings: Settings, keyring: KeyRing, index: LookupIndex, keys: list[IndexKey], *, idle_ms: int = 1000
) -> ReindexReport:
    """Re-key every record of ``crx.records`` still current in ``index`` under ``keys`` (every live key)."""
    return await Reindexer(RecordsReader(settings, keyring), index, keys).run(idle_ms=idle_ms)
