"""The subject of a rap sheet (``rap:RapSheetPerson`` or a substitute) -> the canonical ``person``."""

from __future__ import annotations

import datetime as dt

from adapters.kit import canonical, dates
from adapters.niem_rapsheet import values
from adapters.niem_rapsheet.countries import ELEMENTS as CITIZENSHIP_ELEMENTS
from adapters.niem_rapsheet.countries import CountryCodes
from adapters.niem_rapsheet.tree import Node, invalid, missing
from schemas.records import NameKindSymbol, NationalIdentifier, PartialDate, Person, PersonName, SexSymbol

COUNTRY = "US"
MAX_IDENTIFIER = 64
# NCIC SEX codes (X: non-binary).
SEX_CODES: dict[str, SexSymbol] = {"M": "MALE", "F": "FEMALE", "X": "OTHER", "U": "UNKNOWN"}
SEX_TEXTS: dict[str, SexSymbol] = {"MALE": "MALE", "FEMALE": "FEMALE", "UNKNOWN": "UNKNOWN", "OTHER": "OTHER"}
# USPS codes of the states, DC and the territories: a SID issued there has the issuer US-<code> (ISO 3166-2).
# fmt: off
US_STATES = frozenset({
    "AL", "AK", "AZ", "AR", "CA", "CO", "CT", "DE", "DC", "FL", "GA", "HI", "ID", "IL", "IN", "IA", "KS", "KY",
    "LA", "ME", "MD", "MA", "MI", "MN", "MS", "MO", "MT", "NE", "NV", "NH", "NJ", "NM", "NY", "NC", "ND", "OH",
    "OK", "OR", "PA", "RI", "SC", "SD", "TN", "TX", "UT", "VT", "VA", "WA", "WV", "WI", "WY", "AS", "GU", "MP",
    "PR", "VI",
})
# fmt: on


def _name(node: Node, kind: NameKindSymbol) -> PersonName | None:
    """A NIEM name (given, middle, surname or full name) as a canonical PersonName; None when it has no
    surname (an empty name, or an alias that is a given name or moniker only). Raises MISSING_FIELD for a
    primary name with a given name but no surname."""
    given_parts = [t for t in (node.text_of("PersonGivenName"), node.text_of("PersonMiddleName")) if t]
    given = " ".join(given_parts) or None
    family = node.text_of("PersonSurName")
    if family is None:
        full = node.text_of("PersonFullName")
        if full is None:
            if given is not None and kind == "CURRENT":
                raise missing(node.at("PersonSurName"))
            return None
        surname, comma, rest = full.partition(",")  # rap sheets write "SURNAME, GIVEN MIDDLE"
        family = surname.strip() or full
        if comma and rest.strip():
            given = rest.strip()
    return canonical.name(kind, given, family)


def _names(node: Node) -> list[PersonName]:
    primary = node.all("PersonName")
    if not primary:
        raise missing(node.at("PersonName"))
    current = _name(primary[0], "CURRENT")
    if current is None:
        raise missing(primary[0].at("PersonSurName"))
    names = [current]
    for other in primary[1:] + node.all("PersonAlternateName"):
        name = _name(other, "ALIAS")
        if name is not None and name not in names:
            names.append(name)
    return names


def _sex(node: Node) -> SexSymbol:
    code = node.first("PersonSexCode")
    if code is not None and (text := code.text()) is not None:
        if text.upper() not in SEX_CODES:
            raise invalid(code.path, "an NCIC sex code M, F, X or U")
        return SEX_CODES[text.upper()]
    label = node.first("PersonSexText")
    if label is not None and (text := label.text()) is not None:
        if text.upper() not in SEX_TEXTS:
            raise invalid(label.path, "Male, Female, Other or Unknown")
        return SEX_TEXTS[text.upper()]
    return "UNKNOWN"


def _birth_date(node: Node, received_on: dt.date) -> PartialDate:
    element = node.first("PersonBirthDate")
    found = values.read_date(element)
    if found is None:
        raise missing(node.at("PersonBirthDate"))
    if dates.partial_date_after(found.partial, received_on):
        raise invalid(node.at("PersonBirthDate"), "a date that is not in the future")
    return found.partial


def _nationalities(node: Node, countries: CountryCodes) -> list[str]:
    out: list[str] = []
    for name, child in node.items():
        if name not in CITIZENSHIP_ELEMENTS:
            continue
        text = child.text()
        if text is None:
            continue
        code = countries.resolve(name, text, child)
        if code not in out:
            out.append(code)
    if not out:
        raise missing(node.at("PersonCitizenship"))
    return out


def _identifier(node: Node) -> str | None:
    value = node.text_of("IdentificationID")
    if value is not None and len(value) > MAX_IDENTIFIER:
        raise invalid(node.at("IdentificationID"), f"an identifier of at most {MAX_IDENTIFIER} characters")
    return value


def identifiers(node: Node) -> list[NationalIdentifier]:
    """The FBI numbers (scheme FBI, issuer US) and state identification numbers (scheme SID, issuer US-<state>
    when the jurisdiction is a US state or territory code, else US) of ``j:PersonAugmentation``, each once."""
    out: list[NationalIdentifier] = []
    for augmentation in node.all("PersonAugmentation"):
        for fbi in augmentation.all("PersonFBIIdentification"):
            value = _identifier(fbi)
            if value is not None:
                out.append({"scheme": "FBI", "value": value, "issuer": COUNTRY})
        for sid in augmentation.all("PersonStateFingerprintIdentification"):
            value = _identifier(sid)
            state = (sid.text_of("IdentificationJurisdictionText") or "").upper()
            if value is not None:
                issuer = f"{COUNTRY}-{state}" if state in US_STATES else COUNTRY
                out.append({"scheme": "SID", "value": value, "issuer": issuer})
    unique: list[NationalIdentifier] = []
    for identifier in out:
        if identifier not in unique:
            unique.append(identifier)
    return unique


def source_record_id(ids: list[NationalIdentifier], node: Node) -> str:
    """``FBI:<number>`` from the first FBI number, else ``SID:<issuer>:<number>`` from the first SID.

    Raises MISSING_FIELD when the subject has neither."""
    for scheme in ("FBI", "SID"):
        for identifier in ids:
            if identifier["scheme"] == scheme:
                if scheme == "FBI":
                    return f"FBI:{identifier['value']}"
                return f"SID:{identifier['issuer']}:{identifier['value']}"
    raise missing(node.at("PersonAugmentation/PersonFBIIdentification"))


def build_person(node: Node, countries: CountryCodes, received_on: dt.date) -> Person:
    """The canonical person. ``received_on`` bounds the birth date (a person is not born after the record)."""
    return {
        "names": _names(node),
        "sex": _sex(node),
        "birth_date": _birth_date(node, received_on),
        "birth_place": None,
        "nationalities": _nationalities(node, countries),
        "national_identifiers": identifiers(node),
        "parent_names": [],
        "fingerprint_reference": None,
    }
