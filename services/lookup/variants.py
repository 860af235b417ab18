"""The identity variants a person is indexed under and a query looks for: pure, no key, no I/O.

A variant is a kind and a tuple of normalised fields; ``pseudonyms`` turns each into a keyed pseudonym. A
query hits a record when they share one variant, so every rule below is applied alike on both sides, and the
kind is part of what is hashed (a variant of one kind never meets one of another). Kinds:

``exact`` (strength ``exact``)
    The name as written (``exact_form`` of given and family) and the full birth date.
``pair`` (strength ``variant``)
    Two name tokens as written in ASCII (``normalise.ascii_tokens``: diacritics gone, other scripts
    transliterated) and the full birth date; the first token may have lost one character
    (``normalise.deletions``), so a one-letter typo still meets. Both orders are made, which makes the pair
    unordered: given and family names swapped still meet. A record pairs each family token with each given
    token (``Kowalska-Nowak``, ``Anna`` gives ``kowalska+anna`` and ``nowak+anna``: a query with either half
    of a hyphenated or double family name, or with one of several given names, meets); a query pairs all its
    tokens with each other, wherever they were written. A family name of several tokens is also paired
    written together (``Al-Masri``/``Almasri``), without deletions.
``skel`` (strength ``variant``)
    The skeletons (``normalise.skeleton``) of two tokens, sorted, and the full birth date: transliteration
    conventions (``Iwanow``/``Ivanov``, ``Charalampos``/``Haralabos``).
``phon`` (strength ``variant``)
    The Metaphone codes of two tokens, sorted, and the full birth date: spellings further apart
    (``Mohammed``/``Muhammad``).
``single`` (strength ``variant``)
    One skeleton token and the full birth date: for a person recorded under one name only (a mononym).
``year`` (strength ``variant``), the controlled fallback
    Every token of a name (skeletons, sorted) and the birth year alone. Indexed only for a record whose birth
    date is not known to the day; a query with a full date also asks for it. Records with a full date are
    never matched on the year, so the fallback adds no false hits among them, and it asks for the whole name,
    not a pair, to keep namesakes born the same year apart.
``name`` (strength ``variant``)
    A skeleton pair alone: indexed for every record, asked for only by a query without a birth date.

A record's names are all of its ``names`` (current, birth, former names and aliases) and, for a name in
another script, its Latin ``transliteration`` as well (tokens paired with each other). What a match was
on is never reported: only the best strength.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

from services.lookup.normalise import ascii_tokens, deletions, exact_form, phonetic, skeleton

Strength = Literal["exact", "variant"]
STRENGTHS: tuple[Strength, ...] = ("variant", "exact")  # weakest first: the index stores the position
MAX_TOKENS = 6  # tokens of one name part that are used, and of a name that are paired with each other
MIN_DELETION_LENGTH = 3  # skeletons shorter than this are paired only as they are


class Variant(NamedTuple):
    """One normalised identity variant: what kind, its fields (in order), and the strength of a match on it."""

    kind: str
    fields: tuple[str, ...]
    strength: Strength


@dataclass(frozen=True)
class Name:
    """One name to index or look for: given (may be empty) and family as written, or ``tokens`` only (a
    transliteration of a full name, whose given and family parts are not told apart)."""

    given: str
    family: str
    whole: bool = False  # True: ``given`` is empty and ``family`` holds a full name whose parts are unknown


def _tokens_of(text: str) -> list[str]:
    """The distinct ASCII tokens of a name part (at most MAX_TOKENS)."""
    return list(dict.fromkeys(ascii_tokens(text)[:MAX_TOKENS]))


def _joined(text: str) -> list[str]:
    """For a name part of several tokens, them written together (``Al-Masri`` also as ``almasri``,
    ``Abdel Rahman`` as ``abdelrahman``); nothing for a part of one token."""
    tokens = ascii_tokens(text)
    return ["".join(tokens)] if len(tokens) > 1 else []


def _pairs(name: Name, *, every_pair: bool) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The ASCII token pairs of ``name`` (family x given for a record's name with both parts, every pair
    otherwise), and the pairs of a joined family name with each given name (matched without typo tolerance)."""
    given, family = _tokens_of(name.given), _tokens_of(name.family)
    joined = [] if name.whole else [(j, g) for j in _joined(name.family) for g in given or family if j != g]
    if given and family and not every_pair and not name.whole:
        return [(f, g) for f in family for g in given if f != g], joined
    tokens = list(dict.fromkeys(family + given))[:MAX_TOKENS]
    return list(itertools.combinations(tokens, 2)), joined


