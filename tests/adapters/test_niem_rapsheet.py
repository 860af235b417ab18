"""The niem-rapsheet adapter: NIEM 2.0 / Nlets Rap Sheet 4.1 documents mapped to canonical records
(adapters/niem_rapsheet/README.md)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import base
from adapters.base import AdapterError, ParseContext, record_message_id
from adapters.kit.codes import load_tables
from adapters.kit.xmlsafe import parse_xml
from adapters.niem_rapsheet.countries import load_countries, parse_table
from adapters.niem_rapsheet.envelope import NLETS, NLETS_HEADER
from adapters.niem_rapsheet.names import NC, RAP, STRUCTURES, J
from adapters.niem_rapsheet.parser import NiemRapSheetAdapter
from services.kernel.errors import ConfigError
from tests.adapters.harness import RECEIVED, Feed, Record, assert_survives_codec, duration_of, round_trip

FEED = Feed("niem-rapsheet", "US")
ADAPTER, SAMPLES = FEED.adapter, FEED.samples
FR, DE, PL = "US-rapsheet-fr.xml", "US-rapsheet-de-extended.xml", "US-rapsheet-pl.xml"  # the samples
EXT = "http://example.org/synthetic/iepd/criminal-history/1.0"
NS = {"rap": RAP, "nc": NC, "j": J, "s": STRUCTURES, "ext": EXT, "n2": NLETS, "nh2": NLETS_HEADER}
PERSON = "/rap:RapSheet/rap:RapSheetPerson"
CYCLE1 = "/rap:RapSheet/rap:RapSheetCycle[1]"
CYCLE2 = "/rap:RapSheet/rap:RapSheetCycle[2]"
COURT_CHARGE1 = f"{CYCLE1}/rap:CourtAction/rap:CourtCharge"
SENTENCE1 = f"{CYCLE1}/rap:Sentencing/rap:Sentence"


# --- helpers ---------------------------------------------------------------------------------------


def tree(name: str = FR) -> etree._Element:
    """A fresh, mutable tree of a packaged sample (parsed the safe way)."""
    return parse_xml(SAMPLES[name])


def serialise(root: etree._Element) -> bytes:
    """The document as UTF-8 bytes with an XML declaration."""
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _payload(root: etree._Element | bytes) -> bytes:
    """``root`` serialised, or the bytes as given."""
    return root if isinstance(root, bytes) else serialise(root)


def parse_all(root: etree._Element | bytes, jurisdiction: str = "US", received: dt.datetime = RECEIVED) -> list[Record]:
    """Parse a tree (or bytes) on the feed of ``jurisdiction``."""
    return FEED.parse(_payload(root), jurisdiction, received)


def parse_one(root: etree._Element | bytes, jurisdiction: str = "US") -> Record:
    """Parse a document holding exactly one rap sheet."""
    return FEED.parse_one(_payload(root), jurisdiction)


def refusal(root: etree._Element | bytes, jurisdiction: str = "US") -> AdapterError:
    """The AdapterError parsing ``root`` raises (fails the test when it parses)."""
    return FEED.refusal(_payload(root), jurisdiction)


def assert_refused(root: etree._Element, reason: str, naming: str) -> None:
    """Parsing ``root`` is refused with ``reason``, in a message naming ``naming`` (an element's path)."""
    error = refusal(root)
    assert error.reason_code == reason
    assert naming in str(error)


def at(root: etree._Element, path: str) -> etree._Element:
    """The single element at an XPath (with the NS prefixes)."""
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list) and len(found) == 1, path
    element = found[0]
    assert isinstance(element, etree._Element)
    return element


def set_text(root: etree._Element, path: str, text: str) -> None:
    """Replace the text of the element at ``path``."""
    at(root, path).text = text


def remove(root: etree._Element, path: str) -> None:
    """Remove every element at ``path``."""
    found = root.xpath(path, namespaces=NS)
    assert isinstance(found, list) and found, path
    for element in found:
        assert isinstance(element, etree._Element)
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)


def add(parent: etree._Element, tag: str, text: str | None = None, **attributes: str) -> etree._Element:
    """Append a child ``{ns}local`` element to ``parent``."""
    child = etree.SubElement(parent, tag, attrib=attributes)
    child.text = text
    return child


def without_header(record: Record) -> dict[str, object]:
    """The record minus its header (for comparing documents that differ only in what the header shows)."""
    return {key: value for key, value in record.items() if key != "header"}


# --- samples ---------------------------------------------------------------------------------------


def test_required_samples_are_shipped_sorted() -> None:
    """The documented samples exist, named after the US feed, sorted by name."""
    names = [name for name, _ in ADAPTER.samples()]
    assert {FR, DE, PL} <= set(names)
    assert names == sorted(names)
    assert all(name.startswith("US-") for name in names)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_parses_and_round_trips(name: str) -> None:
    """Each sample gives one record that the canonical codec encodes and decodes unchanged in substance."""
    assert_survives_codec(parse_one(SAMPLES[name]))


def test_fr_sample_maps_header_and_person() -> None:
    """The FR sample: a US notification under 28 CFR 20 for criminal proceedings, about a French citizen with
    a primary name (given and middle names joined), an alias, his FBI number and Arizona SID."""
    record = parse_one(SAMPLES[FR])
    header, person = record["header"], record["person"]
    assert header["message_type"] == "NOTIFICATION"
    assert header["source_jurisdiction"] == "US"
    assert header["source_record_id"] == "FBI:SYN100001"
    assert header["legal_basis"] == "US-28-CFR-20"
    assert header["purpose"] == "CRIMINAL_PROCEEDINGS"
    assert header["reference_tables"] == "crx-categories-1"
    assert (header["reply_to"], header["addressed_to"], header["external_message_id"]) == (None, [], None)
    assert (header["urgency"], header["deadline"], header["created_at"]) == ("NORMAL", None, RECEIVED)
    assert [(n["kind"], n["given"], n["family"]) for n in person["names"]] == [
        ("CURRENT", "CLAUDE MARIE", "TESTARD"),
        ("ALIAS", "CLAUDE", "TESTARD-EXEMPLE"),
    ]
    assert {n["script"] for n in person["names"]} == {"Latn"}
    assert person["sex"] == "MALE"
    assert person["birth_date"] == {"year": 1981, "month": 4, "day": 12}
    assert person["nationalities"] == ["FR"]
    assert person["national_identifiers"] == [
        {"scheme": "FBI", "value": "SYN100001", "issuer": "US"},
        {"scheme": "SID", "value": "AZ90000001", "issuer": "US-AZ"},
    ]
    assert (person["birth_place"], person["parent_names"], person["fingerprint_reference"]) == (None, [], None)


def test_fr_sample_conviction_and_dismissed_charge() -> None:
    """Cycle 1's guilty court charge is a conviction (court with ORI, disposition date, case number, NCIC
    offence mapped to BURGLARY with its statute, offence date from the incident, the cycle's prison term,
    probation and fine); cycle 2's dismissed charge is a COURT other charge, its arrest not repeated."""
    record = parse_one(SAMPLES[FR])
    (conviction,) = record["convictions"]
    assert conviction["conviction_id"] == "1.1.1"
    assert conviction["court"] == {"name": "SYNTHETIC COUNTY SUPERIOR COURT (AZ099015J)", "place": None}
    assert conviction["decision_date"] == dt.date(2022, 9, 14)
    assert (conviction["date_final"], conviction["retention_end"], conviction["later_decisions"]) == (None, None, [])
    assert conviction["file_number"] == "SYN-CR2022-000101"
    (offence,) = conviction["offences"]
    assert offence == {
        "national_code": "2202",
        "national_title": "BURGLARY - FORCED ENTRY - RESIDENCE",
        "legal_reference": "ARS 13-1507",
        "title_language": "en",
        "category": "BURGLARY",
        "completion": "UNKNOWN",
        "participation": "UNKNOWN",
        "committed_on": {"year": 2022, "month": 3, "day": 1},
        "place": None,
    }
    prison, probation, fine = conviction["sanctions"]
    assert (prison["national_code"], prison["category"], prison["duration"]) == (
        "PRISON",
        "IMPRISONMENT",
        {"years": 2, "months": 0, "days": 0, "hours": 0},
    )
    assert (probation["category"], duration_of(probation)["years"]) == ("PROBATION", 3)
    assert (fine["category"], fine["amount"], fine["currency"], fine["duration"]) == ("FINE", "1500.00", "USD", None)
    assert record["other_charges"] == [
        {
            "stage": "COURT",
            "national_code": "1313",
            "national_title": "SIMPLE ASSAULT",
            "title_language": "en",
            "legal_reference": "ARS 13-1203",
            "category": "ASSAULT",
            "disposition": "DISMISSED",
            "disposition_date": {"year": 2023, "month": 8, "day": 30},
            "agency": "SYNTHETIC COUNTY SUPERIOR COURT (AZ099015J)",
        }
    ]


