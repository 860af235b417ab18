"""Properties of the fixed-width adapter over generated batches: valid batches round-trip field for field,
any one-byte change in a detail record is caught by the trailer's CRC-32, and damaged but resealed batches
give valid records or clean AdapterErrors. Batches are built with tests/adapters/fixed_width_writer.py."""

from __future__ import annotations

import datetime as dt

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.base import BATCH_MISMATCH, MALFORMED, AdapterError
from adapters.fixed_width.layout import RECORD_LENGTH
from adapters.kit.codes import load_tables
from adapters.kit.countries import COUNTRIES
from tests.adapters import fixed_width_writer as w
from tests.adapters.harness import RECEIVED, Feed, round_trip

FEED = Feed("fixed-width", "FR")
SAMPLES = FEED.samples
FR_TABLE = load_tables("adapters.fixed_width")["FR"]
parse = FEED.parse  # the records of a batch on the FR feed
reason_of = FEED.refusal  # the AdapterError a batch raises on the FR feed (fails the test when it parses)


_L1_CHARS = [chr(c) for c in [*range(0x20, 0x7F), *range(0xA0, 0x100)]]
_W1_CHARS = _L1_CHARS + [
    bytes([b]).decode("cp1252") for b in range(0x80, 0xA0) if b not in {0x81, 0x8D, 0x8F, 0x90, 0x9D}
]
_COUNTRY_CODES = sorted(COUNTRIES)


def _text(chars: list[str], width: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(chars), min_size=1, max_size=width).map(str.strip).filter(bool)


def _opt(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.just("") | strategy


def _ymd(day: dt.date) -> str:
    return day.strftime("%Y%m%d")


_DATES = st.dates(dt.date(1900, 1, 1), dt.date(2024, 12, 31))
_PARTIAL = st.tuples(_DATES, st.sampled_from([0, 1, 2])).map(lambda t: _ymd(t[0])[: 8 - 2 * t[1]] + "00" * t[1])
_DURATIONS = st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 999), st.integers(0, 9999))
_COUNTRY = st.sampled_from(_COUNTRY_CODES)
_OFFENCE_CODES = st.sampled_from(sorted(int(c) for c in FR_TABLE.offences)) | st.integers(1, 999_999)
_SANCTION_CODES = st.sampled_from(sorted(FR_TABLE.sanctions)) | st.from_regex(r"[A-Z0-9]{1,6}", fullmatch=True)


@st.composite
def _conviction(draw: st.DrawFn, chars: list[str]) -> w.Conviction:
    decided = draw(_DATES)
    final = draw(st.none() | st.dates(decided, dt.date(2024, 12, 31)))
    offences = draw(
        st.lists(
            st.builds(
                w.Offence,
                _OFFENCE_CODES,
                _text(chars, 80),
                _opt(_text(chars, 30)),
                st.sampled_from(list(w.COMPLETION)),
                st.sampled_from(list(w.PARTICIPATION)),
                st.just(w.NO_DATE) | _PARTIAL,
                _opt(_text(chars, 30)),
                _opt(_COUNTRY),
            ),
            min_size=1,
            max_size=3,
        )
    )
    sanctions = []
    for _ in range(draw(st.integers(0, 3))):
        cents = draw(st.none() | st.integers(0, 10**15 - 1))
        currency = "" if cents is None else draw(st.from_regex(r"[A-Z]{3}", fullmatch=True))
        sanctions.append(
            w.Sanction(
                draw(_SANCTION_CODES), draw(_DURATIONS), cents, currency, draw(st.sampled_from("YN")), draw(_DURATIONS)
            )
        )
    later = draw(
        st.lists(
            st.builds(
                w.LaterDecision,
                st.sampled_from(list(w.LATER_DECISIONS)),
                _DATES.map(_ymd),
                st.just(w.NO_DATE) | _DATES.map(_ymd),
            ),
            max_size=2,
        )
    )
    return w.Conviction(
        court=draw(_text(chars, 60)),
        decision_date=_ymd(decided),
        court_place=draw(_opt(_text(chars, 30))),
        date_final=w.NO_DATE if final is None else _ymd(final),
        file_number=draw(_opt(_text(chars, 20))),
        retention_end=draw(st.just(w.NO_DATE) | _DATES.map(_ymd)),
        offences=offences,
        sanctions=sanctions,
        later_decisions=later,
    )