def _sorted_skeletons(pair: tuple[str, str]) -> tuple[str, ...]:
    return tuple(sorted((skeleton(pair[0]), skeleton(pair[1]))))


def _date_variants(pairs: list[tuple[str, str]], singles: list[str], date: str) -> Iterator[Variant]:
    """Per pair: in both orders, the first token as written (ASCII) and each of its one-deletion forms with the
    second (typos: one wrong letter stays one edit in the written form); the pair's skeletons (transliteration
    conventions); the pair's phonetic codes (spellings further apart)."""
    for a, b in pairs:
        for first, second in ((a, b), (b, a)):
            for shortened in deletions(first, MIN_DELETION_LENGTH):
                yield Variant("pair", (shortened, second, date), "variant")
        yield Variant("skel", (*_sorted_skeletons((a, b)), date), "variant")
        yield Variant("phon", (*sorted((phonetic(a), phonetic(b))), date), "variant")
    for token in singles:
        yield Variant("single", (skeleton(token), date), "variant")


def _joined_variants(joined: list[tuple[str, str]], date: str) -> Iterator[Variant]:
    for a, b in joined:
        yield Variant("pair", (a, b, date), "variant")
        yield Variant("pair", (b, a, date), "variant")
        yield Variant("skel", (*_sorted_skeletons((a, b)), date), "variant")


def _year(name: Name, year: int) -> Variant:
    """The controlled fallback: every token of the name (skeletons, sorted) and the birth year."""
    return Variant("year", (*sorted({skeleton(t) for t in _tokens(name)}), str(year)), "variant")


def _exact(name: Name, date: str) -> Iterator[Variant]:
    if not name.whole:
        yield Variant("exact", (exact_form(name.given), exact_form(name.family), date), "exact")


def _tokens(name: Name) -> list[str]:
    return _tokens_of(f"{name.given} {name.family}")


def record_variants(names: Iterable[Name], year: int | None, full_date: dt.date | None) -> set[Variant]:
    """The variants a record is indexed under: its names, its full birth date, or only its birth year.

    A record without any birth date gives only ``name`` variants (a dateless query finds it).
    """
    found: set[Variant] = set()
    names = list(names)
    covered = {token for name in names if not name.whole for token in _tokens(name)}
    for name in names:
        if name.whole and set(_tokens(name)) <= covered:
            continue  # a transliteration that adds no token to the names
        pairs, joined = _pairs(name, every_pair=False)
        singles = _tokens(name) if len(_tokens(name)) == 1 else []
        found.update(Variant("name", _sorted_skeletons(pair), "variant") for pair in pairs)
        if full_date is not None:
            date = full_date.isoformat()
            found.update(_exact(name, date))
            found.update(_date_variants(pairs, singles, date))
            found.update(_joined_variants(joined, date))
        elif year is not None:
            found.add(_year(name, year))
    return found


def query_variants(names: Iterable[Name], birth_date: dt.date | None) -> set[Variant]:
    """The variants a query looks for: every token pair of each name, at the full date and (the controlled
    fallback) at the birth year; with no birth date, only the names (``name`` variants)."""
    found: set[Variant] = set()
    for name in names:
        pairs, joined = _pairs(name, every_pair=True)
        if birth_date is None:
            found.update(Variant("name", _sorted_skeletons(pair), "variant") for pair in pairs)
            continue
        date = birth_date.isoformat()
        found.update(_exact(name, date))
        found.update(_date_variants(pairs, _tokens(name), date))
        found.update(_joined_variants(joined, date))
        found.add(_year(name, birth_date.year))
    return found
