"""The json-v1 adapter: the crx-json/1 feed format mapped to canonical records (adapters/json_v1/README.md)."""

from __future__ import annotations

import copy
import datetime as dt
import json
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import base
from adapters.base import AdapterError, ParseContext, record_message_id
from adapters.json_v1.parser import JsonV1Adapter
from adapters.kit.codes import COLUMNS, load_tables, parse_table
from services.kernel.errors import ConfigError
from tests.adapters.harness import RECEIVED, Feed, Record, assert_survives_codec, duration_of, round_trip
from tests.adapters.vectors import cases

FEED = Feed("json-v1", "DE")
ADAPTER, SAMPLES = FEED.adapter, FEED.samples
FR_PL = "DE-notification-fr-pl.json"
REQUIRED_SAMPLES = {
    FR_PL,
    "DE-notification-fr.json",
    "FR-notification-de.json",
    "PL-notification-de-fr.json",
    "DE-notification-de.json",
    "DE-update-fr.json",
    "FR-request-pl.json",
}
REQUEST = "FR-request-pl.json"
REQUEST_ID = record_message_id("FR", "FR-CJN-REQ-SYNTH-2025-0031", 1)  # the crx id of the FR request sample
DELETE = object()  # marker: remove the key instead of setting a value

Doc = dict[str, Any]


def sample_doc(name: str = FR_PL) -> Doc:
    """A fresh, mutable copy of a packaged sample."""
    doc: Doc = json.loads(SAMPLES[name])
    return doc


def parse_doc(doc: Doc, jurisdiction: str | None = None) -> Record:
    """Serialise ``doc`` and parse it as the feed of ``jurisdiction`` (default: its sender); one record."""
    return FEED.parse_one(json.dumps(doc).encode("utf-8"), jurisdiction or str(doc["sender"]))


def set_path(doc: Any, path: str, value: object) -> None:
    """Set (or, with DELETE, remove) the value at a dotted path; numeric parts index lists."""
    *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
    for part in parents:
        doc = doc[part]
    if value is DELETE:
        del doc[last]
    else:
        doc[last] = value


def reason_of(doc: Doc, jurisdiction: str | None = None) -> AdapterError:
    """The AdapterError parsing ``doc`` as the feed of ``jurisdiction`` (default: its sender) raises."""
    return FEED.refusal(json.dumps(doc).encode("utf-8"), jurisdiction or str(doc["sender"]))


# --- samples ---------------------------------------------------------------------------------------


def test_required_samples_are_shipped_sorted() -> None:
    """The documented samples exist, sorted by name, each named after its sending jurisdiction."""
    names = [name for name, _ in ADAPTER.samples()]
    assert set(names) >= REQUIRED_SAMPLES
    assert names == sorted(names)
    for name in names:
        assert json.loads(SAMPLES[name])["sender"] == name[:2]


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_parses_and_round_trips(name: str) -> None:
    """Each sample gives one record that the canonical codec encodes and decodes unchanged in substance."""
    assert_survives_codec(parse_doc(sample_doc(name)))


def test_fr_pl_sample_maps_every_section() -> None:
    """The DE notification about an FR/PL national carries both nationalities, identifiers, birth data,
    the mapped and the unmapped offence (national code kept, category UNKNOWN), both sanctions and the
    later decision."""
    record = parse_doc(sample_doc(FR_PL))
    header, person = record["header"], record["person"]
    assert header["message_type"] == "NOTIFICATION"
    assert header["source_jurisdiction"] == "DE"
    assert header["reference_tables"] == "crx-categories-1"
    assert header["created_at"] == RECEIVED
    assert person["nationalities"] == ["FR", "PL"]
    assert person["birth_date"] == {"year": 1985, "month": 3, "day": 14}
    assert person["birth_place"] == {"town": "Exempleville", "country": "FR"}
    assert [i["scheme"] for i in person["national_identifiers"]] == ["NIR", "PESEL"]
    assert len(person["parent_names"]) == 2
    assert person["fingerprint_reference"] == "SYNTH-AFIS-DE-000101"
    assert person["sex"] == "MALE"
    (conviction,) = record["convictions"]
    assert conviction["decision_date"] == dt.date(2024, 2, 20)
    assert conviction["date_final"] == dt.date(2024, 3, 5)
    mapped, unmapped = conviction["offences"]
    assert (mapped["national_code"], mapped["category"]) == ("StGB-242", "THEFT")
    assert (unmapped["national_code"], unmapped["category"]) == ("StGB-145d", "UNKNOWN")
    assert unmapped["national_title"] == "Vortäuschen einer Straftat"
    assert unmapped["title_language"] == "de"
    assert unmapped["committed_on"] == {"year": 2023, "month": 11, "day": None}
    prison, fine = conviction["sanctions"]
    assert prison["category"] == "SUSPENDED_IMPRISONMENT"
    assert prison["suspended"] is True
    assert prison["duration"] == {"years": 1, "months": 6, "days": 0, "hours": 0}
    assert prison["probation"] == {"years": 3, "months": 0, "days": 0, "hours": 0}
    assert (fine["category"], fine["amount"], fine["currency"]) == ("FINE", "1500.00", "EUR")
    assert conviction["later_decisions"] == [
        {"kind": "SENTENCE_MODIFICATION", "decision_date": dt.date(2024, 9, 10), "effective_from": dt.date(2024, 10, 1)}
    ]


