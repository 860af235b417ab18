"""The ecris-xml adapter: ECRIS-style XML messages mapped to canonical records (adapters/ecris_xml/README.md)."""

from __future__ import annotations

import copy
import datetime as dt
import time
import tracemalloc
from collections.abc import Callable, Mapping
from importlib import resources

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from adapters import base
from adapters.base import AdapterError, ParseContext, record_message_id
from adapters.ecris_xml import convictions, header, person
from adapters.ecris_xml.parser import EcrisXmlAdapter
from adapters.ecris_xml.refcodes import (
    COUNTRY_COLUMNS,
    load_countries,
    load_ecris_table,
    parse_countries,
    parse_ecris_table,
)
from adapters.ecris_xml.tree import NS, UNBOUNDED, Model
from adapters.kit.codes import COLUMNS, CodeTable, load_tables
from adapters.kit.countries import COUNTRIES
from adapters.kit.xmlsafe import parse_xml
from services.kernel.errors import ConfigError
from tests.adapters.harness import RECEIVED, Feed, Record, assert_survives_codec, duration_of, round_trip
from tests.adapters.vectors import cases
from tests.adapters.wallclock import wallclock_limit

FEED = Feed("ecris-xml", "DE")
ADAPTER, SAMPLES = FEED.adapter, FEED.samples
FR_PL = "DE-notification-fr-pl.xml"
FR = "DE-notification-fr.xml"
UPDATE = "DE-notification-update-fr.xml"
FR_DE = "FR-notification-de.xml"
REQUEST = "PL-request-de.xml"
RESPONSE = "DE-response-pl.xml"
ORPHAN = "DE-response-fr-orphan.xml"
REQUIRED_SAMPLES = {FR_PL, FR, UPDATE, FR_DE, REQUEST, RESPONSE, ORPHAN}
PACKAGE = resources.files("adapters.ecris_xml")
XSD = etree.XMLSchema(etree.fromstring(PACKAGE.joinpath("ecris-message.xsd").read_bytes()))
XS = "{http://www.w3.org/2001/XMLSchema}"
DELETE = object()  # marker: remove the element or attribute instead of setting it
EU_EEA_PLUS = {
    ("040", "AUT", "AT"), ("056", "BEL", "BE"), ("100", "BGR", "BG"), ("191", "HRV", "HR"), ("196", "CYP", "CY"),
    ("203", "CZE", "CZ"), ("208", "DNK", "DK"), ("233", "EST", "EE"), ("246", "FIN", "FI"), ("250", "FRA", "FR"),
    ("276", "DEU", "DE"), ("300", "GRC", "GR"), ("348", "HUN", "HU"), ("372", "IRL", "IE"), ("380", "ITA", "IT"),
    ("428", "LVA", "LV"), ("440", "LTU", "LT"), ("442", "LUX", "LU"), ("470", "MLT", "MT"), ("528", "NLD", "NL"),
    ("616", "POL", "PL"), ("620", "PRT", "PT"), ("642", "ROU", "RO"), ("703", "SVK", "SK"), ("705", "SVN", "SI"),
    ("724", "ESP", "ES"), ("752", "SWE", "SE"), ("352", "ISL", "IS"), ("438", "LIE", "LI"), ("578", "NOR", "NO"),
    ("756", "CHE", "CH"), ("826", "GBR", "GB"), ("840", "USA", "US"), ("804", "UKR", "UA"),
}  # fmt: skip


# --- helpers ---------------------------------------------------------------------------------------


def sample_root(name: str) -> etree._Element:
    """A fresh, mutable element tree of a packaged sample (parsed the safe way, like the adapter does)."""
    return parse_xml(SAMPLES[name])


def serialise(root: etree._Element) -> bytes:
    """The bytes of an edited tree."""
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _step(step: str) -> str:
    return step if step.startswith("{") or step == "." else f"e:{step}"


def find(root: etree._Element, path: str) -> etree._Element:
    """The element at ``path`` (``Header/SendingState``, ``Conviction/Offence[2]``; ``.`` is the root)."""
    if path == ".":
        return root
    found = root.find("/".join(_step(s) for s in path.split("/")), {"e": NS})
    assert found is not None, path
    return found


def edit(root: etree._Element, path: str, value: object) -> None:
    """Set the text (or ``@attribute``) at ``path``, or remove it with DELETE."""
    element_path, _, attribute = path.partition("@")
    element = find(root, element_path.rstrip("/") or ".")
    if attribute:
        if value is DELETE:
            del element.attrib[attribute]
        else:
            element.set(attribute, str(value))
    elif value is DELETE:
        parent = element.getparent()
        assert parent is not None
        parent.remove(element)
    else:
        element.text = str(value)


def mutated(name: str, *edits: tuple[str, object]) -> bytes:
    """A sample with ``edits`` applied, serialised."""
    root = sample_root(name)
    for path, value in edits:
        edit(root, path, value)
    return serialise(root)


def e(local: str, text: str | None = None, namespace: str = NS) -> etree._Element:
    """A new element (in the format namespace unless told otherwise)."""
    element = etree.Element(f"{{{namespace}}}{local}" if namespace else local)
    element.text = text
    return element


parse = FEED.parse_one  # one record of a payload on the feed of a jurisdiction (DE by default)
error_of = FEED.refusal  # the AdapterError a payload raises on the feed of a jurisdiction (DE by default)


def parse_sample(name: str, *edits: tuple[str, object]) -> Record:
    """Parse a (possibly edited) sample as the feed of its sender."""
    return parse(mutated(name, *edits), name[:2])


# --- samples ---------------------------------------------------------------------------------------


def test_required_samples_are_shipped_sorted_and_named_after_the_sender() -> None:
    """The documented samples exist, sorted by name, each named after the state in its SendingState."""
    names = [name for name, _ in ADAPTER.samples()]
    assert set(names) >= REQUIRED_SAMPLES
    assert names == sorted(names)
    countries = load_countries()
    for name in names:
        sending = find(sample_root(name), "Header/SendingState").text or ""
        assert countries.alpha2(sending, "test") == name[:2]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_parses_and_round_trips(name: str) -> None:
    """Each sample gives one record that the canonical codec encodes and decodes unchanged in substance."""
    assert_survives_codec(parse_sample(name))


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_is_valid_against_the_xsd(name: str) -> None:
    """Every sample validates against ecris-message.xsd, so samples, schema and parser stay consistent."""
    assert XSD.validate(parse_xml(SAMPLES[name])), XSD.error_log


