"""The fixed-width adapter: crx-fw/01 mainframe batches mapped to canonical records
(adapters/fixed_width/README.md). Batches are built with tests/adapters/fixed_width_writer.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from importlib import resources
from typing import Any

import pytest

from adapters import base
from adapters.base import ParseContext, record_message_id
from adapters.fixed_width import batch as batch_module
from adapters.fixed_width.layout import LAYOUTS, RECORD_LENGTH
from adapters.fixed_width.parser import FixedWidthAdapter
from adapters.kit.codes import load_tables
from tests.adapters import fixed_width_writer as w
from tests.adapters.harness import RECEIVED, Feed, assert_survives_codec
from tests.adapters.vectors import cases

FEED = Feed("fixed-width", "FR")
ADAPTER, SAMPLES = FEED.adapter, FEED.samples
LATIN1 = "FR-batch-latin1.dat"
CP1252 = "FR-batch-cp1252.dat"
FR_TABLE = load_tables("adapters.fixed_width")["FR"]


parse = FEED.parse  # the records of a batch on the feed of a jurisdiction (FR by default)
error_of = FEED.refusal  # the AdapterError a batch raises on the feed of a jurisdiction (FR by default)


def expected(person: w.Person, header: w.Header) -> dict[str, Any]:
    """The record the adapter must make of ``person`` (FR table, received at RECEIVED)."""
    return w.expected_record(person, header, FR_TABLE, RECEIVED)


def minimal_person(**changes: Any) -> w.Person:
    """A valid register record with one conviction, one offence and one sanction."""
    person = w.Person(
        record_number="SYNTH-1",
        family="ESSAI",
        nationalities=["FR"],
        convictions=[
            w.Conviction(
                "Tribunal fictif",
                "20240102",
                offences=[w.Offence(7875, "Vol")],
                sanctions=[w.Sanction("AMD", amount_cents=1000, currency="EUR")],
            )
        ],
    )
    return dataclasses.replace(person, **changes)


def lines_of(*persons: w.Person) -> list[str]:
    """The detail records of ``persons``."""
    return [line for p in persons for line in w.person_lines(p)]


def batch_of(details: list[str], header: w.Header | None = None, **options: Any) -> bytes:
    """A batch of ``details`` with a correct trailer (unless ``options`` say otherwise)."""
    head = header or w.Header()
    return w.assemble(head.line(), details, encoding=head.encoding, **options)


def changed(details: list[str], record_type: str, name: str, value: str | int, occurrence: int = 0) -> list[str]:
    """``details`` with field ``name`` of the ``occurrence``-th record of ``record_type`` set to ``value``."""
    out, seen = list(details), 0
    for index, line in enumerate(out):
        if line.startswith(record_type):
            if seen == occurrence:
                out[index] = w.replace_field(line, name, value)
                return out
            seen += 1
    raise AssertionError(f"no {record_type} record number {occurrence}")


# --- samples ---------------------------------------------------------------------------------------------


def test_samples_are_shipped_sorted_and_byte_exact() -> None:
    """Both documented samples ship, sorted, and are byte for byte what the test writer builds."""
    assert [name for name, _ in ADAPTER.samples()] == [CP1252, LATIN1]
    for name, build in w.SAMPLES.items():
        assert SAMPLES[name] == build(), name


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_parses_into_codec_valid_records(name: str) -> None:
    """Each sample gives schema-valid records that survive the canonical codec unchanged in substance."""
    records = parse(SAMPLES[name])
    assert records
    for record in records:
        assert_survives_codec(record)


def test_samples_yield_exactly_the_records_written() -> None:
    """The records parsed from each sample are those of the writer's persons, field by field."""
    assert parse(SAMPLES[LATIN1]) == [expected(p, w.LATIN1_HEADER) for p in w.LATIN1_PERSONS]
    assert parse(SAMPLES[CP1252]) == [expected(p, w.CP1252_HEADER) for p in w.CP1252_PERSONS]


def test_latin1_sample_covers_the_nationalities_asked_for() -> None:
    """The Latin-1 sample holds an FR-only, a DE, a PL and a DE+PL national, in CR LF lines."""
    records = parse(SAMPLES[LATIN1])
    assert [r["person"]["nationalities"] for r in records] == [["FR"], ["DE"], ["PL"], ["DE", "PL"]]
    assert SAMPLES[LATIN1].count(b"\r\n") == SAMPLES[LATIN1].count(b"\n") == len(w.split_records(SAMPLES[LATIN1]))


