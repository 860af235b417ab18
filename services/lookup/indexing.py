"""What one canonical record does to the lookup index: the lifecycle of the record decides what is indexed.

- A NOTIFICATION or UPDATE with at least one conviction still in effect is indexed (replacing whatever the
  record had) under every live index key, at its version; an older version than the one indexed is ignored.
- A DELETION, or a record whose convictions have all ended (reversal, pardon, expungement in effect), removes
  the record's entries.
- Requests, responses and other messages are not indexed.

Re-keying after a rotation (``reindex.py``) indexes a record again only at the version indexed, never one
removed. The record key is the opaque ``record_key(source jurisdiction, source record id)``.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

from schemas.records import CriminalRecord
from services.kernel.recordkey import record_key
from services.ledger.lifecycle import ended
from services.lookup.index import LookupIndex
from services.lookup.indexkey import IndexKey
from services.lookup.pseudonyms import pseudonyms_of_record

INDEXED_TYPES = frozenset({"NOTIFICATION", "UPDATE"})


class Indexed(enum.StrEnum):
    """What ``index_record`` did with a record."""

    ADDED = "added"
    REMOVED = "removed"
    STALE = "stale"  # an older version than the one indexed
    IGNORED = "ignored"  # not a record the index holds (a request, a response...)


def key_of(record: CriminalRecord) -> bytes:
    """The opaque key the index holds a record under."""
    header = record["header"]
    return record_key(header["source_jurisdiction"], header["source_record_id"])


def in_effect(record: CriminalRecord, now: dt.datetime) -> bool:
    """True when the record holds at least one conviction not ended by a later decision in effect by ``now``."""
    return any(not ended(c, now.date()) for c in record["convictions"])


def index_record(index: LookupIndex, keys: Sequence[IndexKey], record: CriminalRecord, now: dt.datetime) -> Indexed:
    """Apply one canonical record to the index (see the module docstring) under ``keys`` (every live key).

    Raises TransientError when the index's database does not answer (the caller retries the record: every
    step is idempotent).
    """
    header = record["header"]
    kind = header["message_type"]
    if kind not in INDEXED_TYPES and kind != "DELETION":
        return Indexed.IGNORED
    key = key_of(record)
    version = header["source_record_version"]
    if (index.version(key) or 0) > version:
        return Indexed.STALE
    if kind == "DELETION" or not in_effect(record, now):
        index.remove(key)
        return Indexed.REMOVED
    index.set_version(key, version)
    index.add(key, header["source_jurisdiction"], pseudonyms_of_record(record["person"], keys))
    return Indexed.ADDED