def test_fr_pl_sample_maps_every_section() -> None:
    """The DE notification about an FR/PL national carries every field: names of every kind with script and
    transliteration, both nationalities from CO- and alpha-2 codes, identifiers, parents, the mapped and the
    unmapped offence (national code kept, category UNKNOWN), both sanctions and the later decision."""
    record = parse_sample(FR_PL)
    head, who = record["header"], record["person"]
    assert head == {
        "message_id": record_message_id("DE", "DE-BZR-SYNTH-2024-000101", 1),
        "message_type": "NOTIFICATION",
        "source_jurisdiction": "DE",
        "source_record_id": "DE-BZR-SYNTH-2024-000101",
        "source_record_version": 1,
        "reply_to": None,
        "created_at": RECEIVED,
        "legal_basis": "EU-FD-2009/315",
        "purpose": "ECRIS_NOTIFICATION",
        "urgency": "NORMAL",
        "deadline": None,
        "reference_tables": "crx-categories-1",
        "addressed_to": [],
        "external_message_id": "ECRIS-DE-SYNTH-2024-000101",
        "requesting_authority": None,
        "case_message": None,
        "outcome": None,
        "lookup_id": None,
    }
    assert [(n["kind"], n["family"], n["script"], n["transliteration"]) for n in who["names"]] == [
        ("CURRENT", "Exemplewicz", "Latn", None),
        ("BIRTH", "Testowski", "Latn", None),
        ("ALIAS", "Тестов", "Cyrl", "Petr Testov"),
    ]
    assert who["sex"] == "MALE"
    assert who["birth_date"] == {"year": 1985, "month": 3, "day": 14}
    assert who["birth_place"] == {"town": "Exempleville", "country": "FR"}
    assert who["nationalities"] == ["FR", "PL"]
    assert who["national_identifiers"] == [
        {"scheme": "NIR", "value": "SYNTH-NIR-000101", "issuer": "FR"},
        {"scheme": "PESEL", "value": "SYNTH-PESEL-000101", "issuer": "PL"},
    ]
    assert who["parent_names"] == ["Marie Exemplewicz", "Jan Testowski"]
    assert who["fingerprint_reference"] == "SYNTH-AFIS-DE-000101"
    (conviction,) = record["convictions"]
    assert conviction["conviction_id"] == "DE-BZR-SYNTH-2024-000101"
    assert conviction["court"] == {"name": "Amtsgericht Musterstadt", "place": "Musterstadt"}
    assert (conviction["decision_date"], conviction["date_final"]) == (dt.date(2024, 2, 20), dt.date(2024, 3, 5))
    assert conviction["file_number"] == "SYNTH-12 Ds 345/23"
    assert conviction["retention_end"] == dt.date(2039, 3, 5)
    mapped, unmapped = conviction["offences"]
    assert mapped == {
        "national_code": "StGB-242",
        "national_title": "Diebstahl",
        "legal_reference": "§ 242 StGB",
        "title_language": "de",
        "category": "THEFT",
        "completion": "COMPLETED",
        "participation": "PERPETRATOR",
        "committed_on": {"year": 2023, "month": 8, "day": 2},
        "place": {"town": "Musterstadt", "country": "DE"},
    }
    assert (unmapped["national_code"], unmapped["category"]) == ("StGB-145d", "UNKNOWN")
    assert (unmapped["completion"], unmapped["participation"]) == ("ATTEMPTED", "INSTIGATOR")
    assert unmapped["committed_on"] == {"year": 2023, "month": 11, "day": None}
    assert (unmapped["legal_reference"], unmapped["place"]) == (None, None)
    prison, fine = conviction["sanctions"]
    assert prison == {
        "national_code": "FS-BEW",
        "category": "SUSPENDED_IMPRISONMENT",
        "duration": {"years": 1, "months": 6, "days": 0, "hours": 0},
        "amount": None,
        "currency": None,
        "suspended": True,
        "probation": {"years": 3, "months": 0, "days": 0, "hours": 0},
    }
    assert (fine["category"], fine["amount"], fine["currency"], fine["suspended"]) == ("FINE", "1500.00", "EUR", False)
    assert conviction["later_decisions"] == [
        {"kind": "SENTENCE_MODIFICATION", "decision_date": dt.date(2024, 9, 10), "effective_from": dt.date(2024, 10, 1)}
    ]
    assert record["other_charges"] == []


def test_partial_birth_dates_and_former_names_in_samples() -> None:
    """The shipped samples show month- and year-precision birth dates and a former name."""
    assert parse_sample(FR)["person"]["birth_date"] == {"year": 1979, "month": 6, "day": None}
    other = parse_sample(FR_DE)["person"]
    assert other["birth_date"] == {"year": 1990, "month": None, "day": None}
    assert [n["kind"] for n in other["names"]] == ["CURRENT", "FORMER"]


# --- message types, identifiers, correlation -------------------------------------------------------


def test_response_correlates_with_its_request() -> None:
    """A response's reply_to is the crx message id of the request it answers:
    record_message_id(requesting state, the request's LocalMessageId, 1), which is the request's own id."""
    request = parse_sample(REQUEST)["header"]
    response = parse_sample(RESPONSE)["header"]
    assert request["message_id"] == record_message_id("PL", "PL-KRK-REQ-SYNTH-000007", 1)
    assert response["reply_to"] == request["message_id"]
    assert response["message_id"] == record_message_id("DE", "DE-BZR-RRS-SYNTH-000451", 1)


def test_request_header_mapping() -> None:
    """A request: REQUEST addressed to its receiving states, source record id = its LocalMessageId, external id
    = its GlobalMessageId, purpose A = CRIMINAL_PROCEEDINGS, urgency and deadline (in UTC); no conviction."""
    record = parse_sample(REQUEST)
    head = record["header"]
    assert head["message_type"] == "REQUEST"
    assert head["addressed_to"] == ["DE"]
    assert (head["source_record_id"], head["source_record_version"]) == ("PL-KRK-REQ-SYNTH-000007", 1)
    assert head["external_message_id"] == "ECRIS-PL-SYNTH-2025-000007"
    assert head["purpose"] == "CRIMINAL_PROCEEDINGS"
    assert head["urgency"] == "URGENT"
    assert head["deadline"] == dt.datetime(2025, 1, 25, 11, 0, tzinfo=dt.UTC)
    assert head["reply_to"] is None
    assert record["convictions"] == []
    assert record["person"]["parent_names"] == ["Erika Beispielmann"]


def test_response_header_and_convictions() -> None:
    """A response: RESPONSE addressed to the requester; its own conviction is categorised through the ECRIS
    table, the FR conviction it holds through the FR national table (the convicting state's)."""
    record = parse_sample(RESPONSE)
    head = record["header"]
    assert (head["message_type"], head["addressed_to"], head["purpose"]) == ("RESPONSE", ["PL"], "CRIMINAL_PROCEEDINGS")
    assert head["source_record_id"] == "DE-BZR-RRS-SYNTH-000451"
    assert head["external_message_id"] == "ECRIS-DE-SYNTH-2025-000451"
    own, foreign = record["convictions"]
    assert (own["offences"][0]["category"], own["sanctions"][0]["amount"]) == ("FRAUD", "1200.50")
    assert own["offences"][0]["committed_on"] == {"year": 2018, "month": None, "day": None}
    assert (foreign["offences"][0]["national_code"], foreign["offences"][0]["category"]) == ("CP-311-1", "THEFT")
    assert foreign["offences"][0]["title_language"] == "fr"
    assert foreign["sanctions"][0]["category"] == "SUSPENDED_IMPRISONMENT"
    assert foreign["date_final"] is None


def test_response_may_answer_nothing_on_file() -> None:
    """A response without any Conviction (and without ResponseOutcome) is the answer "nothing on file":
    outcome NO_RECORD."""
    root = sample_root(RESPONSE)
    for conviction in root.findall(f"{{{NS}}}Conviction"):
        root.remove(conviction)
    root.remove(find(root, "ResponseOutcome"))
    record = parse(serialise(root), "DE")
    assert (record["convictions"], record["header"]["outcome"]) == ([], "NO_RECORD")


def test_update_is_a_new_version_of_the_same_record() -> None:
    """An UPDATE notification keeps the source record id (the conviction id) with version 2 and another
    message id; its pardon becomes a later decision."""
    first = parse_sample(FR)
    update = parse_sample(UPDATE)
    assert (update["header"]["message_type"], update["header"]["source_record_version"]) == ("UPDATE", 2)
    assert update["header"]["source_record_id"] == first["header"]["source_record_id"] == "DE-BZR-SYNTH-2024-000202"
    assert update["header"]["message_id"] == record_message_id("DE", "DE-BZR-SYNTH-2024-000202", 2)
    assert update["header"]["message_id"] != first["header"]["message_id"]
    assert update["convictions"][0]["later_decisions"] == [
        {"kind": "PARDON", "decision_date": dt.date(2024, 12, 2), "effective_from": dt.date(2024, 12, 2)}
    ]


def test_deletion_notification() -> None:
    """action DELETE gives a DELETION of the record, as a new version."""
    head = parse_sample(UPDATE, ("@action", "DELETE"), ("@version", "3"))["header"]
    assert (head["message_type"], head["source_record_version"]) == ("DELETION", 3)


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        ((("@action", "UPDATE"),), base.MISSING_FIELD),
        ((("@action", "UPDATE"), ("@version", "1")), base.INVALID_VALUE),
        ((("@version", "2"),), base.INVALID_VALUE),
        ((("@version", "0"),), base.INVALID_VALUE),
        ((("@version", "01"),), base.INVALID_VALUE),
        ((("@action", "UPDATE"), ("@version", str(2**31))), base.INVALID_VALUE),
        ((("@action", "CORRECT"),), base.INVALID_VALUE),
    ],
)
def test_notification_version_rules(edits: tuple[tuple[str, object], ...], reason: str) -> None:
    """A NEW notification is version 1; UPDATE and DELETE need an explicit version of at least 2."""
    assert error_of(mutated(FR, *edits)).reason_code == reason