def test_cp1252_sample_uses_characters_latin1_lacks() -> None:
    """The CP1252 sample has LF lines and a name with U+2019 and Œ and a title with €, bytes 0x80-0x9F."""
    payload = SAMPLES[CP1252]
    assert b"\r" not in payload
    first = parse(payload)[0]
    assert first["person"]["names"][0]["family"] == "D\u2019\u0152UVRE-FICTIVE"
    assert "€" in first["convictions"][0]["offences"][0]["national_title"]
    assert {0x92, 0x8C, 0x80} <= set(payload)


def test_first_latin1_record_field_by_field() -> None:
    """Literal values of the first sample record pin the mapping of each record type (PS, NA, NI, PN, CV,
    OF, SN) independently of the test writer."""
    record = parse(SAMPLES[LATIN1])[0]
    header, person, conviction = record["header"], record["person"], record["convictions"][0]
    assert header["message_id"] == record_message_id("FR", "CJN-SYNTH-000101", 1)
    assert (header["message_type"], header["source_record_id"], header["source_record_version"]) == (
        "NOTIFICATION",
        "CJN-SYNTH-000101",
        1,
    )
    assert (header["legal_basis"], header["purpose"], header["external_message_id"]) == (
        "EU-FD-2009/315",
        "ECRIS_NOTIFICATION",
        "00000042",
    )
    assert header["created_at"] == RECEIVED
    assert person["names"] == [
        {
            "kind": "CURRENT",
            "given": "Gaëlle Anaïs",
            "family": "DÉMONSTRATION",
            "script": "Latn",
            "transliteration": None,
        }
    ]
    assert person["sex"] == "FEMALE"
    assert person["birth_date"] == {"year": 1990, "month": 7, "day": 21}
    assert person["birth_place"] == {"town": "Exempleville", "country": "FR"}
    assert person["national_identifiers"] == [{"scheme": "NIR", "value": "SYNTH-NIR-000101", "issuer": "FR"}]
    assert person["parent_names"] == ["Jean DÉMONSTRATION", "Marie-Cécile ESSAI"]
    assert person["fingerprint_reference"] is None
    assert conviction["conviction_id"] == "CJN-SYNTH-000101-001"
    assert conviction["court"] == {"name": "Tribunal correctionnel d'Exempleville", "place": "Exempleville"}
    assert (conviction["decision_date"], conviction["date_final"], conviction["retention_end"]) == (
        dt.date(2024, 3, 12),
        dt.date(2024, 4, 23),
        dt.date(2034, 4, 23),
    )
    assert conviction["file_number"] == "SYNTH-24/00017"
    assert conviction["offences"] == [
        {
            "national_code": "7875",
            "national_title": "Vol",
            "legal_reference": "C. pén. art. 311-3",
            "title_language": "fr",
            "category": "THEFT",
            "completion": "COMPLETED",
            "participation": "PERPETRATOR",
            "committed_on": {"year": 2023, "month": 11, "day": 5},
            "place": {"town": "Exempleville", "country": "FR"},
        }
    ]
    assert conviction["sanctions"] == [
        {
            "national_code": "EMPS",
            "category": "SUSPENDED_IMPRISONMENT",
            "amount": None,
            "currency": None,
            "duration": {"years": 0, "months": 6, "days": 0, "hours": 0},
            "suspended": True,
            "probation": None,
        },
        {
            "national_code": "AMD",
            "category": "FINE",
            "amount": "500.00",
            "currency": "EUR",
            "duration": None,
            "suspended": False,
            "probation": None,
        },
    ]
    assert conviction["later_decisions"] == []


def test_other_latin1_records_pin_names_partial_dates_unknown_codes_and_later_decisions() -> None:
    """Alias, birth and former names; month and year precision; an unmapped offence code kept with category
    UNKNOWN; probation; later decisions; an update of version 2 with two convictions."""
    _, de, pl, de_pl = parse(SAMPLES[LATIN1])
    assert de["person"]["birth_date"] == {"year": 1984, "month": 3, "day": None}
    assert de["person"]["names"][1] == {
        "kind": "ALIAS",
        "given": "Georg",
        "family": "BEISPIELMANN",
        "script": "Latn",
        "transliteration": None,
    }
    unmapped = de["convictions"][0]["offences"][1]
    assert (unmapped["national_code"], unmapped["category"]) == ("99001", "UNKNOWN")
    assert (unmapped["completion"], unmapped["participation"], unmapped["committed_on"]) == ("UNKNOWN", "UNKNOWN", None)
    assert de["convictions"][0]["offences"][0]["category"] == "ROAD_TRAFFIC"
    assert pl["person"]["birth_date"] == {"year": 1979, "month": None, "day": None}
    assert pl["person"]["names"][1]["kind"] == "BIRTH"
    assert pl["convictions"][0]["sanctions"][0]["probation"] == {"years": 2, "months": 0, "days": 0, "hours": 0}
    assert pl["convictions"][0]["later_decisions"] == [
        {"kind": "SENTENCE_MODIFICATION", "decision_date": dt.date(2024, 5, 10), "effective_from": dt.date(2024, 6, 1)}
    ]
    assert (de_pl["header"]["message_type"], de_pl["header"]["source_record_version"]) == ("UPDATE", 2)
    assert de_pl["person"]["fingerprint_reference"] == "FP-SYNTH-000104"
    assert [c["conviction_id"] for c in de_pl["convictions"]] == ["CJN-SYNTH-000104-001", "CJN-SYNTH-000104-002"]
    assert de_pl["convictions"][0]["later_decisions"][0]["kind"] == "PARDON"


