"""Avro single-object encoding (magic ``C3 01`` + 8-byte little-endian CRC-64-AVRO fingerprint + body).

Any Avro library can tell from the first ten bytes which schema wrote a message. A codec writes with the
current version of its schema and reads data written with the current or any committed previous version
(``schemas/previous/``), resolved into the current one: services can be upgraded one at a time.

``Codec[R]`` is generic in the Python type ``R`` of the records it encodes and decodes. ``typed_codec(name)``
gives the codec of a known schema typed with its TypedDict from ``schemas.records`` (``CriminalRecord``,
``Envelope``, ``AuditEvent``, ``Receipt``, ``DeadLetter``); ``codec(name)`` gives the same codec typed with
``dict[str, Any]``, for callers not yet written against the TypedDicts. Both return one cached instance.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Generic, Literal, TypeVar, overload

import fastavro

import schemas
from schemas.records import AuditEvent, CaseNotice, CriminalRecord, DeadLetter, Envelope, Receipt
from services.kernel.avroreader import compile_reader
from services.kernel.avrowriter import compile_writer
from services.kernel.errors import CodecError, ValidationError

MAGIC = b"\xc3\x01"
HEADER_LEN = 10

R = TypeVar("R")  # the Python type of the records a codec encodes and decodes
S = TypeVar("S")


@dataclass(frozen=True)
class Codec(Generic[R]):
    """Encoder/decoder for one schema. Thread-safe and immutable after construction.

    ``R`` is a static promise only: ``encode`` checks a record against the schema, not against ``R``.
    """

    name: str
    parsed: Any
    fingerprint: bytes
    # Fingerprint -> parsed schema of every committed previous version this codec also reads.
    writers: Mapping[bytes, Any] = field(default_factory=lambda: MappingProxyType({}))
    # [(writer, reader)] compiled for this schema (avrowriter, avroreader; None: not compiled), on first use.
    _compiled: list[tuple[Callable[[Any], bytes] | None, Callable[[bytes], Any] | None]] = field(
        default_factory=list, init=False, compare=False, repr=False
    )

    @classmethod
    def for_schema(cls, name: str) -> Codec[dict[str, Any]]:
        """Build the codec for ``schemas/<name>.avsc``, reading its committed previous versions too.

        Raises FileNotFoundError for an unknown name; fastavro's SchemaParseException for an invalid schema.
        """
        current = cls.from_json(name, schemas.load_json(name))
        previous = [cls.from_json(name, data) for _file, data in schemas.previous_versions(name)]
        writers = {old.fingerprint: old.parsed for old in previous if old.fingerprint != current.fingerprint}
        return Codec(name, current.parsed, current.fingerprint, MappingProxyType(writers))

    def knows(self, fingerprint: bytes) -> bool:
        """True when data written with the schema of ``fingerprint`` decodes with this codec."""
        return fingerprint == self.fingerprint or fingerprint in self.writers

    @classmethod
    def from_json(cls, name: str, schema_json: dict[str, Any]) -> Codec[dict[str, Any]]:
        """Build a codec from schema JSON (used for previous versions in compatibility checks).

        The codec reads only data written with exactly this schema. Raises fastavro's SchemaParseException
        for an invalid schema.
        """
        # parse_schema marks the result as parsed, so writers do not re-parse it on every call;
        # the canonical form is computed from an unmarked parse.
        parsed = fastavro.parse_schema(schema_json)
        canonical = fastavro.schema.to_parsing_canonical_form(fastavro.parse_schema(schema_json, _write_hint=False))
        fingerprint = bytes.fromhex(fastavro.schema.fingerprint(canonical, "CRC-64-AVRO"))
        return Codec(name=name, parsed=parsed, fingerprint=fingerprint)

    def encode(self, record: R) -> bytes:
        """Return the single-object encoding of ``record``, written with this codec's (current) schema.

        A field missing from ``record`` is written with its schema default; keys the schema does not have are
        ignored. Raises ValidationError (naming the schema and the error type, never a value) when the record
        does not fit.

        The bytes are fastavro's: the compiled writer of ``avrowriter`` writes what it handles (every record
        of the crx schemas as the services build them), fastavro the rest and every record that does not fit.
        """
        fast = self._specialised()[0]
        if fast is not None:
            try:
                return fast(record)
            except Exception:  # noqa: S110 - outside what the compiled writer handles: fastavro writes or rejects it
                pass
        buf = io.BytesIO()
        buf.write(MAGIC)
        buf.write(self.fingerprint)
        try:
            fastavro.schemaless_writer(buf, self.parsed, record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise ValidationError(f"{self.name}: record does not match the schema ({type(exc).__name__})") from None
        return buf.getvalue()

    def _specialised(self) -> tuple[Callable[[Any], bytes] | None, Callable[[bytes], Any] | None]:
        """This schema's compiled writer and reader (None for a schema they do not handle), compiled once."""
        if not self._compiled:  # a cache: every thread that compiles it compiles the same
            self._compiled.append(
                (compile_writer(self.parsed, MAGIC + self.fingerprint), compile_reader(self.parsed, HEADER_LEN))
            )
        return self._compiled[0]

    @overload
    def decode(self, data: bytes, reader: None = None) -> R: ...
    @overload
    def decode(self, data: bytes, reader: Codec[S]) -> S: ...
    def decode(self, data: bytes, reader: Codec[Any] | None = None) -> Any:
        """Decode single-object bytes written with this codec's schema or one of its previous versions.

        Data of a previous version is resolved into this codec's schema; ``reader`` resolves it into
        another (compatible) schema instead. The result holds every field of the schema it is resolved into
        (defaults filled), with logical types as fastavro reads them (datetime, date, uuid.UUID). Raises
        CodecError for a wrong magic, an unknown fingerprint or a body that does not decode.

        The result is fastavro's: the compiled reader of ``avroreader`` reads data of this codec's own schema
        into its own schema, fastavro the rest (and whatever the compiled reader does not take).
        """
        if len(data) < HEADER_LEN or data[:2] != MAGIC:
            raise CodecError(f"{self.name}: not Avro single-object encoding")
        fingerprint = data[2:HEADER_LEN]
        fast = self._specialised()[1] if fingerprint == self.fingerprint and reader is None else None
        if fast is not None:
            try:
                return fast(data)
            except Exception:  # noqa: S110 - outside what the compiled reader handles: fastavro reads or rejects it
                pass
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


