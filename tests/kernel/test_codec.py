"""The Avro single-object codec."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from adapters.base import ParseContext, get_adapter
from schemas import AUDIT_EVENT, CANONICAL_RECORD, ENVELOPE, previous_versions
from services.kernel.codec import MAGIC, Codec, codec, typed_codec
from services.kernel.errors import CodecError, ValidationError


def _event() -> dict[str, object]:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": "COLLECTION",
        "occurred_at": 1_700_000_000_000,
        "component": "test",
        "actor": "crx",
        "outcome": "ok",
    }


def test_single_object_header_names_the_schema() -> None:
    """Encoded bytes start with C3 01 and the CRC-64-AVRO fingerprint of the writer schema."""
    c = codec(AUDIT_EVENT)
    data = c.encode(_event())
    assert data[:2] == MAGIC
    assert data[2:10] == c.fingerprint
    assert c.decode(data)["component"] == "test"


def test_crc64_avro_matches_the_spec_value() -> None:
    """The fingerprint algorithm gives the Avro spec's value for the schema "int" (little-endian)."""

    assert Codec.from_json("int", "int").fingerprint.hex() == "8f5c393f1ad57572"  # type: ignore[arg-type]


def test_foreign_fingerprint_is_refused() -> None:
    """Bytes written with another schema raise CodecError, not a decoding accident."""
    data = codec(AUDIT_EVENT).encode(_event())
    with pytest.raises(CodecError):
        codec(ENVELOPE).decode(data)


def test_invalid_record_raises_validation_error_without_values() -> None:
    """A record missing a required field raises ValidationError whose message carries no values."""
    bad = _event()
    bad["component"] = None
    with pytest.raises(ValidationError) as info:
        codec(AUDIT_EVENT).encode(bad)
    assert "test" not in str(info.value)


@pytest.mark.parametrize("data", [b"", b"\xc3", b"\xc3\x01" + b"\x00" * 8, b"garbage" * 10])
def test_garbage_raises_codec_error(data: bytes) -> None:
    """Truncated or foreign bytes raise CodecError only."""
    with pytest.raises(CodecError):
        codec(AUDIT_EVENT).decode(data)


def test_previous_version_data_is_read_into_the_current_schema() -> None:
    """A record written by a service still on canonical_record v1 decodes with today's codec, defaults filled."""
    from services.kernel.codec import Codec

    current = typed_codec(CANONICAL_RECORD)
    [(_name, v1_json)] = [p for p in previous_versions(CANONICAL_RECORD) if p[0] == "canonical_record.v1.avsc"]
    v1 = Codec.from_json(CANONICAL_RECORD, v1_json)
    assert current.knows(v1.fingerprint) and v1.fingerprint != current.fingerprint
    [record] = get_adapter("json-v1").parse(
        dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"],
        ParseContext("DE", dt.datetime(2025, 1, 15, tzinfo=dt.UTC)),
    )
    old_bytes = v1.encode(dict(record))  # v1's codec takes plain dicts; fastavro ignores the fields v1 lacks
    decoded = current.decode(old_bytes)
    assert decoded["header"]["addressed_to"] == [] and decoded["other_charges"] == []
    assert decoded["person"] == current.decode(current.encode(record))["person"]
    assert json.dumps(v1_json) != json.dumps(current.parsed)  # the versions really differ
    with pytest.raises(CodecError):
        Codec.from_json(CANONICAL_RECORD, v1_json).decode(current.encode(record))  # v1 alone knows no v2