def test_deletion_needs_no_conviction_and_gets_its_own_message_id() -> None:
    """The CP1252 sample deletes version 2 of a record the Latin-1 sample notified as version 1."""
    deletion = parse(SAMPLES[CP1252])[1]
    notified = parse(SAMPLES[LATIN1])[0]
    assert deletion["header"]["message_type"] == "DELETION"
    assert deletion["convictions"] == []
    assert deletion["header"]["source_record_id"] == notified["header"]["source_record_id"]
    assert deletion["header"]["message_id"] != notified["header"]["message_id"]


def test_message_ids_do_not_depend_on_batch_or_receipt() -> None:
    """The same register record version yields the same message id in another batch, received later."""
    first = parse(SAMPLES[LATIN1])[0]["header"]["message_id"]
    again = w.build_batch(w.LATIN1_PERSONS[:1], w.Header(batch_number=99, encoding="W1"))
    later = FEED.parse(again, "FR", RECEIVED + dt.timedelta(days=3))
    assert later[0]["header"]["message_id"] == first


# --- layout and README ---------------------------------------------------------------------------------

_ROW = re.compile(r"\| (\d+)(?:-(\d+))? \| `(\w+)` \| ([X9])\((\d+)\)(?:V(9+))? \|")


def test_readme_tables_match_the_layout() -> None:
    """Every record type's table in the README lists exactly the fields, columns and pictures the parser
    reads, and every layout fills the 200 columns contiguously."""
    readme = resources.files("adapters.fixed_width").joinpath("README.md").read_text(encoding="utf-8")
    sections = re.split(r"^### `([A-Z]{2})` .*$", readme, flags=re.MULTILINE)
    documented = {sections[i]: sections[i + 1] for i in range(1, len(sections), 2)}
    assert set(documented) == set(LAYOUTS)
    for record_type, layout in LAYOUTS.items():
        rows = []
        for m in _ROW.finditer(documented[record_type]):
            first, last = int(m[1]), int(m[2] or m[1])
            assert last - first + 1 == int(m[5]) + len(m[6] or ""), (record_type, m[3])
            rows.append((first, last, m[3], m[4]))
        assert rows == [(f.first, f.last, f.name, f.picture) for f in layout.values()], record_type
        assert rows[0][0] == 1 and rows[-1][1] == RECORD_LENGTH
        assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(rows))


def test_columns_of_a_sample_record_are_where_the_readme_says() -> None:
    """Literal columns of the first PS and OF records of the Latin-1 sample (1-based, inclusive)."""
    records = w.split_records(SAMPLES[LATIN1])
    ps, of = records[1], next(r for r in records if r.startswith(b"OF"))
    assert ps[0:2] == b"PS" and ps[2:18] == b"CJN-SYNTH-000101" and ps[18:21] == b"000"
    assert ps[21:26] == b"00001" and ps[26:28] == b"NF" and ps[28:36] == b"19900721"
    assert ps[36:71].rstrip() == "DÉMONSTRATION".encode("latin-1")
    assert of[18:21] == b"001" and of[21:27] == b"007875" and of[139:147] == b"20231105"


# --- envelope: terminators, empty batch, limits --------------------------------------------------------


@pytest.mark.parametrize(("terminator", "final"), [("\r\n", True), ("\n", True), ("\r\n", False), ("\n", False)])
def test_lf_and_crlf_with_or_without_final_terminator_parse_alike(terminator: str, final: bool) -> None:
    """LF and CR LF terminators, with or without one after the trailer, give the same records."""
    details = lines_of(*w.LATIN1_PERSONS)
    payload = batch_of(details, w.LATIN1_HEADER, terminator=terminator, final_terminator=final)
    assert parse(payload) == parse(SAMPLES[LATIN1])


