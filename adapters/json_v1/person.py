"""The ``person`` section of a crx-json/1 record -> the canonical ``person``."""

from __future__ import annotations

import datetime as dt
from typing import Any

from adapters.base import check_country
from adapters.json_v1 import values
from adapters.json_v1.fields import Node, invalid, missing

NAME_KINDS = {kind: kind for kind in ("CURRENT", "BIRTH", "FORMER", "ALIAS")}
SEXES = {"M": "MALE", "F": "FEMALE", "X": "OTHER", "U": "UNKNOWN"}
LATIN = "Latn"


def place(node: Node | None) -> dict[str, Any] | None:
    """A ``{town?, country?}`` object as a canonical Place; None when absent or empty."""
    if node is None:
        return None
    town = node.opt_string("town")
    country = node.opt_parsed("country", check_country)
    if town is None and country is None:
        return None
    return {"town": town, "country": country}


def _name(node: Node) -> dict[str, Any]:
    script = node.opt_parsed("script", values.script) or LATIN
    transliteration = node.opt_string("transliteration")
    if script != LATIN and transliteration is None:
        raise missing(node.at("transliteration"))
    return {
        "kind": node.choice("kind", NAME_KINDS),
        "given": node.opt_string("given"),
        "family": node.string("family"),
        "script": script,
        "transliteration": transliteration,
    }


def _nationalities(node: Node) -> list[str]:
    out: list[str] = []
    for path, code in node.strings("nationalities", required=True, non_empty=True):
        if check_country(code, path) in out:
            raise invalid(path, "each nationality once")
        out.append(code)
    return out


def _identifier(node: Node) -> dict[str, Any]:
    return {"scheme": node.string("scheme"), "value": node.string("value"), "issuer": node.string("issuer")}


def build_person(node: Node, received_on: dt.date) -> dict[str, Any]:
    """The canonical person. ``received_on`` bounds the birth date: a person is not born after the record."""
    names = [_name(n) for n in node.objects("names", required=True, non_empty=True)]
    birth_date = node.parsed("birth_date", values.partial_date)
    if values.partial_date_after(birth_date, received_on):
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