def test_message_id_is_stable() -> None:
    """The same payload gives the same message id whenever it is received."""
    payload = SAMPLES[FR_PL]
    first = FEED.parse(payload, "DE", RECEIVED)[0]["header"]
    later = FEED.parse(payload, "DE", RECEIVED + dt.timedelta(days=3))[0]["header"]
    assert first["message_id"] == later["message_id"]
    assert later["created_at"] == RECEIVED + dt.timedelta(days=3)


def test_notification_receiving_states_are_informational_but_validated() -> None:
    """A notification's receiving states do not become addressed_to (the router uses the nationalities),
    but they are still checked: known codes, each once, never the sender."""
    assert parse_sample(FR_PL, ("Header/ReceivingState[2]", DELETE))["header"]["addressed_to"] == []
    assert (
        error_of(mutated(FR_PL, ("Header/ReceivingState[2]", "CO-00-999-XXX"))).reason_code == base.UNKNOWN_JURISDICTION
    )
    assert error_of(mutated(FR_PL, ("Header/ReceivingState[2]", "FR"))).reason_code == base.INVALID_VALUE
    assert error_of(mutated(FR_PL, ("Header/ReceivingState[2]", "DE"))).reason_code == base.INVALID_VALUE
    root = sample_root(FR_PL)
    for state in root.findall(f"{{{NS}}}Header/{{{NS}}}ReceivingState"):
        state.getparent().remove(state)  # type: ignore[union-attr]
    assert parse(serialise(root), "DE")["header"]["addressed_to"] == []


@pytest.mark.parametrize(("code", "purpose"), [("A", "CRIMINAL_PROCEEDINGS"), ("B", "NON_CRIMINAL_PROCEEDINGS"),
    ("C", "PERSON_CONCERNED_REQUEST"), ("D", "EMPLOYMENT_WITH_CHILDREN"), ("E", "OTHER_LAWFUL_PURPOSE")])  # fmt: skip
def test_purpose_codes(code: str, purpose: str) -> None:
    """Every ECRIS purpose code maps to its crx purpose."""
    assert parse_sample(REQUEST, ("Header/Purpose", code))["header"]["purpose"] == purpose


@pytest.mark.parametrize(
    ("name", "edits", "reason"),
    [
        (REQUEST, (("Header/Purpose", "Z"),), base.INVALID_VALUE),
        (REQUEST, (("Header/Purpose", DELETE),), base.MISSING_FIELD),
        (REQUEST, (("Header/ReceivingState", DELETE),), base.MISSING_FIELD),
        (REQUEST, (("Header/ReceivingState", "PL"),), base.INVALID_VALUE),
        (REQUEST, (("Header/Deadline", "2025-01-25T12:00:00"),), base.INVALID_VALUE),
        (REQUEST, (("Header/Urgency", "SOON"),), base.INVALID_VALUE),
        (REQUEST, (("RequestingAuthority", " "),), base.INVALID_VALUE),
        (RESPONSE, (("Header/InResponseTo", DELETE),), base.MISSING_FIELD),
        (RESPONSE, (("Header/InResponseTo/RequestingState", "FR"),), base.INVALID_VALUE),
        (RESPONSE, (("Header/InResponseTo/RequestingState", "DE"),), base.INVALID_VALUE),
        (RESPONSE, (("Header/InResponseTo/RequestLocalMessageId", "has space"),), base.INVALID_VALUE),
        (RESPONSE, (("Header/InResponseTo/RequestGlobalMessageId", ""),), base.INVALID_VALUE),
        (RESPONSE, (("Header/ReceivingState", "FR"),), base.INVALID_VALUE),
        (RESPONSE, (("Conviction[2]/@id", "DE-BZR-SYNTH-2019-004711"),), base.INVALID_VALUE),
        (FR_PL, (("Header/LocalMessageId", DELETE),), base.MISSING_FIELD),
        (FR_PL, (("Header/GlobalMessageId", "x" * 129),), base.INVALID_VALUE),
        (FR_PL, (("Header/LegalBasis", DELETE),), base.MISSING_FIELD),
        (FR_PL, (("Header/SendingState", "CO-00-000-XXX"),), base.UNKNOWN_JURISDICTION),
        (FR_PL, (("Header/SendingState", "Germany"),), base.INVALID_VALUE),
    ],
)
def test_bad_headers(name: str, edits: tuple[tuple[str, object], ...], reason: str) -> None:
    """Header problems give their reason code: purposes, receiving and requesting states, identifiers."""
    assert error_of(mutated(name, *edits), name[:2]).reason_code == reason


def test_sender_must_be_the_feed_jurisdiction() -> None:
    """A message whose SendingState is not the feed's jurisdiction is SENDER_MISMATCH."""
    assert error_of(SAMPLES[FR_PL], "FR").reason_code == base.SENDER_MISMATCH
    assert error_of(SAMPLES[REQUEST], "DE").reason_code == base.SENDER_MISMATCH


# --- cases: requesting authority, outcomes, cancellations, additional information -----------------

REQUEST_ID = record_message_id("PL", "PL-KRK-REQ-SYNTH-000007", 1)  # the crx id of the PL request sample
FOLLOW_UP_ID = "PL-KRK-REQ-SYNTH-000008"


def follow_up(action: str, *edits: tuple[str, object], state: str = "CO-00-616-POL") -> bytes:
    """The PL request sample turned into a follow-up of itself: ``@action`` set, a new message id, and an
    OriginalRequest naming the sample request (of ``state``), then ``edits`` applied."""
    root = sample_root(REQUEST)
    root.set("action", action)
    edit(root, "Header/LocalMessageId", FOLLOW_UP_ID)
    edit(root, "Header/GlobalMessageId", "ECRIS-PL-SYNTH-2025-000008")
    reference = e("OriginalRequest")
    for local, text in (("RequestingState", state), ("RequestLocalMessageId", "PL-KRK-REQ-SYNTH-000007"),
                        ("RequestGlobalMessageId", "ECRIS-PL-SYNTH-2025-000007")):  # fmt: skip
        reference.append(e(local, text))
    find(root, "Header").append(reference)
    for path, value in edits:
        edit(root, path, value)
    return serialise(root)


def information_request(*removed: str) -> bytes:
    """DE's response sample turned into a request for additional information: ``@action`` REQUEST_INFORMATION
    and its ``removed`` children gone (by default its ResponseOutcome and convictions, as the format wants)."""
    root = sample_root(RESPONSE)
    root.set("action", "REQUEST_INFORMATION")
    for local in removed or ("ResponseOutcome", "Conviction"):
        for child in root.findall(f"{{{NS}}}{local}"):
            root.remove(child)
    return serialise(root)


def sender_of(payload: bytes) -> str:
    """The feed a payload belongs to: the alpha-2 code of its SendingState."""
    return load_countries().alpha2(find(parse_xml(payload), "Header/SendingState").text or "", "test")


def test_request_carries_its_requesting_authority() -> None:
    """A request's RequestingAuthority becomes header.requesting_authority, exactly as written; without it, and
    for every other message type, the field is null."""
    assert parse_sample(REQUEST)["header"]["requesting_authority"] == "Sąd Rejonowy w Przykładowie (synthetic)"
    assert parse_sample(REQUEST, ("RequestingAuthority", " Prokuratura "))["header"]["requesting_authority"] == (
        " Prokuratura "
    )
    assert parse_sample(REQUEST, ("RequestingAuthority", DELETE))["header"]["requesting_authority"] is None
    for name in (FR_PL, UPDATE, RESPONSE, ORPHAN):
        assert parse_sample(name)["header"]["requesting_authority"] is None


def test_plain_messages_have_no_case_message_and_only_responses_an_outcome() -> None:
    """Without @action, a request opens a case and a response answers one (case_message null); only responses
    have an outcome. The explicit default actions NEW and ANSWER change nothing."""
    for name in sorted(SAMPLES):
        head = parse_sample(name)["header"]
        assert head["case_message"] is None, name
        assert (head["outcome"] is not None) == (head["message_type"] == "RESPONSE"), name
    assert parse_sample(REQUEST, ("@action", "NEW")) == parse_sample(REQUEST)
    assert parse_sample(RESPONSE, ("@action", " ANSWER ")) == parse_sample(RESPONSE)