def test_mixed_terminators_are_accepted() -> None:
    """A batch whose lines end in LF and CR LF alternately (a partial transfer conversion) parses."""
    records = w.split_records(SAMPLES[LATIN1])
    payload = b"".join(r + (b"\r\n" if i % 2 else b"\n") for i, r in enumerate(records))
    assert parse(payload) == parse(SAMPLES[LATIN1])


def test_empty_batch_is_valid_and_yields_no_record() -> None:
    """A header followed by a trailer counting zero records (CRC 00000000) is a valid, empty batch."""
    payload = batch_of([])
    assert payload.split(b"\r\n")[1].startswith(b"TR00000000000000000")
    assert parse(payload) == []


def test_batch_over_the_record_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    """More detail records than MAX_RECORDS is LIMIT_EXCEEDED; exactly MAX_RECORDS parses."""
    details = lines_of(minimal_person())
    monkeypatch.setattr(batch_module, "MAX_RECORDS", len(details))
    assert len(parse(batch_of(details))) == 1
    over = lines_of(minimal_person(), minimal_person(record_number="SYNTH-2"))
    assert error_of(batch_of(over)).reason_code == base.LIMIT_EXCEEDED
    assert error_of(batch_of(over, final_terminator=False)).reason_code == base.LIMIT_EXCEEDED
    no_terminators = b"".join(w.split_records(batch_of(over)))
    assert error_of(no_terminators).reason_code == base.MALFORMED  # one long line: its length is wrong


def test_many_records_parse_in_order() -> None:
    """A batch of 500 register records yields 500 records in batch order (linear work, one pass)."""
    persons = [minimal_person(record_number=f"SYNTH-{i}") for i in range(500)]
    records = parse(w.build_batch(persons))
    assert [r["header"]["source_record_id"] for r in records] == [p.record_number for p in persons]


# --- the trailer: count, checksum, missing -------------------------------------------------------------


def test_wrong_record_count_refuses_the_batch() -> None:
    """A trailer counting one record too many or too few: BATCH_MISMATCH naming the count."""
    details = lines_of(minimal_person())
    for count in (len(details) - 1, len(details) + 1):
        error = error_of(batch_of(details, count=count))
        assert error.reason_code == base.BATCH_MISMATCH
        assert "record count" in str(error)


def test_wrong_checksum_refuses_the_batch() -> None:
    """A trailer whose CRC-32 differs: BATCH_MISMATCH naming the checksum."""
    details = lines_of(minimal_person())
    error = error_of(batch_of(details, checksum=0x12345678))
    assert error.reason_code == base.BATCH_MISMATCH
    assert "checksum" in str(error)


def test_missing_trailer_refuses_the_batch() -> None:
    """A batch without trailer, or cut after a detail line (a lost tail), is BATCH_MISMATCH."""
    details = lines_of(minimal_person(), minimal_person(record_number="SYNTH-2"))
    assert error_of(batch_of(details, trailer=False)).reason_code == base.BATCH_MISMATCH
    assert error_of(batch_of([], trailer=False)).reason_code == base.BATCH_MISMATCH
    cut = b"".join(r + b"\r\n" for r in w.split_records(batch_of(details))[:5])
    assert error_of(cut).reason_code == base.BATCH_MISMATCH


def test_records_removed_or_reordered_are_detected() -> None:
    """A detail record dropped (trailer kept) or two records swapped: BATCH_MISMATCH, never output."""
    records = w.split_records(SAMPLES[LATIN1])
    dropped = b"\r\n".join(records[:3] + records[4:]) + b"\r\n"
    assert error_of(dropped).reason_code == base.BATCH_MISMATCH
    swapped = records[:]
    swapped[2], swapped[3] = swapped[3], swapped[2]
    assert error_of(b"\r\n".join(swapped) + b"\r\n").reason_code == base.BATCH_MISMATCH


@pytest.mark.parametrize(
    ("checksum", "count"),
    [("1234567", "000000000"), ("0000000g", "000000000"), ("abcdef01", "000000000"), ("00000000", "00000000A")],
    ids=["short", "not-hex", "lower-case", "count-not-digits"],
)
def test_badly_formed_trailer_is_malformed(checksum: str, count: str) -> None:
    """A trailer whose count is not digits or whose checksum is not 8 upper-case hex digits is MALFORMED."""
    trailer = w.render("TR", record_count=count, checksum=checksum).encode("ascii")
    payload = w.Header().line().encode("ascii") + b"\r\n" + trailer + b"\r\n"
    assert error_of(payload).reason_code == base.MALFORMED


# --- envelope refusals ---------------------------------------------------------------------------------


def _with_lines(payload: bytes, edit: Any) -> bytes:
    records = w.split_records(payload)
    edit(records)
    return b"\r\n".join(records) + b"\r\n"