def test_de_sample_reads_substitutes_and_ignores_extensions() -> None:
    """The DE sample (SOAP envelope, IEPD response element, ext: substitutes, unknown extension elements):
    the subject from ext:Person (FIPS citizenship GM, month-precision birth date, NCIC sex code, full-name
    alias), the SID standing in for a missing FBI number, the conviction from ext:RapSheetCycle with the
    sentence of ext:Sentencing read from its text, the court through the substituted association, the charge
    disposed at arrest as an ARREST other charge; names inside unknown elements are not taken."""
    record = parse_one(SAMPLES[DE])
    header, person = record["header"], record["person"]
    assert header["source_record_id"] == "SID:US-TX:TX00000042"
    assert [(n["kind"], n["given"], n["family"]) for n in person["names"]] == [
        ("CURRENT", "ERIKA", "MUSTERMANN"),
        ("ALIAS", "ERIKA", "MUSTERFRAU"),
    ]
    assert person["birth_date"] == {"year": 1979, "month": 6, "day": None}
    assert (person["sex"], person["nationalities"]) == ("FEMALE", ["DE"])
    assert person["national_identifiers"] == [{"scheme": "SID", "value": "TX00000042", "issuer": "US-TX"}]
    (conviction,) = record["convictions"]
    assert conviction["court"]["name"] == "SYNTHETIC DISTRICT COURT NO. 0"
    (offence,) = conviction["offences"]
    assert (offence["national_code"], offence["category"]) == ("3530", "DRUG_TRAFFICKING")
    assert offence["legal_reference"] == "HSC 481.112"  # completed from the arrest charge
    (sanction,) = conviction["sanctions"]
    assert (sanction["national_code"], sanction["category"], duration_of(sanction)["years"]) == (
        "PRISON",
        "IMPRISONMENT",
        5,
    )
    (arrest_only,) = record["other_charges"]
    assert (arrest_only["stage"], arrest_only["national_code"], arrest_only["category"]) == (
        "ARREST",
        "3562",
        "DRUG_POSSESSION",
    )
    assert arrest_only["disposition"] == "RELEASED - NO CHARGE FILED"
    assert arrest_only["agency"] == "SYNTHETIC COUNTY SHERIFF (TX0990000)"
    text = str(record)
    assert "IGNORED" not in text and "TATTOO" not in text.upper() and "SYNTHETIC ROSE" not in text


def test_pl_sample_is_a_response_to_the_requester() -> None:
    """The PL sample is an Nlets FR (full record response): RESPONSE, reply_to and external id from the
    control field, addressed to the requesting state named by the destination; citizenship text (name and
    alpha-3), year-only birth date; a suspended jail term and a fine read from the sentence text; the charge
    declined by the prosecutor (PROSECUTION, its arrest not repeated), the pending court charge (COURT) and
    the uncoded arrest charge released at arrest (national code from its statute, UNKNOWN category)."""
    record = parse_one(SAMPLES[PL])
    header, person = record["header"], record["person"]
    assert header["message_type"] == "RESPONSE"
    assert header["reply_to"] == "5b0f3c1e-2d4a-5c6b-8e9f-0a1b2c3d4e5f"
    assert header["external_message_id"] == "5b0f3c1e-2d4a-5c6b-8e9f-0a1b2c3d4e5f"
    assert header["addressed_to"] == ["PL"]
    assert person["nationalities"] == ["PL", "US"]
    assert person["birth_date"] == {"year": 1990, "month": None, "day": None}
    (conviction,) = record["convictions"]
    assert (conviction["offences"][0]["category"], conviction["decision_date"]) == ("ROAD_TRAFFIC", dt.date(2019, 5, 6))
    jail, fine = conviction["sanctions"]
    assert (jail["national_code"], jail["category"], jail["suspended"], duration_of(jail)["days"]) == (
        "JAIL",
        "SUSPENDED_IMPRISONMENT",
        True,
        180,
    )
    assert (fine["amount"], fine["currency"]) == ("1000.00", "USD")
    stages = [(c["stage"], c["national_code"], c["category"], c["disposition"], c["agency"]) for c in
              record["other_charges"]]  # fmt: skip
    assert stages == [
        ("ARREST", "NJSA 2C:33-2", "UNKNOWN", "RELEASED", "SYNTHETIC TOWNSHIP POLICE"),
        ("PROSECUTION", "4899", "OTHER", "PROSECUTION DECLINED", "NJ099013A"),
        ("COURT", "2303", "THEFT", None, "SYNTHETIC MUNICIPAL COURT"),
    ]


def test_response_outcome_follows_the_convictions() -> None:
    """A RESPONSE's outcome: CONVICTIONS_FOUND when the rap sheet yields a conviction (the PL sample), NO_RECORD
    when it yields none, both for a rap sheet without cycles and for one whose charges all ended without a
    conviction (they stay other charges). A response has no requesting authority and no case message."""
    header = parse_one(SAMPLES[PL])["header"]
    assert (header["outcome"], header["requesting_authority"], header["case_message"]) == (
        "CONVICTIONS_FOUND",
        None,
        None,
    )
    no_cycles = tree(PL)
    remove(no_cycles, "//rap:RapSheetCycle")
    record = parse_one(no_cycles)
    assert (record["header"]["outcome"], record["convictions"], record["other_charges"]) == ("NO_RECORD", [], [])
    acquitted = tree(PL)
    set_text(acquitted, "//rap:CourtCharge/j:ChargeDisposition/nc:DispositionDescriptionText", "NOT GUILTY")
    record = parse_one(acquitted)
    assert (record["header"]["outcome"], record["convictions"]) == ("NO_RECORD", [])
    assert len(record["other_charges"]) == 4
    assert round_trip(record)["header"]["outcome"] == "NO_RECORD"


def test_notifications_have_no_outcome() -> None:
    """A rap sheet sent as a notification (no CHRI response key) has no outcome, authority or case message."""
    for name in (FR, DE):
        header = parse_one(SAMPLES[name])["header"]
        assert header["message_type"] == "NOTIFICATION"
        assert (header["outcome"], header["requesting_authority"], header["case_message"]) == (None, None, None)
    root = tree(PL)
    set_text(root, "//nh2:MessageKeyCodeText", "AM")
    assert parse_one(root)["header"]["outcome"] is None


# --- extension, substitution and wrappers ------------------------------------------------------------


def test_unknown_extension_elements_at_every_level_change_nothing() -> None:
    """Unknown elements from an extension namespace under the rap sheet, the person, a name, a cycle, an arrest,
    a charge, a disposition and a sentence are ignored: the record (and its message id) stays the same."""
    plain = parse_one(SAMPLES[FR])
    root = tree(FR)
    for path in ("/rap:RapSheet", PERSON, f"{PERSON}/nc:PersonName", CYCLE1, f"{CYCLE1}/rap:Arrest",
                 COURT_CHARGE1, f"{COURT_CHARGE1}/j:ChargeDisposition", SENTENCE1):  # fmt: skip
        element = at(root, path)
        unknown = add(element, f"{{{EXT}}}LocalDetail")
        add(unknown, f"{{{NC}}}PersonSurName", "NOT-A-NAME")  # standard names inside unknown elements are not read
        add(element, f"{{{EXT}}}LocalCodeText", "X1")
    assert parse_one(root) == plain


