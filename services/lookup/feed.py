"""The lookup feed: the lookup service's own consumer group on ``crx.records`` keeps the index in step with
the records the pipeline carries.

Each record (authenticated by a producer allowed on ``crx.records``, opened in either internal format with
the broker's key ring as the router opens it, ``BrokerStage.open_input``) is applied with
``indexing.apply_record``, the one place that says what a record's lifecycle does to the index. A record that
cannot be opened or decoded is dead-lettered (stage ``lookup``); a missing index key or a database that does
not answer retries the batch (never a dead letter). The index is written before the batch's offsets are
committed: at-least-once, and applying a record twice gives the same index.
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
from services.kernel.stage import BrokerStage
from services.keys.ring import KeyRing
from services.lookup.index import LookupIndex
from services.lookup.indexing import INDEXED_TYPES, Indexed, apply_record
from services.lookup.indexkey import IndexKey, IndexKeyStore

NAME = "lookup"
ACTIONS = (*(a.value for a in Indexed), "expired")  # crx_lookup_feed_records_total{action}


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
        keys: IndexKeyStore,
        actions: Counter,
    ) -> None:
        super().__init__(NAME, settings, keyring, audit_secret, metrics)
        self._index = index
        self._keys = keys
        self._actions = actions
        self._codec = typed_codec(CANONICAL_RECORD)
        self._broker = frozenset({settings.broker_party})

    def one(self, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """Nothing, once the record is applied to the index; or the record's dead letter."""
        submission_id = None
        try:
            opened = self.open_input(rec, channel="records", signers=self._broker, now=now)
            submission_id = str(opened.envelope["correlation_id"])
            record = self._codec.decode(opened.plaintext)
            with bind_message_id(message_id=opened.message_id):
                action = self.apply(record, now)
            self._actions.labels(action).inc()
            return []
        except Exception as exc:  # dead-lettered when the record's fault (or a bug), else the batch is retried
            return self.failed(exc, rec, submission_id=submission_id, jurisdiction=None, now=now)

    def apply(self, record: CriminalRecord, now: dt.datetime) -> str:
        """Apply one canonical record to the index (``indexing.apply_record``); returns what it did (one of
        ``ACTIONS``). Raises KeyUnavailable without a live index key, TransientError when the database does
        not answer."""
        keys = live_keys(self._keys) if record["header"]["message_type"] in INDEXED_TYPES else []
        action = apply_record(self._index, keys, record, now)
        version = record["header"]["source_record_version"]
        self._log.info("lookup index updated", action=str(action), version=version)
        return str(action)
