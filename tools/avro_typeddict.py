"""``python -m tools.avro_typeddict``: write ``schemas/records.py``, a TypedDict per Avro record of schemas/*.avsc.

python -m tools.avro_typeddict            # (re)write schemas/records.py from the current schemas
python -m tools.avro_typeddict --check    # exit 1 when schemas/records.py is not what the schemas give

How Avro maps to Python (what ``Codec.decode`` returns, and what crx code builds):

- a record is a ``TypedDict`` of the same (unqualified) name; every field is a required key, defaults or
  not: decoding always yields every field (schema resolution fills the defaults) and every crx producer
  builds complete records, so one type serves both sides and a producer cannot forget a field;
- ``["null", T]`` (either order) is ``T | None``; any other union is ``A | B``;
- an enum is ``Literal`` of its symbols, named ``<Enum>Symbol``. Also for an enum with an enum-level default
  (kept open for growth): the default only matters when a reader meets a symbol it does not know, and then
  decoding yields the default, so a decoded value is always one of the reader's symbols; a symbol added
  later arrives with a regenerated ``Literal``, and mypy then shows the code that must handle it;
- arrays are ``list[T]``, maps ``dict[str, T]``, bytes and fixed are ``bytes``;
- logical types as fastavro reads them: timestamp-* ``dt.datetime``, date ``dt.date``, time-* ``dt.time``,
  decimal ``decimal.Decimal``, and uuid ``str | uuid.UUID`` (producers write strings, decoding returns
  ``uuid.UUID``: call ``str()``); an unknown logical type is its underlying type, as the specification says.

Raises ``SchemaShapeError`` for what it cannot map (a named type referenced before its definition, two
different definitions under one Python name, an unknown type).
"""

from __future__ import annotations

import argparse
import sys
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import schemas

TARGET = Path(__file__).resolve().parent.parent / "schemas" / "records.py"
LINE_LENGTH = 120  # pyproject's ruff line-length: the output passes ruff format --check unchanged

_PRIMITIVES = {
    "boolean": "bool",
    "int": "int",
    "long": "int",
    "float": "float",
    "double": "float",
    "bytes": "bytes",
    "string": "str",
}
# (underlying type, logicalType) -> Python type and the module it needs.
_LOGICAL = {
    ("long", "timestamp-millis"): ("dt.datetime", "datetime as dt"),
    ("long", "timestamp-micros"): ("dt.datetime", "datetime as dt"),
    ("long", "local-timestamp-millis"): ("dt.datetime", "datetime as dt"),
    ("long", "local-timestamp-micros"): ("dt.datetime", "datetime as dt"),
    ("int", "date"): ("dt.date", "datetime as dt"),
    ("int", "time-millis"): ("dt.time", "datetime as dt"),
    ("long", "time-micros"): ("dt.time", "datetime as dt"),
    ("string", "uuid"): ("str | uuid.UUID", "uuid"),
    ("bytes", "decimal"): ("decimal.Decimal", "decimal"),
}


class SchemaShapeError(Exception):
    """A schema holds something this generator cannot map to a Python type."""


@dataclass
class _Module:
    """The definitions collected so far, in dependency order (a name is defined before it is used)."""

    blocks: list[str] = field(default_factory=list)
    defined: dict[str, tuple[str, str]] = field(default_factory=dict)  # Avro full name -> (Python name, JSON)
    python_names: dict[str, str] = field(default_factory=dict)  # Python name -> Avro full name
    imports: set[str] = field(default_factory=set)
    typing_names: set[str] = field(default_factory=set)


def enum_alias(avro_name: str) -> str:
    """The Python name of the ``Literal`` alias for the Avro enum ``avro_name`` (unqualified)."""
    return f"{avro_name}Symbol"


def render(names: Sequence[str] = schemas.ALL, load: Callable[[str], Any] = schemas.load_json) -> str:
    """Return the source of the records module for the schemas ``names``, read by ``load`` (``schemas/<name>.avsc``).

    Deterministic: the same schemas always give the same text. Raises SchemaShapeError (see the module doc)
    and FileNotFoundError for an unknown schema name.
    """
    module = _Module()
    tops = []
    for name in names:
        schema = load(name)
        if not isinstance(schema, dict) or schema.get("type") != "record":
            raise SchemaShapeError(f"{name}: the top-level type must be a record")
        tops.append(f"``{name}`` -> ``{_type(schema, schema.get('namespace', ''), module)}``")
    about = (
        "tests/schemas/test_records_types.py fails while this file and the schemas disagree. The tool's docstring"
        " says how Avro maps to Python (every field a required key, enums as Literal, logical types)."
        f" Top-level records: {', '.join(tops)}."
    )
    header = [
        '"""TypedDicts of the crx message contracts: the records that flow through the services as dicts.',
        "",
        "GENERATED from schemas/*.avsc by tools/avro_typeddict.py: do not edit. After changing a schema, run",
        "",
        "    python -m tools.avro_typeddict",
        "",
        *_wrap(about, LINE_LENGTH),
        '"""',
        "",
        "from __future__ import annotations",
        "",
    ]
    imports = [f"import {module_name}" for module_name in sorted(module.imports)]
    imports.append(f"from typing import {', '.join(sorted(module.typing_names))}")
    return "\n".join([*header, *imports, "", ""]) + "\n\n\n".join(module.blocks) + "\n"