def test_substituted_person_cycle_and_sentencing_give_the_same_record() -> None:
    """Replacing rap:RapSheet, rap:RapSheetPerson, rap:RapSheetCycle, rap:Sentencing and rap:Sentence by
    extension-namespace substitutes (ext:Person for the person) yields the same record."""
    plain = parse_one(SAMPLES[FR])
    root = tree(FR)
    for element, local in [
        (at(root, SENTENCE1), "Sentence"),
        (at(root, f"{CYCLE1}/rap:Sentencing"), "Sentencing"),
        (at(root, CYCLE1), "RapSheetCycle"),
        (at(root, CYCLE2), "RapSheetCycle"),
        (at(root, PERSON), "Person"),
        (root, "RapSheet"),
    ]:
        element.tag = f"{{{EXT}}}{local}"
    assert parse_one(root) == plain


def test_standard_elements_are_read_in_any_of_the_three_namespaces() -> None:
    """Elements are known by local name in any standard namespace (rap:ChargeStatute and j:ChargeStatute
    alike), but a non-substitutable name in an extension namespace is ignored."""
    root = tree(FR)
    at(root, f"{COURT_CHARGE1}/rap:ChargeStatute").tag = f"{{{J}}}ChargeStatute"
    assert parse_one(root)["convictions"][0]["offences"][0]["legal_reference"] == "ARS 13-1507"
    at(root, f"{PERSON}/nc:PersonName").tag = f"{{{EXT}}}PersonName"
    assert refusal(root).reason_code == base.MISSING_FIELD


def test_a_standard_person_element_is_not_the_subject() -> None:
    """Only rap:RapSheetPerson or an extension substitute is the subject: nc:Person is not, and neither is the
    person of the request in rap:Introduction."""
    root = tree(FR)
    at(root, PERSON).tag = f"{{{NC}}}Person"
    assert_refused(root, base.MISSING_FIELD, "RapSheet/RapSheetPerson")


@pytest.mark.parametrize("depth", [1, 3, 8])
def test_wrappers_are_crossed_up_to_the_depth_limit(depth: int) -> None:
    """A rap sheet inside SOAP and IEPD wrappers down to eight levels gives the same record as the bare one."""
    plain = parse_one(SAMPLES[FR])
    outer = etree.Element("{http://www.w3.org/2003/05/soap-envelope}Envelope")
    inner = outer
    for level in range(depth - 1):
        inner = add(inner, f"{{{EXT}}}Wrapper{level}")
    inner.append(tree(FR))
    assert parse_one(outer) == plain


def test_a_rap_sheet_below_the_depth_limit_is_not_found() -> None:
    """A rap sheet more than eight levels below the root is not looked for: MALFORMED."""
    outer = etree.Element(f"{{{EXT}}}Root")
    inner = outer
    for level in range(8):
        inner = add(inner, f"{{{EXT}}}Wrapper{level}")
    inner.append(tree(FR))
    assert refusal(outer).reason_code == base.MALFORMED


def test_several_rap_sheets_give_several_records() -> None:
    """A multi-state response carrying two rap sheets gives one record per rap sheet, in document order."""
    outer = etree.Element(f"{{{EXT}}}MultiStateResponse")
    outer.append(tree(FR))
    outer.append(tree(DE).xpath("//ext:RapSheet", namespaces=NS)[0])  # type: ignore[index, arg-type]
    records = parse_all(outer)
    assert [r["header"]["source_record_id"] for r in records] == ["FBI:SYN100001", "SID:US-TX:TX00000042"]
    root = tree(FR)
    remove(root, f"{PERSON}/nc:PersonName")
    outer = etree.Element(f"{{{EXT}}}MultiStateResponse")
    outer.append(tree(FR))
    outer.append(root)
    assert "RapSheet[2]/RapSheetPerson/PersonName" in str(refusal(outer))


# --- message ids and versions ---------------------------------------------------------------------


def test_same_document_same_message_id_whenever_received() -> None:
    """The same rap sheet parsed days apart has the same message id, record_message_id(US, FBI:..., version)."""
    first = parse_one(SAMPLES[FR])["header"]
    later = parse_all(SAMPLES[FR], received=RECEIVED + dt.timedelta(days=9))[0]["header"]
    assert first["message_id"] == later["message_id"]
    assert first["message_id"] == record_message_id("US", "FBI:SYN100001", first["source_record_version"])


def test_updated_rap_sheet_gets_a_new_version_of_the_same_record() -> None:
    """A re-sent rap sheet with a changed disposition is a new version (new message id) of the same source
    record; a later as-of date orders the versions."""
    first = parse_one(SAMPLES[FR])["header"]
    root = tree(FR)
    set_text(root, f"{CYCLE2}/rap:CourtAction/rap:CourtCharge/j:ChargeDisposition/nc:DispositionDescriptionText",
             "GUILTY")  # fmt: skip
    updated = parse_one(root)
    assert updated["header"]["source_record_id"] == first["source_record_id"]
    assert updated["header"]["message_id"] != first["message_id"]
    assert len(updated["convictions"]) == 2
    set_text(root, "/rap:RapSheet/rap:Metadata/nc:ReportedDate/nc:Date", "2025-01-06")
    newer = parse_one(root)["header"]
    assert newer["source_record_version"] > updated["header"]["source_record_version"]
    assert newer["source_record_version"] > first["source_record_version"]
    assert newer["source_record_version"] // 65536 == (dt.date(2025, 1, 6) - dt.date(2000, 1, 1)).days


def test_unmapped_differences_do_not_make_a_new_version() -> None:
    """White space, extension elements and another Nlets control number leave the message id alone (the
    external id still shows the new control number)."""
    first = parse_one(SAMPLES[PL])["header"]
    root = tree(PL)
    set_text(root, "//nh2:DocumentControlFieldText", "  5b0f3c1e-2d4a-5c6b-8e9f-0a1b2c3d4e5f  ")
    add(at(root, "//rap:RapSheet"), f"{{{EXT}}}Note", "x")
    assert parse_one(root)["header"]["message_id"] == first["message_id"]


def test_version_without_as_of_date_uses_the_latest_event() -> None:
    """Without rap:Metadata/nc:ReportedDate the version counts days to the latest decision or disposition."""
    root = tree(FR)
    remove(root, "/rap:RapSheet/rap:Metadata")
    version = parse_one(root)["header"]["source_record_version"]
    assert version // 65536 == (dt.date(2023, 8, 30) - dt.date(2000, 1, 1)).days
    remove(root, "//rap:RapSheetCycle")
    assert parse_one(root)["header"]["source_record_version"] < 65536


def test_sheet_metadata_reference_picks_the_as_of_date() -> None:
    """The rap:Metadata named by the rap sheet's s:metadata gives the as-of date, not an earlier one."""
    root = tree(FR)
    other = etree.Element(f"{{{RAP}}}Metadata", {f"{{{STRUCTURES}}}id": "MD-OTHER"})
    add(add(other, f"{{{NC}}}ReportedDate"), f"{{{NC}}}Date", "2010-01-01")
    root.insert(0, other)
    version = parse_one(root)["header"]["source_record_version"]
    assert version // 65536 == (dt.date(2024, 11, 4) - dt.date(2000, 1, 1)).days


def test_as_of_date_beyond_the_version_range_is_invalid() -> None:
    """An as-of date after 2089-09-18 cannot be encoded in the version: INVALID_VALUE."""
    root = tree(FR)
    set_text(root, "/rap:RapSheet/rap:Metadata/nc:ReportedDate/nc:Date", "2090-01-01")
    assert refusal(root).reason_code == base.INVALID_VALUE


def test_sid_stands_in_for_a_missing_fbi_number_and_one_is_required() -> None:
    """Without an FBI number the SID (with its state) is the record id; with neither, MISSING_FIELD."""
    root = tree(FR)
    remove(root, f"{PERSON}/j:PersonAugmentation/j:PersonFBIIdentification")
    assert parse_one(root)["header"]["source_record_id"] == "SID:US-AZ:AZ90000001"
    remove(root, f"{PERSON}/j:PersonAugmentation/j:PersonStateFingerprintIdentification")
    assert_refused(root, base.MISSING_FIELD, "PersonFBIIdentification")


