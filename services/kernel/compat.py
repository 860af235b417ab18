"""Avro schema compatibility: can data written with one schema be read with another?

Implements the resolution rules of the Avro specification (1.11, "Schema Resolution") in the manner of
Apache Avro Java's ``SchemaCompatibility``, on plain schema JSON:

- primitives match when equal or by promotion (int -> long, float, double; long -> float, double;
  float -> double; string <-> bytes); logical types are ignored, only the underlying type counts;
- records, enums and fixed match when their unqualified names are equal (as the specification, Java and
  fastavro have it) or the reader lists the writer's full name among its aliases; fixed sizes must be equal;
- a reader field absent from the writer (by name or one of the reader field's aliases) needs a default;
  writer fields the reader lacks are skipped;
- a writer enum symbol the reader lacks needs an enum-level ``default`` in the reader;
- arrays and maps by their items and values;
- a writer union: every branch must resolve against the reader; a reader union (writer not a union): the
  first branch that matches the writer is resolved against it, as the specification says;
- named types referenced by name are resolved in the namespace of the enclosing definition, falling back to
  the null namespace (as Java does); recursive types are followed once per (reader, writer) pair.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from services.kernel.errors import CrxError

Schema = str | list[Any] | dict[str, Any]

PRIMITIVES = frozenset({"null", "boolean", "int", "long", "float", "double", "bytes", "string"})
# reader type -> the writer types it also reads
PROMOTIONS: dict[str, frozenset[str]] = {
    "long": frozenset({"int"}),
    "float": frozenset({"int", "long"}),
    "double": frozenset({"int", "long", "float"}),
    "bytes": frozenset({"string"}),
    "string": frozenset({"bytes"}),
}


class SchemaError(CrxError, dead_letter=False, reason_code="SCHEMA"):
    """The schema JSON is not an Avro schema: unknown type, undefined or duplicate name, missing attribute."""


@dataclass(frozen=True)
class Incompatibility:
    """One reason a reader cannot read a writer's data.

    ``location`` is a JSON-pointer-like path into the reader schema, with record fields named rather than
    numbered (``/fields/convictions/type/items/fields/court``) and union branches numbered; ``""`` is the root.
    """

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location or '/'}: {self.message}"


@dataclass(eq=False)
class _Field:
    name: str
    aliases: frozenset[str]
    type: _Node
    has_default: bool


@dataclass(eq=False)
class _Node:
    """A schema with names resolved; named types are shared objects, so recursion makes a cycle."""

    type: str  # a primitive, "record", "enum", "fixed", "array", "map" or "union"
    name: str = ""  # full name of a named type
    aliases: frozenset[str] = frozenset()  # full names
    fields: list[_Field] = field(default_factory=list)
    symbols: tuple[str, ...] = ()
    enum_default: str | None = None
    size: int = 0
    children: list[_Node] = field(default_factory=list)  # items, values or union branches

    def describe(self) -> str:
        return f"{self.type} {self.name}" if self.name else self.type


def _full_name(name: str, namespace: str | None, enclosing: str) -> tuple[str, str]:
    """Return (full name, its namespace) per the specification's name rules."""
    if "." in name:
        return name, name.rsplit(".", 1)[0]
    space = enclosing if namespace is None else namespace
    return (f"{space}.{name}" if space else name), space


class _Parser:
    def __init__(self) -> None:
        self.names: dict[str, _Node] = {}

    def parse(self, schema: object, space: str) -> _Node:
        if isinstance(schema, str):
            return _Node(schema) if schema in PRIMITIVES else self._lookup(schema, space)
        if isinstance(schema, list):
            return _Node("union", children=[self.parse(branch, space) for branch in schema])
        if not isinstance(schema, dict):
            raise SchemaError(f"not a schema: {type(schema).__name__}")
        kind = schema.get("type")
        if kind in ("record", "enum", "fixed"):
            return self._named(schema, space)
        if kind == "array":
            return _Node("array", children=[self.parse(_require(schema, "items"), space)])
        if kind == "map":
            return _Node("map", children=[self.parse(_require(schema, "values"), space)])
        if isinstance(kind, str):  # a primitive with attributes (logicalType) or {"type": "SomeName"}
            return self.parse(kind, space)
        raise SchemaError(f"invalid type attribute: {kind!r}")

    def _lookup(self, name: str, space: str) -> _Node:
        candidates = [name] if "." in name else [_full_name(name, None, space)[0], name]
        for candidate in candidates:
            if candidate in self.names:
                return self.names[candidate]
        raise SchemaError(f"undefined name {name!r} in namespace {space!r}")

    def _named(self, schema: dict[str, Any], space: str) -> _Node:
        full, own_space = _full_name(str(_require(schema, "name")), schema.get("namespace"), space)
        if full in self.names:
            raise SchemaError(f"{full} is defined twice")
        aliases = frozenset(_full_name(a, None, own_space)[0] for a in schema.get("aliases", []))
        node = self.names[full] = _Node(schema["type"], name=full, aliases=aliases)
        if node.type == "record":
            for f in _require(schema, "fields"):
                node.fields.append(
                    _Field(
                        name=str(_require(f, "name")),
                        aliases=frozenset(f.get("aliases", [])),
                        type=self.parse(_require(f, "type"), own_space),
                        has_default="default" in f,
                    )
                )
        elif node.type == "enum":
            node.symbols = tuple(_require(schema, "symbols"))
            node.enum_default = schema.get("default")
        else:
            node.size = int(_require(schema, "size"))
        return node