def _type(schema: Any, namespace: str, module: _Module) -> str:
    """The Python type expression of ``schema``, defining the named types it introduces."""
    if isinstance(schema, str):
        if schema in _PRIMITIVES:
            return _PRIMITIVES[schema]
        full = schema if "." in schema else f"{namespace}.{schema}" if namespace else schema
        for candidate in (full, schema):
            if candidate in module.defined:
                return module.defined[candidate][0]
        raise SchemaShapeError(f"{schema}: not a primitive and not a named type defined before this use")
    if isinstance(schema, list):
        branches = [_type(branch, namespace, module) for branch in schema if branch != "null"]
        if not branches:
            raise SchemaShapeError("a union of null alone")
        return " | ".join([*branches, *(["None"] if "null" in schema else [])])
    if not isinstance(schema, dict):
        raise SchemaShapeError(f"not a schema: {schema!r}")
    kind = schema.get("type")
    logical = _LOGICAL.get((str(kind), str(schema.get("logicalType"))))
    if logical is not None:
        module.imports.add(logical[1])
        return logical[0]
    if kind in ("record", "enum", "fixed"):
        return _named(schema, namespace, module)
    if kind == "array":
        return f"list[{_type(schema['items'], namespace, module)}]"
    if kind == "map":
        return f"dict[str, {_type(schema['values'], namespace, module)}]"
    return _type(kind, namespace, module)  # {"type": "long"} and logical types this tool does not know


def _named(schema: dict[str, Any], namespace: str, module: _Module) -> str:
    """Define a record, enum or fixed once (identical redefinitions are the same type) and return its name."""
    name = schema["name"]
    if "." in name:  # a full name: its namespace attribute, if any, is ignored
        namespace, name = name.rsplit(".", 1)
    else:
        namespace = schema.get("namespace", namespace)
    full = f"{namespace}.{name}" if namespace else name
    kind = schema["type"]
    if kind == "fixed":  # not a class: bytes (or Decimal), the name only for later references
        python = "decimal.Decimal" if schema.get("logicalType") == "decimal" else "bytes"
        if python != "bytes":
            module.imports.add("decimal")
    else:
        python = enum_alias(name) if kind == "enum" else name
    shape = repr(sorted(schema.items()))
    if full in module.defined:
        if module.defined[full][1] != shape:
            raise SchemaShapeError(f"{full}: defined twice, differently")
        return python
    if kind != "fixed" and module.python_names.get(python, full) != full:
        raise SchemaShapeError(f"{full} and {module.python_names[python]} would both be {python}")
    module.defined[full] = (python, shape)  # before the fields: a record may refer to itself
    module.python_names[python] = full
    if kind == "record":  # the named types of its fields are emitted before the record that uses them
        lines = [f"{f['name']}: {_type(f['type'], namespace, module)}" for f in schema["fields"]]
        docs = [f.get("doc") for f in schema["fields"]]
        module.blocks.append(_typed_dict(name, full, schema.get("doc"), lines, docs))
        module.typing_names.add("TypedDict")
    elif kind == "enum":
        module.blocks.append(_literal(python, full, schema["symbols"], schema.get("default")))
        module.typing_names.add("Literal")
    return python


def _typed_dict(name: str, full: str, doc: str | None, lines: list[str], docs: list[str | None]) -> str:
    body = [f"class {name}(TypedDict):", f'    """{_docstring(doc or "", full)}"""', ""]
    for line, field_doc in zip(lines, docs, strict=True):
        if field_doc:
            body.extend(_wrap(field_doc, LINE_LENGTH, initial_indent="    # ", subsequent_indent="    # "))
        body.append(f"    {line}")
    return "\n".join(body)


def _docstring(doc: str, full: str) -> str:
    text = f"Avro record ``{full}``." + (f" {doc}" if doc else "")
    wrapped = _wrap(text, LINE_LENGTH - 7, subsequent_indent="    ")
    return "\n".join(wrapped) + ("\n    " if len(wrapped) > 1 else "")


def _literal(python: str, full: str, symbols: list[str], default: str | None) -> str:
    text = f"Symbols of the Avro enum ``{full}``" + (
        f" (enum default {default!r}: decoding maps a symbol this version lacks to it)." if default else "."
    )
    note = "\n".join(_wrap(text, LINE_LENGTH, initial_indent="# ", subsequent_indent="# "))
    one_line = f"{python} = Literal[{', '.join(repr_str(s) for s in symbols)}]"
    if len(one_line) <= LINE_LENGTH:
        return f"{note}\n{one_line}"
    items = "".join(f"    {repr_str(s)},\n" for s in symbols)
    return f"{note}\n{python} = Literal[\n{items}]"


def _wrap(text: str, width: int, initial_indent: str = "", subsequent_indent: str = "") -> list[str]:
    """Lines of at most ``width`` characters, broken at spaces only (never inside "3166-1" or a long name)."""
    return textwrap.wrap(
        text,
        width,
        initial_indent=initial_indent,
        subsequent_indent=subsequent_indent,
        break_on_hyphens=False,
        break_long_words=False,
    )


def repr_str(value: str) -> str:
    """``value`` as a double-quoted Python string literal (ruff format's quote style)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``schemas/records.py``; returns the exit status (1: stale)."""
    parser = argparse.ArgumentParser(prog="python -m tools.avro_typeddict", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if schemas/records.py is out of date")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        if not TARGET.exists() or TARGET.read_text(encoding="utf-8") != text:
            print(f"{TARGET} is out of date: run python -m tools.avro_typeddict", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