def test_sid_outside_a_us_state_has_the_issuer_us() -> None:
    """A SID whose jurisdiction is not a state or territory code is issued by US."""
    root = tree(FR)
    set_text(root, f"{PERSON}//j:PersonStateFingerprintIdentification/nc:IdentificationJurisdictionText", "XX")
    identifiers = parse_one(root)["person"]["national_identifiers"]
    assert identifiers[1] == {"scheme": "SID", "value": "AZ90000001", "issuer": "US"}


# --- header fields ----------------------------------------------------------------------------------


def test_sender_must_be_the_us_feed() -> None:
    """A rap sheet arriving on another jurisdiction's feed is SENDER_MISMATCH."""
    assert refusal(SAMPLES[FR], jurisdiction="DE").reason_code == base.SENDER_MISMATCH


@pytest.mark.parametrize(
    ("code", "purpose"),
    [
        ("C", "CRIMINAL_PROCEEDINGS"),
        ("J", "CRIMINAL_JUSTICE_EMPLOYMENT"),
        ("E", "NON_CRIMINAL_JUSTICE_EMPLOYMENT"),
        ("F", "FIREARMS_RETURN"),
        ("H", "PUBLIC_HOUSING"),
        ("D", "DOMESTIC_VIOLENCE_STALKING"),
        ("A", "ADMINISTRATIVE"),
        ("X", "EXIGENT_CIRCUMSTANCES"),
        (" c ", "CRIMINAL_PROCEEDINGS"),
    ],
)
def test_purpose_codes(code: str, purpose: str) -> None:
    """Nlets purpose codes map to canonical purposes (case and surrounding blanks do not matter)."""
    root = tree(FR)
    set_text(root, "//rap:RapSheetRequest/rap:PurposeCode", code)
    assert parse_one(root)["header"]["purpose"] == purpose


def test_purpose_code_is_required_and_known() -> None:
    """An unknown purpose code is INVALID_VALUE; a missing one MISSING_FIELD."""
    root = tree(FR)
    set_text(root, "//rap:RapSheetRequest/rap:PurposeCode", "Q")
    assert refusal(root).reason_code == base.INVALID_VALUE
    remove(root, "//rap:RapSheetRequest/rap:PurposeCode")
    assert refusal(root).reason_code == base.MISSING_FIELD


@pytest.mark.parametrize("key", ["IR", "FR", "AR", "CR", "fr"])
def test_chri_response_keys_make_a_response(key: str) -> None:
    """Every Nlets CHRI response key makes the record a RESPONSE."""
    root = tree(PL)
    set_text(root, "//nh2:MessageKeyCodeText", key)
    assert parse_one(root)["header"]["message_type"] == "RESPONSE"


def test_other_nlets_keys_are_notifications() -> None:
    """A rap sheet in an Nlets message that is not a CHRI response is a notification, addressed to no one."""
    root = tree(PL)
    set_text(root, "//nh2:MessageKeyCodeText", "AM")
    header = parse_one(root)["header"]
    assert (header["message_type"], header["reply_to"], header["addressed_to"]) == ("NOTIFICATION", None, [])
    assert header["external_message_id"] == "5b0f3c1e-2d4a-5c6b-8e9f-0a1b2c3d4e5f"


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("//nh2:DocumentControlFieldText", None, base.MISSING_FIELD),
        ("//nh2:DestinationORIID", None, base.MISSING_FIELD),
        ("//nh2:DestinationORIID", "ZZ", base.UNKNOWN_JURISDICTION),
        ("//nh2:DestinationORIID", "NJ0990000", base.UNKNOWN_JURISDICTION),
        ("//nh2:DestinationORIID", "US", base.INVALID_VALUE),
    ],
)
def test_response_needs_control_field_and_requester(path: str, value: str | None, reason: str) -> None:
    """A RESPONSE needs the control field it answers and a destination that is another state's ISO code."""
    root = tree(PL)
    if value is None:
        remove(root, path)
    else:
        set_text(root, path, value)
    assert refusal(root).reason_code == reason


# --- person -----------------------------------------------------------------------------------------


SEXES = {  # element: {value: canonical sex}
    "PersonSexCode": {"M": "MALE", "f": "FEMALE", "X": "OTHER", "U": "UNKNOWN"},
    "PersonSexText": {"Female": "FEMALE", "UNKNOWN": "UNKNOWN"},
}


@pytest.mark.parametrize(
    ("element", "value", "sex"), [(e, value, sex) for e, values in SEXES.items() for value, sex in values.items()]
)
def test_sex(element: str, value: str, sex: str) -> None:
    """NCIC sex codes (nc:PersonSexCode) and Rap Sheet sex texts (rap:PersonSexText) map to the canonical sex."""
    root = tree(FR)
    remove(root, f"{PERSON}/rap:PersonSexText")
    namespace = NC if element == "PersonSexCode" else RAP
    add(at(root, PERSON), f"{{{namespace}}}{element}", value)
    assert parse_one(root)["person"]["sex"] == sex


def test_sex_absent_is_unknown_and_bad_sex_is_invalid() -> None:
    """No sex element gives UNKNOWN; a value outside the lists is INVALID_VALUE."""
    root = tree(FR)
    remove(root, f"{PERSON}/rap:PersonSexText")
    assert parse_one(root)["person"]["sex"] == "UNKNOWN"
    add(at(root, PERSON), f"{{{NC}}}PersonSexCode", "Q")
    assert refusal(root).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(
    ("element", "text", "expected"),
    [
        ("Date", "1981-04-12", {"year": 1981, "month": 4, "day": 12}),
        ("Date", "1981-04-12Z", {"year": 1981, "month": 4, "day": 12}),
        ("Date", "1981-04-12-05:00", {"year": 1981, "month": 4, "day": 12}),
        ("DateTime", "1981-04-12T00:00:00", {"year": 1981, "month": 4, "day": 12}),
        ("YearMonth", "1981-04", {"year": 1981, "month": 4, "day": None}),
        ("Year", "1981", {"year": 1981, "month": None, "day": None}),
        ("Date", "  2000-02-29\n", {"year": 2000, "month": 2, "day": 29}),
    ],
)
def test_birth_date_representations(element: str, text: str, expected: dict[str, int | None]) -> None:
    """Every NIEM date representation gives a PartialDate of its precision."""
    root = tree(FR)
    birth = at(root, f"{PERSON}/nc:PersonBirthDate")
    for child in list(birth):
        birth.remove(child)
    add(birth, f"{{{NC}}}{element}", text)
    record = parse_one(root)
    assert record["person"]["birth_date"] == expected
    assert round_trip(record)["person"]["birth_date"] == expected


@pytest.mark.parametrize(
    "text",
    ["1981-02-30", "1981-13-01", "0000-01-01", "81-04-12", "12/04/1981", "1981-4-12", "\uff11981-04-12", "2031-01-01"],
)
def test_bad_birth_dates_are_invalid(text: str) -> None:
    """Impossible, malformed, non-ASCII-digit and future birth dates are INVALID_VALUE."""
    root = tree(FR)
    set_text(root, f"{PERSON}/nc:PersonBirthDate/nc:Date", text)
    assert_refused(root, base.INVALID_VALUE, "PersonBirthDate")


def test_birth_date_is_required() -> None:
    """A subject without a birth date is MISSING_FIELD (an empty element counts as absent)."""
    root = tree(FR)
    set_text(root, f"{PERSON}/nc:PersonBirthDate/nc:Date", "   ")
    assert refusal(root).reason_code == base.MISSING_FIELD


