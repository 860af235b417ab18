"""The Avro single-object codec."""

from __future__ import annotations

import uuid

import pytest

from schemas import AUDIT_EVENT, ENVELOPE
from services.kernel.codec import MAGIC, codec
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
    from services.kernel.codec import Codec

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