def test_structural_refusals_name_the_line() -> None:
    """Truncated and over-long lines, an empty line, a missing header and an empty payload are MALFORMED;
    line errors give the line number."""
    sample = SAMPLES[LATIN1]
    truncated = sample[:-10]
    error = error_of(truncated)
    assert error.reason_code == base.MALFORMED
    assert f"line {len(w.split_records(sample))}" in str(error)
    longer = _with_lines(sample, lambda r: r.__setitem__(2, r[2] + b" "))
    error = error_of(longer)
    assert (error.reason_code, "line 3:" in str(error)) == (base.MALFORMED, True)
    blank = _with_lines(sample, lambda r: r.insert(4, b""))
    assert "line 5:" in str(error_of(blank))
    assert error_of(b"").reason_code == base.MALFORMED
    assert error_of(b"\r\n").reason_code == base.MALFORMED
    no_header = _with_lines(sample, lambda r: r.pop(0))
    error = error_of(no_header)
    assert (error.reason_code, "line 1:" in str(error)) == (base.MALFORMED, True)


def test_trailer_before_the_end_is_malformed() -> None:
    """A trailer followed by more records is MALFORMED (not last); a second trailer at the end is too."""
    sample = SAMPLES[LATIN1]
    records = w.split_records(sample)
    moved = records[:3] + records[-1:] + records[3:-1]
    error = error_of(b"\r\n".join(moved) + b"\r\n")
    assert (error.reason_code, "line 4:" in str(error)) == (base.MALFORMED, True)
    details = lines_of(minimal_person())
    inner_trailer = [*details, w.trailer_line(len(details), 0)]
    assert error_of(batch_of(inner_trailer)).reason_code == base.MALFORMED


def test_second_header_is_malformed() -> None:
    """An HD record among the detail records (two batches concatenated) is MALFORMED with its line."""
    details = [*lines_of(minimal_person()), w.Header().line(), *lines_of(minimal_person(record_number="SYNTH-2"))]
    error = error_of(batch_of(details))
    assert error.reason_code == base.MALFORMED
    assert f"line {len(lines_of(minimal_person())) + 2}:" in str(error)


def test_unknown_record_type_is_malformed() -> None:
    """A detail record whose type the format does not define is MALFORMED with its line."""
    details = lines_of(minimal_person())
    details.insert(1, "ZZ" + details[1][2:])
    error = error_of(batch_of(details))
    assert (error.reason_code, "line 3:" in str(error)) == (base.MALFORMED, True)


@pytest.mark.parametrize(
    ("field", "value", "reason"), cases("fixed_width_bad_header_fields.json", "field", "value", "reason")
)
def test_bad_header_fields(field: str, value: str, reason: str) -> None:
    """Each header field is checked: unknown version or encoding is MALFORMED, others INVALID or MISSING."""
    header = w.replace_field(w.Header().line(), field, value)
    error = error_of(w.assemble(header, lines_of(minimal_person())))
    assert error.reason_code == reason
    assert "line 1" in str(error)


def test_header_must_be_ascii() -> None:
    """A header with a non-ASCII byte is MALFORMED."""
    header = w.replace_field(w.Header().line(), "purpose", "NOTIFICATIÖN").encode("latin-1")
    details = [line.encode("latin-1") for line in lines_of(minimal_person())]
    assert error_of(w.seal([header, *details])).reason_code == base.MALFORMED


def test_sender_must_be_the_feed_jurisdiction() -> None:
    """A batch whose header names another sender than the feed it arrived on is SENDER_MISMATCH."""
    assert error_of(SAMPLES[LATIN1], "DE").reason_code == base.SENDER_MISMATCH
    assert error_of(batch_of(lines_of(minimal_person()), w.Header(sender="DE"))).reason_code == base.SENDER_MISMATCH


# --- encodings -----------------------------------------------------------------------------------------


def test_cp1252_batch_declared_latin1_is_malformed() -> None:
    """The CP1252 sample with its header saying L1: its 0x80-0x9F bytes decode to C1 controls -> MALFORMED
    (the header is outside the checksum, so this is the encoding check speaking)."""
    payload = SAMPLES[CP1252].replace(b"W1fr", b"L1fr", 1)
    error = error_of(payload)
    assert error.reason_code == base.MALFORMED
    assert "line 2:" in str(error)


def test_latin1_batch_declared_cp1252_still_decodes_its_letters() -> None:
    """Latin-1 letters (0xA0-0xFF) are the same characters in CP1252, so a Latin-1 batch without 0x80-0x9F
    bytes reads alike under either declaration."""
    payload = SAMPLES[LATIN1].replace(b"L1fr", b"W1fr", 1)
    assert parse(payload) == parse(SAMPLES[LATIN1])


