"""A record's life at the partner, as pure rules: which record a message is about, and what applying it does.

A partner keeps each conviction record once, by (source jurisdiction, source record id), at its latest
version (``header.source_record_version`` grows with each version of one record). NOTIFICATION and UPDATE
store or replace it, DELETION erases it; requests, responses and case notices have no record lifecycle and are
kept per message. ``decide`` says what a message does given what is held, and its answer is what the receipt
reports (``Operation``, the ``ReceiptOperation`` symbols of ``schemas/receipt.avsc``).

No I/O, no clock: the sinks (``sinks``) apply these answers and the ledger (``ledger``) remembers them.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
from dataclasses import dataclass
from typing import Any

from schemas.records import ReceiptOperationSymbol


class Operation(enum.StrEnum):
    """What delivering one message did at the partner; each value is a ``ReceiptOperation`` symbol."""

    OTHER = "OTHER"  # not said: a sink that cannot tell (a plain callback)
    STORED = "STORED"  # a record not held before, or a message without record lifecycle, is now kept
    REPLACED = "REPLACED"  # a newer version replaced the one held
    ERASED = "ERASED"  # the record is not held any more (deleted, or its retention ended); older versions stay out
    UNCHANGED = "UNCHANGED"  # this version is the one held: nothing to do
    STALE = "STALE"  # older than the version held, or than the record's erasure: not applied

    @property
    def symbol(self) -> ReceiptOperationSymbol:
        """The Avro enum symbol, typed as the ``operation`` of ``schemas.records.Receipt``."""
        return self.value


@dataclass(frozen=True)
class Delivery:
    """What the client knows of a delivered message besides its content. The ledger keeps it with the record
    it brought, so that a later erasure receipt (the record's retention ended) can name that delivery."""

    message_id: str
    correlation_id: str
    envelope_sha256: bytes


@dataclass(frozen=True)
class Change:
    """What a message asks of the record ``key``: to hold ``version`` (an upsert), or to erase it."""

    key: str
    version: int
    erase: bool
    retention_end: dt.date | None = None


@dataclass(frozen=True)
class Held:
    """What the partner holds of one record: its version, the delivery that brought it (or erased it), and
    whether it is erased (a tombstone: the version and the ids, never the record's content)."""

    version: int
    delivery: Delivery
    erased: bool
    retention_end: dt.date | None = None


UPSERTS = frozenset({"NOTIFICATION", "UPDATE"})
ERASURES = frozenset({"DELETION"})


def record_key(source_jurisdiction: str, source_record_id: str) -> str:
    """The opaque key of a record at the partner: hex SHA-256 of ``<jurisdiction>\\x1f<record id>``. A file name
    or a partner system's key that never shows the record id in clear."""
    return hashlib.sha256(f"{source_jurisdiction}\x1f{source_record_id}".encode()).hexdigest()


def retention_end_of(record: dict[str, Any]) -> dt.date | None:
    """The day the partner's copy of ``record`` must be gone: the latest ``retention_end`` of its convictions,
    when every conviction has one; None (kept until deleted) when it has no conviction or one without.
    ``record`` is decoded, or read back from JSON."""
    ends = [_date(conviction.get("retention_end")) for conviction in record.get("convictions") or ()]
    dates = [end for end in ends if end is not None]
    return max(dates) if dates and len(dates) == len(ends) else None


def _date(value: object) -> dt.date | None:
    """A decoded date, or one as JSON holds it (ISO 8601: a record read back from a partner's file)."""
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def change_of(record: dict[str, Any]) -> Change | None:
    """The record change ``record`` (a decoded canonical record) asks for; None for a message without record
    lifecycle (a request, a response, a case notice ``{"case_notice": ...}``), which is kept per message."""
    header = record.get("header")
    if not isinstance(header, dict) or header.get("message_type") not in UPSERTS | ERASURES:
        return None
    key = record_key(str(header["source_jurisdiction"]), str(header["source_record_id"]))
    erase = header["message_type"] in ERASURES
    version = int(header["source_record_version"])
    return Change(key, version, erase, None if erase else retention_end_of(record))


def decide(held: Held | None, change: Change) -> Operation:
    """What applying ``change`` does given ``held`` (None: the record was never seen here).

    - an upsert stores a record not held (STORED), replaces an older version (REPLACED), leaves the same
      version (UNCHANGED), and never applies an older version than the one held, or than the version at which
      the record was erased (STALE); a newer version than an erasure is a new record from the source (STORED);
    - an erasure of any version at or above the one held erases it (ERASED; also when nothing is held: the
      tombstone keeps older versions out); an erasure older than the version held is STALE.
    """
    if change.erase:
        if held is not None and not held.erased and change.version < held.version:
            return Operation.STALE
        return Operation.ERASED
    if held is None:
        return Operation.STORED
    if change.version > held.version:
        return Operation.STORED if held.erased else Operation.REPLACED
    if change.version == held.version and not held.erased:
        return Operation.UNCHANGED
    return Operation.STALE


def retention_ended(held: Held, today: dt.date) -> bool:
    """Whether the copy ``held`` must be erased ``today``: it is not erased and its retention end is today or
    earlier (the retention end is the first day the partner may no longer hold it)."""
    return not held.erased and held.retention_end is not None and held.retention_end <= today