def test_stated_outcome_convictions_found() -> None:
    """DE's response states RO-00-CNV: outcome CONVICTIONS_FOUND, with its two convictions."""
    record = parse_sample(RESPONSE)
    assert (record["header"]["outcome"], len(record["convictions"])) == ("CONVICTIONS_FOUND", 2)
    assert round_trip(record)["header"]["outcome"] == "CONVICTIONS_FOUND"


@pytest.mark.parametrize(
    ("code", "outcome"),
    [("RO-00-NIL", "NO_RECORD"), ("RO-00-NNA", "NOT_A_NATIONAL"), ("RO-00-REF", "REFUSED_UNDER_NATIONAL_LAW"),
     ("RO-00-MUL", "MULTIPLE_MATCHES"), ("RO-00-INS", "INSUFFICIENT_IDENTIFICATION"), ("\n RO-00-NIL ", "NO_RECORD")],
)  # fmt: skip
def test_stated_outcomes_without_convictions(code: str, outcome: str) -> None:
    """Each ResponseOutcome code other than RO-00-CNV maps to its outcome, in a response with no conviction;
    the code may be surrounded by white space."""
    payload = mutated(ORPHAN, ("ResponseOutcome", code))
    assert parse(payload, "DE")["header"]["outcome"] == outcome
    assert XSD.validate(parse_xml(payload)), XSD.error_log


def test_outcome_is_inferred_from_the_convictions() -> None:
    """Without ResponseOutcome, a response with convictions is CONVICTIONS_FOUND and one without NO_RECORD."""
    with_convictions = parse_sample(RESPONSE, ("ResponseOutcome", DELETE))
    assert (with_convictions["header"]["outcome"], len(with_convictions["convictions"])) == ("CONVICTIONS_FOUND", 2)
    nothing = parse_sample(ORPHAN, ("ResponseOutcome", DELETE))
    assert (nothing["header"]["outcome"], nothing["convictions"]) == ("NO_RECORD", [])


@pytest.mark.parametrize(
    ("name", "code"),
    [(ORPHAN, "RO-00-XYZ"), (ORPHAN, "NO_RECORD"), (ORPHAN, "ro-00-nil"), (ORPHAN, ""),
     (RESPONSE, "RO-00-NIL"), (RESPONSE, "RO-00-REF"), (ORPHAN, "RO-00-CNV")],
    ids=["unknown", "canonical-symbol", "lower-case", "empty", "nil-with-convictions", "refused-with-convictions",
         "convictions-found-without"],
)  # fmt: skip
def test_bad_or_contradicting_outcomes_are_invalid(name: str, code: str) -> None:
    """An unknown ResponseOutcome code is INVALID_VALUE (and invalid against the XSD); so is a valid code that
    contradicts the convictions (RO-00-CNV without any, another code with some), which only the adapter sees."""
    payload = mutated(name, ("ResponseOutcome", code))
    error = error_of(payload)
    assert error.reason_code == base.INVALID_VALUE
    assert "RequestResponse/ResponseOutcome" in str(error)
    assert XSD.validate(parse_xml(payload)) == (code in ("RO-00-NIL", "RO-00-REF", "RO-00-CNV"))


@pytest.mark.parametrize(("action", "case"), [("CANCEL", "CANCELLATION"), ("PROVIDE_INFORMATION", "MORE_INFORMATION")])
def test_follow_up_requests_name_the_original_request(action: str, case: str) -> None:
    """A CANCEL or PROVIDE_INFORMATION request is a REQUEST of its own (its own message id) whose case_message
    says what it does and whose reply_to is the crx id of the request it follows up (OriginalRequest, by the
    correlation rule); it keeps the requesting authority; it has no outcome."""
    edits = (("Header/Deadline", DELETE),) if action == "CANCEL" else ()
    payload = follow_up(action, *edits)
    assert XSD.validate(parse_xml(payload)), XSD.error_log
    head = parse(payload, "PL")["header"]
    assert (head["message_type"], head["case_message"], head["outcome"]) == ("REQUEST", case, None)
    assert head["reply_to"] == REQUEST_ID == parse_sample(REQUEST)["header"]["message_id"]
    assert head["message_id"] == record_message_id("PL", FOLLOW_UP_ID, 1)
    assert (head["source_record_id"], head["addressed_to"]) == (FOLLOW_UP_ID, ["DE"])
    assert head["requesting_authority"] == "Sąd Rejonowy w Przykładowie (synthetic)"
    assert round_trip(parse(payload, "PL"))["header"]["case_message"] == case


def test_additional_information_may_carry_a_deadline() -> None:
    """PROVIDE_INFORMATION keeps the request's Deadline (only a cancellation may not have one)."""
    head = parse(follow_up("PROVIDE_INFORMATION"), "PL")["header"]
    assert head["deadline"] == dt.datetime(2025, 1, 25, 11, 0, tzinfo=dt.UTC)


def test_response_asking_for_more_information() -> None:
    """A REQUEST_INFORMATION response is a RESPONSE with case_message MORE_INFORMATION_REQUEST that replies to
    the request; it has no outcome and no conviction."""
    payload = information_request()
    assert XSD.validate(parse_xml(payload)), XSD.error_log
    record = parse(payload, "DE")
    head = record["header"]
    assert (head["message_type"], head["case_message"], head["outcome"]) == (
        "RESPONSE",
        "MORE_INFORMATION_REQUEST",
        None,
    )
    assert (head["reply_to"], head["addressed_to"], record["convictions"]) == (REQUEST_ID, ["PL"], [])
    assert round_trip(record)["header"]["case_message"] == "MORE_INFORMATION_REQUEST"


@pytest.mark.parametrize(
    ("payload", "reason", "xsd_valid"),
    [
        pytest.param(lambda: follow_up("CANCEL", ("Header/Deadline", DELETE), ("Header/OriginalRequest", DELETE)),
                     base.MISSING_FIELD, True, id="cancel-without-original"),
        pytest.param(lambda: follow_up("PROVIDE_INFORMATION", ("Header/OriginalRequest", DELETE)),
                     base.MISSING_FIELD, True, id="information-without-original"),
        pytest.param(lambda: follow_up("NEW"), base.INVALID_VALUE, True, id="new-request-with-original"),
        pytest.param(lambda: follow_up("CANCEL", ("Header/Deadline", DELETE), ("@action", DELETE)),
                     base.INVALID_VALUE, True, id="default-action-with-original"),
        pytest.param(lambda: follow_up("CANCEL"), base.INVALID_VALUE, True, id="cancel-with-deadline"),
        pytest.param(lambda: follow_up("CANCEL", ("Header/Deadline", DELETE), state="FR"),
                     base.INVALID_VALUE, True, id="original-of-another-state"),
        pytest.param(lambda: follow_up("CANCEL", ("Header/Deadline", DELETE), state="XX"),
                     base.UNKNOWN_JURISDICTION, True, id="original-of-unknown-state"),
        pytest.param(lambda: follow_up("CANCEL", ("Header/Deadline", DELETE),
                                       ("Header/OriginalRequest/RequestLocalMessageId", FOLLOW_UP_ID)),
                     base.INVALID_VALUE, True, id="original-is-itself"),
        pytest.param(lambda: follow_up("CANCEL", ("Header/Deadline", DELETE),
                                       ("Header/OriginalRequest/RequestLocalMessageId", DELETE)),
                     base.MISSING_FIELD, False, id="original-without-local-id"),
        pytest.param(lambda: follow_up("WITHDRAW", ("Header/Deadline", DELETE)), base.INVALID_VALUE, False,
                     id="unknown-request-action"),
        pytest.param(lambda: follow_up("cancel", ("Header/Deadline", DELETE)), base.INVALID_VALUE, False,
                     id="lower-case-action"),
        pytest.param(lambda: mutated(RESPONSE, ("@action", "CANCEL")), base.INVALID_VALUE, False,
                     id="request-action-on-a-response"),
        pytest.param(lambda: mutated(REQUEST, ("@action", "REQUEST_INFORMATION")), base.INVALID_VALUE, False,
                     id="response-action-on-a-request"),
        pytest.param(lambda: mutated(FR, ("@action", "CANCEL")), base.INVALID_VALUE, False,
                     id="case-action-on-a-notification"),
        pytest.param(lambda: information_request("Conviction"), base.INVALID_VALUE, True,
                     id="information-request-with-outcome"),
        pytest.param(lambda: information_request("ResponseOutcome"), base.INVALID_VALUE, True,
                     id="information-request-with-convictions"),
    ],
)  # fmt: skip
def test_bad_case_messages(payload: Callable[[], bytes], reason: str, xsd_valid: bool) -> None:
    """Follow-ups without OriginalRequest, an OriginalRequest in a new request, naming another state or the
    message itself, a cancellation with a deadline, an unknown or misplaced @action, and an information request
    with an outcome or convictions are refused with their reason code. The XSD sees only the structural ones."""
    data = payload()
    assert error_of(data, sender_of(data)).reason_code == reason
    assert XSD.validate(parse_xml(data)) == xsd_valid


