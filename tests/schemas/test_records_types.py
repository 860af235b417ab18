"""schemas/records.py against the .avsc files: a schema changed without its types fails here.

The structural check walks every schema recursively and compares it with the TypedDicts by itself (it does
not use the generator), so a bug in tools/avro_typeddict.py is caught too; a second test checks that the
committed module is exactly what the generator writes today.
"""

from __future__ import annotations

import datetime as dt
import types
import typing
import uuid
from typing import Any, Literal, get_args, get_origin, get_type_hints, is_typeddict

import pytest

import schemas
from schemas import records
from services.kernel.audit_events import AuditEventType
from services.kernel.codec import Codec, codec, typed_codec
from tools import avro_typeddict

PRIMITIVES: dict[str, object] = {
    "boolean": bool,
    "int": int,
    "long": int,
    "float": float,
    "double": float,
    "bytes": bytes,
    "string": str,
}
LOGICAL: dict[tuple[str, str], object] = {
    ("long", "timestamp-millis"): dt.datetime,
    ("int", "date"): dt.date,
    ("string", "uuid"): str | uuid.UUID,  # producers write str, fastavro decodes to uuid.UUID
}
# "Record.field" keys that are NotRequired. None: decoding fills every field, every producer writes them all.
NOT_REQUIRED: frozenset[str] = frozenset()


def _union_args(py: object) -> set[object]:
    assert get_origin(py) in (typing.Union, types.UnionType), f"{py} is not a union"
    return set(get_args(py))


def _check(avro: Any, py: object, path: str, named: dict[str, Any], seen: set[str]) -> None:
    """Assert that the Python type ``py`` is exactly what schemas/records.py promises for ``avro``."""
    if isinstance(avro, str) and avro not in PRIMITIVES and avro != "null":
        avro = named[avro.rsplit(".", 1)[-1]]  # a reference to a named type defined earlier
    if isinstance(avro, list):
        nullable = "null" in avro
        branches = [b for b in avro if b != "null"]
        args = _union_args(py) if nullable or len(branches) > 1 else {py}
        assert (type(None) in args) == nullable, f"{path}: nullability differs from the schema"
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == len(branches) == 1, f"{path}: only [null, T] unions are checked here"
        _check(branches[0], rest[0], path, named, seen)
        return
    if isinstance(avro, str):
        assert py == PRIMITIVES[avro], f"{path}: {py} for Avro {avro}"
        return
    kind = avro["type"]
    if (kind, avro.get("logicalType")) in LOGICAL:
        assert py == LOGICAL[(kind, avro["logicalType"])], f"{path}: {py} for logical type {avro['logicalType']}"
    elif kind == "enum":
        named[avro["name"]] = avro
        assert get_origin(py) is Literal, f"{path}: enum {avro['name']} is not a Literal"
        assert list(get_args(py)) == avro["symbols"], f"{path}: symbols differ from enum {avro['name']}"
    elif kind == "array":
        assert get_origin(py) is list, f"{path}: {py} for an array"
        _check(avro["items"], get_args(py)[0], f"{path}[]", named, seen)
    elif kind == "record":
        named[avro["name"]] = avro
        _check_record(avro, py, named, seen)
    else:
        _check(kind, py, path, named, seen)


def _check_record(avro: dict[str, Any], py: object, named: dict[str, Any], seen: set[str]) -> None:
    name = avro["name"]
    assert is_typeddict(py) and isinstance(py, type), f"{name}: {py} is not a TypedDict"
    assert py.__name__ == name, f"{name}: the TypedDict is called {py.__name__}"
    if name in seen:
        return
    seen.add(name)
    fields = [f["name"] for f in avro["fields"]]
    hints = get_type_hints(py)
    assert list(hints) == fields, f"{name}: keys {list(hints)} != schema fields {fields}"
    optional = {f"{name}.{key}" for key in py.__optional_keys__}  # type: ignore[attr-defined]
    assert optional == {key for key in NOT_REQUIRED if key.startswith(f"{name}.")}, f"{name}: NotRequired keys"
    for f in avro["fields"]:
        if f"{name}.{f['name']}" in NOT_REQUIRED:
            assert "default" in f, f"{name}.{f['name']}: NotRequired without a schema default"
        _check(f["type"], hints[f["name"]], f"{name}.{f['name']}", named, seen)


