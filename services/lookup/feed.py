"""The lookup feed: the lookup service's own consumer group on ``crx.records`` keeps the index in step with
the records the pipeline carries.

Per record (authenticated by a producer allowed on ``crx.records``, opened with the broker's key ring as the
router opens it):

- NOTIFICATION or UPDATE: the record's pseudonyms under every live index key replace its entries, with the
  record's retention end as their expiry, unless the version is older than the one applied (``stale``,
  ignored and counted) or the same version was deleted. The same version again (a redelivery, a rotation's
  re-feed) writes the same entries again: no change but new padding rows;
- a record whose convictions are all ended by a later decision (``ledger.lifecycle.conviction_ended``), that
  has none, or whose retention end has passed, is not indexed (and removed if it was: ``ended``);
- DELETION: the record leaves the index (``removed``);
- any other message type (requests, responses) is not indexed (``skipped``).

A record that cannot be opened or decoded is dead-lettered (stage ``lookup``); a missing index key or a
database that does not answer retries the batch (never a dead letter). The index is written before the
batch's offsets are committed: at-least-once, and applying a record twice gives the same index.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from prometheus_client import Counter

from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.errors import KeyUnavailable
from services.kernel.kafka import OutRecord
from services.kernel.logging import bind_message_id
from services.kernel.metrics import ServiceMetrics
from services.kernel.recordkey import record_key
from services.kernel.stage import BrokerStage
from services.keys.ring import KeyRing
from services.ledger.lifecycle import conviction_ended
from services.ledger.retention import retention_end
from services.lookup.index import LookupIndex
from services.lookup.indexkey import IndexKey, IndexKeyStore
from services.lookup.pseudonyms import pseudonyms_of_record
from services.lookup.versions import Applied, FeedVersions

NAME = "lookup"
INDEXED_TYPES = frozenset({"NOTIFICATION", "UPDATE"})
DELETION = "DELETION"
ACTIONS = ("indexed", "removed", "ended", "stale", "skipped", "expired")  # crx_lookup_feed_records_total{action}


def live_keys(keys: IndexKeyStore) -> list[IndexKey]:
    """Every live index key, oldest first. Raises KeyUnavailable when there is none or one is unreadable (not
    a record's fault: the batch, or the lookup, waits for the key)."""
    found = keys.live()
    if not found:
        raise KeyUnavailable("no index key: create one (crx lookup keys)")
    return found


class LookupFeed(BrokerStage):
    """The feed's handler: applies each record of ``crx.records`` to the index."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        audit_secret: bytes,
        metrics: ServiceMetrics,
        *,
        index: LookupIndex,
        versions: FeedVersions,
        keys: IndexKeyStore,
        actions: Counter,
    ) -> None:
        super().__init__(NAME, settings, keyring, audit_secret, metrics)
        self._index = index
        self._versions = versions
        self._keys = keys
        self._actions = actions
        self._codec = typed_codec(CANONICAL_RECORD)
        self._broker = frozenset({settings.broker_party})

    def one(self, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """Nothing, once the record is applied to the index; or the record's dead letter."""
        submission_id = None
        try:
            opened = self._opener.open(
                rec.value or b"", channel="records", now=now, signers=self._broker, headers=dict(rec.headers or ())
            )
            submission_id = str(opened.envelope["correlation_id"])
            record = self._codec.decode(opened.plaintext)
            with bind_message_id(message_id=opened.message_id):
                action = self.apply(record, now)
            self._actions.labels(action).inc()
            return []
        except Exception as exc:  # dead-lettered when the record's fault (or a bug), else the batch is retried
            return self.failed(exc, rec, submission_id=submission_id, jurisdiction=None, now=now)

    def apply(self, record: CriminalRecord, now: dt.datetime) -> str:
        """Apply one canonical record to the index; returns what it did (one of ``ACTIONS``). Raises
        KeyUnavailable without a live index key, TransientError when the database does not answer."""
        header = record["header"]
        kind = header["message_type"]
        if kind not in INDEXED_TYPES and kind != DELETION:
            return "skipped"
        key = record_key(header["source_jurisdiction"], header["source_record_id"])
        version = header["source_record_version"]
        known = self._versions.get(key)
        if known is not None and (
            version < known.version or (version == known.version and known.deleted and kind != DELETION)
        ):
            self._log.info("stale version ignored", version=version, applied=known.version)
            return "stale"
        action = self._index_or_remove(record, key, now) if kind in INDEXED_TYPES else self._remove(key)
        self._versions.put(key, Applied(version, kind == DELETION))
        self._log.info("lookup index updated", action=action, version=version)
        return action

    def _remove(self, key: bytes) -> str:
        self._index.remove(key)
        return "removed"

    def _index_or_remove(self, record: CriminalRecord, key: bytes, now: dt.datetime) -> str:
        today = now.date()
        live = [c for c in record["convictions"] if not conviction_ended(c, today)]
        expires = retention_end({**record, "convictions": live}, None, now) if live else None
        if not live or (expires is not None and expires <= today):
            self._index.remove(key)
            return "ended"
        pseudonyms = pseudonyms_of_record(record["person"], live_keys(self._keys))
        self._index.add(key, record["header"]["source_jurisdiction"], pseudonyms, expires)
        return "indexed"
