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

from schemas.records import CriminalRecord
from services.kernel.errors import KeyUnavailable
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.kernel.stage import RecordStage
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


class LookupFeed(RecordStage):
    """The feed's handler: applies each record of ``crx.records`` to the index."""

    def __init__(
        self,
        runtime: Runtime,
        metrics: ServiceMetrics,
        *,
        index: LookupIndex,
        keys: IndexKeyStore,
        actions: Counter,
    ) -> None:
        super().__init__(NAME, runtime, metrics)
        self._index = index
        self._keys = keys
        self._actions = actions

    def record(self, record: CriminalRecord, submission_id: str, rec: Any, now: dt.datetime) -> list[OutRecord]:
        """Nothing, once the record is applied to the index."""
        del submission_id, rec
        self._actions.labels(self.apply(record, now)).inc()
        return []

    def apply(self, record: CriminalRecord, now: dt.datetime) -> str:
        """Apply one canonical record to the index (``indexing.apply_record``); returns what it did (one of
        ``ACTIONS``). Raises KeyUnavailable without a live index key, TransientError when the database does
        not answer."""
        keys = live_keys(self._keys) if record["header"]["message_type"] in INDEXED_TYPES else []
        action = apply_record(self._index, keys, record, now)
        version = record["header"]["source_record_version"]
        self._log.info("lookup index updated", action=str(action), version=version)
        return str(action)