def test_cyrillic_alias_keeps_script_and_transliteration() -> None:
    """A name in another script keeps its script code and Latin transliteration; Latin is the default."""
    names = parse_doc(sample_doc("PL-notification-de-fr.json"))["person"]["names"]
    assert names[0]["script"] == "Latn"
    assert (names[1]["kind"], names[1]["script"], names[1]["transliteration"]) == ("ALIAS", "Cyrl", "Anna Testova")


def test_own_national_has_only_the_sender_nationality() -> None:
    """The DE sample about a DE national names DE as the only nationality."""
    assert parse_doc(sample_doc("DE-notification-de.json"))["person"]["nationalities"] == ["DE"]


# --- message ids -----------------------------------------------------------------------------------


def test_message_id_is_stable_and_versioned() -> None:
    """The same payload gives the same message id whenever it is received; version 2 of the same source
    record gives another id, both being record_message_id(sender, record id, version)."""
    payload = SAMPLES["DE-notification-fr.json"]
    first = FEED.parse(payload, "DE", RECEIVED)[0]["header"]
    later = FEED.parse(payload, "DE", RECEIVED + dt.timedelta(days=3))[0]["header"]
    update = parse_doc(sample_doc("DE-update-fr.json"))["header"]
    assert first["message_id"] == later["message_id"]
    assert update["source_record_id"] == first["source_record_id"]
    assert (update["message_type"], update["source_record_version"]) == ("UPDATE", 2)
    assert update["message_id"] != first["message_id"]
    assert first["message_id"] == record_message_id("DE", first["source_record_id"], 1)
    assert update["message_id"] == record_message_id("DE", first["source_record_id"], 2)


# --- value syntaxes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1979", {"year": 1979, "month": None, "day": None}),
        ("1979-06", {"year": 1979, "month": 6, "day": None}),
        ("1979-06-15", {"year": 1979, "month": 6, "day": 15}),
        ("2000-02-29", {"year": 2000, "month": 2, "day": 29}),
    ],
)
def test_partial_birth_dates_keep_their_precision(text: str, expected: dict[str, int | None]) -> None:
    """Birth dates of year, month or day precision become a PartialDate with nulls for unknown parts."""
    doc = sample_doc()
    doc["person"]["birth_date"] = text
    record = parse_doc(doc)
    assert record["person"]["birth_date"] == expected
    assert round_trip(record)["person"]["birth_date"] == expected


def test_samples_include_partial_birth_dates() -> None:
    """The shipped samples show the month- and year-precision birth dates."""
    assert parse_doc(sample_doc("DE-notification-fr.json"))["person"]["birth_date"]["day"] is None
    assert parse_doc(sample_doc("FR-notification-de.json"))["person"]["birth_date"]["month"] is None