_CACHE: dict[str, Codec[dict[str, Any]]] = {}


def codec(name: str) -> Codec[dict[str, Any]]:
    """Return the (cached) codec for the current version of ``schemas/<name>.avsc``, records as plain dicts.

    Prefer ``typed_codec`` for the schemas in ``schemas.ALL``. Raises FileNotFoundError for an unknown name.
    """
    found = _CACHE.get(name)
    if found is None:
        found = _CACHE[name] = Codec.for_schema(name)
    return found


@overload
def typed_codec(name: Literal["canonical_record"]) -> Codec[CriminalRecord]: ...
@overload
def typed_codec(name: Literal["envelope"]) -> Codec[Envelope]: ...
@overload
def typed_codec(name: Literal["audit_event"]) -> Codec[AuditEvent]: ...
@overload
def typed_codec(name: Literal["receipt"]) -> Codec[Receipt]: ...
@overload
def typed_codec(name: Literal["dead_letter"]) -> Codec[DeadLetter]: ...
@overload
def typed_codec(name: Literal["case_notice"]) -> Codec[CaseNotice]: ...
def typed_codec(name: str) -> Codec[Any]:
    """Return the cached codec of ``name`` (one of ``schemas.ALL``), typed with that schema's TypedDict.

    The same object as ``codec(name)``; only its static type differs. Pass the constants of ``schemas``
    (``typed_codec(schemas.CANONICAL_RECORD)``). Raises ValueError for a name outside ``schemas.ALL``.
    """
    if name not in schemas.ALL:
        raise ValueError(f"no record type for schema {name!r}; typed codecs exist for {', '.join(schemas.ALL)}")
    return codec(name)