@st.composite
def _persons(draw: st.DrawFn, chars: list[str]) -> list[w.Person]:
    numbers = draw(
        st.lists(st.from_regex(r"[A-Z0-9][A-Z0-9./-]{0,15}", fullmatch=True), min_size=0, max_size=4, unique=True)
    )
    persons = []
    for number in numbers:
        message_type = draw(st.sampled_from("NUD"))
        persons.append(
            w.Person(
                record_number=number,
                family=draw(_text(chars, 35)),
                nationalities=draw(st.lists(_COUNTRY, min_size=1, max_size=3, unique=True)),
                version=draw(st.integers(1, 99_999)),
                message_type=message_type,
                sex=draw(st.sampled_from(list(w.SEXES))),
                birth_date=draw(st.just(w.NO_DATE) | _PARTIAL),
                given=draw(_opt(_text(chars, 35))),
                birth_town=draw(_opt(_text(chars, 30))),
                birth_country=draw(_opt(_COUNTRY)),
                fingerprint_ref=draw(_opt(_text(chars, 20))),
                names=draw(
                    st.lists(
                        st.builds(
                            w.Name, st.sampled_from(list(w.NAME_KINDS)), _text(chars, 35), _opt(_text(chars, 35))
                        ),
                        max_size=2,
                    )
                ),
                identifiers=draw(
                    st.lists(
                        st.builds(
                            w.Identifier,
                            st.from_regex(r"[A-Z0-9][A-Z0-9-]{0,9}", fullmatch=True),
                            _text(chars, 30),
                            _text(chars, 10),
                        ),
                        max_size=2,
                    )
                ),
                parents=draw(st.lists(_text(chars, 60), max_size=2)),
                convictions=draw(st.lists(_conviction(chars), min_size=0 if message_type == "D" else 1, max_size=3)),
            )
        )
    return persons


@st.composite
def _batches(draw: st.DrawFn) -> tuple[w.Header, list[w.Person], str]:
    encoding = draw(st.sampled_from(["L1", "W1"]))
    header = w.Header(batch_number=draw(st.integers(0, 99_999_999)), encoding=encoding)
    persons = draw(_persons(_L1_CHARS if encoding == "L1" else _W1_CHARS))
    return header, persons, draw(st.sampled_from(["\r\n", "\n"]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(generated=_batches())
def test_generated_batches_round_trip(generated: tuple[w.Header, list[w.Person], str]) -> None:
    """Any valid batch the writer builds (random persons, convictions, encodings, terminators) parses into
    exactly the records written, each of which the canonical codec accepts."""
    header, persons, terminator = generated
    records = parse(w.build_batch(persons, header, terminator=terminator))
    assert records == [w.expected_record(p, header, FR_TABLE, RECEIVED) for p in persons]
    for record in records:
        round_trip(record)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_single_byte_change_in_a_detail_record_is_refused(data: st.DataObject) -> None:
    """Changing any one byte of a detail record of a valid batch (a sample or a generated one) is caught by
    the CRC-32: BATCH_MISMATCH; a CR or LF byte may instead break the line structure (MALFORMED)."""
    if data.draw(st.booleans(), label="sample"):
        payload = SAMPLES[data.draw(st.sampled_from(sorted(SAMPLES)), label="name")]
    else:
        header, persons, terminator = data.draw(_batches(), label="batch")
        payload = w.build_batch(persons, header, terminator=terminator)
    offsets = w.detail_offsets(payload)
    if not offsets:
        return
    position = data.draw(st.sampled_from(offsets), label="record") + data.draw(st.integers(0, RECORD_LENGTH - 1))
    damaged = bytearray(payload)
    damaged[position] = data.draw(st.integers(0, 255).filter(lambda b: b != payload[position]), label="byte")
    error = reason_of(bytes(damaged))
    if damaged[position] in b"\r\n":
        assert error.reason_code in {MALFORMED, BATCH_MISMATCH}
    else:
        assert error.reason_code == BATCH_MISMATCH
        assert "checksum" in str(error)


def test_every_single_byte_position_of_a_sample_is_covered() -> None:
    """Exhaustively: flipping any one bit pattern at every byte of every detail record of the CP1252 sample
    is BATCH_MISMATCH."""
    payload = SAMPLES["FR-batch-cp1252.dat"]
    for offset in w.detail_offsets(payload):
        for position in range(offset, offset + RECORD_LENGTH):
            damaged = bytearray(payload)
            damaged[position] ^= 0x01 if payload[position] not in {0x0B, 0x0C} else 0x40
            assert reason_of(bytes(damaged)).reason_code == BATCH_MISMATCH, position


_SECRETS = ["DÉMONSTRATION", "Gaëlle", "Exempleville", "SYNTH-NIR-000101", "BEISPIEL", "PRZYKLADOWA", "Musterstadt"]


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_resealed_damage_gives_valid_records_or_clean_errors(data: st.DataObject) -> None:
    """Detail records damaged and then resealed with a correct trailer (so the field checks speak) give
    schema-valid records or an AdapterError that quotes no personal value; nothing else escapes."""
    records = w.split_records(SAMPLES["FR-batch-latin1.dat"])
    details = records[1:-1]
    for _ in range(data.draw(st.integers(1, 4), label="changes")):
        index = data.draw(st.integers(0, len(details) - 1), label="record")
        column = data.draw(st.integers(0, RECORD_LENGTH - 1), label="column")
        chunk = data.draw(st.binary(min_size=1, max_size=12).filter(lambda b: b"\n" not in b and b"\r" not in b))
        line = details[index]
        details[index] = (line[:column] + chunk + line[column + len(chunk) :])[:RECORD_LENGTH].ljust(RECORD_LENGTH)
    if data.draw(st.booleans(), label="shuffle"):
        details = data.draw(st.permutations(details), label="order")
    try:
        out = parse(w.seal([records[0], *details]))
    except AdapterError as error:
        assert not [s for s in _SECRETS if s in str(error)]
        return
    for record in out:
        round_trip(record)
