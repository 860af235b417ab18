"""Avro single-object encoding (magic ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + body).

Any Avro library can tell from the first ten bytes which schema wrote a message.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

import fastavro

import schemas
from services.kernel.errors import CodecError, ValidationError

MAGIC = b"\xc3\x01"
HEADER_LEN = 10


@dataclass(frozen=True)
class Codec:
    """Encoder/decoder for one schema. Thread-safe and immutable after construction."""

    name: str
    parsed: Any
    fingerprint: bytes

    @classmethod
    def for_schema(cls, name: str) -> Codec:
        """Build the codec for ``schemas/<name>.avsc``."""
        return cls.from_json(name, schemas.load_json(name))

    @classmethod
    def from_json(cls, name: str, schema_json: dict[str, Any]) -> Codec:
        """Build a codec from schema JSON (used for previous versions in compatibility checks)."""
        # parse_schema marks the result as parsed, so writers do not re-parse it on every call;
        # the canonical form is computed from an unmarked parse.
        parsed = fastavro.parse_schema(schema_json)
        canonical = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(schema_json, _write_hint=False))
        fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        return cls(name=name, parsed=parsed, fingerprint=fingerprint)

    def encode(self, record: dict[str, Any]) -> bytes:
        """Return the single-object encoding of ``record``.

        Raises ValidationError (naming the field path, never its value) when the record does not fit.
        """
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(self.fingerprint)
        try:
            fastavro.schemaless_writer(buf, self.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValidationError(f"{self.name}: record does not match the schema ({type(exc).__name__})") from None
        return buf.getvalue()

    def decode(self, data: bytes, reader: Codec | None = None) -> dict[str, Any]:
        """Decode single-object bytes written with this codec's schema.

        ``reader`` resolves the data into another (compatible) schema. Raises CodecError for a wrong
        magic, a foreign fingerprint or a body that does not decode.
        """
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise CodecError(f"{self.name}: not Avro single-object encoding")
        if data[2:HEADER_LEN] != self.fingerprint:
            raise CodecError(f"{self.name}: written with another schema (fingerprint {data[2:10].hex()})")
        try:
            result = fastavro.schemaless_reader(
                io.BytesIO(data[HEADER_LEN:]), self.parsed, reader.parsed if reader else None
            )
        except Exception as exc:  # fastavro raises a zoo of types on corrupt bodies
            raise CodecError(f"{self.name}: corrupt body ({type(exc).__name__})") from None
        if not isinstance(result, dict):
            raise CodecError(f"{self.name}: not a record")
        return result


_CACHE: dict[str, Codec] = {}


def codec(name: str) -> Codec:
    """Return the (cached) codec for the current version of ``schemas/<name>.avsc``."""
    found = _CACHE.get(name)
    if found is None:
        found = _CACHE[name] = Codec.for_schema(name)
    return found
