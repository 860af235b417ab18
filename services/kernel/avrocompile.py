"""Turning a parsed Avro schema into Python source, once: what ``avrowriter`` and ``avroreader`` share.

A ``SchemaCompiler`` walks a schema as ``fastavro.parse_schema`` returns it (named types defined at first
use, referenced by full name after) and asks its subclass for the source lines of each type; records are
inlined into the root function, but a record met again inside itself (a recursive type) gets a function of
its own. The types compiled are those of the crx schemas: null, boolean, int, long, string, bytes, enum,
array, record, unions ``[null, T]`` and the logical types timestamp-millis, date and uuid. Anything else
raises ``Unsupported`` while compiling: the caller then has no compiled function and uses fastavro.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
DAYS_SHIFT = EPOCH.toordinal()  # Avro dates count days from 1970-01-01
LOGICAL = {("timestamp-millis", "long"), ("date", "int"), ("uuid", "string")}


class Unsupported(Exception):
    """A schema (while compiling) or a datum (while running) the compiled code does not handle: fastavro's job."""


class SchemaCompiler:
    """Source lines per Avro type, from the subclass's ``on_<type>`` methods; records inlined."""

    FUNCTION = "f_"  # prefix of the record functions' names
    PARAMETERS = "d"  # their parameters

    def __init__(self, parsed: dict[str, Any]) -> None:
        self.named: dict[str, Any] = dict(parsed.get("__named_schemas", {}))
        self.consts: dict[str, Any] = {}
        self.sources: list[str] = []
        self._functions: dict[str, str] = {}  # record full name -> function name
        self._inlining: set[str] = set()  # the records being compiled inline
        self._counter = 0

    def fresh(self, prefix: str) -> str:
        """A name not used before in the generated source."""
        self._counter += 1
        return f"{prefix}{self._counter}"

    def const(self, value: Any, prefix: str = "K") -> str:
        """The name under which the generated source sees ``value``."""
        name = self.fresh(prefix)
        self.consts[name] = value
        return name

    def function(self, schema: dict[str, Any]) -> str:
        """The name of the function compiled for the record ``schema`` (the root, or a recursive record)."""
        full = schema["name"]
        if full not in self._functions:
            fn = self._functions[full] = self.fresh(self.FUNCTION)
            body = self.function_body(schema)
            self.sources.append("\n".join([f"def {fn}({self.PARAMETERS}):", *body]))
        return self._functions[full]

    def emit(self, var: str, schema: Any, depth: int) -> list[str]:
        """Source lines (indented ``depth`` levels) for the value in ``var`` of type ``schema``."""
        pad = "    " * depth
        if isinstance(schema, str):
            if schema in self.named:
                return self.emit(var, self.named[schema], depth)
            schema = {"type": schema}
        if isinstance(schema, list):
            if len(schema) != 2 or schema[0] != "null" or schema[1] == "null":
                raise Unsupported(f"union {schema}")
            return self.on_optional(var, schema[1], depth, pad)
        kind, logical = schema["type"], schema.get("logicalType")
        if isinstance(kind, (dict, list)):
            return self.emit(var, kind, depth)
        if logical is not None:
            if (logical, kind) not in LOGICAL:
                raise Unsupported(f"logical type {logical} of {kind}")
            return getattr(self, f"on_{logical.replace('-', '_')}")(var, pad)  # type: ignore[no-any-return]
        if kind in ("record", "error"):
            if schema["name"] in self._inlining:
                return self.on_call(var, self.function(schema), pad)
            self._inlining.add(schema["name"])
            try:
                return self.on_record(var, schema, depth, pad)
            finally:
                self._inlining.discard(schema["name"])
        handler = getattr(self, f"on_{kind}", None)
        if kind not in ("null", "boolean", "int", "long", "string", "bytes", "enum", "array") or handler is None:
            raise Unsupported(f"type {kind}")
        return handler(var, schema, depth, pad)  # type: ignore[no-any-return]

    def function_body(self, schema: dict[str, Any]) -> list[str]:
        """The body of the function of the record ``schema``, its value in ``d``."""
        raise NotImplementedError

    def on_optional(self, var: str, branch: Any, depth: int, pad: str) -> list[str]:
        """A ``[null, branch]`` union."""
        raise NotImplementedError

    def on_call(self, var: str, function: str, pad: str) -> list[str]:
        """A record compiled as a function of its own."""
        raise NotImplementedError

    def on_record(self, var: str, schema: dict[str, Any], depth: int, pad: str) -> list[str]:
        """A record, inline."""
        raise NotImplementedError

    @classmethod
    def build(cls, parsed: Any, entry: str, source: str, namespace: dict[str, Any]) -> Any:
        """The function ``entry`` compiled for the record schema ``parsed``, None when the schema uses a type not
        compiled. ``source`` defines ``entry``, calling the root record's function ``{root}``; the generated
        source runs with ``namespace`` and the constants."""
        if not isinstance(parsed, dict) or parsed.get("type") != "record":
            return None
        compiler = cls(parsed)
        try:
            root = compiler.function(parsed)
        except Unsupported:
            return None
        scope = {**compiler.consts, **namespace, "Unsupported": Unsupported}
        text = "\n\n".join([*compiler.sources, source.format(root=root)])
        exec(compile(text, f"<avro {entry} {parsed['name']}>", "exec"), scope)  # noqa: S102 - from a parsed schema
        return scope[entry]
