"""The compiled Avro reader reads what fastavro reads, value for value and type for type, and leaves to
fastavro whatever it does not take (corrupt bodies included)."""

from __future__ import annotations

import io
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from services.kernel.avroreader import compile_reader
from services.kernel.codec import HEADER_LEN, MAGIC, Codec, codec
from services.kernel.errors import CodecError
from tests.kernel.test_avrowriter import _records, _samples


def _fastavro(c: Codec[Any], data: bytes) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data[HEADER_LEN:]), c.parsed, None)


def _compiled(c: Codec[Any]) -> Any:
    reader = compile_reader(c.parsed, HEADER_LEN)
    assert reader is not None
    return reader


def _typed(value: Any) -> Any:
    """``value`` with the type (and time zone) of every leaf spelled out, so equal means the same objects."""
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_typed(v) for v in value]
    return (type(value), getattr(value, "tzinfo", None), value)


def _same(c: Codec[Any], data: bytes) -> None:
    expected = _typed(_fastavro(c, data))
    assert _typed(_compiled(c)(data)) == expected
    assert _typed(c.decode(data)) == expected
    assert list(c.decode(data)) == list(_fastavro(c, data))  # the fields in the schema's order


def test_every_adapter_sample_is_read_as_fastavro_reads_it() -> None:
    c = codec(schemas.CANONICAL_RECORD)
    for record in _samples():
        _same(c, c.encode(record))


@pytest.mark.parametrize("name", schemas.ALL)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_records_are_read_as_fastavro_reads_them(name: str, data: st.DataObject) -> None:
    c = codec(name)
    _same(c, c.encode(data.draw(_records(name))))


def _outcome(read: Any, data: bytes) -> Any:
    try:
        return _typed(read(data))
    except CodecError:
        return CodecError
    except Exception as exc:  # fastavro's own errors, which Codec.decode turns into CodecError
        return type(exc)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(range(10**6)), st.integers(0, 255), st.integers(0, 4), st.binary(max_size=4))
def test_corrupt_bodies_end_as_fastavro_ends_them(pick: int, byte: int, cut: int, tail: bytes) -> None:
    """A byte changed, the body cut short or extended: Codec.decode gives fastavro's record, or CodecError
    exactly when fastavro fails."""
    c = codec(schemas.CANONICAL_RECORD)
    records = _samples()
    data = bytearray(c.encode(records[pick % len(records)]))
    at = HEADER_LEN + pick % (len(data) - HEADER_LEN)
    data[at] = byte
    corrupt = bytes(data[: len(data) - cut]) + tail
    expected = _outcome(lambda d: _fastavro(c, d), corrupt)
    got = _outcome(c.decode, corrupt)
    assert got == (CodecError if isinstance(expected, type) else expected)


def test_a_varint_past_64_bits_and_a_negative_count_are_left_to_fastavro() -> None:
    c = codec(schemas.RECEIPT)
    read = _compiled(c)
    long_varint = MAGIC + c.fingerprint + b"\xff" * 11 + b"\x01"
    negative_length = MAGIC + c.fingerprint + b"\x01"
    for data in (long_varint, negative_length):
        with pytest.raises(Exception):  # noqa: B017 - whatever it is, the codec falls back to fastavro
            read(data)
        with pytest.raises(CodecError):
            c.decode(data)


def test_data_of_a_previous_version_or_for_another_reader_still_resolves() -> None:
    """Only data of the codec's own schema, read into it, takes the compiled path."""
    current = codec(schemas.CANONICAL_RECORD)
    record = _samples()[0]
    assert current.decode(current.encode(record), current) == current.decode(current.encode(record))


def test_schemas_it_cannot_compile_give_no_reader() -> None:
    with_map = {"type": "record", "name": "M", "fields": [{"name": "m", "type": {"type": "map", "values": "int"}}]}
    assert compile_reader(fastavro.parse_schema(with_map)) is None  # type: ignore[arg-type]
    c = Codec.from_json("x", with_map)
    assert c.decode(c.encode({"m": {"a": 1}})) == {"m": {"a": 1}}
