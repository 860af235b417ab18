"""What one canonical record does to the lookup index: the lifecycle of the record decides what is indexed.
The one place that decides it, for the feed (``feed.py``) and the tests.

- NOTIFICATION or UPDATE: the record's pseudonyms under every live index key replace its entries, with the
  record's retention end as their expiry, unless the version is older than the one applied (``stale``,
  ignored) or the same version was deleted. The same version again (a redelivery, a rotation's re-feed) writes
  the same entries again;
- a record whose convictions are all ended by a later decision (``ledger.lifecycle.conviction_ended``), that
  has none, or whose retention end has passed, is not indexed (and removed if it was: ``ended``);
- DELETION: the record leaves the index (``removed``); the version applied is kept, so a late copy of an
  older version never brings it back;
- any other message type (requests, responses) is not indexed (``skipped``).

The record key is the opaque ``record_key(source jurisdiction, source record id)``. Re-keying after a rotation
(``reindex.py``) indexes a record again only at the version indexed, never one removed.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence

from schemas.records import CriminalRecord
from services.kernel.recordkey import record_key
from services.ledger.lifecycle import conviction_ended
from services.ledger.retention import retention_end
from services.lookup.index import Applied, LookupIndex
from services.lookup.indexkey import IndexKey
from services.lookup.pseudonyms import pseudonyms_of_record

INDEXED_TYPES = frozenset({"NOTIFICATION", "UPDATE"})
DELETION = "DELETION"


class Indexed(enum.StrEnum):
    """What ``apply_record`` did with a record (the feed's metric label)."""

    INDEXED = "indexed"
    REMOVED = "removed"  # a DELETION
    ENDED = "ended"  # every conviction ended, none, or past its retention end: not indexed
    STALE = "stale"  # an older version than the one applied, or the version of a deletion
    SKIPPED = "skipped"  # not a record the index holds (a request, a response...)


def key_of(record: CriminalRecord) -> bytes:
    """The opaque key the index holds a record under."""
    header = record["header"]
    return record_key(header["source_jurisdiction"], header["source_record_id"])


def apply_record(index: LookupIndex, keys: Sequence[IndexKey], record: CriminalRecord, now: dt.datetime) -> Indexed:
    """Apply one canonical record to the index (see the module docstring) under ``keys`` (every live key).

    Raises TransientError when the index's database does not answer (the caller retries the record: every
    step is idempotent).
    """
    header = record["header"]
    kind = header["message_type"]
    if kind not in INDEXED_TYPES and kind != DELETION:
        return Indexed.SKIPPED
    key = key_of(record)
    version = header["source_record_version"]
    known = index.applied(key)
    if known is not None and (version < known.version or (version == known.version and known.deleted)):
        return Indexed.REMOVED if kind == DELETION and version == known.version else Indexed.STALE
    if kind == DELETION:
        index.remove(key)
        action = Indexed.REMOVED
    else:
        action = _index_or_end(index, keys, record, key, now)
    index.set_applied(key, Applied(version, deleted=kind == DELETION))
    return action


def _index_or_end(
    index: LookupIndex, keys: Sequence[IndexKey], record: CriminalRecord, key: bytes, now: dt.datetime
) -> Indexed:
    today = now.date()
    live = [c for c in record["convictions"] if not conviction_ended(c, today)]
    expires = retention_end({**record, "convictions": live}, None, now) if live else None
    if not live or (expires is not None and expires <= today):
        index.remove(key)
        return Indexed.ENDED
    index.add(key, record["header"]["source_jurisdiction"], pseudonyms_of_record(record["person"], keys), expires)
    return Indexed.INDEXED