@pytest.mark.parametrize(
    "text",
    [
        "1979-13",
        "1979-02-30",
        "1979-00",
        "0000",
        "79",
        "1979-6",
        "1979-06-15T00:00",
        " 1979",
        "\uff11\uff19\uff17\uff19",  # fullwidth digits, which int() alone would accept
        "2031",
    ],
)
def test_bad_birth_dates_are_invalid(text: str) -> None:
    """Impossible, malformed, non-ASCII-digit and future birth dates are INVALID_VALUE."""
    doc = sample_doc()
    doc["person"]["birth_date"] = text
    assert reason_of(doc).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P1Y6M", (1, 6, 0, 0)),
        ("P30D", (0, 0, 30, 0)),
        ("PT48H", (0, 0, 0, 48)),
        ("P2W", (0, 0, 14, 0)),
        ("P1Y2M1W3DT4H", (1, 2, 10, 4)),
    ],
)
def test_durations(text: str, expected: tuple[int, int, int, int]) -> None:
    """ISO 8601 durations become years/months/days/hours; weeks count as seven days."""
    doc = sample_doc()
    doc["convictions"][0]["sanctions"][0]["duration"] = text
    duration = duration_of(parse_doc(doc)["convictions"][0]["sanctions"][0])
    assert (duration["years"], duration["months"], duration["days"], duration["hours"]) == expected


def test_deadline_is_normalised_to_utc() -> None:
    """An RFC 3339 deadline with an offset becomes an aware UTC datetime."""
    doc = sample_doc()
    doc["deadline"] = "2025-02-01T12:00:00+01:00"
    record = parse_doc(doc)
    assert record["header"]["deadline"] == dt.datetime(2025, 2, 1, 11, 0, tzinfo=dt.UTC)
    assert round_trip(record)["header"]["deadline"] == dt.datetime(2025, 2, 1, 11, 0, tzinfo=dt.UTC)


# --- tolerated variations --------------------------------------------------------------------------


def test_unknown_keys_are_ignored_and_null_is_absent() -> None:
    """Keys the format does not define are ignored, and an optional field set to null equals its absence."""
    plain = parse_doc(sample_doc("DE-notification-fr.json"))
    doc = sample_doc("DE-notification-fr.json")
    doc["x-vendor"] = {"anything": [1, 2, 3]}
    doc["person"]["x-note"] = "ignored"
    doc["convictions"][0]["offences"][0]["x-extra"] = True
    doc["reply_to"] = None
    doc["person"]["fingerprint_ref"] = None
    assert parse_doc(doc) == plain


def test_deletion_and_negative_response_need_no_conviction() -> None:
    """DELETION and REQUEST may omit convictions, and a RESPONSE may answer with none."""
    doc = sample_doc()
    doc["type"] = "DELETION"
    del doc["convictions"]
    assert parse_doc(doc)["convictions"] == []
    doc["type"] = "RESPONSE"
    doc["reply_to"] = "2f0c1f61-3c1d-5a43-9d4a-0f1c8f2f4c11"
    doc["convictions"] = []
    with pytest.raises(AdapterError, match="addressed_to") as refused:
        parse_doc(doc)
    assert refused.value.reason_code == "MISSING_FIELD"
    doc["addressed_to"] = ["FR"]
    doc["message_ref"] = "DE-RRS-0001"
    header = parse_doc(doc)["header"]
    assert (header["reply_to"], header["addressed_to"], header["external_message_id"]) == (
        doc["reply_to"],
        ["FR"],
        "DE-RRS-0001",
    )


@pytest.mark.parametrize("addressed", [["DE"], ["FR", "FR"], ["XX"], "FR"])
def test_addressed_to_names_other_states_once(addressed: object) -> None:
    """addressed_to lists real states, each once, never the sender itself."""
    doc = sample_doc()
    doc["type"] = "REQUEST"
    doc["addressed_to"] = addressed
    with pytest.raises(AdapterError):
        parse_doc(doc)


def test_sanction_without_code_and_unmapped_jurisdiction_are_unknown() -> None:
    """A sanction without a code, and every code of a jurisdiction without a table, map to UNKNOWN."""
    doc = sample_doc()
    del doc["convictions"][0]["sanctions"][1]["code"]
    sanction = parse_doc(doc)["convictions"][0]["sanctions"][1]
    assert (sanction["national_code"], sanction["category"]) == (None, "UNKNOWN")
    doc["sender"] = "AT"
    conviction = parse_doc(doc)["convictions"][0]
    assert {o["category"] for o in conviction["offences"]} == {"UNKNOWN"}
    assert conviction["offences"][0]["national_code"] == "StGB-242"


# --- cases: requesting authority, case messages, outcomes ------------------------------------------


