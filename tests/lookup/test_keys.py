"""Index keys: stored in the key store (0600, encrypted with the passphrase), rotatable, pseudonyms per key."""

from __future__ import annotations

import datetime as dt
import json
import stat
from pathlib import Path

import pytest

from services.kernel.errors import ConfigError, KeyUnavailable
from services.lookup.indexkey import IndexKeyStore, check_apart
from services.lookup.pseudonyms import Pseudonym, encode, pseudonyms_of_query, pseudonyms_of_record
from services.lookup.query import InvalidQuery
from services.lookup.variants import Variant
from tests.lookup.conftest import make_key, make_person, name

NOW = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)


def test_pseudonyms_differ_under_different_keys() -> None:
    """The same person under two keys shares no pseudonym; under one key the derivation is deterministic."""
    person = make_person([name("Anna", "Nowak")])
    one, two = make_key(1), make_key(2)
    first = {p.value for p in pseudonyms_of_record(person, one)}
    assert first == {p.value for p in pseudonyms_of_record(person, one)}
    assert not first & {p.value for p in pseudonyms_of_record(person, two)}
    assert all(len(v) == 16 for v in first)
    both = pseudonyms_of_record(person, [one, two])
    assert {p.key_id for p in both} == {one.key_id, two.key_id}


def test_encoding_is_length_prefixed() -> None:
    """Moving a character between fields changes the encoding (no ambiguity from concatenation)."""
    assert encode(Variant("pair", ("ab", "c", "d"), "variant")) != encode(Variant("pair", ("a", "bc", "d"), "variant"))


def test_strength_classes() -> None:
    """Exact-kind pseudonyms carry ``exact``, every other ``variant``."""
    strengths = {p.strength for p in pseudonyms_of_record(make_person([name("Anna", "Nowak")]), make_key(1))}
    assert strengths == {"exact", "variant"}


@pytest.mark.parametrize(
    "query",
    [{}, {"names": []}, {"names": [{"given": "A"}]},
     {"names": [{"given": "A", "family": "B"}], "birth_date": "1980-02-30"},
     {"names": [{"given": "A", "family": "B"}], "birth_date": "04.03.1980"},
     {"names": [{"given": "A", "family": "B"}], "nationalities": ["fra"]}, {"names": [{"family": "B"}], "x": 1}],
)  # fmt: skip
def test_bad_queries_are_refused(query: dict[str, object]) -> None:
    """A malformed query raises InvalidQuery, naming the field and never the value."""
    with pytest.raises(InvalidQuery) as caught:
        pseudonyms_of_query(query, make_key(1))
    assert "1980" not in str(caught.value) and "fra" not in str(caught.value)


@pytest.mark.parametrize("passphrase", [None, b"a passphrase for the tests"])
def test_key_store_round_trip_and_rotation(tmp_path: Path, passphrase: bytes | None) -> None:
    """A created key is stored 0600 under private/<party>/index-<id>.key, read back by another store, never
    in clear with a passphrase; the newest is active; a destroyed key is gone."""
    store = IndexKeyStore(tmp_path / "keys", "crx", passphrase)
    first = store.create(NOW)
    path = tmp_path / "keys" / "private" / "crx" / f"index-{first.key_id}.key"
    assert path == store.path(first.key_id) and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert (first.secret in path.read_bytes()) is False
    document = json.loads(path.read_bytes())
    assert ("secret" in document) is (passphrase is None)
    second = store.create(NOW + dt.timedelta(days=1))
    other = IndexKeyStore(tmp_path / "keys", "crx", passphrase)
    assert [k.key_id for k in other.live()] == [first.key_id, second.key_id]
    assert other.active().secret == second.secret
    assert "secret" not in repr(second) or second.secret.hex() not in repr(second)
    assert [(s.key_id, s.status) for s in other.states()] == [(first.key_id, "retiring"), (second.key_id, "active")]
    assert other.destroy(first.key_id, NOW + dt.timedelta(days=2)) is True
    assert other.destroy(first.key_id, NOW + dt.timedelta(days=3)) is False  # idempotent
    assert [k.key_id for k in store.live()] == [second.key_id]
    assert not path.exists()
    tombstone = json.loads(store.tombstone(first.key_id).read_bytes())
    assert set(tombstone) == {"format", "key_id", "created_at", "destroyed_at"}  # no key material
    states = [(s.key_id, s.status, s.destroyed_at) for s in store.states()]
    assert states == [(first.key_id, "destroyed", NOW + dt.timedelta(days=2)), (second.key_id, "active", None)]


def test_wrong_passphrase_or_tampered_file_is_unavailable(tmp_path: Path) -> None:
    """A key does not open with another passphrase, nor when its file is renamed to another id."""
    key = IndexKeyStore(tmp_path, "crx", b"right").create(NOW)
    with pytest.raises(KeyUnavailable):
        IndexKeyStore(tmp_path, "crx", b"wrong").load(key.key_id)
    with pytest.raises(KeyUnavailable):
        IndexKeyStore(tmp_path, "crx", None).load(key.key_id)
    renamed = IndexKeyStore(tmp_path, "crx", b"right").path("0" * 16)
    IndexKeyStore(tmp_path, "crx", b"right").path(key.key_id).rename(renamed)
    with pytest.raises(KeyUnavailable):
        IndexKeyStore(tmp_path, "crx", b"right").load("0" * 16)
    with pytest.raises(KeyUnavailable):
        IndexKeyStore(tmp_path / "empty", "crx", None).active()


def test_index_must_not_live_in_the_keys_directory(tmp_path: Path) -> None:
    """An index database inside the keys directory is a configuration error; elsewhere, or PostgreSQL, is fine."""
    with pytest.raises(ConfigError):
        check_apart(str(tmp_path / "keys" / "lookup.sqlite3"), tmp_path / "keys")
    check_apart(str(tmp_path / "lookup.sqlite3"), tmp_path / "keys")
    check_apart("postgresql://db/crx", tmp_path / "keys")


def test_pseudonym_is_a_value_type() -> None:
    """Pseudonyms compare by value (the index deduplicates them)."""
    assert Pseudonym(b"x" * 16, "k", "exact") == Pseudonym(b"x" * 16, "k", "exact")
