"""tools/avro_typeddict.py on schemas crx does not have (yet): the shapes it maps, and the ones it refuses."""

from __future__ import annotations

import datetime as dt
import decimal
import sys
import types
import uuid
from typing import Any, Literal, get_type_hints

import pytest

from tools.avro_typeddict import SchemaShapeError, render


def _module(monkeypatch: pytest.MonkeyPatch, *schemas: dict[str, Any]) -> types.ModuleType:
    """The generated source for ``schemas``, executed as a module (in sys.modules, so type hints resolve)."""
    by_name = {s["name"]: s for s in schemas}
    source = render(list(by_name), by_name.__getitem__)
    module = types.ModuleType("generated_records")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(source, "<generated>", "exec"), module.__dict__)  # noqa: S102 -- our own generated code
    return module


def test_maps_every_avro_shape(monkeypatch: pytest.MonkeyPatch) -> None:
    """Maps, fixed, enums with a default, wider unions, logical types, unknown logical types and recursive
    records all become the documented Python types, in a module that runs."""
    node = {
        "type": "record",
        "name": "Node",
        "namespace": "t",
        "fields": [
            {"name": "tags", "type": {"type": "map", "values": "long"}},
            {"name": "digest", "type": {"type": "fixed", "name": "Sha", "size": 32}},
            {"name": "digest2", "type": ["null", "t.Sha"]},
            {"name": "colour", "type": {"type": "enum", "name": "Colour", "symbols": ["R", "B"], "default": "R"}},
            {"name": "value", "type": ["null", "string", "int"]},
            {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
            {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
            {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
            {"name": "odd", "type": {"type": "string", "logicalType": "not-a-known-one"}},
            {"name": "next", "type": ["null", "Node"]},
        ],
    }
    module = _module(monkeypatch, node)
    hints = get_type_hints(module.Node)
    assert hints == {
        "tags": dict[str, int],
        "digest": bytes,
        "digest2": bytes | None,
        "colour": Literal["R", "B"],
        "value": str | int | None,
        "amount": decimal.Decimal,
        "at": dt.datetime,
        "id": str | uuid.UUID,
        "odd": str,
        "next": module.Node | None,
    }
    assert module.Node.__required_keys__ == frozenset(hints)
    assert module.ColourSymbol == Literal["R", "B"]


@pytest.mark.parametrize(
    ("schema", "message"),
    [
        ({"type": "record", "name": "A", "fields": [{"name": "b", "type": "B"}]}, "defined before"),
        ({"type": "record", "name": "A", "fields": [{"name": "b", "type": ["null"]}]}, "null alone"),
        ({"type": "enum", "name": "E", "symbols": ["X"]}, "top-level type must be a record"),
        (
            {
                "type": "record",
                "name": "A",
                "fields": [
                    {"name": "x", "type": {"type": "record", "name": "R", "namespace": "one", "fields": []}},
                    {"name": "y", "type": {"type": "record", "name": "R", "namespace": "two", "fields": []}},
                ],
            },
            "would both be R",
        ),
    ],
)
def test_refuses_what_it_cannot_map(schema: dict[str, Any], message: str) -> None:
    """An undefined reference, a null-only union, a non-record schema or two types under one Python name
    raise SchemaShapeError naming the problem."""
    with pytest.raises(SchemaShapeError, match=message):
        render([schema["name"]], {schema["name"]: schema}.__getitem__)