CITIZENSHIPS = {  # element: {value: ISO code}
    "PersonCitizenshipISO3166Alpha2Code": {"de": "DE", "NZ": "NZ"},
    "PersonCitizenshipISO3166Alpha3Code": {"POL": "PL"},
    "PersonCitizenshipFIPS10-4Code": {"GM": "DE", "UK": "GB", "SP": "ES", "MX": "MX"},
    "PersonCitizenshipText": {"Mexico": "MX", "UNITED  KINGDOM": "GB", "CAN": "CA", "United States": "US"},
}
UNKNOWN_CITIZENSHIPS = {  # element: values outside its code list
    "PersonCitizenshipISO3166Alpha2Code": ["XX"],
    "PersonCitizenshipISO3166Alpha3Code": ["XXX"],
    "PersonCitizenshipFIPS10-4Code": ["DE"],
    "PersonCitizenshipText": ["FR", "ATLANTIS"],
}


@pytest.mark.parametrize(
    ("element", "value", "expected"),
    [(e, value, code) for e, values in CITIZENSHIPS.items() for value, code in values.items()],
)
def test_citizenship_codes(element: str, value: str, expected: str) -> None:
    """Each citizenship element is read with its own code list (ISO alpha-2/alpha-3, FIPS 10-4, text)."""
    root = tree(FR)
    remove(root, f"{PERSON}/nc:PersonCitizenshipISO3166Alpha2Code")
    add(at(root, PERSON), f"{{{NC}}}{element}", value)
    assert parse_one(root)["person"]["nationalities"] == [expected]


@pytest.mark.parametrize(
    ("element", "value"), [(e, value) for e, values in UNKNOWN_CITIZENSHIPS.items() for value in values]
)
def test_unknown_citizenship_is_unknown_jurisdiction(element: str, value: str) -> None:
    """A code outside the element's list (including two-letter free text) is UNKNOWN_JURISDICTION."""
    root = tree(FR)
    add(at(root, PERSON), f"{{{NC}}}{element}", value)
    assert refusal(root).reason_code == base.UNKNOWN_JURISDICTION


def test_citizenships_are_collected_once_each_and_required() -> None:
    """Citizenships from several elements are listed once each in document order; none is MISSING_FIELD."""
    root = tree(FR)
    person = at(root, PERSON)
    add(person, f"{{{NC}}}PersonCitizenshipText", "FRANCE")
    add(person, f"{{{NC}}}PersonCitizenshipISO3166Alpha3Code", "DEU")
    assert parse_one(root)["person"]["nationalities"] == ["FR", "DE"]
    root = tree(FR)
    remove(root, f"{PERSON}/nc:PersonCitizenshipISO3166Alpha2Code")
    assert_refused(root, base.MISSING_FIELD, "PersonCitizenship")


def test_names_full_name_extra_primary_names_and_duplicates() -> None:
    """A full name "SURNAME, GIVEN" is split; a second primary name becomes an alias; repeated names are
    listed once; empty and given-name-only alternate names are skipped; a primary given name without
    surname is MISSING_FIELD."""
    root = tree(FR)
    person = at(root, PERSON)
    extra = add(person, f"{{{NC}}}PersonName")
    add(extra, f"{{{NC}}}PersonFullName", "TESTARD-MARTIN, CLAUDE")
    again = add(person, f"{{{NC}}}PersonAlternateName")
    add(again, f"{{{NC}}}PersonGivenName", "CLAUDE")
    add(again, f"{{{NC}}}PersonSurName", "TESTARD-EXEMPLE")
    add(person, f"{{{NC}}}PersonAlternateName")
    add(add(person, f"{{{NC}}}PersonAlternateName"), f"{{{NC}}}PersonGivenName", "SPIKE")
    lone = add(person, f"{{{NC}}}PersonAlternateName")
    add(lone, f"{{{NC}}}PersonFullName", "MONONYME")
    names = [(n["kind"], n["given"], n["family"]) for n in parse_one(root)["person"]["names"]]
    assert names == [
        ("CURRENT", "CLAUDE MARIE", "TESTARD"),
        ("ALIAS", "CLAUDE", "TESTARD-MARTIN"),
        ("ALIAS", "CLAUDE", "TESTARD-EXEMPLE"),
        ("ALIAS", None, "MONONYME"),
    ]
    remove(root, f"{PERSON}/nc:PersonName[1]/nc:PersonSurName")
    assert_refused(root, base.MISSING_FIELD, "PersonName[1]/PersonSurName")


# --- charges, dispositions, stages -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("disposition", "convicted"),
    [
        ("GUILTY", True),
        ("CONVICTED-JAIL", True),
        ("CONVICTED COMMITTED TO PRISON", True),
        ("Guilty plea", True),
        ("NOT GUILTY", False),
        ("ACQUITTED", False),
        ("DISMISSED", False),
        ("NOLLE PROSEQUI", False),
        ("CONVICTION VACATED", False),
        ("GUILTY - ADJUDICATION WITHHELD", False),
        ("DEFERRED ADJUDICATION", False),
        ("PENDING", False),
        ("EXTRADITED", False),
    ],
)
def test_disposition_classification(disposition: str, convicted: bool) -> None:
    """A court disposition saying guilty/convicted, with nothing taking it back, makes a conviction; any other
    disposition leaves the charge a COURT other charge with the disposition text."""
    root = tree(FR)
    set_text(root, f"{COURT_CHARGE1}/j:ChargeDisposition/nc:DispositionDescriptionText", disposition)
    remove(root, f"{COURT_CHARGE1}/j:ChargeDisposition/j:ChargeDispositionOtherText")
    record = parse_one(root)
    assert (len(record["convictions"]) == 1) is convicted
    if not convicted:
        first = record["other_charges"][0]
        assert (first["stage"], first["national_code"], first["disposition"]) == ("COURT", "2202", disposition)


def test_both_disposition_texts_are_kept_and_classified_together() -> None:
    """The description and the other text of a disposition are joined; a negative word in either wins."""
    root = tree(FR)
    set_text(root, f"{COURT_CHARGE1}/j:ChargeDisposition/j:ChargeDispositionOtherText", "VACATED")
    record = parse_one(root)
    assert record["convictions"] == []
    assert record["other_charges"][0]["disposition"] == "GUILTY - VACATED"


def test_court_charge_without_disposition_is_pending() -> None:
    """A court charge without disposition is a COURT other charge with no disposition and no date."""
    root = tree(FR)
    remove(root, f"{COURT_CHARGE1}/j:ChargeDisposition")
    record = parse_one(root)
    assert record["convictions"] == []
    pending = record["other_charges"][0]
    assert (pending["stage"], pending["disposition"], pending["disposition_date"]) == ("COURT", None, None)


def test_arrest_charges_are_followed_by_tracking_number_or_code_and_title() -> None:
    """An arrest charge repeated at court (same tracking number, or without one the same code and
    description) is reported once, at court; an arrest charge not repeated is an ARREST other charge with the
    arresting agency."""
    root = tree(FR)
    remove(root, f"{CYCLE1}//j:ChargeTrackingIdentification")
    assert len(parse_one(root)["other_charges"]) == 1
    arrest = at(root, f"{CYCLE1}/rap:Arrest")
    charge = add(arrest, f"{{{RAP}}}ArrestCharge")
    add(charge, f"{{{J}}}ChargeDescriptionText", "LARCENY - FROM AUTO")
    add(charge, f"{{{J}}}ChargeNCICCode", "2305")
    other = parse_one(root)["other_charges"]
    first = other[0]
    assert (first["stage"], first["national_code"], first["category"], first["agency"], first["disposition"]) == (
        "ARREST",
        "2305",
        "THEFT",
        "EXAMPLEVILLE POLICE DEPARTMENT (AZ0990000)",
        None,
    )


def test_later_stage_takes_ncic_code_and_statute_from_the_earlier_one() -> None:
    """A court charge that repeats only description and tracking number gets the NCIC code and statute of
    the arrest charge with the same tracking number."""
    root = tree(FR)
    remove(root, f"{COURT_CHARGE1}/j:ChargeNCICCode")
    remove(root, f"{COURT_CHARGE1}/rap:ChargeStatute")
    (offence,) = parse_one(root)["convictions"][0]["offences"]
    assert (offence["national_code"], offence["category"], offence["legal_reference"]) == (
        "2202",
        "BURGLARY",
        "ARS 13-1507",
    )


