"""Schema evolution: every current schema against its committed previous versions, and the checker itself.

The checker (services.kernel.compat) is pinned twice: by hand-made breaking and non-breaking changes, and
against fastavro, which resolves real data; on every case here the two must agree.
"""

from __future__ import annotations

import copy
import io
import re
import uuid
from dataclasses import dataclass
from typing import Any

import fastavro
import pytest
from fastavro.read import SchemaResolutionError

import schemas
from services.kernel.compat import (
    PRIMITIVES,
    Schema,
    SchemaError,
    check_backward,
    check_forward,
    check_full,
    check_read,
)

# -- helpers -----------------------------------------------------------------------------------------------


def _record(name: str, *fields: dict[str, Any], namespace: str = "t") -> dict[str, Any]:
    return {"type": "record", "name": name, "namespace": namespace, "fields": list(fields)}


def _sample(schema: Any, named: dict[str, Any], variant: int) -> Any:
    """A datum for a fastavro-parsed schema: variant 0 takes first union branches and enum symbols, 1 the last."""
    if isinstance(schema, str):
        if schema in named:
            return _sample(named[schema], named, variant)
        schema = {"type": schema}
    if isinstance(schema, list):
        return _sample(schema[0] if variant == 0 else schema[-1], named, variant)
    kind = schema["type"]
    if schema.get("logicalType") == "uuid":
        return str(uuid.UUID(int=variant + 1))
    primitives: dict[str, Any] = {
        "null": None,
        "boolean": variant == 1,
        "int": 19_000 + variant,
        "long": 1_700_000_000_000 + variant,
        "float": 1.5,
        "double": 2.5,
        "bytes": b"\x01\x02",
        "string": f"s{variant}",
    }
    if kind in primitives:
        return primitives[kind]
    if kind == "record":
        return {f["name"]: _sample(f["type"], named, variant) for f in schema["fields"]}
    if kind == "enum":
        return schema["symbols"][0 if variant == 0 else -1]
    if kind == "fixed":
        return bytes(schema["size"])
    if kind == "array":
        return [_sample(schema["items"], named, variant)]
    if kind == "map":
        return {"k": _sample(schema["values"], named, variant)}
    return _sample(kind, named, variant)  # {"type": "SomeName"}


def _parse(schema: Schema) -> tuple[Any, dict[str, Any]]:
    named: dict[str, Any] = {}
    return fastavro.parse_schema(schema, named_schemas=named), named


def _write(writer: Schema, datum: Any) -> bytes:
    buf = io.BytesIO()
    fastavro.schemaless_writer(buf, _parse(writer)[0], datum)
    return buf.getvalue()


def _read(data: bytes, writer: Schema, reader: Schema) -> Any:
    return fastavro.schemaless_reader(io.BytesIO(data), _parse(writer)[0], _parse(reader)[0])


def _fastavro_resolves(reader: Schema, writer: Schema, datum: Any) -> bool:
    try:
        _read(_write(writer, datum), writer, reader)
    except SchemaResolutionError:
        return False
    return True


# -- the committed schemas ---------------------------------------------------------------------------------

VERSIONS = [
    (name, file, old) for name in (*schemas.ALL, *schemas.CONTAINERS) for file, old in schemas.previous_versions(name)
]
VERSION_IDS = [file.removesuffix(".avsc") for _, file, _ in VERSIONS]


@pytest.mark.parametrize("name", (*schemas.ALL, *schemas.CONTAINERS))
def test_every_schema_has_a_committed_previous_version(name: str) -> None:
    """A schema cannot escape the compatibility check: each has at least one ``previous/<name>.v<N>.avsc``."""
    files = [file for file, _ in schemas.previous_versions(name)]
    assert files, f"commit schemas/previous/{name}.v1.avsc"
    assert all(re.fullmatch(rf"{name}\.v[1-9][0-9]*\.avsc", file) for file in files), files