@pytest.mark.parametrize("name", schemas.ALL)
def test_every_typeddict_matches_its_schema(name: str) -> None:
    """Every record of the schema, recursively, is a TypedDict of its name with exactly its fields, each
    required, typed as the schema says (null unions optional, enums Literal of the symbols in order)."""
    schema = schemas.load_json(name)
    _check(schema, getattr(records, schema["name"]), name, {}, set())


def test_no_typeddict_without_a_schema_record() -> None:
    """records.py defines no TypedDict that the schemas do not have (a record removed takes its type along)."""
    defined = {n for n, v in vars(records).items() if is_typeddict(v)}
    in_schemas: set[str] = set()

    def collect(avro: Any) -> None:
        if isinstance(avro, list):
            for branch in avro:
                collect(branch)
        elif isinstance(avro, dict):
            if avro.get("type") == "record":
                in_schemas.add(avro["name"])
                for f in avro["fields"]:
                    collect(f["type"])
            elif avro.get("type") == "array":
                collect(avro["items"])

    for name in schemas.ALL:
        collect(schemas.load_json(name))
    assert defined == in_schemas


def test_committed_module_is_what_the_generator_writes() -> None:
    """schemas/records.py is the generator's output for today's schemas (run python -m tools.avro_typeddict)."""
    assert avro_typeddict.TARGET.read_text(encoding="utf-8") == avro_typeddict.render()
    assert avro_typeddict.main(["--check"]) == 0


def test_decoding_yields_every_field() -> None:
    """Why every key is required: a record written without its defaulted fields decodes with all of them."""
    event = {"event_id": str(uuid.uuid4()), "event_type": "ERASURE", "occurred_at": dt.datetime.now(dt.UTC)}
    event |= {"component": "test", "actor": "crx", "outcome": "ok"}
    decoded = codec(schemas.AUDIT_EVENT).decode(codec(schemas.AUDIT_EVENT).encode(event))
    assert set(decoded) == set(get_type_hints(records.AuditEvent))
    assert isinstance(decoded["event_id"], uuid.UUID)  # hence str | uuid.UUID


def test_typed_codec_gives_each_schema_its_typeddict() -> None:
    """typed_codec has one overload per schema in schemas.ALL, returning Codec[<its top-level TypedDict>], and
    returns the same cached object as codec(); a name outside schemas.ALL is a ValueError."""
    overloads: dict[str, object] = {}
    for overload in typing.get_overloads(typed_codec):
        hints = get_type_hints(overload)
        [name] = get_args(hints["name"])
        assert get_origin(hints["return"]) is Codec
        overloads[name] = get_args(hints["return"])[0]
    assert overloads == {name: getattr(records, schemas.load_json(name)["name"]) for name in schemas.ALL}
    for name in schemas.ALL:
        assert typed_codec(name) is codec(name)  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="canonical_record"):
        typed_codec("int")  # type: ignore[call-overload]


def test_audit_event_type_has_exactly_the_schema_symbols() -> None:
    """AuditEventType's members are the audit_event schema's event type symbols, in order, each its own value."""
    [field] = [f for f in schemas.load_json(schemas.AUDIT_EVENT)["fields"] if f["name"] == "event_type"]
    assert [member.value for member in AuditEventType] == field["type"]["symbols"]
    assert [member.name for member in AuditEventType] == field["type"]["symbols"]
    assert list(get_args(records.AuditEventTypeSymbol)) == field["type"]["symbols"]
