"""Keyed pseudonyms of identity variants: what the lookup index stores and what a lookup asks for.

A pseudonym is ``HMAC-SHA256(index key, encoding)`` truncated to 16 bytes, where ``encoding`` is the
length-prefixed concatenation (4-byte big-endian length, then the UTF-8 bytes) of a version label, the
variant kind and the variant's normalised fields. The length prefixes make the encoding injective: no two
different (kind, fields) lists give the same bytes, whatever characters the fields hold.

Why HMAC-SHA256: it is a PRF under the standard assumption on SHA-256's compression function, FIPS-approved,
in the standard library (one C call per pseudonym, about a microsecond) and in every language a partner
might need to check it. A keyed BLAKE2b would be as good and slightly faster, but speed does not matter at
tens of pseudonyms per query. An unkeyed hash is useless here (names x dates is a small space: a copy of the
index would be reversed by a dictionary in minutes); a deterministic cipher (AES-SIV) is reversible by whoever
holds the key, which a one-way PRF is not; a slow keyed hash (Argon2 with a pepper) adds nothing once the
key is secret and would make indexing millions of entries slow. An oblivious PRF with the key in a separate
server (RFC 9497) would keep the key away from the lookup service too; it needs a second service and a
primitive ``cryptography`` does not offer, and is the upgrade path if the threat model asks for it.

Why 16 bytes: a false match needs a query pseudonym to equal an unrelated stored one. With ``n`` stored
entries and ``q`` pseudonyms per query, the chance per query is about ``q * n / 2**128``: at n = 10**7 and
q = 1,000 that is 3e-26, and the chance of any two stored entries colliding (``n**2 / 2**129``) is 1.5e-25.
Eight bytes would already give 5e-10 per query at that size; sixteen keep the margin for indexes a hundred
times larger at eight more bytes per row.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from schemas.records import Person
from services.lookup.indexkey import IndexKey
from services.lookup.query import LookupQuery, parse_query
from services.lookup.variants import Name, Strength, Variant, query_variants, record_variants

PSEUDONYM_BYTES = 16
_LABEL = b"crx.lookup.v1"


class Pseudonym(NamedTuple):
    """One keyed pseudonym: its 16 bytes, the id of the index key that made it, and its strength class."""

    value: bytes
    key_id: str
    strength: Strength


@lru_cache(maxsize=262_144)
def _field(text: str) -> bytes:
    data = text.encode()
    return len(data).to_bytes(4, "big") + data


_PREFIX = len(_LABEL).to_bytes(4, "big") + _LABEL


def encode(variant: Variant) -> bytes:
    """The canonical, injective byte encoding of a variant: the length-prefixed label, kind and fields."""
    return b"".join((_PREFIX, _field(variant.kind), *map(_field, variant.fields)))


def pseudonym(variant: Variant, key: IndexKey) -> Pseudonym:
    """The pseudonym of one variant under ``key``."""
    value = hmac.digest(key.secret, encode(variant), "sha256")[:PSEUDONYM_BYTES]
    return Pseudonym(value, key.key_id, variant.strength)


def _keyed(variants: Iterable[Variant], keys: Sequence[IndexKey]) -> list[Pseudonym]:
    ordered = sorted(variants)  # a deterministic order
    return [pseudonym(variant, key) for key in keys for variant in ordered]


def person_names(person: Person) -> list[Name]:
    """Every name of a canonical person (current, birth, former, alias), plus the Latin transliteration of
    each name in another script as a whole name."""
    names: list[Name] = []
    for entry in person["names"]:
        names.append(Name(entry["given"] or "", entry["family"]))
        if entry.get("transliteration"):
            names.append(Name("", str(entry["transliteration"]), whole=True))
    return names


def _record_date(person: Person) -> tuple[int | None, dt.date | None]:
    born = person["birth_date"]
    year, month, day = born["year"], born["month"], born["day"]
    if year is not None and month is not None and day is not None:
        try:
            return year, dt.date(year, month, day)
        except ValueError:
            return year, None  # an impossible date is kept to its year
    return year, None


def pseudonyms_of_record(person: Person, key: IndexKey | Sequence[IndexKey]) -> list[Pseudonym]:
    """The pseudonyms a canonical record's person is indexed under, for one key or for each of several (an
    index-key rotation indexes under every live key). Duplicate-free; no personal data leaves this function
    except as pseudonyms."""
    keys = [key] if isinstance(key, IndexKey) else list(key)
    year, full = _record_date(person)
    return _keyed(record_variants(person_names(person), year, full), keys)


def pseudonyms_of_query(query: LookupQuery | Mapping[str, Any], key: IndexKey | Sequence[IndexKey]) -> list[Pseudonym]:
    """The pseudonyms a lookup query asks for, under one key or each of several (every live index key).

    ``query`` is a parsed ``LookupQuery`` or the JSON object ``{"names": [{"given", "family"}], "birth_date":
    "YYYY-MM-DD" | null, "nationalities": [...]}``. Raises InvalidQuery when it is malformed.
    """
    parsed = query if isinstance(query, LookupQuery) else parse_query(query)
    keys = [key] if isinstance(key, IndexKey) else list(key)
    names = [Name(given, family) for given, family in parsed.names]
    return _keyed(query_variants(names, parsed.birth_date), keys)
