"""Which real-world differences between how two states write one person still meet, and how strongly."""

from __future__ import annotations

from typing import Any

from services.lookup.normalise import ascii_tokens, deletions, exact_form, phonetic, skeleton
from tests.lookup.conftest import make_person, match, name


def q(given: str, family: str, born: str | None = "1980-03-04", *more: tuple[str, str]) -> dict[str, Any]:
    names = [{"given": given, "family": family}] + [{"given": g, "family": f} for g, f in more]
    return {"names": names, "birth_date": born}


def test_normal_forms() -> None:
    """NFKC + casefold for exact, anyascii for tokens (diacritics gone, scripts transliterated), skeletons fold
    national conventions, Metaphone agrees on Arabic-origin spellings."""
    assert exact_form("  MÜLLER\u00a0 Straße ") == exact_form("mu\u0308ller strasse")
    assert ascii_tokens("Kowalska-Nowak") == ("kowalska", "nowak")
    assert ascii_tokens("Łódź Żółć") == ("lodz", "zolc")
    assert ascii_tokens("Иванов") == ("ivanov",)
    assert skeleton("iwanow") == skeleton("ivanov") == skeleton("ivanoff")
    assert skeleton("schukow") == skeleton("zhukov")
    assert phonetic("mohammed") == phonetic("muhammad")
    assert "kowalsk" in deletions("kowalski", 3) and deletions("li", 3) == frozenset({"li"})


def test_exact_name_and_date_is_exact() -> None:
    """The name as recorded and the full birth date give an ``exact`` match; case and Unicode form do not matter."""
    person = make_person([name("Anna", "Müller")])
    assert match(person, q("ANNA", "mu\u0308ller")) == "exact"


def test_missing_diacritics_and_umlaut_spellings_meet_as_variant() -> None:
    """Diacritics removed (``Muller``) or written the German way (``Mueller``) still hit, as ``variant``."""
    person = make_person([name("Łukasz", "Wiśniewski")])
    assert match(person, q("Lukasz", "Wisniewski")) == "variant"
    assert match(make_person([name("Jürgen", "Müller")]), q("Juergen", "Mueller")) == "variant"


def test_cyrillic_and_greek_meet_their_latin_spellings() -> None:
    """A record in Cyrillic or Greek is found by the Latin spellings other states use."""
    russian = make_person([name("Иван", "Иванов", script="Cyrl", translit="Ivan Ivanov")])
    assert match(russian, q("Ivan", "Ivanov")) == "variant"
    assert match(russian, q("Iwan", "Iwanow")) == "variant"  # German convention
    greek = make_person([name("Χαράλαμπος", "Παπαδόπουλος", script="Grek", translit="Charalampos Papadopoulos")])
    assert match(greek, q("Haralabos", "Papadopulos")) == "variant"


def test_swapped_given_and_family() -> None:
    """Given and family names written the other way round still hit."""
    assert match(make_person([name("Jean", "Dupont")]), q("Dupont", "Jean")) == "variant"


def test_hyphenated_and_double_family_names() -> None:
    """Either half of a hyphenated family name, a space for the hyphen, or one of several given names hits."""
    person = make_person([name("Jean-Pierre", "Kowalska-Nowak")])
    assert match(person, q("Jean", "Nowak")) == "variant"
    assert match(person, q("Jean Pierre", "Kowalska Nowak")) == "variant"
    assert match(make_person([name("Yusuf", "Al-Masri")]), q("Yusuf", "Almasri")) == "variant"


def test_birth_name_and_alias() -> None:
    """A person found under their birth name or an alias, as recorded in the canonical person."""
    person = make_person(
        [name("Anna", "Nowak"), name("Anna", "Kowalska", kind="BIRTH"), name("Ola", "K", kind="ALIAS")]
    )
    assert match(person, q("Anna", "Kowalska")) == "exact"
    assert match(person, q("Anna", "Nowak")) == "exact"
    assert match(person, q("Ola", "K")) == "exact"


def test_one_typo() -> None:
    """One wrong, missing, extra or swapped letter in one name still hits."""
    person = make_person([name("Katarzyna", "Kowalczyk")])
    for given, family in (("Katarzyna", "Kowalczky"), ("Katarzna", "Kowalczyk"), ("Katarzyna", "Kowallczyk")):
        assert match(person, q(given, family)) == "variant", (given, family)


def test_phonetic_key() -> None:
    """Spellings more than one letter apart that sound alike (Arabic-origin names) hit."""
    assert match(make_person([name("Mohammed", "Hussein")]), q("Muhammad", "Husain")) == "variant"


def test_birth_date_must_match_and_year_fallback_is_controlled() -> None:
    """A different day does not hit a record with a full date; a record known only to the year is found by the
    whole name and any date in that year, as ``variant``; never by another year."""
    assert match(make_person([name("Anna", "Nowak")]), q("Anna", "Nowak", "1980-03-05")) is None
    year_only = make_person([name("Anna", "Nowak")], month=None, day=None)
    assert match(year_only, q("Anna", "Nowak", "1980-11-30")) == "variant"
    assert match(year_only, q("Anna", "Nowak", "1981-03-04")) is None


def test_query_without_birth_date_matches_names_only_as_variant() -> None:
    """A query without a birth date matches on names alone, never as ``exact``."""
    assert match(make_person([name("Anna", "Nowak")]), q("Anna", "Nowak", None)) == "variant"
    assert match(make_person([name("Anna", "Nowak")]), q("Maria", "Nowak", None)) is None


def test_other_names_do_not_hit() -> None:
    """Another given name, or another family name, with the same date, is no hit."""
    person = make_person([name("Anna", "Nowak")])
    assert match(person, q("Maria", "Nowak")) is None
    assert match(person, q("Anna", "Wójcik")) is None