@pytest.mark.parametrize("byte", [0x81, 0x8D, 0x8F, 0x90, 0x9D])
def test_bytes_undefined_in_cp1252_are_malformed(byte: int) -> None:
    """The five bytes CP1252 leaves undefined are refused in a W1 batch, with the line number."""
    header = w.Header(encoding="W1").line().encode("ascii")
    details = [line.encode("cp1252") for line in lines_of(minimal_person())]
    details[2] = details[2][:30] + bytes([byte]) + details[2][31:]
    error = error_of(w.seal([header, *details]))
    assert (error.reason_code, "line 4:" in str(error)) == (base.MALFORMED, True)


@pytest.mark.parametrize("char", ["\t", "\x00", "\x7f", "\x85", "\x1b"])
def test_control_characters_are_malformed(char: str) -> None:
    """C0 (TAB included), DEL and C1 characters in a record are MALFORMED even under a correct trailer."""
    details = changed(lines_of(minimal_person()), "PS", "family_name", f"ES{char}SAI")
    error = error_of(batch_of(details))
    assert (error.reason_code, "line 2:" in str(error)) == (base.MALFORMED, True)


def test_cp1252_only_characters_round_trip_in_w1() -> None:
    """Every character CP1252 adds to Latin-1 survives a W1 batch as text."""
    extra = "".join(bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in {0x81, 0x8D, 0x8F, 0x90, 0x9D})
    assert len(extra) == 27
    record = parse(w.build_batch([minimal_person(family="X" + extra)], w.Header(encoding="W1")))[0]
    assert record["person"]["names"][0]["family"] == "X" + extra


# --- field values --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("19850314", {"year": 1985, "month": 3, "day": 14}),
        ("19850300", {"year": 1985, "month": 3, "day": None}),
        ("19850000", {"year": 1985, "month": None, "day": None}),
        ("00000000", {"year": None, "month": None, "day": None}),
        ("20000229", {"year": 2000, "month": 2, "day": 29}),
    ],
)
def test_partial_birth_dates_keep_their_precision(text: str, expected: dict[str, int | None]) -> None:
    """Birth dates with 00 for an unknown month or day map to the precision they state."""
    record = parse(w.build_batch([minimal_person(birth_date=text)]))[0]
    assert record["person"]["birth_date"] == expected


@pytest.mark.parametrize(("code", "sex"), list(w.SEXES.items()))
def test_sex_codes(code: str, sex: str) -> None:
    """M, F, X, U map to MALE, FEMALE, OTHER, UNKNOWN."""
    assert parse(w.build_batch([minimal_person(sex=code)]))[0]["person"]["sex"] == sex


@pytest.mark.parametrize(("code", "kind"), list(w.LATER_DECISIONS.items()))
def test_later_decision_kinds(code: str, kind: str) -> None:
    """Each LD code maps to its canonical later-decision kind."""
    person = minimal_person()
    person.convictions[0].later_decisions = [w.LaterDecision(code, "20240601")]
    decision = parse(w.build_batch([person]))[0]["convictions"][0]["later_decisions"][0]
    assert decision == {"kind": kind, "decision_date": dt.date(2024, 6, 1), "effective_from": None}


@pytest.mark.parametrize("completion", list(w.COMPLETION))
@pytest.mark.parametrize("participation", list(w.PARTICIPATION))
def test_completion_and_participation_codes(completion: str, participation: str) -> None:
    """Every completion and participation letter maps to its canonical value."""
    person = minimal_person()
    person.convictions[0].offences = [w.Offence(7875, "Vol", completion=completion, participation=participation)]
    offence = parse(w.build_batch([person]))[0]["convictions"][0]["offences"][0]
    assert (offence["completion"], offence["participation"]) == (
        w.COMPLETION[completion],
        w.PARTICIPATION[participation],
    )


@pytest.mark.parametrize(
    ("cents", "amount"), [(0, "0.00"), (5, "0.05"), (150000, "1500.00"), (10**15 - 1, "9999999999999.99")]
)
def test_amounts_have_two_implied_decimals(cents: int, amount: str) -> None:
    """9(13)V99 amounts become decimal strings with two fraction digits, no float rounding."""
    person = minimal_person()
    person.convictions[0].sanctions = [w.Sanction("AMD", amount_cents=cents, currency="EUR")]
    assert parse(w.build_batch([person]))[0]["convictions"][0]["sanctions"][0]["amount"] == amount