def response_doc(convictions: bool = True) -> Doc:
    """DE's FR/PL notification sample turned into DE's RESPONSE to the FR request sample (with or without its
    conviction)."""
    doc = sample_doc()
    doc.update(type="RESPONSE", reply_to=REQUEST_ID, addressed_to=["FR"], purpose="CRIMINAL_PROCEEDINGS")
    if not convictions:
        doc["convictions"] = []
    return doc


def follow_up_doc(case_message: str) -> Doc:
    """The FR request sample turned into a follow-up of itself (another record id) with ``case_message``."""
    doc = sample_doc(REQUEST)
    doc.update(record_id="FR-CJN-REQ-SYNTH-2025-0032", case_message=case_message, reply_to=REQUEST_ID)
    return doc


def test_request_sample_carries_its_requesting_authority() -> None:
    """The FR request to PL maps to a REQUEST for criminal proceedings addressed to PL, on behalf of the
    authority it names, without convictions, case message or outcome."""
    record = parse_doc(sample_doc(REQUEST))
    assert record["header"] == {
        "message_id": REQUEST_ID,
        "message_type": "REQUEST",
        "source_jurisdiction": "FR",
        "source_record_id": "FR-CJN-REQ-SYNTH-2025-0031",
        "source_record_version": 1,
        "reply_to": None,
        "created_at": RECEIVED,
        "legal_basis": "EU-FD-2009/315",
        "purpose": "CRIMINAL_PROCEEDINGS",
        "urgency": "NORMAL",
        "deadline": None,
        "reference_tables": "crx-categories-1",
        "addressed_to": ["PL"],
        "external_message_id": "ECRIS-FR-SYNTH-2025-000031",
        "requesting_authority": "Parquet du tribunal judiciaire d'Exempleville (synthetic)",
        "case_message": None,
        "outcome": None,
        "lookup_id": None,
    }
    assert record["convictions"] == []
    assert record["person"]["nationalities"] == ["PL"]


def test_a_request_names_the_lookup_it_follows() -> None:
    """A REQUEST with ``lookup_id`` carries it in its header, through the Avro round trip."""
    record = parse_doc(sample_doc(REQUEST) | {"lookup_id": "lk-0f3a9c"})
    assert record["header"]["lookup_id"] == "lk-0f3a9c"
    assert round_trip(record)["header"]["lookup_id"] == "lk-0f3a9c"


def test_notifications_have_no_case_fields() -> None:
    """The notification samples have no requesting authority, case message or outcome."""
    for name in sorted(SAMPLES):
        head = parse_doc(sample_doc(name))["header"]
        if head["message_type"] != "REQUEST":
            assert (head["requesting_authority"], head["case_message"], head["outcome"]) == (None, None, None), name


def test_outcome_is_inferred_from_the_convictions() -> None:
    """A RESPONSE without outcome is CONVICTIONS_FOUND when it carries convictions and NO_RECORD when not; an
    outcome of null is the same as none."""
    assert parse_doc(response_doc())["header"]["outcome"] == "CONVICTIONS_FOUND"
    assert parse_doc(response_doc(convictions=False))["header"]["outcome"] == "NO_RECORD"
    doc = response_doc(convictions=False)
    doc["outcome"] = None
    assert parse_doc(doc)["header"]["outcome"] == "NO_RECORD"


@pytest.mark.parametrize(
    "outcome",
    ["NO_RECORD", "NOT_A_NATIONAL", "REFUSED_UNDER_NATIONAL_LAW", "MULTIPLE_MATCHES", "INSUFFICIENT_IDENTIFICATION"],
)
def test_stated_outcomes_without_convictions(outcome: str) -> None:
    """Each outcome other than CONVICTIONS_FOUND is carried as written by a RESPONSE without convictions."""
    doc = response_doc(convictions=False)
    doc["outcome"] = outcome
    record = parse_doc(doc)
    assert record["header"]["outcome"] == outcome
    assert round_trip(record)["header"]["outcome"] == outcome


def test_stated_convictions_found() -> None:
    """CONVICTIONS_FOUND is carried by a RESPONSE with convictions."""
    doc = response_doc()
    doc["outcome"] = "CONVICTIONS_FOUND"
    assert parse_doc(doc)["header"]["outcome"] == "CONVICTIONS_FOUND"


