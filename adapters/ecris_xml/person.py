"""The ``Person`` element of an ECRIS message -> the canonical ``person``; also places and partial dates,
which convictions use too."""

from __future__ import annotations

import datetime as dt

from adapters.ecris_xml import values
from adapters.ecris_xml.refcodes import SEXES, Countries
from adapters.ecris_xml.tree import Model, Node, Slot, invalid, many, missing, opt
from adapters.ecris_xml.values import SYNTAX
from adapters.kit import canonical, dates
from adapters.kit.distinct import Distinct
from adapters.kit.languages import LATIN, needs_transliteration
from schemas.records import NameKindSymbol, NationalIdentifier, PartialDate, Person, PersonName, Place

PERSON = Model(
    Slot("Name"),
    opt("BirthName"),
    many("FormerName"),
    many("Alias"),
    Slot("Sex"),
    Slot("BirthDate"),
    opt("BirthPlace"),
    many("Nationality", 1),
    many("Identifier"),
    many("ParentName"),
    opt("FingerprintReference"),
)
NAME = Model(Slot("FamilyName"), opt("GivenName"), opt("Transliteration"))
PARTIAL_DATE = Model(Slot("Year"), opt("Month"), opt("Day"))
PLACE = Model(opt("Town"), opt("Country"))
NAME_KINDS: tuple[tuple[str, NameKindSymbol], ...] = (
    ("Name", "CURRENT"),
    ("BirthName", "BIRTH"),
    ("FormerName", "FORMER"),
    ("Alias", "ALIAS"),
)


def partial_date(node: Node) -> PartialDate:
    """A ``Year``/``Month``/``Day`` element as a canonical PartialDate (unknown parts None)."""
    parts = node.children(PARTIAL_DATE)
    month, day = parts.opt("Month"), parts.opt("Day")
    return values.partial_date(
        parts.one("Year").token(),
        None if month is None else month.token(),
        None if day is None else day.token(),
        node,
    )


def place(node: Node | None, countries: Countries) -> Place | None:
    """A ``Town``/``Country`` element as a canonical Place; None when absent or empty."""
    if node is None:
        return None
    parts = node.children(PLACE)
    return canonical.place(values.opt_text(parts.opt("Town")), values.opt_read(parts.opt("Country"), countries.alpha2))


def _name(node: Node, kind: NameKindSymbol) -> PersonName:
    parts = node.children(NAME, attributes=("script",))
    script = LATIN if node.attribute("script") is None else values.attribute(node, "script", SYNTAX.script)
    transliteration = values.opt_text(parts.opt("Transliteration"))
    if needs_transliteration(script, transliteration):
        raise missing(f"{node.path}/Transliteration")
    return canonical.name(
        kind,
        given=values.opt_text(parts.opt("GivenName")),
        family=values.read_text(parts.one("FamilyName")),
        script=script,
        transliteration=transliteration,
    )


def _identifier(node: Node, countries: Countries) -> NationalIdentifier:
    value = values.text(node.leaf(attributes=("scheme", "issuer")), node)
    return {
        "scheme": values.attribute(node, "scheme", values.text),
        "value": value,
        "issuer": values.attribute(node, "issuer", countries.alpha2),
    }


def nationalities(nodes: list[Node], countries: Countries) -> list[str]:
    """The alpha-2 codes of ``Nationality`` elements, each state once (else INVALID_VALUE)."""
    once = Distinct(invalid, "each nationality once")
    return [once.add(node, values.read(node, countries.alpha2)) for node in nodes]


def build_person(node: Node, countries: Countries, received_on: dt.date) -> Person:
    """The canonical person. ``received_on`` bounds the birth date: a person is not born after the message.

    Raises AdapterError (MISSING_FIELD, INVALID_VALUE, UNKNOWN_JURISDICTION) naming the element path.
    """
    parts = node.children(PERSON)
    names = [_name(n, kind) for element, kind in NAME_KINDS for n in parts.all(element)]
    birth_node = parts.one("BirthDate")
    birth_date = partial_date(birth_node)
    if dates.partial_date_after(birth_date, received_on):
        raise invalid(birth_node.where, "a date that is not in the future")
    sex = parts.one("Sex")
    return {
        "names": names,
        "sex": values.choice(sex.token(), SEXES, sex),
        "birth_date": birth_date,
        "birth_place": place(parts.opt("BirthPlace"), countries),
        "nationalities": nationalities(parts.all("Nationality"), countries),
        "national_identifiers": [_identifier(n, countries) for n in parts.all("Identifier")],
        "parent_names": [values.read_text(n) for n in parts.all("ParentName")],
        "fingerprint_reference": values.opt_read(parts.opt("FingerprintReference"), values.identifier),
    }
