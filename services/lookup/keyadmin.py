"""Administration of the lookup index keys: list, generate, rotate, destroy (``crx lookup keys``).

- **generate** makes the first key; refused when a live key exists (that is a rotation).
- **rotate** makes a new key beside the live ones: it is active at once, the older ones retiring. Every live
  key stays in use: lookups ask with each, and new records are indexed under each, so no hit is lost while
  the records already indexed are re-keyed (``crx lookup reindex``, ``reindex.py``).
- **destroy** retires a key for good: refused for the newest (active) key, and while some indexed record has
  rows under this key and under no other live key (it would stop hitting) unless forced; then the key file is
  overwritten and deleted (``IndexKeyStore.destroy``, a tombstone kept) and its rows are dropped
  (``LookupIndex.drop_key``). Destroying a destroyed key again drops rows left behind by an interrupted run.

Every key's status (active, retiring, destroyed) is logged as a KEY_CHANGE audit event by the audit writer
(``services/audit/observed.py``), from the key files alone. Nothing here prints or logs key material.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from services.kernel.config import Settings
from services.kernel.errors import CrxError
from services.kernel.runtime import passphrase_of
from services.lookup.index import LookupIndex
from services.lookup.indexkey import IndexKey, IndexKeyStore, check_apart


class IndexKeyRefused(CrxError, dead_letter=False, reason_code="INDEX_KEY"):
    """An index-key operation was refused: it would lose hits, or the key is not in the state it needs."""


def index_location(settings: Settings) -> str:
    """The lookup index database: ``lookup_db`` (a PostgreSQL URI or a path), else ``lookup.sqlite3`` in the
    data directory."""
    return settings.lookup_db or str(settings.data_dir / "lookup.sqlite3")


def open_index(settings: Settings) -> LookupIndex:
    """The lookup index of ``settings``. Raises ConfigError when it would sit inside the keys directory,
    TransientError when its database does not answer."""
    location = index_location(settings)
    check_apart(location, settings.keys_dir)
    return LookupIndex(location, settings.lookup_pg_schema)


def key_store(settings: Settings) -> IndexKeyStore:
    """The broker's index keys in the configured keys directory (encrypted with the key passphrase, if set)."""
    return IndexKeyStore(settings.keys_dir, settings.broker_party, passphrase_of(settings))


def _live(store: IndexKeyStore) -> list[str]:
    return [s.key_id for s in store.states() if s.status != "destroyed"]


def describe(store: IndexKeyStore, index: LookupIndex) -> list[dict[str, Any]]:
    """Every index key, oldest first: id, status, times, rows in the index, and for a live key how many
    indexed records have no row under it (what a re-index still has to do). Never key material."""
    rows = index.key_ids()
    described = []
    for state in store.states():
        live = state.status != "destroyed"
        described.append(
            {
                "key_id": state.key_id,
                "status": state.status,
                "created_at": state.created_at.isoformat(),
                "destroyed_at": state.destroyed_at.isoformat() if state.destroyed_at else None,
                "rows": rows.get(state.key_id, 0),
                "records_missing": len(index.records_missing(state.key_id)) if live else None,
            }
        )
    return described


def generate(store: IndexKeyStore, now: dt.datetime) -> IndexKey:
    """Make the first index key. Raises IndexKeyRefused when a live key exists (rotate instead)."""
    if _live(store):
        raise IndexKeyRefused("an index key exists already: use rotate to make a new one")
    return store.create(now)


def rotate(store: IndexKeyStore, now: dt.datetime) -> tuple[IndexKey, list[str]]:
    """Make a new active key beside the live ones; returns it and the ids of the keys now retiring. Raises
    IndexKeyRefused when there is no key yet (generate first)."""
    retiring = _live(store)
    if not retiring:
        raise IndexKeyRefused("no index key yet: use generate to make the first one")
    return store.create(now), retiring


def stranded(store: IndexKeyStore, index: LookupIndex, key_id: str) -> list[bytes]:
    """The indexed records with rows under ``key_id`` and under no other live key: those that would stop
    hitting if it were destroyed, until they are indexed again."""
    others = [k for k in _live(store) if k != key_id]
    alone = set.intersection(*(set(index.records_missing(k)) for k in others)) if others else set()
    return sorted(alone - set(index.records_missing(key_id)))


@dataclass(frozen=True)
class Destroyed:
    """What destroying an index key did: whether its file was overwritten (False: it was gone already), how
    many rows were dropped, and how many records stopped hitting (destroyed with ``force``)."""

    key_id: str
    file_overwritten: bool
    rows_dropped: int
    records_stranded: int

    def as_dict(self) -> dict[str, Any]:
        """The JSON form ``crx lookup keys destroy`` prints."""
        return {
            "key_id": self.key_id,
            "status": "destroyed",
            "file_overwritten": self.file_overwritten,
            "rows_dropped": self.rows_dropped,
            "records_stranded": self.records_stranded,
        }


def check_destroyable(store: IndexKeyStore, index: LookupIndex, key_id: str, *, force: bool) -> list[bytes]:
    """The records that would stop hitting if ``key_id`` were destroyed (empty unless ``force``). Raises
    IndexKeyRefused for an unknown key, the newest (active) key, or, without ``force``, while some records
    are indexed under this key alone."""
    state = next((s for s in store.states() if s.key_id == key_id), None)
    if state is None:
        raise IndexKeyRefused(f"no index key {key_id}")
    if state.status == "destroyed":
        return []
    if state.status == "active":
        raise IndexKeyRefused(f"index key {key_id} is the newest: rotate first, re-index, then destroy it")
    lost = stranded(store, index, key_id)
    if lost and not force:
        raise IndexKeyRefused(
            f"{len(lost)} indexed records have rows under key {key_id} alone: run `crx lookup reindex` first, "
            "or destroy with --force (those records stop hitting until they are indexed again)"
        )
    return lost


def destroy(store: IndexKeyStore, index: LookupIndex, key_id: str, now: dt.datetime, *, force: bool) -> Destroyed:
    """Destroy index key ``key_id`` (``check_destroyable`` first), then drop its rows. Raises IndexKeyRefused
    (see ``check_destroyable``), OSError when the key file cannot be overwritten or removed, TransientError
    when the index does not answer (run it again: the rows of a destroyed key are dropped on the next run)."""
    lost = check_destroyable(store, index, key_id, force=force)
    overwritten = store.destroy(key_id, now)
    return Destroyed(key_id, overwritten, index.drop_key(key_id), len(lost))
