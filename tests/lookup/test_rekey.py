"""Index-key administration and re-keying: versions, ``rekey`` that never resurrects nor rolls back,
``apply_record`` over a record's lifecycle, and generate / rotate / destroy with their refusals."""

from __future__ import annotations

import copy
import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import pytest

from schemas.records import CriminalRecord
from services.kernel.recordkey import record_key
from services.lookup.index import LookupIndex
from services.lookup.indexing import Indexed, apply_record
from services.lookup.indexkey import IndexKeyStore
from services.lookup.keyadmin import IndexKeyRefused, check_destroyable, describe, destroy, generate, rotate
from services.lookup.pseudonyms import pseudonyms_of_record
from tests.fixtures.postgres import postgres_dsn  # noqa: F401 - the fixture
from tests.lookup import test_index
from tests.lookup.conftest import make_key, make_person, name
from tests.lookup.test_index import ANNA, IVAN, QUERY_ANNA, QUERY_IVAN, hits

NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
index = test_index.index  # the fixture: an index on SQLite and on PostgreSQL


def record(kind: str, record_id: str, version: int, person: object = ANNA, state: str = "PL") -> CriminalRecord:
    """A canonical record as ``apply_record`` reads it: header, person, one conviction in effect."""
    header = {"message_type": kind, "source_jurisdiction": state, "source_record_id": record_id,
              "source_record_version": version}  # fmt: skip
    conviction: dict[str, Any] = {"later_decisions": [], "retention_end": None}
    return {"header": header, "person": copy.deepcopy(person), "convictions": [conviction], "other_charges": []}  # type: ignore[typeddict-item,list-item]


def test_rekey_writes_only_the_indexed_version(index: LookupIndex) -> None:
    """``rekey`` adds rows under the new key only for a record indexed at exactly that version; a removed
    record or another version is left alone, and the record's rows under other keys are kept."""
    old, new = make_key(1), make_key(2)
    anna, ivan = record_key("PL", "1"), record_key("BG", "2")
    for rk, state, person in ((anna, "PL", ANNA), (ivan, "BG", IVAN)):
        index.set_version(rk, 3)
        index.add(rk, state, pseudonyms_of_record(person, old))
    assert index.versions() == {anna: 3, ivan: 3} and index.version(anna) == 3
    assert index.rekey(anna, 2, pseudonyms_of_record(ANNA, [new])) is False  # an older version: no roll-back
    assert index.remove(ivan) is True and index.version(ivan) is None
    assert index.rekey(ivan, 3, pseudonyms_of_record(IVAN, [new])) is False  # removed: never resurrected
    assert index.rekey(anna, 3, pseudonyms_of_record(ANNA, [new])) is True
    assert index.rekey(anna, 3, pseudonyms_of_record(ANNA, [new])) is True  # idempotent
    assert index.records_missing(new.key_id) == [] and index.records_missing(old.key_id) == []
    assert hits(index, QUERY_ANNA, [new]) == [("PL", "exact")] == hits(index, QUERY_ANNA, [old])
    assert hits(index, QUERY_IVAN, [old, new]) == []


def test_apply_record_follows_the_lifecycle(index: LookupIndex) -> None:
    """A NOTIFICATION indexes under every live key, an UPDATE replaces, an older version is stale, a DELETION
    or a record whose convictions all ended removes, a REQUEST is not indexed."""
    keys = [make_key(1), make_key(2)]
    assert apply_record(index, keys, record("NOTIFICATION", "1", 1), NOW) is Indexed.INDEXED
    assert hits(index, QUERY_ANNA, keys[1:]) == [("PL", "exact")]
    assert apply_record(index, keys, record("UPDATE", "1", 2, IVAN), NOW) is Indexed.INDEXED
    assert apply_record(index, keys, record("NOTIFICATION", "1", 1), NOW) is Indexed.STALE
    assert hits(index, QUERY_ANNA, keys) == [] and hits(index, QUERY_IVAN, keys) == [("PL", "variant")]
    assert apply_record(index, keys, record("REQUEST", "9", 1), NOW) is Indexed.SKIPPED
    pardoned = record("UPDATE", "1", 3, IVAN)
    pardoned["convictions"][0]["later_decisions"] = [{"kind": "PARDON", "effective_from": None}]  # type: ignore[typeddict-item]
    assert apply_record(index, keys, pardoned, NOW) is Indexed.ENDED
    assert hits(index, QUERY_IVAN, keys) == [] and index.size() == (0, 0)
    assert apply_record(index, keys, record("NOTIFICATION", "2", 1), NOW) is Indexed.INDEXED
    assert apply_record(index, keys, record("DELETION", "2", 2), NOW) is Indexed.REMOVED
    assert index.size() == (0, 0) and index.versions() == {}