@pytest.mark.parametrize(("name", "file", "old"), VERSIONS, ids=VERSION_IDS)
def test_current_reads_previous_backward(name: str, file: str, old: dict[str, Any]) -> None:
    """The current schema reads every message written with a committed previous version."""
    found = check_backward(schemas.load_json(name), old)
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize(("name", "file", "old"), VERSIONS, ids=VERSION_IDS)
def test_previous_reads_current_forward(name: str, file: str, old: dict[str, Any]) -> None:
    """Every committed previous version reads messages written with the current schema."""
    found = check_forward(schemas.load_json(name), old)
    assert not found, "\n".join(map(str, found))


@pytest.mark.parametrize("variant", [0, 1], ids=["first-branches", "last-branches"])
@pytest.mark.parametrize("direction", ["old-to-new", "new-to-old"])
@pytest.mark.parametrize(("name", "file", "old"), VERSIONS, ids=VERSION_IDS)
def test_fastavro_resolves_committed_versions(
    name: str, file: str, old: dict[str, Any], direction: str, variant: int
) -> None:
    """Real data crosses versions both ways in fastavro and comes out valid for the reader schema."""
    new = schemas.load_json(name)
    writer, reader = (old, new) if direction == "old-to-new" else (new, old)
    parsed, named = _parse(writer)
    decoded = _read(_write(writer, _sample(parsed, named, variant)), writer, reader)
    assert fastavro.validate(decoded, _parse(reader)[0])


# -- breaking changes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Break:
    """A change from ``old`` to ``new`` that must be refused in ``direction``; ``datum`` is written by the writer."""

    old: Schema
    new: Schema
    direction: str  # "backward": new reads old; "forward": old reads new
    datum: Any
    location: str

    @property
    def reader(self) -> Schema:
        return self.new if self.direction == "backward" else self.old

    @property
    def writer(self) -> Schema:
        return self.old if self.direction == "backward" else self.new


def _deep_offence_field() -> Break:
    old = copy.deepcopy(schemas.load_json(schemas.CANONICAL_RECORD))
    new = copy.deepcopy(old)
    conviction = next(f for f in new["fields"] if f["name"] == "convictions")["type"]["items"]
    offence = next(f for f in conviction["fields"] if f["name"] == "offences")["type"]["items"]
    offence["fields"].append({"name": "severity", "type": "int"})
    parsed, named = _parse(old)
    datum = _sample(parsed, named, 1)
    return Break(
        old, new, "backward", datum, "/fields/convictions/type/items/fields/offences/type/items/fields/severity"
    )


_ID = {"name": "id", "type": "string"}
_ENUM3 = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN", "BLUE"]}
_ENUM2 = {"type": "enum", "name": "Colour", "symbols": ["RED", "GREEN"]}

_N = {"name": "n", "type": "int"}


def _one(name: str, schema: Schema) -> dict[str, Any]:
    return _record("R", {"name": name, "type": schema})


BREAKS = {
    "field-added-without-default": Break(
        _record("R", _ID), _record("R", _ID, _N), "backward", {"id": "a"}, "/fields/n"
    ),
    "field-removed-without-default": Break(
        _record("R", _ID, _N), _record("R", _ID), "forward", {"id": "a"}, "/fields/n"
    ),
    "string-to-int": Break(_one("v", "string"), _one("v", "int"), "backward", {"v": "x"}, "/fields/v/type"),
    "long-narrowed-to-int": Break(_one("v", "long"), _one("v", "int"), "backward", {"v": 1}, "/fields/v/type"),
    "enum-symbol-removed": Break(
        _one("c", _ENUM3), _one("c", _ENUM2), "backward", {"c": "BLUE"}, "/fields/c/type/symbols"
    ),
    "record-renamed": Break(_record("R", _ID), _record("Renamed", _ID), "backward", {"id": "a"}, "/name"),
    "union-branch-removed": Break(
        _one("u", ["null", "string", "int"]), _one("u", ["null", "string"]), "backward", {"u": 3}, "/fields/u/type"
    ),
    "fixed-size-changed": Break(
        _one("h", {"type": "fixed", "name": "Hash", "size": 32}),
        _one("h", {"type": "fixed", "name": "Hash", "size": 16}),
        "backward",
        {"h": bytes(32)},
        "/fields/h/type/size",
    ),
    "field-added-deep-in-array-of-records": _deep_offence_field(),
}