@pytest.mark.parametrize(
    ("doc", "reason"),
    [
        pytest.param(response_doc(False) | {"outcome": "FOUND"}, base.INVALID_VALUE, id="unknown-outcome"),
        pytest.param(response_doc(False) | {"outcome": "OTHER"}, base.INVALID_VALUE, id="other-outcome"),
        pytest.param(response_doc(False) | {"outcome": "no_record"}, base.INVALID_VALUE, id="lower-case-outcome"),
        pytest.param(response_doc(False) | {"outcome": 1}, base.INVALID_VALUE, id="number-outcome"),
        pytest.param(response_doc() | {"outcome": "NO_RECORD"}, base.INVALID_VALUE, id="no-record-with-convictions"),
        pytest.param(response_doc(False) | {"outcome": "CONVICTIONS_FOUND"}, base.INVALID_VALUE,
                     id="convictions-found-without"),
        pytest.param(sample_doc() | {"outcome": "CONVICTIONS_FOUND"}, base.INVALID_VALUE, id="outcome-in-notification"),
        pytest.param(sample_doc(REQUEST) | {"outcome": "NO_RECORD"}, base.INVALID_VALUE, id="outcome-in-request"),
        pytest.param(sample_doc() | {"requesting_authority": "Parquet"}, base.INVALID_VALUE,
                     id="authority-in-notification"),
        pytest.param(response_doc() | {"requesting_authority": "Parquet"}, base.INVALID_VALUE,
                     id="authority-in-response"),
        pytest.param(sample_doc(REQUEST) | {"requesting_authority": " "}, base.INVALID_VALUE, id="blank-authority"),
        pytest.param(sample_doc(REQUEST) | {"requesting_authority": ["Parquet"]}, base.INVALID_VALUE,
                     id="list-authority"),
        pytest.param(sample_doc() | {"lookup_id": "L-1"}, base.INVALID_VALUE, id="lookup-in-notification"),
        pytest.param(sample_doc(REQUEST) | {"lookup_id": 7}, base.INVALID_VALUE, id="number-lookup"),
        pytest.param(follow_up_doc("WITHDRAWAL"), base.INVALID_VALUE, id="unknown-case-message"),
        pytest.param(follow_up_doc("OTHER"), base.INVALID_VALUE, id="other-case-message"),
        pytest.param(follow_up_doc("MORE_INFORMATION_REQUEST"), base.INVALID_VALUE, id="response-case-in-request"),
        pytest.param(response_doc(False) | {"case_message": "CANCELLATION"}, base.INVALID_VALUE,
                     id="request-case-in-response"),
        pytest.param(sample_doc() | {"case_message": "CANCELLATION", "reply_to": REQUEST_ID}, base.INVALID_VALUE,
                     id="case-in-notification"),
        pytest.param(follow_up_doc("CANCELLATION") | {"reply_to": None}, base.MISSING_FIELD, id="cancel-without-reply"),
        pytest.param(follow_up_doc("MORE_INFORMATION") | {"record_id": "FR-CJN-REQ-SYNTH-2025-0031"},
                     base.INVALID_VALUE, id="follow-up-of-itself"),
        pytest.param(response_doc(False) | {"case_message": "MORE_INFORMATION_REQUEST", "outcome": "NO_RECORD"},
                     base.INVALID_VALUE, id="information-request-with-outcome"),
        pytest.param(response_doc() | {"case_message": "MORE_INFORMATION_REQUEST"}, base.INVALID_VALUE,
                     id="information-request-with-convictions"),
    ],
)  # fmt: skip
def test_bad_case_fields(doc: Doc, reason: str) -> None:
    """Unknown symbols (the enums' OTHER included), case fields on a message type that cannot carry them, an
    outcome contradicting the convictions, a follow-up without reply_to or replying to itself, and an
    information request with an outcome or convictions are refused with their reason code, naming the field."""
    error = reason_of(doc)
    assert error.reason_code == reason
    assert any(field in str(error) for field in ("outcome", "requesting_authority", "case_message", "reply_to",
                                                  "convictions", "lookup_id"))  # fmt: skip