def test_durations_of_every_unit_and_zero_means_none() -> None:
    """Each of the four duration units maps to itself; all zero is no duration."""
    person = minimal_person()
    person.convictions[0].sanctions = [
        w.Sanction("EMP", duration=(99, 99, 999, 9999), probation=(1, 2, 3, 4)),
        w.Sanction("CONF"),
    ]
    first, second = parse(w.build_batch([person]))[0]["convictions"][0]["sanctions"]
    assert first["duration"] == {"years": 99, "months": 99, "days": 999, "hours": 9999}
    assert first["probation"] == {"years": 1, "months": 2, "days": 3, "hours": 4}
    assert (second["duration"], second["probation"], second["amount"]) == (None, None, None)


def test_offence_code_padding_is_not_part_of_the_national_code() -> None:
    """Offence code 000042 is national code 42; the largest code fits."""
    person = minimal_person()
    person.convictions[0].offences = [w.Offence(42, "Fictive"), w.Offence(999999, "Fictive")]
    offences = parse(w.build_batch([person]))[0]["convictions"][0]["offences"]
    assert [o["national_code"] for o in offences] == ["42", "999999"]


def test_inner_spaces_and_latin1_letters_are_kept() -> None:
    """Text keeps inner spaces and accented letters as written; only the right padding goes."""
    record = parse(w.build_batch([minimal_person(family="DE  LA   FONTAINE-ÇÀÉÎÕÜÿ", given="Ñ ø")]))[0]
    assert record["person"]["names"][0]["family"] == "DE  LA   FONTAINE-ÇÀÉÎÕÜÿ"
    assert record["person"]["names"][0]["given"] == "Ñ ø"


# --- field refusals ------------------------------------------------------------------------------------

_FIELD_CASES = cases("fixed_width_bad_fields.json", "record_type", "field", "value", "reason")


@pytest.mark.parametrize(("record_type", "field", "value", "reason"), _FIELD_CASES)
def test_bad_fields_raise_the_right_reason(record_type: str, field: str, value: str | int, reason: str) -> None:
    """Each field is checked against its picture and code list, under a correct trailer, and the error
    names the line, record type and field, never the value."""
    details = changed(lines_of(minimal_person()), record_type, field, value)
    error = error_of(batch_of(details))
    assert error.reason_code == reason
    line = 2 + next(i for i, d in enumerate(details) if d.startswith(record_type))
    assert f"line {line}" in str(error) and field in str(error)
    if isinstance(value, str) and len(value.strip()) > 3:
        assert value.strip() not in str(error)


def test_currency_without_amount_is_invalid() -> None:
    """A currency on a sanction whose amount is blank is INVALID_VALUE."""
    person = minimal_person()
    person.convictions[0].sanctions = [w.Sanction("EMP", duration=(1, 0, 0, 0), currency="EUR")]
    assert error_of(w.build_batch([person])).reason_code == base.INVALID_VALUE


@pytest.mark.parametrize(
    ("record_type", "field", "value"),
    [
        ("NM", "name_kind", "C"),
        ("NM", "family_name", ""),
        ("NI", "scheme", "nir"),
        ("NI", "issuer", ""),
        ("PN", "parent_name", " X"),
        ("LD", "decision_kind", "Z"),
        ("LD", "decision_date", "00000000"),
        ("LD", "effective_from", "2024061 "),
    ],
)
def test_bad_fields_of_optional_records(record_type: str, field: str, value: str) -> None:
    """NM, NI, PN and LD fields are checked too (MISSING_FIELD when blank, else INVALID_VALUE)."""
    person = minimal_person(
        names=[w.Name("A", "ALIAS")], identifiers=[w.Identifier("NIR", "SYNTH-1", "FR")], parents=["PARENT"]
    )
    person.convictions[0].later_decisions = [w.LaterDecision("P", "20240601")]
    assert parse(w.build_batch([person]))  # valid before the change
    error = error_of(batch_of(changed(lines_of(person), record_type, field, value)))
    assert error.reason_code == (base.MISSING_FIELD if not value.strip() or value == "00000000" else base.INVALID_VALUE)


# --- hierarchy -----------------------------------------------------------------------------------------


def test_records_before_any_ps_are_malformed() -> None:
    """A person or conviction record with no PS before it is MALFORMED."""
    details = lines_of(minimal_person())
    assert error_of(batch_of(details[1:])).reason_code == base.MALFORMED


def test_record_number_must_repeat_the_ps() -> None:
    """A detail record carrying another record number than its PS (a mis-sorted export) is MALFORMED."""
    details = changed(lines_of(minimal_person()), "OF", "record_number", "SYNTH-2")
    error = error_of(batch_of(details))
    assert (error.reason_code, "line 2" in str(error)) == (base.MALFORMED, True)