@pytest.mark.parametrize("case", BREAKS.values(), ids=BREAKS.keys())
def test_checker_refuses_breaking_change(case: Break) -> None:
    """Each breaking change is reported in its direction, at the path of the offending element in the reader."""
    check = check_backward if case.direction == "backward" else check_forward
    found = check(case.new, case.old)
    assert found == check_read(case.reader, case.writer)
    assert [f.location for f in found] == [case.location], found


@pytest.mark.parametrize("case", BREAKS.values(), ids=BREAKS.keys())
def test_fastavro_agrees_the_change_breaks(case: Break) -> None:
    """fastavro refuses the same data with SchemaResolutionError: the checker's verdict matches real resolution."""
    assert not _fastavro_resolves(case.reader, case.writer, case.datum)


def test_directions_name_reader_and_writer() -> None:
    """Backward is new reading old, forward is old reading new; full reports both, labelled."""
    old, new = _record("R", _ID), _record("R", _ID, {"name": "n", "type": "int"})
    assert [f.location for f in check_backward(new, old)] == ["/fields/n"]
    assert check_forward(new, old) == []
    assert check_backward(old, new) == []
    assert [f.location for f in check_forward(old, new)] == ["/fields/n"]
    assert [f.message.split(":")[0] for f in check_full(new, old)] == ["backward"]


# -- compatible changes ------------------------------------------------------------------------------------


def test_field_added_with_default_is_fully_compatible() -> None:
    """A new field with a default: new reads old (the default fills in), old reads new (the field is skipped)."""
    old = _record("R", _ID)
    new = _record("R", _ID, {"name": "n", "type": ["null", "int"], "default": None})
    assert check_full(new, old) == []
    assert _read(_write(old, {"id": "a"}), old, new) == {"id": "a", "n": None}
    assert _read(_write(new, {"id": "a", "n": 4}), new, old) == {"id": "a"}


def test_int_widened_to_long_is_backward_only() -> None:
    """int -> long: the new reader promotes old ints; an old int reader cannot read new longs."""
    old, new = _record("R", {"name": "v", "type": "int"}), _record("R", {"name": "v", "type": "long"})
    assert check_backward(new, old) == []
    assert [f.location for f in check_forward(new, old)] == ["/fields/v/type"]
    assert _read(_write(old, {"v": 7}), old, new) == {"v": 7}
    assert not _fastavro_resolves(old, new, {"v": 7})


def test_enum_default_symbol_absorbs_unknown_symbols() -> None:
    """A reader enum with a default reads symbols it does not know as the default."""
    old = _record("R", {"name": "c", "type": {**_ENUM2, "default": "RED"}})
    new = _record("R", {"name": "c", "type": {**_ENUM3, "default": "RED"}})
    assert check_full(new, old) == []
    assert _read(_write(new, {"c": "BLUE"}), new, old) == {"c": "RED"}


PAIRS = [(r, w) for r in sorted(PRIMITIVES) for w in sorted(PRIMITIVES)]


@pytest.mark.parametrize(("reader", "writer"), PAIRS, ids=[f"{w}-as-{r}" for r, w in PAIRS])
def test_primitive_resolution_matches_fastavro(reader: str, writer: str) -> None:
    """For every pair of primitives the checker accepts exactly what fastavro resolves (equal or promoted)."""
    parsed, named = _parse(writer)
    verdict = check_read(reader, writer) == []
    assert verdict == _fastavro_resolves(reader, writer, _sample(parsed, named, 0))