@pytest.mark.parametrize("case_message", ["CANCELLATION", "MORE_INFORMATION"])
def test_follow_up_requests(case_message: str) -> None:
    """A REQUEST with case_message CANCELLATION or MORE_INFORMATION carries it, with reply_to naming the request
    it follows up and its own message id; it has no outcome."""
    record = parse_doc(follow_up_doc(case_message))
    head = record["header"]
    assert (head["message_type"], head["case_message"], head["outcome"]) == ("REQUEST", case_message, None)
    assert head["reply_to"] == REQUEST_ID
    assert head["message_id"] == record_message_id("FR", "FR-CJN-REQ-SYNTH-2025-0032", 1) != REQUEST_ID
    assert head["requesting_authority"] == "Parquet du tribunal judiciaire d'Exempleville (synthetic)"
    assert round_trip(record)["header"]["case_message"] == case_message


def test_response_asking_for_more_information() -> None:
    """A RESPONSE with case_message MORE_INFORMATION_REQUEST and no convictions has no outcome."""
    doc = response_doc(convictions=False)
    doc["case_message"] = "MORE_INFORMATION_REQUEST"
    head = parse_doc(doc)["header"]
    assert (head["message_type"], head["case_message"], head["outcome"]) == (
        "RESPONSE",
        "MORE_INFORMATION_REQUEST",
        None,
    )
    assert head["reply_to"] == REQUEST_ID


# --- refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"\xff\xfe{}",
        b'["a list"]',
        b'{"format": "crx-json/1", "format": "crx-json/1"}',
        b'{"version": NaN}',
        b'{"version": 1e999}',
        b'{"version": ' + b"9" * 5000 + b"}",
        b"[" * 100_000 + b"]" * 100_000,
        b"\xef\xbb\xbf{}",
        b"",
    ],
    ids=["syntax", "utf8", "not-object", "duplicate-key", "nan", "overflow", "huge-int", "deep", "bom", "empty"],
)
def test_unparseable_payloads_are_malformed(payload: bytes) -> None:
    """Bytes that are not one strict UTF-8 JSON object are MALFORMED."""
    with pytest.raises(AdapterError) as info:
        FEED.parse(payload, "DE", RECEIVED)
    assert info.value.reason_code == base.MALFORMED


def _value_id(value: object) -> str | None:
    """The test id of a value: DELETE for a removal, JSON for a list, else pytest's own."""
    if value is DELETE:
        return "DELETE"
    return json.dumps(value) if isinstance(value, list) else None


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    cases("json_v1_bad_fields.json", "path", "value", "reason", absent=DELETE),
    ids=_value_id,
)
def test_bad_fields_raise_the_right_reason(path: str, value: object, reason: str) -> None:
    """Each bad field gives its reason code, and the message names the field's path."""
    doc = sample_doc()
    set_path(doc, path, value)
    error = reason_of(doc)
    assert error.reason_code == reason
    top = path.split(".")[0]
    assert top in str(error)


def test_duplicate_conviction_ids_are_invalid() -> None:
    """Two convictions of one record may not share an id."""
    doc = sample_doc()
    doc["convictions"].append(copy.deepcopy(doc["convictions"][0]))
    assert reason_of(doc).reason_code == base.INVALID_VALUE


def test_response_needs_reply_to() -> None:
    """A RESPONSE without reply_to is MISSING_FIELD."""
    doc = sample_doc()
    doc["type"] = "RESPONSE"
    assert reason_of(doc).reason_code == base.MISSING_FIELD


def test_sender_must_be_the_feed_jurisdiction() -> None:
    """A payload claiming another sender than the feed it arrived on is SENDER_MISMATCH."""
    error = reason_of(sample_doc(), jurisdiction="FR")
    assert error.reason_code == base.SENDER_MISMATCH


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("person.birth_date", "1985-02-31"),
        ("person.sex", "Qwertzuiop"),
        ("person.nationalities", ["FR", "Qwertzuiop"]),
        ("person.names.1.family", 987654321),
        ("convictions.0.offences.0.lang", "Qwertzuiop"),
        ("convictions.0.sanctions.1.amount", "Qwertzuiop"),
    ],
)
def test_error_messages_never_quote_values(path: str, value: object) -> None:
    """The message of a refused record names the field, never its value or other values of the record."""
    doc = sample_doc()
    doc["person"]["names"][0]["family"] = "Zyxwvutsrq"
    set_path(doc, path, value)
    message = str(reason_of(doc))
    assert "Zyxwvutsrq" not in message
    assert str(value).strip("[]'\" ") not in message
    assert "Qwertzuiop" not in message
    assert "Musterkowski" not in message


