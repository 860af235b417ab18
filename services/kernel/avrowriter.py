"""A schema-specialised Avro binary writer: the same bytes as fastavro's, several times faster.

``fastavro.schemaless_writer`` interprets the schema for every datum: it dispatches on the type of each
field, prepares logical types through a lookup per value and, for every non-null value in a union, first
validates the whole value against each branch before writing it (so a nested record in a ``[null, record]``
union is walked twice). ``compile_writer`` turns one parsed schema into Python source, once, with every
field's name, type, default and logical type resolved: writing a record is then straight-line code.

The compiled writer is strict: it accepts only what fastavro's validation accepts and writes exactly
fastavro's bytes for it (tests/kernel/test_avrowriter.py compares them, on every adapter's samples and
generated records). Anything else (a value of an unexpected Python type, a naive datetime, a missing field
without a default, a tuple union hint) raises ``Unsupported`` or another exception, and the caller falls back
to fastavro, which writes or rejects it as before. Schemas using a type this module does not compile (maps,
fixed, floats, unions other than ``[null, T]``, other logical types) give no writer at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from services.kernel.avrocompile import DAYS_SHIFT, EPOCH, SchemaCompiler, Unsupported

_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_TABLE_SIZE = 1 << 14  # zigzag values below this are looked up (lengths, counts, small ints): 1 or 2 bytes


def _varint(z: int) -> bytes:
    """The Avro variable-length encoding of the (already zigzagged, non-negative) ``z``: 7 bits a byte, low first."""
    out = bytearray()
    while True:
        low, z = z & 0x7F, z >> 7
        if not z:
            out.append(low)
            return bytes(out)
        out.append(low | 0x80)


_SMALL = tuple(_varint(z) for z in range(_TABLE_SIZE))


def encode_long(n: int) -> bytes:
    """The Avro encoding of the long ``n`` (zigzag, then varint)."""
    z = (n << 1) ^ (n >> 63)
    if z < _TABLE_SIZE:
        return _SMALL[z]
    if z < 1 << 21:  # three bytes: dates, most lengths above 8 KiB
        return bytes(((z & 0x7F) | 0x80, ((z >> 7) & 0x7F) | 0x80, z >> 14))
    return _varint(z)


def _timestamp_millis(value: Any) -> int:
    """fastavro's timestamp-millis preparation, for an aware datetime or an int; Unsupported otherwise."""
    if type(value) is int:
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        delta = value - EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    raise Unsupported


def _date(value: Any) -> int:
    """fastavro's date preparation, for a date (not a datetime) or an int; Unsupported otherwise."""
    if type(value) is dt.date:
        return value.toordinal() - DAYS_SHIFT
    if type(value) is int:
        return value
    raise Unsupported


def _uuid(value: Any) -> Any:
    """fastavro's uuid preparation: a UUID as its string form, anything else unchanged."""
    return str(value) if isinstance(value, uuid.UUID) else value