def _require(schema: object, key: str) -> Any:
    if not isinstance(schema, dict):
        raise SchemaError(f"expected a JSON object holding {key!r}, got {type(schema).__name__}")
    if key not in schema:
        raise SchemaError(f"{schema.get('name', schema.get('type'))!r} lacks {key!r}")
    return schema[key]


def _names_match(reader: _Node, writer: _Node) -> bool:
    return reader.name.rsplit(".", 1)[-1] == writer.name.rsplit(".", 1)[-1] or writer.name in reader.aliases


def _matches(reader: _Node, writer: _Node) -> bool:
    """The specification's shallow match, used to pick the reader union branch."""
    if reader.type in ("record", "enum", "fixed"):
        return reader.type == writer.type and _names_match(reader, writer)
    return reader.type == writer.type or writer.type in PROMOTIONS.get(reader.type, frozenset())


class _Checker:
    def __init__(self) -> None:
        self._in_progress: set[tuple[int, int]] = set()

    def check(self, r: _Node, w: _Node, at: str) -> list[Incompatibility]:
        if w.type == "union":
            return [
                dataclasses.replace(found, message=f"writer union branch {i}: {found.message}")
                for i, branch in enumerate(w.children)
                for found in self.check(r, branch, at)
            ]
        if r.type == "union":
            for j, branch in enumerate(r.children):
                if _matches(branch, w):
                    return self.check(branch, w, f"{at}/{j}")
            return [Incompatibility(at, f"writer's {w.describe()} matches no branch of the reader's union")]
        if r.type != w.type:
            if w.type in PROMOTIONS.get(r.type, frozenset()):
                return []
            return [Incompatibility(at, f"reader's {r.describe()} cannot read writer's {w.describe()}")]
        if r.type in ("array", "map"):
            return self.check(r.children[0], w.children[0], f"{at}/{'items' if r.type == 'array' else 'values'}")
        if r.type in PRIMITIVES:
            return []
        if not _names_match(r, w):
            return [Incompatibility(f"{at}/name", f"reader's {r.describe()} does not match writer's {w.describe()}")]
        if r.type == "fixed" and r.size != w.size:
            return [Incompatibility(f"{at}/size", f"{r.name}: reader size {r.size}, writer size {w.size}")]
        if r.type == "enum":
            missing = [s for s in w.symbols if s not in r.symbols]
            if missing and r.enum_default is None:
                return [Incompatibility(f"{at}/symbols", f"{r.name} lacks writer symbols {missing} and has no default")]
            return []
        if r.type == "record":
            return self._record(r, w, at)
        return []

    def _record(self, r: _Node, w: _Node, at: str) -> list[Incompatibility]:
        pair = (id(r), id(w))
        if pair in self._in_progress:  # recursion: this pair is already being checked further up
            return []
        self._in_progress.add(pair)
        try:
            written = {f.name: f for f in w.fields}
            found: list[Incompatibility] = []
            for rf in r.fields:
                wf = written.get(rf.name) or next((written[a] for a in sorted(rf.aliases) if a in written), None)
                where = f"{at}/fields/{rf.name}"
                if wf is not None:
                    found += self.check(rf.type, wf.type, f"{where}/type")
                elif not rf.has_default:
                    found.append(Incompatibility(where, f"{r.name}.{rf.name} is not written and has no default"))
            return found
        finally:
            self._in_progress.discard(pair)


def check_read(reader: Schema, writer: Schema) -> list[Incompatibility]:
    """Return every reason data written with ``writer`` cannot be read with ``reader``; empty means it can.

    Both schemas are plain Avro schema JSON (as loaded from ``.avsc``). Raises SchemaError for the faults met
    while resolving them (unknown type, undefined or duplicate name, missing attribute); it validates nothing
    else (name syntax, default values), which ``fastavro.parse_schema`` does.
    """
    return _Checker().check(_Parser().parse(reader, ""), _Parser().parse(writer, ""), "")


def check_backward(new: Schema, old: Schema) -> list[Incompatibility]:
    """Return why ``new`` cannot read data written with ``old`` (empty: backward compatible)."""
    return check_read(new, old)


def check_forward(new: Schema, old: Schema) -> list[Incompatibility]:
    """Return why ``old`` cannot read data written with ``new`` (empty: forward compatible)."""
    return check_read(old, new)


def check_full(new: Schema, old: Schema) -> list[Incompatibility]:
    """Return the backward then the forward incompatibilities, each message prefixed with its direction."""
    return [
        dataclasses.replace(found, message=f"{direction}: {found.message}")
        for direction, found_list in (("backward", check_backward(new, old)), ("forward", check_forward(new, old)))
        for found in found_list
    ]