def test_person_records_after_a_conviction_are_malformed() -> None:
    """An NA record after a CV of the same register record is MALFORMED."""
    details = lines_of(minimal_person())
    na = details.pop(1)
    details.append(na)
    assert error_of(batch_of(details)).reason_code == base.MALFORMED


def test_conviction_records_need_their_cv() -> None:
    """An OF before any CV, or with another conviction sequence than its CV, is MALFORMED."""
    details = lines_of(minimal_person())
    of = details.pop(3)
    details.insert(2, of)
    assert error_of(batch_of(details)).reason_code == base.MALFORMED
    wrong_seq = changed(lines_of(minimal_person()), "SN", "conviction_seq", 2)
    assert error_of(batch_of(wrong_seq)).reason_code == base.MALFORMED


def test_conviction_sequences_ascend() -> None:
    """Two CV records with the same (or a lower) sequence are INVALID_VALUE."""
    person = minimal_person()
    person.convictions.append(person.convictions[0])
    details = changed(lines_of(person), "CV", "conviction_seq", 1, occurrence=1)
    details = [w.replace_field(d, "conviction_seq", 1) if d[:2] in {"OF", "SN"} else d for d in details]
    assert error_of(batch_of(details)).reason_code == base.INVALID_VALUE
    assert len(parse(w.build_batch([person]))[0]["convictions"]) == 2


def test_repeated_record_version_is_invalid_but_new_versions_are_not() -> None:
    """The same record number and version twice in a batch is INVALID_VALUE; versions 1 and 2 both pass."""
    assert error_of(w.build_batch([minimal_person(), minimal_person()])).reason_code == base.INVALID_VALUE
    records = parse(w.build_batch([minimal_person(), minimal_person(version=2, message_type="U")]))
    assert [r["header"]["source_record_version"] for r in records] == [1, 2]


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"nationalities": []}, base.MISSING_FIELD),
        ({"nationalities": ["FR", "FR"]}, base.INVALID_VALUE),
        ({"convictions": []}, base.MISSING_FIELD),
        ({"convictions": [], "message_type": "U"}, base.MISSING_FIELD),
        ({"convictions": [w.Conviction("Tribunal fictif", "20240102")]}, base.MISSING_FIELD),
    ],
    ids=["no-nationality", "nationality-twice", "notification-without-cv", "update-without-cv", "cv-without-of"],
)
def test_required_records(changes: dict[str, Any], reason: str) -> None:
    """A person needs an NA, each nationality once; notifications and updates need a CV; a CV needs an OF."""
    error = error_of(w.build_batch([minimal_person(**changes)]))
    assert error.reason_code == reason
    assert "line 2" in str(error) or "line 4" in str(error) or "line 5" in str(error)


def test_error_in_a_late_record_refuses_the_whole_batch() -> None:
    """A bad field in the last register record refuses the batch: no partial list of records."""
    details = lines_of(*w.LATIN1_PERSONS)
    bad = changed(details, "PS", "sex", "Q", occurrence=3)
    assert error_of(batch_of(bad, w.LATIN1_HEADER)).reason_code == base.INVALID_VALUE


# --- mapping tables ------------------------------------------------------------------------------------


def test_fr_table_maps_every_sample_code_but_the_deliberately_unknown_one() -> None:
    """The packaged FR table maps every offence and sanction code of the samples except 99001."""
    codes = {
        (o["national_code"], o["category"])
        for name in SAMPLES
        for r in parse(SAMPLES[name])
        for c in r["convictions"]
        for o in c["offences"]
    }
    assert {code for code, category in codes if category == "UNKNOWN"} == {"99001"}
    sanctions = {
        s["category"]
        for name in SAMPLES
        for r in parse(SAMPLES[name])
        for c in r["convictions"]
        for s in c["sanctions"]
    }
    assert "UNKNOWN" not in sanctions
    assert all(code.isdigit() and not code.startswith("0") for code in FR_TABLE.offences)


def test_injected_tables_and_senders_without_a_table_give_unknown() -> None:
    """With no table for the sender every category is UNKNOWN and the national codes are kept."""
    record = FixedWidthAdapter(tables={}).parse(SAMPLES[LATIN1], ParseContext("FR", RECEIVED))[0]
    offence, sanction = record["convictions"][0]["offences"][0], record["convictions"][0]["sanctions"][0]
    assert (offence["national_code"], offence["category"]) == ("7875", "UNKNOWN")
    assert (sanction["national_code"], sanction["category"]) == ("EMPS", "UNKNOWN")
    german = w.build_batch([minimal_person()], w.Header(sender="DE", title_language="de"))
    record = parse(german, "DE")[0]
    assert record["convictions"][0]["offences"][0]["category"] == "UNKNOWN"
    assert record["convictions"][0]["offences"][0]["title_language"] == "de"