def test_generate_rotate_destroy(tmp_path: Path) -> None:
    """generate makes the first key only; rotate adds an active key beside the old; destroy refuses the
    newest key, and a key that records are indexed under alone (unless forced); once every record is under
    the new key, it overwrites and deletes the old key file and drops its rows; every hit is kept."""
    store = IndexKeyStore(tmp_path / "keys", "crx", None)
    index = LookupIndex(str(tmp_path / "lookup.sqlite3"))
    with pytest.raises(IndexKeyRefused):
        rotate(store, NOW)
    first = generate(store, NOW)
    with pytest.raises(IndexKeyRefused):
        generate(store, NOW)
    apply_record(index, store.live(), record("NOTIFICATION", "1", 1), NOW)
    second, retiring = rotate(store, NOW + dt.timedelta(seconds=1))
    assert retiring == [first.key_id]
    with pytest.raises(IndexKeyRefused, match="newest"):
        check_destroyable(store, index, second.key_id, force=False)
    with pytest.raises(IndexKeyRefused, match="1 indexed records"):
        destroy(store, index, first.key_id, NOW, force=False)
    listed = {row["key_id"]: row for row in describe(store, index)}
    assert (listed[first.key_id]["status"], listed[second.key_id]["status"]) == ("retiring", "active")
    assert listed[second.key_id]["records_missing"] == 1 and listed[first.key_id]["rows"] > 0
    assert index.rekey(record_key("PL", "1"), 1, pseudonyms_of_record(ANNA, store.live()))
    path = store.path(first.key_id)
    done = destroy(store, index, first.key_id, NOW, force=False)
    assert (done.file_overwritten, done.records_stranded) == (True, 0) and done.rows_dropped > 0
    assert not path.exists() and stat.S_IMODE(store.tombstone(first.key_id).stat().st_mode) == 0o600
    assert first.secret.hex() not in json.dumps(describe(store, index))
    assert [(r["key_id"], r["status"]) for r in describe(store, index)] == [
        (first.key_id, "destroyed"), (second.key_id, "active")
    ]  # fmt: skip
    assert hits(index, QUERY_ANNA, store.live()) == [("PL", "exact")]
    assert destroy(store, index, first.key_id, NOW, force=False).file_overwritten is False  # again: idempotent
    index.close()


def test_destroy_with_force_retires_entries(tmp_path: Path) -> None:
    """Forced, destroying a key records are indexed under alone stops their hits and says how many."""
    store = IndexKeyStore(tmp_path / "keys", "crx", None)
    index = LookupIndex(str(tmp_path / "lookup.sqlite3"))
    first = generate(store, NOW)
    apply_record(index, store.live(), record("NOTIFICATION", "1", 1, make_person([name("Anna", "Kowalska")])), NOW)
    rotate(store, NOW + dt.timedelta(seconds=1))
    done = destroy(store, index, first.key_id, NOW, force=True)
    assert done.records_stranded == 1
    assert hits(index, QUERY_ANNA, store.live()) == []
    with pytest.raises(IndexKeyRefused, match="no index key"):
        destroy(store, index, "0" * 16, NOW, force=True)
    index.close()
