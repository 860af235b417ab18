"""Name and date normalisation for lookup pseudonyms: pure functions, no I/O, no key.

Three forms of a name, from strict to tolerant:

- ``exact_form``: Unicode NFKC, case folded, whitespace collapsed. Two spellings that differ only in how
  Unicode encodes them (composed or decomposed accents, full-width letters, ``ß``/``SS``) are equal; nothing
  else is. This is what an ``exact`` match compares.
- ``ascii_tokens``: every script transliterated to ASCII with ``anyascii`` (ISC licence, maintained, tables
  generated from Unicode data for every script: Cyrillic, Greek, Arabic, Hebrew, CJK...), which also drops
  diacritics (``Müller`` -> ``muller``, ``Łódź`` -> ``lodz``, ``Иванов`` -> ``ivanov``), lower-cased and split
  on anything that is not a letter or digit (so ``Kowalska-Nowak`` and ``Kowalska Nowak`` give the same
  tokens). Unidecode, the better-known alternative, is GPL and so not usable here.
- ``skeleton``: an ASCII token with the spelling conventions that differ between national transliteration
  systems and between spellings of one sound folded together (``w``/``v``/``f``/``ph``,
  ``sch``/``sh``/``zh``/``sz``/``tsch``, ``ch``/``kh``/``h``, ``j``/``y``/``i``, ``ou``/``u``, German ``ue``/``ü``,
  Greek ``mp``/``b``, ``nt``/``d``, ``ai``/``e``, doubled letters). ``Iwanow`` (German), ``Ivanov`` (English)
  and ``Ivanoff`` (older French) share one skeleton; so do ``Charalampos`` (ELOT 743) and ``Haralabos``.
  Folding makes unrelated names collide more often; the pseudonyms always pair a skeleton with a second name
  and a birth date, which keeps those collisions rare (the bench measures it).
- ``phonetic``: Metaphone (``jellyfish``, MIT licence, maintained, a Rust core) of the skeleton: vowels after
  the first letter and silent letters dropped, so ``Mohammed``/``Muhammad``/``Mohamad`` and
  ``Hussein``/``Husayn`` agree. Metaphone rather than Soundex (4 characters: too coarse, more false hits) or
  NYSIIS (keeps vowel positions, misses those transliteration pairs); Double Metaphone is not in a maintained
  permissively licensed package, and its second code would double the keys for little gain over the skeleton.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import jellyfish
from anyascii import anyascii

_SPACE = re.compile(r"\s+")
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")
# Longest first: the regex alternation takes the first alternative that matches at each position.
_FOLDS = {
    "schtsch": "s",
    "shch": "s",
    "tsch": "s",
    "sch": "s",
    "tch": "s",
    "dzh": "s",
    "sh": "s",
    "zh": "s",
    "ch": "h",
    "cz": "s",
    "sz": "s",
    "ts": "s",
    "tz": "s",
    "dz": "s",
    "kh": "h",
    "ph": "f",
    "th": "t",
    "ck": "k",
    "qu": "k",
    "ou": "u",
    "oy": "u",
    "ae": "a",
    "oe": "o",
    "ue": "u",
    "ie": "i",
    "ee": "i",
    "ai": "e",
    "ei": "i",
    "oi": "i",
    "mp": "b",
    "nt": "d",
    "gk": "g",
    "w": "f",
    "v": "f",
    "y": "i",
    "j": "i",
    "z": "s",
    "q": "k",
    "x": "ks",
}
_FOLD = re.compile("|".join(sorted(_FOLDS, key=len, reverse=True)))
_DOUBLE = re.compile(r"(.)\1+")


def exact_form(text: str) -> str:
    """``text`` NFKC-normalised, case folded (``casefold``: ``ß`` -> ``ss``), whitespace collapsed, trimmed."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


@lru_cache(maxsize=65_536)
def ascii_tokens(text: str) -> tuple[str, ...]:
    """The ASCII tokens of ``text``: transliterated (``anyascii``), diacritics gone, lower case, split on every
    non-alphanumeric character (space, hyphen, apostrophe, dot). Empty for a text without letters or digits."""
    folded = anyascii(unicodedata.normalize("NFKC", text)).lower()
    return tuple(token for token in _NOT_ALNUM.split(folded) if token)


@lru_cache(maxsize=65_536)
def skeleton(token: str) -> str:
    """An ASCII token (as ``ascii_tokens`` gives it) with transliteration conventions folded and doubled letters
    collapsed. Deterministic; never empty for a non-empty token."""
    folded = _FOLD.sub(lambda match: _FOLDS[match.group(0)], token)
    return _DOUBLE.sub(r"\1", folded) or token


@lru_cache(maxsize=65_536)
def phonetic(token: str) -> str:
    """The Metaphone code of a token's skeleton (upper-case ASCII), an initial vowel written ``A``; the skeleton
    itself when Metaphone gives nothing (a token of digits)."""
    shape = skeleton(token)
    code = jellyfish.metaphone(shape) or shape
    return "A" + code[1:] if code[0] in "AEIOU" else code  # Obeid / Ubaid: every initial vowel alike


def deletions(token: str, min_length: int) -> frozenset[str]:
    """``token`` and every string made by deleting one of its characters (the deletion neighbourhood).

    Two tokens at most one edit apart (a substitution, an insertion, a deletion or two adjacent letters
    swapped) always share a member, so a typo still meets the right key. Tokens shorter than ``min_length``
    give only themselves: one deletion from a short name leaves too little to tell names apart.
    """
    if len(token) < min_length:
        return frozenset((token,))
    return frozenset((token, *(token[:i] + token[i + 1 :] for i in range(len(token)))))
