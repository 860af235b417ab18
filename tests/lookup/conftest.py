"""Shared material of the lookup tests: canonical persons and a fixed index key."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from schemas.records import Person, PersonName
from services.lookup.index import LookupIndex
from services.lookup.indexkey import IndexKey, key_id_of
from services.lookup.pseudonyms import pseudonyms_of_query, pseudonyms_of_record


def make_key(byte: int) -> IndexKey:
    """A fixed index key (tests must be reproducible)."""
    secret = bytes([byte]) * 32
    return IndexKey(key_id_of(secret), secret, dt.datetime(2026, 12, 1, tzinfo=dt.UTC))


def name(
    given: str | None, family: str, kind: str = "CURRENT", script: str = "Latn", translit: str | None = None
) -> PersonName:
    """One canonical person name."""
    return {"kind": kind, "given": given, "family": family, "script": script, "transliteration": translit}  # type: ignore[typeddict-item]


def make_person(names: list[PersonName], year: int | None = 1980, month: int | None = 3, day: int | None = 4) -> Person:
    """A canonical person with ``names`` and a birth date (parts may be None)."""
    return {
        "names": names, "sex": "UNKNOWN", "birth_date": {"year": year, "month": month, "day": day},
        "birth_place": None, "nationalities": [], "national_identifiers": [], "parent_names": [],
        "fingerprint_reference": None,
    }  # fmt: skip


def match(person: Person, query: dict[str, Any], key: IndexKey | None = None) -> str | None:
    """The best strength of a query against one person (None: no hit), through pseudonyms alone."""
    key = key or make_key(1)
    stored = {p.value: p.strength for p in pseudonyms_of_record(person, key)}
    found = [min(p.strength, stored[p.value], key=("variant", "exact").index)
             for p in pseudonyms_of_query(query, key) if p.value in stored]  # fmt: skip
    return max(found, key=("variant", "exact").index) if found else None


@pytest.fixture
def key() -> IndexKey:
    return make_key(1)


__all__ = ["LookupIndex", "make_key", "make_person", "match", "name"]