def test_logical_types_resolve_as_their_underlying_type() -> None:
    """timestamp-millis reads as long and date promotes to long: the logical type plays no part."""
    millis = {"type": "long", "logicalType": "timestamp-millis"}
    date = {"type": "int", "logicalType": "date"}
    assert check_full("long", millis) == []
    assert check_backward("long", date) == []
    assert [str(f) for f in check_read(date, "long")] == ["/: reader's int cannot read writer's long"]


def test_writer_union_branch_the_reader_cannot_take() -> None:
    """An optional writer field read as required: the null branch is reported; fastavro refuses a null."""
    reader, writer = (
        _record("R", {"name": "v", "type": "string"}),
        _record("R", {"name": "v", "type": ["null", "string"]}),
    )
    found = check_read(reader, writer)
    assert [(f.location, f.message) for f in found] == [
        ("/fields/v/type", "writer union branch 0: reader's string cannot read writer's null")
    ]
    assert not _fastavro_resolves(reader, writer, {"v": None})
    assert check_read(writer, reader) == []


def test_reader_union_resolves_through_its_matching_branch() -> None:
    """A change inside the union's record branch is reported under that branch's index."""
    place = _record("Place", {"name": "town", "type": "string"})
    wider = _record("Place", {"name": "town", "type": "string"}, {"name": "zip", "type": "string"})
    found = check_read(
        _record("R", {"name": "p", "type": ["null", wider]}), _record("R", {"name": "p", "type": ["null", place]})
    )
    assert [f.location for f in found] == ["/fields/p/type/1/fields/zip"]


def test_names_resolve_in_the_enclosing_namespace() -> None:
    """A short reference means the type of that name in the enclosing namespace, not a namesake elsewhere."""

    def schema(b_field: str) -> dict[str, Any]:
        a_id = _record("Id", {"name": "v", "type": "string"}, namespace="a")
        b_id = _record("Id", {"name": "v", "type": b_field}, namespace="b")
        inner = _record("Inner", {"name": "x", "type": b_id}, {"name": "y", "type": "Id"}, namespace="b")
        return _record(
            "Outer",
            {"name": "a", "type": a_id},
            {"name": "inner", "type": inner},
            {"name": "z", "type": "a.Id"},
            namespace="a",
        )

    found = check_read(schema("int"), schema("long"))
    assert sorted(f.location for f in found) == [
        "/fields/inner/type/fields/x/type/fields/v/type",
        "/fields/inner/type/fields/y/type/fields/v/type",
    ]


def test_aliases_match_renamed_records_and_fields() -> None:
    """A reader record alias names the writer's full name; a reader field alias names the writer's field."""
    writer = _record("Old", {"name": "before", "type": "string"})
    reader = {**_record("New", {"name": "after", "type": "string", "aliases": ["before"]}), "aliases": ["t.Old"]}
    assert check_read(reader, writer) == []
    assert _read(_write(writer, {"before": "x"}), writer, reader) == {"after": "x"}


def test_recursive_types_terminate() -> None:
    """A self-referencing record is checked once per pair of types, and a change in it is still found."""

    def linked(value: str) -> dict[str, Any]:
        return _record("Node", {"name": "value", "type": value}, {"name": "next", "type": ["null", "Node"]})

    assert check_full(linked("long"), linked("long")) == []
    assert [f.location for f in check_read(linked("int"), linked("long"))] == ["/fields/value/type"]


@pytest.mark.parametrize(
    "bad",
    [
        _record("R", {"name": "v", "type": "Missing"}),
        _record("R", {"name": "v", "type": _record("R", _ID)}),
        {"type": "record", "name": "R"},
        42,
    ],
    ids=["undefined-name", "defined-twice", "no-fields", "not-a-schema"],
)
def test_invalid_schema_raises(bad: Any) -> None:
    """A schema that is not valid Avro raises SchemaError rather than passing as compatible."""
    with pytest.raises(SchemaError):
        check_read(bad, bad)