def test_orphan_sample_answers_a_request_that_was_never_made() -> None:
    """The orphan sample is a well-formed "no record" response from DE to FR whose reply_to is the id a request
    FR-CJN-REQ-SYNTH-000999 of FR would have had; no shipped sample of any adapter has that message id, and
    the file says it is an orphan on purpose."""
    record = parse_sample(ORPHAN)
    head = record["header"]
    assert (head["message_type"], head["outcome"], record["convictions"]) == ("RESPONSE", "NO_RECORD", [])
    assert (head["source_jurisdiction"], head["addressed_to"], head["purpose"]) == (
        "DE",
        ["FR"],
        "CRIMINAL_PROCEEDINGS",
    )
    assert head["message_id"] == record_message_id("DE", "DE-BZR-RRS-SYNTH-000990", 1)
    assert head["reply_to"] == record_message_id("FR", "FR-CJN-REQ-SYNTH-000999", 1)
    assert b"orphan" in SAMPLES[ORPHAN].lower()
    shipped = {
        record["header"]["message_id"]
        for name in base.available()
        for sample, data in base.get_adapter(name).samples()
        for record in base.get_adapter(name).parse(data, ParseContext(sample[:2], RECEIVED))
    }
    assert head["reply_to"] not in shipped


# --- reference codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(("numeric", "alpha3", "alpha2"), sorted(EU_EEA_PLUS))
def test_country_codes_of_eu_eea_and_partners(numeric: str, alpha3: str, alpha2: str) -> None:
    """Every EU/EEA state and CH, GB, US, UA is known by its CO- code; alpha-2 codes are accepted too."""
    countries = load_countries()
    assert countries.alpha2(f"CO-00-{numeric}-{alpha3}", "test") == alpha2
    assert countries.alpha2(alpha2, "test") == alpha2


def test_country_table_covers_every_assigned_code() -> None:
    """The shipped country table has one row for every assigned ISO 3166-1 code."""
    assert set(load_countries().by_code.values()) == COUNTRIES


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("CO-00-999-XXX", base.UNKNOWN_JURISDICTION),
        ("CO-00-616-DEU", base.UNKNOWN_JURISDICTION),  # numeric of PL, alpha-3 of DE
        ("XX", base.UNKNOWN_JURISDICTION),
        ("EU", base.UNKNOWN_JURISDICTION),
        ("CO-01-616-POL", base.INVALID_VALUE),
        ("CO-616-POL", base.INVALID_VALUE),
        ("POL", base.INVALID_VALUE),
        ("pl", base.INVALID_VALUE),
        ("616", base.INVALID_VALUE),
    ],
)
def test_bad_country_codes(code: str, reason: str) -> None:
    """Unknown countries are UNKNOWN_JURISDICTION; other syntaxes are INVALID_VALUE."""
    assert error_of(mutated(FR_PL, ("Person/Nationality[2]", code))).reason_code == reason
    assert error_of(mutated(FR_PL, ("Conviction/Offence/Place/Country", code))).reason_code == reason


def test_same_nationality_twice_in_two_syntaxes_is_invalid() -> None:
    """CO-00-616-POL and PL are the same nationality: listed twice is INVALID_VALUE."""
    assert error_of(mutated(FR_PL, ("Person/Nationality[1]", "CO-00-616-POL"))).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(
    ("element", "code", "expected"),
    [("Completion", "LC-00-C", "COMPLETED"), ("Completion", "LC-00-A", "ATTEMPTED"),
     ("Completion", "LC-00-P", "PREPARATION"), ("Participation", "LP-00-M", "PERPETRATOR"),
     ("Participation", "LP-00-C", "CO_PERPETRATOR"), ("Participation", "LP-00-A", "ACCESSORY"),
     ("Participation", "LP-00-I", "INSTIGATOR")],
)  # fmt: skip
def test_completion_and_participation_codes(element: str, code: str, expected: str) -> None:
    """LC-00- completion and LP-00- participation codes map to the canonical completion and participation;
    either absent is UNKNOWN."""
    path, key = f"Conviction/Offence/{element}", element.lower()
    offence: Mapping[str, object] = parse_sample(FR_PL, (path, code))["convictions"][0]["offences"][0]
    assert offence[key] == expected
    bare: Mapping[str, object] = parse_sample(FR_PL, (path, DELETE))["convictions"][0]["offences"][0]
    assert bare[key] == "UNKNOWN"


@pytest.mark.parametrize(
    ("code", "kind"),
    [("DC-00-PAR", "PARDON"), ("DC-00-AMN", "AMNESTY"), ("DC-00-REH", "REHABILITATION"), ("DC-00-REV", "REVERSAL"),
     ("DC-00-MOD", "SENTENCE_MODIFICATION"), ("DC-00-SRV", "SUSPENSION_REVOKED"), ("DC-00-EXP", "EXPUNGEMENT"),
     ("DC-00-OTH", "OTHER")],
)  # fmt: skip
def test_later_decision_codes(code: str, kind: str) -> None:
    """Every DC-00- decision code maps to its canonical later-decision kind."""
    decision = parse_sample(UPDATE, ("Conviction/LaterDecision/DecisionType", code))["convictions"][0]
    assert decision["later_decisions"][0]["kind"] == kind


@pytest.mark.parametrize(("code", "sex"), [("M", "MALE"), ("F", "FEMALE"), ("X", "OTHER"), ("U", "UNKNOWN")])
def test_sex_codes(code: str, sex: str) -> None:
    """Sex codes M, F, X, U map to the canonical enumeration."""
    assert parse_sample(FR_PL, ("Person/Sex", code))["person"]["sex"] == sex


def test_codes_may_be_surrounded_by_white_space() -> None:
    """Codes, dates and numbers may carry surrounding XML white space (the XSD collapses it); free text is
    kept exactly as written."""
    record = parse_sample(
        FR_PL,
        ("Person/Nationality[2]", "\n  PL\n  "),
        ("Conviction/DecisionDate", " 2024-02-20 "),
        ("Conviction/Sanction[2]/Amount", "\t1500.00\n"),
        ("Conviction/Court/Name", " Amtsgericht Musterstadt"),
    )
    assert record["person"]["nationalities"] == ["FR", "PL"]
    assert record["convictions"][0]["decision_date"] == dt.date(2024, 2, 20)
    assert record["convictions"][0]["sanctions"][1]["amount"] == "1500.00"
    assert record["convictions"][0]["court"]["name"] == " Amtsgericht Musterstadt"


# --- categories ------------------------------------------------------------------------------------


def test_ecris_category_wins_over_the_national_table() -> None:
    """The ECRIS common code decides when the ECRIS table maps it, even if the national code maps elsewhere;
    the national code is always kept."""
    offence = parse_sample(FR_PL, ("Conviction/Offence/NationalCode", "StGB-263"))["convictions"][0]["offences"][0]
    assert (offence["national_code"], offence["category"]) == ("StGB-263", "THEFT")


def test_national_table_is_the_fallback() -> None:
    """An ECRIS code the ECRIS table leaves open falls back to the sender's national table (FR sample)."""
    offence = parse_sample(FR_DE)["convictions"][0]["offences"][0]
    assert (offence["national_code"], offence["category"]) == ("CP-322-1", "OTHER")
    unmapped = parse_sample(FR_DE, ("Conviction/Offence/NationalCode", "CP-999"))["convictions"][0]["offences"][0]
    assert (unmapped["national_code"], unmapped["category"]) == ("CP-999", "UNKNOWN")


