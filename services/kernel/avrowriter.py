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

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_DAYS_SHIFT = dt.date(1970, 1, 1).toordinal()
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
_LONG_MIN, _LONG_MAX = -(2**63), 2**63 - 1
_TABLE_SIZE = 1 << 14  # zigzag values below this are looked up (lengths, counts, small ints): 1 or 2 bytes


class Unsupported(Exception):
    """The datum is outside what the compiled writer handles: write it with fastavro instead."""


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
    return _SMALL[z] if z < _TABLE_SIZE else _varint(z)


def _timestamp_millis(value: Any) -> int:
    """fastavro's timestamp-millis preparation, for an aware datetime or an int; Unsupported otherwise."""
    if type(value) is int:
        return value
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        delta = value - _EPOCH
        return (delta.days * 86400 + delta.seconds) * 1000 + delta.microseconds // 1000
    raise Unsupported


def _date(value: Any) -> int:
    """fastavro's date preparation, for a date (not a datetime) or an int; Unsupported otherwise."""
    if type(value) is dt.date:
        return value.toordinal() - _DAYS_SHIFT
    if type(value) is int:
        return value
    raise Unsupported


def _uuid(value: Any) -> Any:
    """fastavro's uuid preparation: a UUID as its string form, anything else unchanged."""
    return str(value) if isinstance(value, uuid.UUID) else value


class _Compiler:
    """Builds the source of one writer function per named record type, plus the constants they use."""

    def __init__(self, named: dict[str, Any]) -> None:
        self.named = named
        self.consts: dict[str, Any] = {}
        self.functions: dict[str, str] = {}  # record full name -> function name
        self.sources: list[str] = []
        self._counter = 0

    def fresh(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter}"

    def const(self, value: Any, prefix: str = "K") -> str:
        name = self.fresh(prefix)
        self.consts[name] = value
        return name

    def record(self, schema: dict[str, Any]) -> str:
        """The name of the function writing the record ``schema`` (compiled on first use)."""
        full = schema["name"]
        if full in self.functions:
            return self.functions[full]
        fn = self.functions[full] = self.fresh("w_")
        lines = [f"def {fn}(d, out):", "    if type(d) is not dict or '-type' in d: raise Unsupported"]
        for fld in schema["fields"]:
            key = self.const(fld["name"], "N")
            if "default" in fld:
                lines.append(f"    v = d.get({key}, {self.const(fld['default'], 'D')})")
            else:
                lines.append(f"    v = d[{key}]")  # KeyError: fastavro decides (it may write null)
            lines.extend(self.write("v", fld["type"], 1))
        self.sources.append("\n".join(lines))
        return fn

    def write(self, var: str, schema: Any, depth: int) -> list[str]:
        """Source lines (indented ``depth`` levels) writing the value in ``var`` as ``schema``."""
        pad = "    " * depth
        if isinstance(schema, str):
            if schema in self.named:
                return self.write(var, self.named[schema], depth)
            schema = {"type": schema}
        if isinstance(schema, list):
            if len(schema) != 2 or schema[0] != "null" or schema[1] == "null":
                raise Unsupported(f"union {schema}")
            return [
                f"{pad}if {var} is None: out.append(0)",
                f"{pad}else:",
                f"{pad}    out.append(2)",
                *self.write(var, schema[1], depth + 1),
            ]
        kind, logical = schema["type"], schema.get("logicalType")
        if isinstance(kind, (dict, list)):
            return self.write(var, kind, depth)
        if logical == "timestamp-millis" and kind == "long":
            return [f"{pad}{var} = timestamp_millis({var})", *self._integer(var, "LONG_MIN", "LONG_MAX", pad)]
        if logical == "date" and kind == "int":
            return [f"{pad}{var} = date({var})", *self._integer(var, "INT_MIN", "INT_MAX", pad)]
        if logical == "uuid" and kind == "string":
            return [f"{pad}{var} = uuid({var})", *self._string(var, pad)]
        if logical is not None:
            raise Unsupported(f"logical type {logical}")
        if kind == "null":
            return [f"{pad}if {var} is not None: raise Unsupported"]
        if kind == "boolean":
            return [
                f"{pad}if {var} is True: out.append(1)",
                f"{pad}elif {var} is False: out.append(0)",
                f"{pad}else: raise Unsupported",
            ]
        if kind in ("int", "long"):
            low, high = ("INT_MIN", "INT_MAX") if kind == "int" else ("LONG_MIN", "LONG_MAX")
            return [f"{pad}if type({var}) is not int: raise Unsupported", *self._integer(var, low, high, pad)]
        if kind == "string":
            return [f"{pad}if not isinstance({var}, str): raise Unsupported", *self._string(var, pad)]
        if kind == "bytes":
            return [f"{pad}if type({var}) is not bytes: raise Unsupported", *self._bytes(var, pad)]
        if kind == "enum":
            table = self.const({s: encode_long(i) for i, s in enumerate(schema["symbols"])}, "E")
            return [f"{pad}out += {table}[{var}]"]  # KeyError (or TypeError) for anything not a symbol
        if kind == "array":
            item = self.fresh("x")
            return [
                f"{pad}if type({var}) is not list: raise Unsupported",
                f"{pad}if {var}:",
                f"{pad}    out += long(len({var}))",
                f"{pad}    for {item} in {var}:",
                *self.write(item, schema["items"], depth + 2),
                f"{pad}out.append(0)",
            ]
        if kind in ("record", "error"):
            return [f"{pad}{self.record(schema)}({var}, out)"]
        raise Unsupported(f"type {kind}")

    @staticmethod
    def _integer(var: str, low: str, high: str, pad: str) -> list[str]:
        return [f"{pad}if not {low} <= {var} <= {high}: raise Unsupported", f"{pad}out += long({var})"]

    @staticmethod
    def _string(var: str, pad: str) -> list[str]:
        return [f"{pad}{var} = {var}.encode()", *_Compiler._bytes(var, pad)]

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
    if not isinstance(parsed, dict) or parsed.get("type") != "record":
        return None
    compiler = _Compiler(dict(parsed.get("__named_schemas", {})))
    try:
        root = compiler.record(parsed)
    except Unsupported:
        return None
    namespace: dict[str, Any] = {
        **compiler.consts,
        "SMALL": _SMALL,
        "SMALL_LENGTH": _TABLE_SIZE >> 1,
        "Unsupported": Unsupported,
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
    source = "\n\n".join(
        [*compiler.sources, f"def write(d):\n    out = bytearray(PREFIX)\n    {root}(d, out)\n    return bytes(out)"]
    )
    exec(compile(source, f"<avro writer {parsed['name']}>", "exec"), namespace)  # noqa: S102 - source built above
    writer: Callable[[Any], bytes] = namespace["write"]
    return writer