# --- mapping tables --------------------------------------------------------------------------------


def test_packaged_mapping_tables_load() -> None:
    """The DE, FR and PL tables load, each mapping offences and sanctions."""
    tables = load_tables("adapters.json_v1")
    assert {"DE", "FR", "PL"} <= set(tables)
    for table in tables.values():
        assert table.offences
        assert table.sanctions


@pytest.mark.parametrize(
    "body",
    [
        "offence,X-1,NOT_A_CATEGORY,",
        "sanction,X-1,THEFT,",
        "crime,X-1,THEFT,",
        "offence,,THEFT,",
        "offence,X-1,THEFT,\noffence,X-1,FRAUD,",
    ],
    ids=["unknown-category", "offence-category-for-sanction", "bad-kind", "empty-code", "duplicate"],
)
def test_broken_mapping_tables_are_config_errors(body: str) -> None:
    """A table with an unknown category, a bad kind, an empty or a duplicate code is refused at load time."""
    content = ",".join(COLUMNS) + "\n" + body + "\n"
    with pytest.raises(ConfigError):
        parse_table("XX.csv", content, frozenset({"THEFT", "FRAUD"}), frozenset({"FINE"}))


def test_injected_tables_replace_the_packaged_ones() -> None:
    """The adapter can be built with explicit tables (no table for a sender: UNKNOWN categories)."""
    adapter = JsonV1Adapter(tables={})
    record = adapter.parse(SAMPLES[FR_PL], ParseContext("DE", RECEIVED))[0]
    assert record["convictions"][0]["offences"][0]["category"] == "UNKNOWN"


# --- property: structural damage -------------------------------------------------------------------

_NEAR_MISSES = ["", " ", "1979", "1979-06", "2024-02-30", "P1Y", "PT", "DE", "ZZ", "Cyrl", "EUR", "1.5", "\ud800",
                "NOTIFICATION", "ALIAS", "crx-json/1", "x" * 5000]  # fmt: skip
_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out.extend(_paths(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            out.extend(_paths(item, (*prefix, index)))
    return out


_PERSONAL_KEYS = frozenset({"given", "family", "transliteration", "value", "town", "parents", "fingerprint_ref"})


def _personal_values(value: Any, personal: bool = False) -> set[str]:
    """Distinctive personal strings of a document (names, identifiers, places), which no error may quote."""
    if isinstance(value, dict):
        return {s for key, item in value.items() for s in _personal_values(item, personal or key in _PERSONAL_KEYS)}
    if isinstance(value, list):
        return {s for item in value for s in _personal_values(item, personal)}
    return {value} if personal and isinstance(value, str) and len(value) >= 4 else set()


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_structurally_damaged_samples_give_valid_records_or_clean_errors(data: st.DataObject) -> None:
    """Samples with fields removed or replaced by arbitrary JSON give schema-valid records or an
    AdapterError whose message quotes none of the person's values; nothing else escapes."""
    name = data.draw(st.sampled_from(sorted(SAMPLES)), label="sample")
    doc = sample_doc(name)
    secrets = _personal_values(doc["person"])
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = _paths(doc)
        if not paths:
            break
        *parents, last = data.draw(st.sampled_from(paths), label="path")
        target: Any = doc
        for part in parents:
            target = target[part]
        if isinstance(target, dict) and data.draw(st.booleans(), label="delete"):
            del target[last]
        else:
            target[last] = data.draw(st.sampled_from(_NEAR_MISSES) | _JSON, label="value")
    payload = json.dumps(doc).encode("utf-8")
    try:
        records = FEED.parse(payload, name[:2], RECEIVED)
    except AdapterError as error:
        assert not [s for s in secrets if s in str(error)]
        return
    for record in records:
        round_trip(record)


def test_readme_example_is_the_fr_sample() -> None:
    """The example in the format's README parses to the same record as DE-notification-fr.json."""
    readme = resources.files("adapters.json_v1").joinpath("README.md").read_text(encoding="utf-8")
    example = readme.split("```json\n", 1)[1].split("```", 1)[0]
    assert parse_doc(json.loads(example)) == parse_doc(sample_doc("DE-notification-fr.json"))
