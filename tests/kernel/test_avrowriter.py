"""The compiled Avro writer writes fastavro's bytes, byte for byte, and leaves to fastavro what it cannot."""

from __future__ import annotations

import datetime as dt
import functools
import io
import uuid
from typing import Any

import fastavro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import schemas
from adapters.base import ParseContext, available, get_adapter
from services.kernel.avrowriter import compile_writer, encode_long
from services.kernel.codec import MAGIC, Codec, codec
from services.kernel.errors import ValidationError

INT, LONG = 2**31, 2**63
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MIN_MILLIS = (dt.datetime(1, 1, 2, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(milliseconds=1)
MAX_MILLIS = (dt.datetime(9999, 12, 30, tzinfo=dt.UTC) - EPOCH) // dt.timedelta(milliseconds=1)
MIN_DAYS, MAX_DAYS = dt.date.min.toordinal() - EPOCH.toordinal(), dt.date.max.toordinal() - EPOCH.toordinal()


def _fastavro(c: Codec[Any], record: Any) -> bytes:
    buf = io.BytesIO()
    buf.write(MAGIC + c.fingerprint)
    fastavro.schemaless_writer(buf, c.parsed, record)
    return buf.getvalue()


def _compiled(c: Codec[Any]) -> Any:
    writer = compile_writer(c.parsed, MAGIC + c.fingerprint)
    assert writer is not None
    return writer


@functools.cache
def _samples() -> list[dict[str, Any]]:
    """The records of every adapter's samples (read only)."""
    received = dt.datetime(2026, 12, 7, 3, 4, 5, 678901, tzinfo=dt.UTC)
    records: list[dict[str, Any]] = []
    for name in available():
        adapter = get_adapter(name)
        for file, payload in adapter.samples():
            records.extend(adapter.parse(payload, ParseContext(file.split("-", 1)[0], received)))  # type: ignore[arg-type]
    return records


def test_every_adapter_sample_is_written_as_fastavro_writes_it() -> None:
    c = codec(schemas.CANONICAL_RECORD)
    write = _compiled(c)
    records = _samples()
    assert len(records) >= 10
    for record in records:
        assert write(record) == _fastavro(c, record) == c.encode(record)


def _datum(schema: Any, named: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid data for ``schema`` (a parsed schema), with the Python types the services use and the edges."""
    if isinstance(schema, str):
        if schema in named:
            return st.deferred(lambda: _datum(named[schema], named))
        schema = {"type": schema}
    if isinstance(schema, list):
        return st.one_of(*(_datum(branch, named) for branch in schema))
    kind, logical = schema["type"], schema.get("logicalType")
    if isinstance(kind, (dict, list)):
        return _datum(kind, named)
    if logical == "timestamp-millis":
        aware = st.datetimes(
            min_value=dt.datetime(1, 1, 2), max_value=dt.datetime(9999, 12, 30), timezones=st.timezones()
        )
        return st.one_of(aware, st.integers(MIN_MILLIS, MAX_MILLIS))  # ints: what reads back as a datetime
    if logical == "date":
        return st.one_of(st.dates(), st.integers(MIN_DAYS, MAX_DAYS))
    if logical == "uuid":
        return st.one_of(st.uuids(), st.uuids().map(str))
    simple: dict[str, st.SearchStrategy[Any]] = {
        "null": st.none(),
        "boolean": st.booleans(),
        "int": st.integers(-INT, INT - 1),
        "long": st.integers(-LONG, LONG - 1),
        "string": st.text(),
        "bytes": st.binary(),
    }
    if kind in simple:
        return simple[kind]
    if kind == "enum":
        return st.sampled_from(schema["symbols"])
    if kind == "array":
        return st.lists(_datum(schema["items"], named), max_size=3)
    assert kind == "record", kind
    fields = {f["name"]: _datum(f["type"], named) for f in schema["fields"]}
    defaults = [f["name"] for f in schema["fields"] if "default" in f]
    return st.fixed_dictionaries(fields).flatmap(
        lambda d: st.sets(st.sampled_from(defaults) if defaults else st.nothing()).map(
            lambda dropped: {k: v for k, v in d.items() if k not in dropped}  # a field left out: its default
        )
    )


def _records(name: str) -> st.SearchStrategy[dict[str, Any]]:
    parsed = codec(name).parsed
    return _datum(parsed, dict(parsed["__named_schemas"]))


@pytest.mark.parametrize("name", schemas.ALL)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_records_are_written_as_fastavro_writes_them(name: str, data: st.DataObject) -> None:
    c = codec(name)
    record = data.draw(_records(name))
    assert _compiled(c)(record) == _fastavro(c, record) == c.encode(record)


def _rebuilt(record: Any, change: Any) -> Any:
    """``record`` with every dict and value passed through ``change`` (deep)."""
    if isinstance(record, dict):
        return change({k: _rebuilt(v, change) for k, v in record.items()})
    if isinstance(record, list):
        return change([_rebuilt(v, change) for v in record])
    return change(record)


ODD: dict[str, Any] = {
    "naive datetime": lambda v: v.replace(tzinfo=None) if isinstance(v, dt.datetime) else v,
    "datetime for a date": lambda v: dt.datetime(v.year, v.month, v.day) if type(v) is dt.date else v,
    "tuple for a list": lambda v: tuple(v) if isinstance(v, list) else v,
    "bool for an int": lambda v: True if type(v) is int else v,
    "bytearray for bytes": lambda v: bytearray(v) if isinstance(v, bytes) else v,
    "an extra key": lambda v: {**v, "not_in_schema": 1} if isinstance(v, dict) else v,
    "a -type key": lambda v: {**v, "-type": "nobody"} if isinstance(v, dict) else v,
    "an int out of range": lambda v: v + LONG * 4 if type(v) is int else v,
    "a str for an enum or string": lambda v: "NOT-A-SYMBOL" if v == "UNKNOWN" else v,
}


@pytest.mark.parametrize("oddity", ODD)
def test_odd_records_end_as_fastavro_ends_them(oddity: str) -> None:
    """What the compiled writer does not take, fastavro writes or rejects (ValidationError) as before."""
    c = codec(schemas.CANONICAL_RECORD)
    for record in _samples():
        odd = _rebuilt(record, ODD[oddity])
        try:
            expected: bytes | type[Exception] = _fastavro(c, odd)
        except (ValueError, TypeError, KeyError, AttributeError):
            expected = ValidationError
        except Exception as exc:  # e.g. OverflowError: Codec.encode lets it through, as it always did
            expected = type(exc)
        if isinstance(expected, bytes):
            assert c.encode(odd) == expected
        else:
            with pytest.raises(expected):
                c.encode(odd)


def test_a_missing_field_without_default_is_left_to_fastavro() -> None:
    c = codec(schemas.CANONICAL_RECORD)
    record = _samples()[0]
    without = {**record, "person": {k: v for k, v in record["person"].items() if k != "names"}}
    with pytest.raises(KeyError):
        _compiled(c)(without)
    with pytest.raises(ValidationError):
        c.encode(without)


def test_schemas_it_cannot_compile_give_no_writer() -> None:
    with_map = {"type": "record", "name": "M", "fields": [{"name": "m", "type": {"type": "map", "values": "int"}}]}
    three = {"type": "record", "name": "U", "fields": [{"name": "u", "type": ["null", "int", "string"]}]}
    floats = {"type": "record", "name": "F", "fields": [{"name": "f", "type": "double"}]}
    for schema in (with_map, three, floats):
        assert compile_writer(fastavro.parse_schema(schema)) is None  # type: ignore[arg-type]
        c = Codec.from_json("x", schema)
        assert c.decode(c.encode({"m": {"a": 1}, "u": "s", "f": 1.5}))  # fastavro still writes them


def test_a_uuid_object_and_its_string_write_the_same() -> None:
    c = codec(schemas.CANONICAL_RECORD)
    record = _samples()[0]
    as_text = {**record, "header": {**record["header"], "message_id": str(record["header"]["message_id"])}}
    as_uuid = {**record, "header": {**record["header"], "message_id": uuid.UUID(str(record["header"]["message_id"]))}}
    assert c.encode(as_text) == c.encode(as_uuid) == _fastavro(c, as_uuid)


@given(st.integers(-LONG, LONG - 1) | st.sampled_from([0, -1, 8191, -8192, 8192, 2**20 - 1, -(2**20), 2**20]))
def test_encode_long_is_the_zigzag_varint(n: int) -> None:
    """Looked up, three bytes built at once, or the loop: always Avro's long encoding (fastavro's bytes)."""
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, "long", n)
    assert encode_long(n) == buf.getvalue()
