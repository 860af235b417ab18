"""Avro single-object encoding (magic ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + body).

Any Avro library can tell from the first ten bytes which schema wrote a message. A codec writes with the
current version of its schema and reads data written with the current or any committed previous version
(``schemas/previous/``), resolved into the current one: services can be upgraded one at a time.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
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
    # Fingerprint -> parsed schema of every committed previous version this codec also reads.
    writers: Mapping[bytes, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def for_schema(cls, name: str) -> Codec:
        """Build the codec for ``schemas/<name>.avsc``, reading its committed previous versions too."""
        current = cls.from_json(name, schemas.load_json(name))
        previous = [cls.from_json(name, data) for _file, data in schemas.previous_versions(name)]
        writers = {old.fingerprint: old.parsed for old in previous if old.fingerprint != current.fingerprint}
        return cls(name, current.parsed, current.fingerprint, MappingProxyType(writers))

    def knows(self, fingerprint: bytes) -> bool:
        """True when data written with the schema of ``fingerprint`` decodes with this codec."""
        return fingerprint == self.fingerprint or fingerprint in self.writers

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
        """Decode single-object bytes written with this codec's schema or one of its previous versions.

        Data of a previous version is resolved into this codec's schema; ``reader`` resolves it into
        another (compatible) schema instead. Raises CodecError for a wrong magic, an unknown fingerprint
        or a body that does not decode.
        """
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise CodecError(f"{self.name}: not Avro single-object encoding")
        fingerprint = data[2:HEADER_LEN]
        if fingerprint == self.fingerprint:
            writer, target = self.parsed, reader.parsed if reader else None
        elif fingerprint in self.writers:
            writer, target = self.writers[fingerprint], (reader or self).parsed
        else:
            raise CodecError(f"{self.name}: written with an unknown schema (fingerprint {fingerprint.hex()})")
        try:
            result = fastavro.schemaless_reader(io.BytesIO(data[HEADER_LEN:]), writer, target)
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
