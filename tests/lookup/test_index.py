"""The lookup index on SQLite and PostgreSQL: add, replace, remove, lookup, rotation, and no identity at rest."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services.kernel.recordkey import record_key
from services.lookup.index import PAD_ROWS, LookupIndex
from services.lookup.indexkey import IndexKey
from services.lookup.pseudonyms import pseudonyms_of_query, pseudonyms_of_record
from tests.fixtures.postgres import drop, postgres_dsn  # noqa: F401 - the fixture
from tests.lookup.conftest import make_key, make_person, name

ANNA = make_person([name("Anna", "Kowalska-Nowak"), name("Anna", "Kowalska", kind="BIRTH")], 1980, 3, 4)
IVAN = make_person([name("Иван", "Петров", script="Cyrl", translit="Ivan Petrov")], 1975, 12, 31)
QUERY_ANNA: dict[str, Any] = {"names": [{"given": "Anna", "family": "Kowalska"}], "birth_date": "1980-03-04"}
QUERY_IVAN: dict[str, Any] = {"names": [{"given": "Iwan", "family": "Petrow"}], "birth_date": "1975-12-31"}


@pytest.fixture(params=["sqlite", "postgresql"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LookupIndex]:
    """An index on a SQLite file, or on a PostgreSQL schema of its own (dropped after)."""
    if request.param == "sqlite":
        store = LookupIndex(str(tmp_path / "lookup.sqlite3"))
        yield store
        store.close()
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"crx_t_{uuid.uuid4().hex[:12]}"
    store = LookupIndex(dsn, schema)
    try:
        yield store
    finally:
        store.close()
        drop(dsn, schema)


def hits(index: LookupIndex, query: dict[str, Any], keys: list[IndexKey]) -> list[tuple[str, str]]:
    return [(h.jurisdiction, h.match) for h in index.lookup(pseudonyms_of_query(query, keys))]


def test_add_lookup_best_strength_per_jurisdiction(index: LookupIndex, key: IndexKey) -> None:
    """Hits name the holding jurisdictions with their best strength, nothing else; other persons miss."""
    index.add(record_key("PL", "1"), "PL", pseudonyms_of_record(ANNA, key))
    index.add(record_key("DE", "7"), "DE", pseudonyms_of_record(ANNA, key))
    index.add(record_key("BG", "2"), "BG", pseudonyms_of_record(IVAN, key))
    assert hits(index, QUERY_ANNA, [key]) == [("DE", "exact"), ("PL", "exact")]
    assert hits(index, QUERY_IVAN, [key]) == [("BG", "variant")]
    assert hits(index, {"names": [{"given": "Maria", "family": "Nowak"}], "birth_date": "1980-03-04"}, [key]) == []
    records, rows = index.size()
    assert records == 3 and rows % PAD_ROWS == 0


def test_update_replaces_and_deletion_removes(index: LookupIndex, key: IndexKey) -> None:
    """Adding a record again replaces its rows (an UPDATE); removing it (DELETION, expiry) ends its hits."""
    rk = record_key("PL", "1")
    index.add(rk, "PL", pseudonyms_of_record(ANNA, key))
    index.add(rk, "PL", pseudonyms_of_record(IVAN, key))  # the record now names another person
    assert hits(index, QUERY_ANNA, [key]) == []
    assert hits(index, QUERY_IVAN, [key]) == [("PL", "variant")]
    assert index.remove(rk) is True
    assert hits(index, QUERY_IVAN, [key]) == []
    assert index.remove(rk) is False
    assert index.size() == (0, 0)


def test_rotation_keeps_every_hit(index: LookupIndex) -> None:
    """During an index-key rotation every hit stays: old rows answer while the records are fed again under the
    new key; after the old key's rows are dropped, the new ones answer; the old key finds nothing any more."""
    old, new = make_key(1), make_key(2)
    people = {record_key("PL", "1"): ("PL", ANNA), record_key("BG", "2"): ("BG", IVAN)}
    for rk, (state, person) in people.items():
        index.add(rk, state, pseudonyms_of_record(person, old))
    expected = {"anna": [("PL", "exact")], "ivan": [("BG", "variant")]}
    live = [old, new]
    assert sorted(index.records_missing(new.key_id)) == sorted(people)
    for step, (rk, (state, person)) in enumerate(people.items()):
        assert hits(index, QUERY_ANNA, live) == expected["anna"], step
        assert hits(index, QUERY_IVAN, live) == expected["ivan"], step
        index.add(rk, state, pseudonyms_of_record(person, live))  # the re-feed: under every live key
    assert index.records_missing(new.key_id) == []
    assert index.drop_key(old.key_id) > 0
    assert set(index.key_ids()) == {new.key_id}
    assert hits(index, QUERY_ANNA, [new]) == expected["anna"]
    assert hits(index, QUERY_IVAN, [new]) == expected["ivan"]
    assert hits(index, QUERY_ANNA, [old]) == []


def test_no_identity_in_the_index_file(tmp_path: Path, key: IndexKey) -> None:
    """The SQLite file (and its WAL) holds no name, in any script or case, and no birth date, in any form."""
    path = tmp_path / "lookup.sqlite3"
    index = LookupIndex(str(path))
    index.add(record_key("PL", "1"), "PL", pseudonyms_of_record(ANNA, key))
    index.add(record_key("BG", "2"), "BG", pseudonyms_of_record(IVAN, key))
    index.lookup(pseudonyms_of_query(QUERY_ANNA, key))
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("lookup.sqlite3"))
    index.close()
    data += path.read_bytes()
    needles = ["Anna", "Kowalska", "Nowak", "Иван", "Петров", "Ivan", "Petrov", "1980-03-04", "1975-12-31", "1980",
               "19800304", "1975"]  # fmt: skip
    for needle in needles:
        for form in {needle, needle.lower(), needle.upper()}:
            for encoding in ("utf-8", "utf-16-le", "utf-16-be"):
                assert form.encode(encoding) not in data, (form, encoding)
    assert b"PL" in data  # the scan does read the rows: the jurisdiction is there