class _Writer(SchemaCompiler):
    """Source lines writing each type to the bytearray ``out``, strict about the Python types it takes."""

    FUNCTION = "w_"
    PARAMETERS = "d, out"

    def function_body(self, schema: dict[str, Any]) -> list[str]:
        return self.emit("d", schema, 1)

    def on_call(self, var: str, function: str, pad: str) -> list[str]:
        return [f"{pad}{function}({var}, out)"]

    def on_record(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        lines = [f"{pad}if type({var}) is not dict or '-type' in {var}: raise Unsupported"]
        for fld in schema["fields"]:
            key, value = self.const(fld["name"], "N"), self.fresh("v")
            if "default" in fld:
                lines.append(f"{pad}{value} = {var}.get({key}, {self.const(fld['default'], 'D')})")
            else:
                lines.append(f"{pad}{value} = {var}[{key}]")  # KeyError: fastavro decides (it may write null)
            lines.extend(self.emit(value, fld["type"], depth))
        return lines

    def on_optional(self, var: str, branch: Any, depth: int, pad: str) -> list[str]:
        return [
            f"{pad}if {var} is None: out.append(0)",
            f"{pad}else:",
            f"{pad}    out.append(2)",
            *self.emit(var, branch, depth + 1),
        ]

    def on_timestamp_millis(self, var: str, pad: str) -> list[str]:
        return [f"{pad}{var} = timestamp_millis({var})", *self._integer(var, "LONG_MIN", "LONG_MAX", pad)]

    def on_date(self, var: str, pad: str) -> list[str]:
        return [f"{pad}{var} = date({var})", *self._integer(var, "INT_MIN", "INT_MAX", pad)]

    def on_uuid(self, var: str, pad: str) -> list[str]:
        return [f"{pad}{var} = uuid({var})", *self._string(var, pad)]

    def on_null(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}if {var} is not None: raise Unsupported"]

    def on_boolean(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [
            f"{pad}if {var} is True: out.append(1)",
            f"{pad}elif {var} is False: out.append(0)",
            f"{pad}else: raise Unsupported",
        ]

    def on_int(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}if type({var}) is not int: raise Unsupported", *self._integer(var, "INT_MIN", "INT_MAX", pad)]

    def on_long(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}if type({var}) is not int: raise Unsupported", *self._integer(var, "LONG_MIN", "LONG_MAX", pad)]

    def on_string(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}if not isinstance({var}, str): raise Unsupported", *self._string(var, pad)]

    def on_bytes(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}if type({var}) is not bytes: raise Unsupported", *self._bytes(var, pad)]

    def on_enum(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        table = self.const({s: encode_long(i) for i, s in enumerate(schema["symbols"])}, "E")
        return [f"{pad}out += {table}[{var}]"]  # KeyError (or TypeError) for anything not a symbol

    def on_array(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        item = self.fresh("x")
        return [
            f"{pad}if type({var}) is not list: raise Unsupported",
            f"{pad}if {var}:",
            f"{pad}    out += long(len({var}))",
            f"{pad}    for {item} in {var}:",
            *self.emit(item, schema["items"], depth + 2),
            f"{pad}out.append(0)",
        ]

    @staticmethod
    def _integer(var: str, low: str, high: str, pad: str) -> list[str]:
        return [f"{pad}if not {low} <= {var} <= {high}: raise Unsupported", f"{pad}out += long({var})"]

    @staticmethod
    def _string(var: str, pad: str) -> list[str]:
        return [f"{pad}{var} = {var}.encode()", *_Writer._bytes(var, pad)]

    @staticmethod
    def _bytes(var: str, pad: str) -> list[str]:
        return [
            f"{pad}n = len({var})",
            f"{pad}out += SMALL[n << 1] if n < SMALL_LENGTH else long(n)",
            f"{pad}out += {var}",
        ]


def compile_writer(parsed: dict[str, Any], prefix: bytes = b"") -> Callable[[Any], bytes] | None:
    """A function writing a datum of the record schema ``parsed`` (as ``fastavro.parse_schema`` returns it)
    as ``prefix`` + its Avro binary encoding, byte for byte what fastavro writes; None when the schema uses a
    type this module does not compile. The function raises (Unsupported, KeyError, AttributeError, ...) for a
    datum it does not handle: write that one with fastavro."""
    namespace = {
        "SMALL": _SMALL,
        "SMALL_LENGTH": _TABLE_SIZE >> 1,
        "long": encode_long,
        "timestamp_millis": _timestamp_millis,
        "date": _date,
        "uuid": _uuid,
        "INT_MIN": _INT_MIN,
        "INT_MAX": _INT_MAX,
        "LONG_MIN": _LONG_MIN,
        "LONG_MAX": _LONG_MAX,
        "PREFIX": prefix,
    }
    source = "def write(d):\n    out = bytearray(PREFIX)\n    {root}(d, out)\n    return bytes(out)"
    writer: Callable[[Any], bytes] | None = _Writer.build(parsed, "write", source, namespace)
    return writer