def test_sanction_categories() -> None:
    """Sanctions: the S- code through the ECRIS table, else the national code through the national table,
    else UNKNOWN (national_code null when the sender gives none)."""
    record = parse_sample(
        FR_PL,
        ("Conviction/Sanction[1]/SanctionType", "S-00-009999"),
        ("Conviction/Sanction[2]/SanctionType", "S-00-009999"),
        ("Conviction/Sanction[2]/NationalCode", DELETE),
    )
    national, neither = record["convictions"][0]["sanctions"]
    assert (national["national_code"], national["category"]) == ("FS-BEW", "SUSPENDED_IMPRISONMENT")
    assert (neither["national_code"], neither["category"]) == (None, "UNKNOWN")


def test_sender_without_table_uses_only_the_ecris_table() -> None:
    """A sending state without a national table (AT) gets categories from ECRIS codes alone."""
    payload = mutated(
        FR_PL,
        ("Header/SendingState", "CO-00-040-AUT"),
        ("Header/ReceivingState[1]", "DE"),
        ("Conviction/ConvictingState", DELETE),
    )
    record = parse(payload, "AT")
    assert record["header"]["source_jurisdiction"] == "AT"
    offences = record["convictions"][0]["offences"]
    assert [o["category"] for o in offences] == ["THEFT", "UNKNOWN"]


def test_injected_tables_replace_the_packaged_ones() -> None:
    """The adapter can be built with explicit tables; with none, every category is UNKNOWN."""
    adapter = EcrisXmlAdapter(tables={}, ecris=CodeTable())
    record = adapter.parse(SAMPLES[FR_PL], ParseContext("DE", RECEIVED))[0]
    conviction = record["convictions"][0]
    assert {o["category"] for o in conviction["offences"]} == {"UNKNOWN"}
    assert {s["category"] for s in conviction["sanctions"]} == {"UNKNOWN"}


def test_notification_is_about_the_senders_own_conviction() -> None:
    """A notification's ConvictingState, when given, must be the sender; a response may carry others'."""
    assert error_of(mutated(FR_PL, ("Conviction/ConvictingState", "FR"))).reason_code == base.INVALID_VALUE
    assert error_of(mutated(RESPONSE, ("Conviction[2]/ConvictingState", "XX"))).reason_code == base.UNKNOWN_JURISDICTION


# --- value syntaxes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("1979", None, None), {"year": 1979, "month": None, "day": None}),
        (("1979", "06", None), {"year": 1979, "month": 6, "day": None}),
        (("2000", "02", "29"), {"year": 2000, "month": 2, "day": 29}),
    ],
)
def test_partial_dates(parts: tuple[str, str | None, str | None], expected: dict[str, int | None]) -> None:
    """Year with optional Month and Day becomes a PartialDate with nulls for the unknown parts."""
    record = parse(_birth_date(*parts), "DE")
    assert record["person"]["birth_date"] == expected
    assert round_trip(record)["person"]["birth_date"] == expected


def _birth_date(year: str, month: str | None, day: str | None) -> bytes:
    root = sample_root(FR_PL)
    birth = find(root, "Person/BirthDate")
    for child in list(birth):
        birth.remove(child)
    for local, text in (("Year", year), ("Month", month), ("Day", day)):
        if text is not None:
            birth.append(e(local, text))
    return serialise(root)


@pytest.mark.parametrize(
    "parts",
    [("1979", "13", None), ("1979", "00", None), ("1979", "02", "30"), ("1979", "02", "00"), ("0000", None, None),
     ("79", None, None), ("1979", "6", None), ("1979", None, "15"), ("2031", None, None),
     ("\uff12\uff10\uff10\uff10", None, None)],  # fullwidth digits, which int() alone would accept
)  # fmt: skip
def test_bad_partial_dates(parts: tuple[str, str | None, str | None]) -> None:
    """Impossible, mis-written, non-ASCII-digit, future dates and a day without month are INVALID_VALUE."""
    assert error_of(_birth_date(*parts)).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize("text", ["2024-02", "2024-02-30", "20.02.2024", "2024-02-20Z", "2024-02-20T00:00:00", ""])
def test_decision_date_must_be_a_full_date(text: str) -> None:
    """DecisionDate is a full calendar date YYYY-MM-DD (no partial date, no time zone)."""
    assert error_of(mutated(FR_PL, ("Conviction/DecisionDate", text))).reason_code == base.INVALID_VALUE


def test_final_date_not_before_decision_date() -> None:
    """FinalDate before DecisionDate is INVALID_VALUE."""
    assert error_of(mutated(FR_PL, ("Conviction/FinalDate", "2024-01-01"))).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(
    ("text", "expected"),
    [("P1Y6M", (1, 6, 0, 0)), ("P30D", (0, 0, 30, 0)), ("PT48H", (0, 0, 0, 48)), ("P1Y2M3DT4H", (1, 2, 3, 4))],
)
def test_durations(text: str, expected: tuple[int, int, int, int]) -> None:
    """ISO 8601 durations become years/months/days/hours."""
    sanction = parse_sample(FR_PL, ("Conviction/Sanction/Duration", text))["convictions"][0]["sanctions"][0]
    assert tuple(duration_of(sanction).values()) == expected


@pytest.mark.parametrize("text", ["P", "PT", "P2W", "PT30M", "-P1Y", "P1.5Y", "1Y", "P12345Y"])
def test_bad_durations(text: str) -> None:
    """Empty, week, minute, negative, fractional and oversized durations are INVALID_VALUE."""
    assert error_of(mutated(FR_PL, ("Conviction/Sanction/Probation", text))).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(("text", "value"), [("true", True), ("1", True), ("false", False), ("0", False)])
def test_suspended_flag(text: str, value: bool) -> None:
    """Suspended is an XSD boolean; absent means false."""
    sanction = parse_sample(FR_PL, ("Conviction/Sanction/Suspended", text))["convictions"][0]["sanctions"][0]
    assert sanction["suspended"] is value


def _edits_id(value: object) -> str | None:
    """The test id of a list of edits: ``path=text`` each (``path=DELETE`` for a removal), joined by ``&``."""
    if not isinstance(value, list):
        return None  # pytest's own
    return "&".join(f"{path}={'DELETE' if text is None else text}" for path, text in value)


@pytest.mark.parametrize(
    ("edits", "reason"),
    [
        *cases("ecris_xml_bad_fields.json", "edits", "reason"),
        pytest.param(
            [("Person/Name/FamilyName", "x" * 4097)],
            base.INVALID_VALUE,
            id="Person/Name/FamilyName=x*4097-INVALID_VALUE",
        ),
    ],
    ids=_edits_id,
)
def test_bad_fields_raise_the_right_reason(edits: list[tuple[str, str | None]], reason: str) -> None:
    """Each bad or missing field gives its reason code, and the message names the element path."""
    error = error_of(mutated(FR_PL, *((path, DELETE if text is None else text) for path, text in edits)))
    assert error.reason_code == reason
    assert "Notification/" in str(error)


def test_script_defaults_to_latin_and_a_latin_name_needs_no_transliteration() -> None:
    """A name without @script is Latn; an explicit Latn name needs no Transliteration."""
    record = parse_sample(FR_PL, ("Person/Name/@script", "Latn"))
    assert record["person"]["names"][0]["script"] == "Latn"


def test_empty_places_are_absent() -> None:
    """A BirthPlace without Town or Country is the same as no BirthPlace."""
    record = parse_sample(FR_PL, ("Person/BirthPlace/Town", DELETE), ("Person/BirthPlace/Country", DELETE))
    assert record["person"]["birth_place"] is None


# --- structure -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b'<Notification xmlns="urn:crx:ecris:2"/>',
        b"<Notification/>",
        b'<Receipt xmlns="urn:crx:ecris:1"/>',
        b'<x:Request xmlns:x="urn:other"/>',
        b"<not xml",
        b"",
        b"\xff\xfe\x00<",
        b"\x00\x01\x02",
        b'{"format": "crx-json/1"}',
    ],
    ids=["other-version", "no-namespace", "unknown-root", "foreign-root", "syntax", "empty", "encoding", "binary",
         "json"],
)  # fmt: skip
def test_not_an_ecris_message_is_malformed(payload: bytes) -> None:
    """Bytes that are not XML, or XML whose root is not one of the three message types, are MALFORMED."""
    assert error_of(payload).reason_code == base.MALFORMED


StructuralEdit = Callable[[etree._Element], None]