def test_codes_fall_back_from_ncic_to_statute_to_state_code_to_uncoded() -> None:
    """Without an NCIC code the statute citation, then the state offence code, is the national code (category
    UNKNOWN, code kept); a described charge with no code at all is UNCODED."""
    root = tree(FR)
    for path in (f"{CYCLE1}/rap:Arrest/rap:ArrestCharge/j:ChargeNCICCode", f"{COURT_CHARGE1}/j:ChargeNCICCode"):
        remove(root, path)
    assert parse_one(root)["convictions"][0]["offences"][0]["national_code"] == "ARS 13-1507"
    for statute in root.xpath(f"{CYCLE1}//rap:ChargeStatute", namespaces=NS):  # type: ignore[union-attr]
        assert isinstance(statute, etree._Element)
        for child in list(statute):
            statute.remove(child)
        add(add(statute, f"{{{J}}}StatuteOffenseIdentification"), f"{{{NC}}}IdentificationID", "13-1507-A")
    offence = parse_one(root)["convictions"][0]["offences"][0]
    assert (offence["national_code"], offence["legal_reference"], offence["category"]) == ("13-1507-A", None, "UNKNOWN")
    remove(root, f"{CYCLE1}//rap:ChargeStatute")
    assert parse_one(root)["convictions"][0]["offences"][0]["national_code"] == "UNCODED"


def test_unmapped_ncic_code_is_kept_with_category_unknown() -> None:
    """An NCIC code without a row in US.csv keeps its code and gets the category UNKNOWN."""
    root = tree(FR)
    for path in (f"{CYCLE1}/rap:Arrest/rap:ArrestCharge/j:ChargeNCICCode", f"{COURT_CHARGE1}/j:ChargeNCICCode"):
        set_text(root, path, "7399")
    offence = parse_one(root)["convictions"][0]["offences"][0]
    assert (offence["national_code"], offence["category"]) == ("7399", "UNKNOWN")


def test_empty_charge_is_skipped_and_coded_charge_needs_a_description() -> None:
    """An empty charge element is ignored; a charge with a code but no description is MISSING_FIELD."""
    plain = parse_one(SAMPLES[FR])
    root = tree(FR)
    add(at(root, f"{CYCLE1}/rap:Arrest"), f"{{{RAP}}}ArrestCharge")
    assert parse_one(root) == plain
    charge = add(at(root, f"{CYCLE1}/rap:Arrest"), f"{{{RAP}}}ArrestCharge")
    add(charge, f"{{{J}}}ChargeNCICCode", "2305")
    assert_refused(root, base.MISSING_FIELD, "ArrestCharge[3]/ChargeDescriptionText")


def test_ncic_text_statute_text_and_charge_text_stand_in_for_the_description() -> None:
    """Without j:ChargeDescriptionText the NCIC text, then the statute text, then the charge text is the title."""
    root = tree(FR)
    remove(root, f"{COURT_CHARGE1}/j:ChargeDescriptionText")
    add(at(root, COURT_CHARGE1), f"{{{J}}}ChargeText", "BURGLARY (CHARGE LITERAL)")
    assert parse_one(root)["convictions"][0]["offences"][0]["national_title"] == "BURGLARY (CHARGE LITERAL)"
    add(at(root, f"{COURT_CHARGE1}/rap:ChargeStatute"), f"{{{J}}}StatuteText", "BURGLARY IN THE SECOND DEGREE")
    assert parse_one(root)["convictions"][0]["offences"][0]["national_title"] == "BURGLARY IN THE SECOND DEGREE"
    add(at(root, COURT_CHARGE1), f"{{{RAP}}}ChargeNCICText", "BURGLARY - FORCED ENTRY")
    assert parse_one(root)["convictions"][0]["offences"][0]["national_title"] == "BURGLARY - FORCED ENTRY"


@pytest.mark.parametrize(
    ("applicability", "completion", "participation"),
    [("ATTEMPT", "ATTEMPTED", "UNKNOWN"), ("Aiding and abetting", "UNKNOWN", "ACCESSORY"),
     ("SOLICITATION", "UNKNOWN", "INSTIGATOR"), ("CONSPIRACY", "UNKNOWN", "UNKNOWN")],
)  # fmt: skip
def test_inchoate_charges(applicability: str, completion: str, participation: str) -> None:
    """j:ChargeApplicabilityText sets the completion (attempt) or participation (aiding, solicitation)."""
    root = tree(FR)
    add(at(root, COURT_CHARGE1), f"{{{J}}}ChargeApplicabilityText", applicability)
    offence = parse_one(root)["convictions"][0]["offences"][0]
    assert (offence["completion"], offence["participation"]) == (completion, participation)


def test_convictions_group_by_court_action_and_disposition_date() -> None:
    """Convicted charges of one court action with one disposition date form one conviction; another date a
    second conviction of the same court action."""
    root = tree(FR)
    action = at(root, f"{CYCLE1}/rap:CourtAction")
    for date in ("2022-09-14", "2022-10-01"):
        charge = add(action, f"{{{RAP}}}CourtCharge")
        add(charge, f"{{{J}}}ChargeDescriptionText", f"FORGERY {date}")
        add(charge, f"{{{J}}}ChargeNCICCode", "2599")
        disposition = add(charge, f"{{{J}}}ChargeDisposition")
        add(add(disposition, f"{{{NC}}}DispositionDate"), f"{{{NC}}}Date", date)
        add(disposition, f"{{{NC}}}DispositionDescriptionText", "CONVICTED")
    convictions = parse_one(root)["convictions"]
    assert [(c["conviction_id"], c["decision_date"], len(c["offences"])) for c in convictions] == [
        ("1.1.1", dt.date(2022, 9, 14), 2),
        ("1.1.2", dt.date(2022, 10, 1), 1),
    ]
    assert convictions[1]["sanctions"] == []  # the sentence names the burglary charge of the first


def test_decision_date_falls_back_to_the_court_action_date() -> None:
    """A conviction without a full disposition date takes the court action's date; with neither, MISSING_FIELD."""
    root = tree(FR)
    set_text(root, f"{COURT_CHARGE1}/j:ChargeDisposition/nc:DispositionDate/nc:Date", "2022")
    at(root, f"{COURT_CHARGE1}/j:ChargeDisposition/nc:DispositionDate/nc:Date").tag = f"{{{NC}}}Year"
    assert parse_one(root)["convictions"][0]["decision_date"] == dt.date(2022, 9, 14)
    remove(root, f"{CYCLE1}/rap:CourtAction/nc:ActivityDate")
    assert_refused(root, base.MISSING_FIELD, "CourtCharge/ChargeDisposition/DispositionDate")


def test_court_and_agency_labels() -> None:
    """Courts and agencies show "NAME (ORI)", the name or the ORI; without an association the court is
    NOT STATED and the agency null; a dangling reference is ignored."""
    root = tree(FR)
    remove(root, "/rap:RapSheet/rap:Court/j:OrganizationAugmentation")
    assert parse_one(root)["convictions"][0]["court"]["name"] == "SYNTHETIC COUNTY SUPERIOR COURT"
    at(root, "/rap:RapSheet/rap:CourtActionCourtAssociation[1]/j:CourtReference").set(f"{{{STRUCTURES}}}ref", "NOWHERE")
    record = parse_one(root)
    assert record["convictions"][0]["court"]["name"] == "NOT STATED"
    remove(root, "/rap:RapSheet/rap:CourtActionCourtAssociation")
    assert parse_one(root)["other_charges"][0]["agency"] is None


# --- sentences --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "expected"),
    [
        ("P2Y6M", (2, 6, 0, 0)),
        ("P30D", (0, 0, 30, 0)),
        ("PT48H", (0, 0, 0, 48)),
        ("P1Y2M3DT4H", (1, 2, 3, 4)),
        ("P1DT0H0M0S", (0, 0, 1, 0)),
    ],
)
def test_term_durations(duration: str, expected: tuple[int, int, int, int]) -> None:
    """XML Schema durations of sentence terms become years/months/days/hours."""
    root = tree(FR)
    set_text(root, f"{SENTENCE1}/j:SentenceTerm[1]/j:TermDuration", duration)
    found = duration_of(parse_one(root)["convictions"][0]["sanctions"][0])
    assert (found["years"], found["months"], found["days"], found["hours"]) == expected


