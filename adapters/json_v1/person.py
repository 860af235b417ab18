"""The ``person`` section of a crx-json/1 record -> the canonical ``person``."""

from __future__ import annotations

import datetime as dt

from adapters.json_v1 import values
from adapters.json_v1.fields import Node, invalid, missing
from adapters.json_v1.values import SYNTAX
from adapters.kit import canonical, dates
from adapters.kit.countries import check_country
from adapters.kit.distinct import Distinct
from adapters.kit.languages import LATIN, needs_transliteration
from schemas.records import NameKindSymbol, NationalIdentifier, Person, PersonName, Place, SexSymbol

NAME_KINDS: dict[str, NameKindSymbol] = canonical.as_written("CURRENT", "BIRTH", "FORMER", "ALIAS")
SEXES: dict[str, SexSymbol] = {"M": "MALE", "F": "FEMALE", "X": "OTHER", "U": "UNKNOWN"}


def place(node: Node | None) -> Place | None:
    """A ``{town?, country?}`` object as a canonical Place; None when absent or empty."""
    if node is None:
        return None
    return canonical.place(node.opt_string("town"), node.opt_parsed("country", check_country))


def _name(node: Node) -> PersonName:
    script = node.opt_parsed("script", SYNTAX.script) or LATIN
    transliteration = node.opt_string("transliteration")
    if needs_transliteration(script, transliteration):
        raise missing(node.at("transliteration"))
    return canonical.name(
        kind=node.choice("kind", NAME_KINDS),
        given=node.opt_string("given"),
        family=node.string("family"),
        script=script,
        transliteration=transliteration,
    )


def _nationalities(node: Node) -> list[str]:
    once = Distinct(invalid, "each nationality once")
    return [
        once.add(path, check_country(code, path))
        for path, code in node.strings("nationalities", required=True, non_empty=True)
    ]


def _identifier(node: Node) -> NationalIdentifier:
    return {"scheme": node.string("scheme"), "value": node.string("value"), "issuer": node.string("issuer")}


def build_person(node: Node, received_on: dt.date) -> Person:
    """The canonical person. ``received_on`` bounds the birth date: a person is not born after the record.

    Raises AdapterError (MISSING_FIELD, INVALID_VALUE, UNKNOWN_JURISDICTION) naming the field path.
    """
    names = [_name(n) for n in node.objects("names", required=True, non_empty=True)]
    birth_date = node.parsed("birth_date", values.partial_date)
    if dates.partial_date_after(birth_date, received_on):
        raise invalid(node.at("birth_date"), "a date that is not in the future")
    return {
        "names": names,
        "sex": node.choice("sex", SEXES),
        "birth_date": birth_date,
        "birth_place": place(node.opt_child("birth_place")),
        "nationalities": _nationalities(node),
        "national_identifiers": [_identifier(n) for n in node.objects("identifiers")],
        "parent_names": [name for _path, name in node.strings("parents")],
        "fingerprint_reference": node.opt_string("fingerprint_ref"),
    }
