"""A schema-specialised Avro binary reader: the same records as fastavro's, several times faster.

The counterpart of ``avrowriter`` for data written with exactly the reader's schema (no resolution): one
parsed schema becomes Python source, once, reading each field in order with its type and logical type
resolved. The reader is strict: whatever is not the plain encoding of a valid datum (an unknown union branch
or enum index, a negative or multi-block-with-size array count, a varint past 64 bits, a length past the end,
invalid UTF-8, a boolean byte other than 0 or 1) raises, and the caller decodes with fastavro, which returns
or rejects it as before. Like fastavro it ignores bytes after the datum. tests/kernel/test_avroreader.py
compares the two on every adapter's samples and generated records.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from services.kernel.avrocompile import DAYS_SHIFT, EPOCH, SchemaCompiler, Unsupported


def _read_long(b: bytes, p: int) -> tuple[int, int]:
    """The long whose varint starts at ``p``, and the position after it. Raises Unsupported past 64 bits."""
    z = shift = 0
    while True:
        c = b[p]
        p += 1
        z |= (c & 0x7F) << shift
        if c < 0x80:
            break
        shift += 7
        if shift > 63:
            raise Unsupported
    if z >> 64:
        raise Unsupported
    return (z >> 1) ^ -(z & 1), p


_LONG = """c = b[p]
if c < 0x80:
    p += 1
    {var} = (c >> 1) ^ -(c & 1)
else:
    {var}, p = read_long(b, p)"""


class _Reader(SchemaCompiler):
    """Source lines reading each type from the bytes ``b`` at position ``p`` (``size`` long)."""

    FUNCTION = "r_"
    PARAMETERS = "b, p"

    def function_body(self, schema: dict[str, Any]) -> list[str]:
        return ["    size = len(b)", *self.emit("d", schema, 1), "    return d, p"]

    def on_call(self, var: str, function: str, pad: str) -> list[str]:
        return [f"{pad}{var}, p = {function}(b, p)"]

    def on_record(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        lines, values = [], []
        for fld in schema["fields"]:
            value = self.fresh("f")
            lines.extend(self.emit(value, fld["type"], depth))
            values.append(f"{self.const(fld['name'], 'N')}: {value}")
        return [*lines, f"{pad}{var} = {{{', '.join(values)}}}"]

    def on_optional(self, var: str, branch: Any, depth: int, pad: str) -> list[str]:
        index = self.fresh("u")
        return [
            *self._long(index, pad),
            f"{pad}if {index} == 0: {var} = None",
            f"{pad}elif {index} != 1: raise Unsupported",
            f"{pad}else:",
            *self.emit(var, branch, depth + 1),
        ]

    def on_timestamp_millis(self, var: str, pad: str) -> list[str]:
        return [*self._long(var, pad), f"{pad}{var} = EPOCH + timedelta(microseconds={var} * 1000)"]

    def on_date(self, var: str, pad: str) -> list[str]:
        return [*self._long(var, pad), f"{pad}{var} = fromordinal({var} + DAYS_SHIFT)"]

    def on_uuid(self, var: str, pad: str) -> list[str]:
        return [*self._bytes(var, pad), f"{pad}{var} = UUID({var}.decode())"]

    def on_null(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}{var} = None"]

    def on_boolean(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [f"{pad}c = b[p]", f"{pad}p += 1", f"{pad}if c > 1: raise Unsupported", f"{pad}{var} = c == 1"]

    def on_int(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return self._long(var, pad)

    on_long = on_int

    def on_string(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return [*self._bytes(var, pad), f"{pad}{var} = {var}.decode()"]

    def on_bytes(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        return self._bytes(var, pad)

    def on_enum(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        symbols = self.const(tuple(schema["symbols"]), "S")
        return [*self._long(var, pad), f"{pad}if {var} < 0: raise Unsupported", f"{pad}{var} = {symbols}[{var}]"]

    def on_array(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        count, item = self.fresh("n"), self.fresh("x")
        return [
            f"{pad}{var} = []",
            *self._long(count, pad),
            f"{pad}while {count}:",
            f"{pad}    if {count} < 0: raise Unsupported",  # a block with its byte size: fastavro's
            f"{pad}    for _ in range({count}):",
            *self.emit(item, schema["items"], depth + 2),
            f"{pad}        {var}.append({item})",
            *self._long(count, pad + "    "),
        ]

    @staticmethod
    def _long(var: str, pad: str) -> list[str]:
        """A long at ``p`` into ``var``: one byte inline, longer varints by ``read_long``."""
        return [pad + line for line in _LONG.format(var=var).splitlines()]

    @staticmethod
    def _bytes(var: str, pad: str) -> list[str]:
        check = f"{pad}if n < 0 or e > size: raise Unsupported"
        return [*_Reader._long("n", pad), f"{pad}e = p + n", check, f"{pad}{var}, p = b[p:e], e"]


def compile_reader(parsed: dict[str, Any], offset: int = 0) -> Callable[[bytes], dict[str, Any]] | None:
    """A function reading the datum that starts at ``offset`` of its argument, written with the record schema
    ``parsed`` (as ``fastavro.parse_schema`` returns it), into the dict fastavro's ``schemaless_reader`` returns
    for it; None when the schema uses a type this module does not compile. The function raises (Unsupported,
    IndexError, UnicodeDecodeError, ...) for bytes it does not handle: decode those with fastavro."""
    namespace = {
        "read_long": _read_long,
        "EPOCH": EPOCH,
        "timedelta": dt.timedelta,
        "fromordinal": dt.date.fromordinal,
        "DAYS_SHIFT": DAYS_SHIFT,
        "UUID": uuid.UUID,
        "OFFSET": offset,
    }
    source = "def read(b):\n    return {root}(b, OFFSET)[0]"
    reader: Callable[[bytes], dict[str, Any]] | None = _Reader.build(parsed, "read", source, namespace)
    return reader