def _insert(path: str, index: int, element: etree._Element) -> StructuralEdit:
    return lambda root: find(root, path).insert(index, element)


def _append(path: str, element: etree._Element) -> StructuralEdit:
    return lambda root: find(root, path).append(element)


def _set(path: str, key: str, value: str) -> StructuralEdit:
    return lambda root: find(root, path).set(key, value)


def _text(path: str, value: str) -> StructuralEdit:
    return lambda root: setattr(find(root, path), "text", value)


def _move_after(path: str, index: int, after: int) -> StructuralEdit:
    def apply(root: etree._Element) -> None:
        parent = find(root, path)
        moved = parent[index]
        parent.remove(moved)
        parent.insert(after, moved)

    return apply


def _duplicate(path: str) -> StructuralEdit:
    def apply(root: etree._Element) -> None:
        element = find(root, path)
        element.addnext(copy.deepcopy(element))

    return apply


VENDOR = "urn:example:vendor"
STRUCTURE = [
    pytest.param(_append("Person", e("Note", "x", VENDOR)), None, id="foreign-element-last"),
    pytest.param(_append(".", e("Note", "x", VENDOR)), None, id="foreign-element-at-root-end"),
    pytest.param(_set("Conviction", f"{{{VENDOR}}}flag", "1"), None, id="foreign-attribute"),
    pytest.param(
        _set(".", "{http://www.w3.org/2001/XMLSchema-instance}schemaLocation", "urn:crx:ecris:1 x.xsd"),
        None,
        id="xsi-attribute",
    ),
    pytest.param(_insert("Person", 0, e("Note", "x", VENDOR)), base.INVALID_VALUE, id="foreign-element-first"),
    pytest.param(_append("Person", e("Nickname", "x")), base.INVALID_VALUE, id="unknown-element"),
    pytest.param(_append("Person/Sex", e("Code", "M")), base.INVALID_VALUE, id="child-in-simple-element"),
    pytest.param(_text("Person", "stray text"), base.INVALID_VALUE, id="text-in-complex-element"),
    pytest.param(_set("Conviction", "class", "x"), base.INVALID_VALUE, id="unknown-attribute"),
    pytest.param(_set("Person/Sex", "lang", "de"), base.INVALID_VALUE, id="attribute-on-simple-element"),
    pytest.param(_set("Conviction", f"{{{NS}}}id", "x"), base.INVALID_VALUE, id="attribute-in-format-namespace"),
    pytest.param(_move_after("Person", 0, 1), base.INVALID_VALUE, id="required-element-late"),
    pytest.param(_move_after("Person", 4, 5), base.INVALID_VALUE, id="wrong-order"),
    pytest.param(_duplicate("Person/Sex"), base.INVALID_VALUE, id="repeated-single-element"),
    pytest.param(_duplicate("Conviction"), base.INVALID_VALUE, id="two-convictions-in-a-notification"),
    pytest.param(_duplicate("Header"), base.INVALID_VALUE, id="two-headers"),
    pytest.param(lambda root: root.remove(find(root, "Person")), base.MISSING_FIELD, id="missing-person"),
]


@pytest.mark.parametrize(("change", "reason"), STRUCTURE)
def test_parser_and_xsd_agree_on_structure(change: StructuralEdit, reason: str | None) -> None:
    """The format is closed: undefined, misplaced, repeated or unqualified elements, text between elements and
    undeclared attributes are refused; elements of other namespaces after the format's own and attributes of
    other namespaces are ignored. The XSD accepts exactly the same documents."""
    root = sample_root(FR_PL)
    change(root)
    payload = serialise(root)
    if reason is None:
        assert parse(payload, "DE") == parse_sample(FR_PL)
        assert XSD.validate(parse_xml(payload)), XSD.error_log
    else:
        assert error_of(payload).reason_code == reason
        assert not XSD.validate(parse_xml(payload))


@pytest.mark.parametrize(
    "insert",
    [b'<Nickname xmlns="">x</Nickname>', b"<FingerprintReference xmlns=''>x</FingerprintReference>"],
    ids=["undefined", "defined-name"],
)
def test_elements_without_namespace_are_refused(insert: bytes) -> None:
    """An element in no namespace inside a message is INVALID_VALUE (and invalid against the XSD), even when
    its local name is one the format defines."""
    payload = SAMPLES[FR_PL].replace(b"</Person>", insert + b"</Person>")
    assert error_of(payload).reason_code == base.INVALID_VALUE
    assert not XSD.validate(parse_xml(payload))


def _xsd_models() -> dict[str, list[tuple[str, int, int]]]:
    """Each complex type of the XSD as its flattened sequence: (element name, min, max), max UNBOUNDED."""
    schema = etree.fromstring(PACKAGE.joinpath("ecris-message.xsd").read_bytes())

    def occurs(node: etree._Element, key: str) -> int:
        value = node.get(key, "1")
        return UNBOUNDED if value == "unbounded" else int(value)

    def flatten(sequence: etree._Element, low: int) -> list[tuple[str, int, int]]:
        out: list[tuple[str, int, int]] = []
        for particle in sequence:
            if particle.tag == f"{XS}element":
                out.append(
                    (str(particle.get("name")), occurs(particle, "minOccurs") * low, occurs(particle, "maxOccurs"))
                )
            elif particle.tag == f"{XS}sequence":
                out.extend(flatten(particle, occurs(particle, "minOccurs") * low))
        return out

    models = {}
    for complex_type in schema.iter(f"{XS}complexType"):
        sequence = complex_type.find(f"{XS}sequence")
        if sequence is not None:
            models[str(complex_type.get("name"))] = flatten(sequence, 1)
    return models


def _python_model(model: Model) -> list[tuple[str, int, int]]:
    return [(slot.name, slot.low, slot.high) for slot in model.slots]


def test_content_models_match_the_xsd() -> None:
    """The parser's content models are exactly the XSD's sequences (names, order, cardinalities)."""
    xsd = _xsd_models()
    python = {
        "NotificationType": header.NOTIFICATION.body,
        "RequestType": header.REQUEST.body,
        "RequestResponseType": header.RESPONSE.body,
        "NotificationHeaderType": header.NOTIFICATION.header,
        "RequestHeaderType": header.REQUEST.header,
        "ResponseHeaderType": header.RESPONSE.header,
        "RequestReferenceType": header.REQUEST_REFERENCE,
        "PersonType": person.PERSON,
        "NameType": person.NAME,
        "PartialDateType": person.PARTIAL_DATE,
        "PlaceType": person.PLACE,
        "ConvictionType": convictions.CONVICTION,
        "CourtType": convictions.COURT,
        "OffenceType": convictions.OFFENCE,
        "SanctionDetailsType": convictions.SANCTION,
        "LaterDecisionType": convictions.LATER_DECISION,
    }
    assert set(xsd) == set(python)
    for name, model in python.items():
        assert _python_model(model) == xsd[name], name


def test_readme_documents_every_element_and_shows_a_sample() -> None:
    """Every element the XSD declares is named in the README, and the README's example is a shipped sample."""
    readme = PACKAGE.joinpath("README.md").read_text(encoding="utf-8")
    schema = etree.fromstring(PACKAGE.joinpath("ecris-message.xsd").read_bytes())
    names = {str(el.get("name")) for el in schema.iter(f"{XS}element")}
    assert not [name for name in sorted(names) if f"`{name}`" not in readme]
    example = readme.split("```xml\n", 1)[1].split("```", 1)[0]
    assert parse(example.encode("utf-8"), "DE") == parse_sample(FR)
    assert "## Fields mapped / not mapped" in readme


def test_other_encodings_and_prefixes_parse_alike() -> None:
    """A sample in UTF-16, or with the namespace bound to another prefix, gives the same record."""
    text = SAMPLES[FR].decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert parse(text.encode("utf-16"), "DE") == parse_sample(FR)
    prefixed = (
        SAMPLES[FR].replace(b"<ecris:", b"<x:").replace(b"</ecris:", b"</x:").replace(b"xmlns:ecris=", b"xmlns:x=")
    )
    assert b"ecris:Person" not in prefixed
    assert parse(prefixed, "DE") == parse_sample(FR)


