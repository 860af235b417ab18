"""The person records of a batch -> the canonical ``person``: PS (the person and the current name), then NM
(other names), NA (nationalities), NI (national identifiers) and PN (parents' names) in any order."""

from __future__ import annotations

import datetime as dt
import re

from adapters.fixed_width.fields import Line
from adapters.kit import canonical, dates
from schemas.records import NameKindSymbol, Person, PersonName, SexSymbol

SEXES: dict[str, SexSymbol] = {"M": "MALE", "F": "FEMALE", "X": "OTHER", "U": "UNKNOWN"}
NAME_KINDS: dict[str, NameKindSymbol] = {"B": "BIRTH", "F": "FORMER", "A": "ALIAS"}  # the current name is on PS
_SCHEME = re.compile(r"[A-Z0-9][A-Z0-9-]*", re.ASCII)


def _name(kind: NameKindSymbol, line: Line) -> PersonName:
    """A name in Latin script (Latin-1 and CP1252 hold no other), without transliteration."""
    return canonical.name(kind, line.opt_text("given_names"), line.text_field("family_name"))


def person_of(line: Line, received_on: dt.date) -> Person:
    """The canonical person of a PS record, its lists still to be filled by the records that follow.

    Raises MISSING_FIELD (blank family name), INVALID_VALUE (bad sex or birth date, a birth date after
    ``received_on``), UNKNOWN_JURISDICTION (birth country).
    """
    birth_date = line.partial_date("birth_date")
    if dates.partial_date_after(birth_date, received_on):
        raise line.invalid("birth_date", "a date that is not in the future")
    birth_place = canonical.place(line.opt_text("birth_town"), line.country("birth_country", required=False))
    return {
        "names": [_name("CURRENT", line)],
        "sex": line.choice("sex", SEXES),
        "birth_date": birth_date,
        "birth_place": birth_place,
        "nationalities": [],
        "national_identifiers": [],
        "parent_names": [],
        "fingerprint_reference": line.opt_text("fingerprint_ref"),
    }


def add_name(person: Person, line: Line) -> None:
    """Add the birth, former or alias name of an NM record."""
    person["names"].append(_name(line.choice("name_kind", NAME_KINDS), line))


def add_nationality(person: Person, line: Line) -> None:
    """Add the nationality of an NA record. Raises INVALID_VALUE for a nationality given twice."""
    code = line.country("country", required=True)
    if code in person["nationalities"]:
        raise line.invalid("country", "each nationality once per person")
    person["nationalities"].append(code)


def add_identifier(person: Person, line: Line) -> None:
    """Add the national identifier of an NI record (scheme, value, issuer: all required)."""
    person["national_identifiers"].append(
        {
            "scheme": line.matching("scheme", _SCHEME, "capital letters, digits and hyphens"),
            "value": line.text_field("value"),
            "issuer": line.text_field("issuer"),
        }
    )


def add_parent(person: Person, line: Line) -> None:
    """Add the parent's name of a PN record."""
    person["parent_names"].append(line.text_field("parent_name"))