@pytest.mark.parametrize("duration", ["P", "PT", "2Y", "-P2Y", "P2W", "PT30M", "P1.5Y", "P99999Y"])
def test_bad_durations_are_invalid(duration: str) -> None:
    """Empty, negative, week, minute and fractional durations are INVALID_VALUE."""
    root = tree(FR)
    set_text(root, f"{SENTENCE1}/j:SentenceTerm[1]/j:TermDuration", duration)
    assert_refused(root, base.INVALID_VALUE, "SentenceTerm[1]/TermDuration")


@pytest.mark.parametrize(
    ("amount", "expected"),
    [("1500", "1500"), ("$1,500.00", "1500.00"), ("USD 250.5", "250.5"), ("1,234,567.89", "1234567.89")],
)
def test_fine_amounts(amount: str, expected: str) -> None:
    """Fine amounts become plain decimal strings in USD."""
    root = tree(FR)
    set_text(root, f"{SENTENCE1}/rap:SupervisionFineAmount", amount)
    fine = parse_one(root)["convictions"][0]["sanctions"][2]
    assert (fine["amount"], fine["currency"]) == (expected, "USD")


@pytest.mark.parametrize("amount", ["-5", "1.5.0", "ONE HUNDRED", "1,50", "12345678901234567"])
def test_bad_fine_amounts_are_invalid(amount: str) -> None:
    """Negative, malformed and oversized amounts are INVALID_VALUE."""
    root = tree(FR)
    set_text(root, f"{SENTENCE1}/rap:SupervisionFineAmount", amount)
    assert refusal(root).reason_code == base.INVALID_VALUE


def test_structured_fine_amount_and_suspended_and_assigned_terms() -> None:
    """j:SupervisionFineAmount/nc:Amount is read; a j:SentenceSuspendedTerm is a suspended term; a
    j:SupervisionAssignedTerm takes its maximum duration."""
    root = tree(FR)
    sentence = at(root, SENTENCE1)
    for child in list(sentence):
        sentence.remove(child)
    add(add(sentence, f"{{{J}}}SupervisionFineAmount"), f"{{{NC}}}Amount", "200.00")
    add(add(sentence, f"{{{J}}}SentenceSuspendedTerm"), f"{{{J}}}TermDuration", "P6M")
    assigned = add(sentence, f"{{{J}}}SupervisionAssignedTerm")
    add(assigned, f"{{{NC}}}ActivityDescriptionText", "Community service")
    add(assigned, f"{{{J}}}TermMinimumDuration", "PT40H")
    add(assigned, f"{{{J}}}TermMaximumDuration", "PT80H")
    sanctions = parse_one(root)["convictions"][0]["sanctions"]
    assert [(s["national_code"], s["category"], s["suspended"]) for s in sanctions] == [
        ("COMMUNITY SERVICE", "COMMUNITY_SERVICE", False),
        ("SUSPENDED", "SUSPENDED_IMPRISONMENT", True),
        ("FINE", "FINE", False),
    ]
    assert duration_of(sanctions[0])["hours"] == 80
    assert duration_of(sanctions[1])["months"] == 6
    assert sanctions[2]["amount"] == "200.00"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("010 YEARS PRISON", [("PRISON", "IMPRISONMENT", (10, 0, 0, 0), None, False)]),
        ("365 DAYS JAIL", [("JAIL", "IMPRISONMENT", (0, 0, 365, 0), None, False)]),
        ("003 YEARS PROBATION", [("PROBATION", "PROBATION", (3, 0, 0, 0), None, False)]),
        ("6 MOS JAIL SUSP", [("JAIL", "SUSPENDED_IMPRISONMENT", (0, 6, 0, 0), None, True)]),
        ("100 HRS COMMUNITY SERVICE", [("COMMUNITY SERVICE", "COMMUNITY_SERVICE", (0, 0, 0, 100), None, False)]),
        (
            "ON 03/15/2021 SUBJECT SENTENCED TO 2 YEARS CONFINEMENT AND A FINE OF $1,234.56",
            [("CONFINEMENT", "IMPRISONMENT", (2, 0, 0, 0), None, False), ("FINE", "FINE", None, "1234.56", False)],
        ),
        ("$250 FINE", [("FINE", "FINE", None, "250", False)]),
        ("TIME SERVED", [(None, "UNKNOWN", None, None, False)]),
    ],
)
def test_sentence_descriptions(text: str, expected: list[tuple[Any, ...]]) -> None:
    """A sentence with only j:SentenceDescriptionText is read from its text; unreadable text gives one
    UNKNOWN sanction."""
    root = tree(FR)
    sentence = at(root, SENTENCE1)
    for child in list(sentence):
        if child.tag != f"{{{J}}}SentenceDescriptionText":
            sentence.remove(child)
    set_text(root, f"{SENTENCE1}/j:SentenceDescriptionText", text)
    sanctions = parse_one(root)["convictions"][0]["sanctions"]
    found = [
        (
            s["national_code"],
            s["category"],
            None if s["duration"] is None else tuple(s["duration"][k] for k in ("years", "months", "days", "hours")),
            s["amount"],
            s["suspended"],
        )
        for s in sanctions
    ]
    assert found == expected


def test_sentences_go_to_the_conviction_of_their_charge_else_the_latest() -> None:
    """A sentence naming a charge goes to that charge's conviction; one naming none to the latest conviction
    of the cycle; sentences of a cycle without conviction are not mapped."""
    root = tree(FR)
    action = at(root, f"{CYCLE1}/rap:CourtAction")
    charge = add(action, f"{{{RAP}}}CourtCharge")
    add(charge, f"{{{J}}}ChargeDescriptionText", "FORGERY")
    add(charge, f"{{{J}}}ChargeNCICCode", "2599")
    disposition = add(charge, f"{{{J}}}ChargeDisposition")
    add(add(disposition, f"{{{NC}}}DispositionDate"), f"{{{NC}}}Date", "2023-01-10")
    add(disposition, f"{{{NC}}}DispositionDescriptionText", "GUILTY")
    unlinked = add(at(root, f"{CYCLE1}/rap:Sentencing"), f"{{{RAP}}}Sentence")
    add(unlinked, f"{{{J}}}SentenceDescriptionText", "30 DAYS JAIL")
    first, second = parse_one(root)["convictions"]
    assert [s["national_code"] for s in first["sanctions"]] == ["PRISON", "PROBATION", "FINE"]
    assert [s["national_code"] for s in second["sanctions"]] == ["JAIL"]
    root = tree(FR)
    set_text(root, f"{COURT_CHARGE1}/j:ChargeDisposition/nc:DispositionDescriptionText", "NOT GUILTY")
    remove(root, f"{COURT_CHARGE1}/j:ChargeDisposition/j:ChargeDispositionOtherText")
    record = parse_one(root)
    assert record["convictions"] == []
    assert "PRISON" not in str(record)


# --- text, XML safety, structure ------------------------------------------------------------------


def test_text_is_collapsed_and_cdata_is_text() -> None:
    """Runs of white space collapse to one space, surrounding white space goes, CDATA is ordinary text."""
    root = tree(FR)
    set_text(root, f"{PERSON}/nc:PersonName/nc:PersonSurName", "\n   TESTARD \t  DUVAL  \n")
    assert parse_one(root)["person"]["names"][0]["family"] == "TESTARD DUVAL"
    payload = SAMPLES[FR].replace(b"<nc:PersonSurName>TESTARD</", b"<nc:PersonSurName><![CDATA[TESTARD]]></")
    assert parse_one(payload)["person"]["names"][0]["family"] == "TESTARD"