# --- hostile input ---------------------------------------------------------------------------------

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Notification xmlns="urn:crx:ecris:1"><Header><SendingState>&lol9;</SendingState></Header></Notification>
"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE Notification [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<Notification xmlns="urn:crx:ecris:1"><Header><SendingState>&secret;</SendingState></Header></Notification>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE Notification SYSTEM "http://127.0.0.1:9/ecris.dtd">
<Notification xmlns="urn:crx:ecris:1"/>
"""


@pytest.mark.wallclock
@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY, EXTERNAL_DTD], ids=["laughs", "xxe", "dtd"])
def test_dtds_and_entities_are_refused_quickly(payload: bytes) -> None:
    """A billion-laughs bomb, an external entity and an external DTD are refused as FORBIDDEN_CONSTRUCT,
    quickly (nothing is expanded or fetched)."""
    limit = wallclock_limit(2.0)
    started = time.perf_counter()
    error = error_of(payload)
    assert time.perf_counter() - started < limit
    assert error.reason_code == base.FORBIDDEN_CONSTRUCT
    assert "passwd" not in str(error)


@pytest.mark.wallclock
def test_a_100_mb_document_is_refused_quickly_in_bounded_memory() -> None:
    """A 100 MB message is refused as PAYLOAD_TOO_LARGE in well under 2 s (on the reference machine),
    allocating far less than its size."""
    limit = wallclock_limit(2.0)
    head = SAMPLES[FR_PL].split(b"</Notification>")[0]
    size = 100 * 1024 * 1024
    payload = head + b"<!--" + b"x" * (size - len(head) - 30) + b"-->" + b"</Notification>"
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        started = time.perf_counter()
        error = error_of(payload)
        elapsed = time.perf_counter() - started
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert error.reason_code == base.PAYLOAD_TOO_LARGE
    assert elapsed < limit
    assert peak < size // 100


@pytest.mark.wallclock
@pytest.mark.parametrize(
    "payload",
    [
        b'<Notification xmlns="urn:crx:ecris:1">' + b"<a>" * 100 + b"</a>" * 100 + b"</Notification>",
        b'<Notification xmlns="urn:crx:ecris:1">' + b"<x:a xmlns:x='urn:v'/>" * 300_000 + b"</Notification>",
    ],
    ids=["deep", "many-elements"],
)
def test_deep_or_huge_trees_exceed_limits(payload: bytes) -> None:
    """Deep nesting and too many elements (even of a foreign namespace) are LIMIT_EXCEEDED, quickly."""
    limit = wallclock_limit(2.0)
    started = time.perf_counter()
    assert error_of(payload).reason_code == base.LIMIT_EXCEEDED
    assert time.perf_counter() - started < limit


# --- error messages --------------------------------------------------------------------------------

_PERSONAL = ["Exemplewicz", "Testowski", "Тестов", "SYNTH-NIR-000101", "Musterstadt", "Marie"]


@pytest.mark.parametrize(
    "edits",
    [
        (("Person/Sex", "Qwertzuiop"),),
        (("Person/Nationality[2]", "Qwertzuiop"),),
        (("Person/BirthDate/Month", "Qwertzuiop"),),
        (("Conviction/Offence/NationalTitle/@lang", "Qwertzuiop"),),
        (("Conviction/Sanction[2]/Amount", "Qwertzuiop"),),
        (("Conviction/@id", "Qwertzuiop Qwertzuiop"),),
        (("Header/SendingState", "CO-00-999-QWE"),),
    ],
)
def test_error_messages_never_quote_values(edits: tuple[tuple[str, object], ...]) -> None:
    """The message of a refused message names the element, never its value or other values of the message."""
    message = str(error_of(mutated(FR_PL, *edits)))
    assert "Qwertzuiop" not in message
    assert "QWE" not in message
    assert not [s for s in _PERSONAL if s in message]


def test_error_messages_never_quote_undefined_names() -> None:
    """An undefined element or attribute is refused without repeating its name (it is input too)."""
    root = sample_root(FR_PL)
    find(root, "Person").append(e("Qwertzuiop", "x"))
    assert "Qwertzuiop" not in str(error_of(serialise(root)))
    root = sample_root(FR_PL)
    find(root, "Conviction").set("Qwertzuiop", "Asdfghjkl")
    message = str(error_of(serialise(root)))
    assert "Qwertzuiop" not in message
    assert "Asdfghjkl" not in message


# --- tables ----------------------------------------------------------------------------------------


def test_packaged_tables_load() -> None:
    """The DE, FR and PL national tables and the ECRIS table load, each mapping offences and sanctions."""
    tables = load_tables("adapters.ecris_xml")
    assert set(tables) == {"DE", "FR", "PL"}
    for table in (*tables.values(), load_ecris_table()):
        assert table.offences
        assert table.sanctions


@pytest.mark.parametrize(
    ("parse", "columns", "body"),
    [
        pytest.param(parse_ecris_table, COLUMNS, "offence,S-00-008001,THEFT,", id="ecris-sanction-code-as-offence"),
        pytest.param(parse_ecris_table, COLUMNS, "sanction,O-00-160400,FINE,", id="ecris-offence-code-as-sanction"),
        pytest.param(parse_ecris_table, COLUMNS, "offence,O-00-16,THEFT,", id="ecris-short-code"),
        pytest.param(parse_ecris_table, COLUMNS, "offence,X,NOPE,", id="ecris-unknown-category"),
        pytest.param(parse_countries, COUNTRY_COLUMNS, "616,POL,XX,Nowhere", id="country-unassigned-alpha2"),
        pytest.param(parse_countries, COUNTRY_COLUMNS, "61,POL,PL,Poland", id="country-short-numeric"),
        pytest.param(parse_countries, COUNTRY_COLUMNS, "616,POLX,PL,Poland", id="country-long-alpha3"),
        pytest.param(parse_countries, COUNTRY_COLUMNS, "616,POL,PL,Poland\n616,POL,PL,Poland", id="country-duplicate"),
    ],
)
def test_broken_ecris_and_country_tables_are_config_errors(
    parse: Callable[[str], object], columns: list[str], body: str
) -> None:
    """An ECRIS table row with a code of the wrong kind or syntax or an unknown category, and a country table
    row with an unassigned alpha-2, a bad numeric or alpha-3 code or a duplicate, are refused; so is either
    table under another header."""
    with pytest.raises(ConfigError):
        parse(",".join(columns) + "\n" + body + "\n")
    with pytest.raises(ConfigError):
        parse("a,b\n")


# --- property: structural damage -------------------------------------------------------------------

_NEAR_MISSES = ["", " ", "1979", "06", "00", "2024-02-30", "P1Y", "PT", "DE", "ZZ", "CO-00-616-POL", "CO-00-616-DEU",
                "O-00-160400", "S-00-008002", "LC-00-C", "DC-00-PAR", "true", "EUR", "1.5", "Cyrl", "x" * 5000,
                "\u0085", "Qwertzuiop"]  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_structurally_damaged_samples_give_valid_records_or_clean_errors(data: st.DataObject) -> None:
    """Samples with elements removed, duplicated or given other text, and attributes changed, give schema-valid
    records or an AdapterError quoting none of the person's values; nothing else escapes."""
    name = data.draw(st.sampled_from(sorted(SAMPLES)), label="sample")
    root = sample_root(name)
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        elements = list(root.iter())
        target = data.draw(st.sampled_from(elements), label="element")
        op = data.draw(st.sampled_from(["remove", "text", "duplicate", "attribute"]), label="op")
        parent = target.getparent()
        if op == "remove" and parent is not None:
            parent.remove(target)
        elif op == "duplicate" and parent is not None:
            target.addnext(copy.deepcopy(target))
        elif op == "attribute":
            key = data.draw(st.sampled_from(["id", "lang", "currency", "script", "version", "action", "scheme"]))
            target.set(key, data.draw(st.sampled_from(_NEAR_MISSES)))
        else:
            target.text = data.draw(st.sampled_from(_NEAR_MISSES) | st.text(max_size=12).filter(_xml_safe))
    try:
        records = FEED.parse(serialise(root), name[:2], RECEIVED)
    except AdapterError as error:
        assert not [s for s in _PERSONAL if s in str(error)]
        assert "Qwertzuiop" not in str(error)
        return
    for record in records:
        round_trip(record)


def _xml_safe(text: str) -> bool:
    try:
        etree.Element("x").text = text
    except ValueError:
        return False
    return True