@pytest.mark.parametrize("text", ["TEST\u0085ARD", "TEST\x9fARD", "X" * 4097])
def test_control_characters_and_overlong_text_are_invalid(text: str) -> None:
    """C1 control characters and text longer than 4096 characters are INVALID_VALUE."""
    root = tree(FR)
    set_text(root, f"{PERSON}/nc:PersonName/nc:PersonSurName", text)
    assert refusal(root).reason_code == base.INVALID_VALUE


def test_overlong_identifier_is_invalid() -> None:
    """An FBI number longer than 64 characters is INVALID_VALUE."""
    root = tree(FR)
    set_text(root, f"{PERSON}//j:PersonFBIIdentification/nc:IdentificationID", "9" * 65)
    assert refusal(root).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"<rap:RapSheet", base.MALFORMED),
        (b"not xml at all", base.MALFORMED),
        (b"", base.MALFORMED),
        (b"\xff\xfe<a/>", base.MALFORMED),
        (b"<other xmlns='urn:x'><RapSheetless/></other>", base.MALFORMED),
        (b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', base.FORBIDDEN_CONSTRUCT),
        (b"<a>" * 60 + b"</a>" * 60, base.LIMIT_EXCEEDED),
    ],
    ids=["truncated", "text", "empty", "bad-encoding", "no-rapsheet", "doctype", "too-deep"],
)
def test_unparseable_or_foreign_documents(payload: bytes, reason: str) -> None:
    """Bytes that are not safe, well-formed XML holding a rap sheet are refused with the matching reason."""
    assert refusal(payload).reason_code == reason


def test_oversized_payload_is_refused_before_parsing() -> None:
    """A document over 16 MiB is PAYLOAD_TOO_LARGE, whatever it holds."""
    payload = SAMPLES[FR].replace(b"</rap:RapSheet>", b"<!--" + b"x" * (16 * 1024 * 1024) + b"--></rap:RapSheet>")
    assert refusal(payload).reason_code == base.PAYLOAD_TOO_LARGE


def test_rap_sheet_without_subject_is_missing_field() -> None:
    """A rap sheet without rap:RapSheetPerson (the request's person does not count) is MISSING_FIELD."""
    root = tree(FR)
    remove(root, PERSON)
    error = refusal(root)
    assert (error.reason_code, str(error).startswith("RapSheet/RapSheetPerson")) == (base.MISSING_FIELD, True)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (f"{PERSON}/nc:PersonBirthDate/nc:Date", "Qwertzuiop"),
        ("//rap:RapSheetRequest/rap:PurposeCode", "Qwertzuiop"),
        (f"{PERSON}/nc:PersonCitizenshipISO3166Alpha2Code", "Qwertzuiop"),
        (f"{SENTENCE1}/j:SentenceTerm[1]/j:TermDuration", "Qwertzuiop"),
        (f"{SENTENCE1}/rap:SupervisionFineAmount", "Qwertzuiop"),
        (f"{PERSON}/rap:PersonSexText", "Qwertzuiop"),
    ],
)
def test_error_messages_never_quote_values(path: str, value: str) -> None:
    """The message of a refused document names the element path, never its value or the person's data."""
    root = tree(FR)
    set_text(root, path, value)
    message = str(refusal(root))
    for secret in ("Qwertzuiop", "TESTARD", "CLAUDE", "SYN100001", "AZ90000001"):
        assert secret not in message


# --- tables -----------------------------------------------------------------------------------------


def test_packaged_us_table_maps_common_ncic_codes_and_sentences() -> None:
    """US.csv maps about thirty NCIC offence codes and the sentence kinds; categories are all valid."""
    table = load_tables("adapters.niem_rapsheet")["US"]
    assert len(table.offences) >= 30
    assert table.offence_category("2202") == "BURGLARY"
    assert table.sanction_category("PRISON") == "IMPRISONMENT"
    assert table.offence_category("0000") == "UNKNOWN"


def test_packaged_citizenship_table_loads() -> None:
    """The citizenship table covers at least the EU and North American states the brief names."""
    countries = load_countries()
    for iso3, iso2 in {"USA": "US", "DEU": "DE", "FRA": "FR", "POL": "PL", "MEX": "MX", "CAN": "CA",
                       "GBR": "GB"}.items():  # fmt: skip
        assert countries.alpha3[iso3] == iso2
    assert countries.fips["GM"] == "DE"


@pytest.mark.parametrize(
    "content",
    [
        "iso2,iso3\nDE,DEU\n",
        "iso2,iso3,fips,names\nXX,XXX,XX,NOWHERE\n",
        "iso2,iso3,fips,names\nDE,DEU,GM,GERMANY\nAT,DEU,AU,AUSTRIA\n",
        "iso2,iso3,fips,names\nDE,deu,GM,GERMANY\n",
        "iso2,iso3,fips,names\nDE,DEU,,GERMANY\n",
    ],
    ids=["header", "unassigned", "duplicate", "lower-case", "empty"],
)
def test_broken_citizenship_tables_are_config_errors(content: str) -> None:
    """A citizenship table with a bad header, an unassigned code, a duplicate, lower-case or empty code is
    refused when loaded."""
    with pytest.raises(ConfigError):
        parse_table(content)


def test_injected_tables_replace_the_packaged_ones() -> None:
    """The adapter can be built with explicit tables: without a US table every category is UNKNOWN."""
    adapter = NiemRapSheetAdapter(tables={})
    record = adapter.parse(SAMPLES[FR], ParseContext("US", RECEIVED))[0]
    assert record["convictions"][0]["offences"][0]["category"] == "UNKNOWN"
    assert record["convictions"][0]["sanctions"][0]["category"] == "UNKNOWN"


# --- property: damaged documents -------------------------------------------------------------------

_FIELD_PATHS = [
    f"{PERSON}/nc:PersonBirthDate/nc:Date",
    f"{PERSON}/nc:PersonName/nc:PersonSurName",
    f"{PERSON}/nc:PersonCitizenshipISO3166Alpha2Code",
    f"{PERSON}/rap:PersonSexText",
    f"{PERSON}//j:PersonFBIIdentification/nc:IdentificationID",
    "//rap:RapSheetRequest/rap:PurposeCode",
    "/rap:RapSheet/rap:Metadata/nc:ReportedDate/nc:Date",
    f"{COURT_CHARGE1}/j:ChargeNCICCode",
    f"{COURT_CHARGE1}/j:ChargeDisposition/nc:DispositionDate/nc:Date",
    f"{COURT_CHARGE1}/j:ChargeDisposition/nc:DispositionDescriptionText",
    f"{SENTENCE1}/j:SentenceTerm[1]/j:TermDuration",
    f"{SENTENCE1}/rap:SupervisionFineAmount",
    f"{SENTENCE1}/j:SentenceDescriptionText",
]
_NEAR_MISSES = ["", " ", "1979", "1979-06", "2024-02-30", "P1Y", "PT", "GM", "ZZ", "C", "1,5", "$-1", "GUILTY",
                "NOT GUILTY", "X" * 5000, "\u0085", "\uff12\uff10\uff12\uff10-01-01"]  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_damaged_field_values_give_valid_records_or_clean_errors(data: st.DataObject) -> None:
    """The FR sample with field texts replaced by arbitrary or near-miss text, or removed, gives schema-valid
    records or an AdapterError quoting none of the person's data; nothing else escapes."""
    root = tree(FR)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        path = data.draw(st.sampled_from(_FIELD_PATHS), label="path")
        if not root.xpath(path, namespaces=NS):
            continue
        if data.draw(st.booleans(), label="remove"):
            remove(root, path)
            continue
        text = data.draw(st.sampled_from(_NEAR_MISSES) | st.text(max_size=20), label="text")
        text = "".join(ch for ch in text if ch in "\t\n\r" or (ch >= " " and ch not in "\ufffe\uffff"))
        text = "".join(ch for ch in text if not 0xD800 <= ord(ch) <= 0xDFFF)
        set_text(root, path, text)
    try:
        records = parse_all(root)
    except AdapterError as error:
        for secret in ("TESTARD", "SYN100001", "AZ90000001"):
            assert secret not in str(error)
        return
    for record in records:
        round_trip(record)
