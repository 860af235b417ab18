"""Typed reads from a decoded JSON object, each failure an AdapterError naming the field path.

Rules common to the whole format: ``null`` counts as absent; keys the format does not define are ignored;
text must be a non-blank JSON string of at most ``MAX_TEXT`` characters with no control characters. Error
messages name the path (``convictions[0].offences[1].code``) and what was expected, never the value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from adapters.json_v1.document import JsonObject
from adapters.kit.errors import FieldErrors
from adapters.kit.text import MAX_TEXT, FreeText

T = TypeVar("T")
ERRORS = FieldErrors(missing_wording="required field missing")
missing = ERRORS.missing  # a required field that is absent or null
invalid = ERRORS.invalid  # a field whose value the format does not allow (the value is not quoted)
_TEXT = FreeText(
    # C0/C1 controls, and lone surrogates (JSON "\ud800" escapes) that no UTF-8 encoder accepts.
    controls=re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]"),
    non_blank="a non-blank string",
    at_most=f"at most {MAX_TEXT} characters",
)


def text(value: object, path: str) -> str:
    """Return ``value`` if it is acceptable text (a non-blank string of at most MAX_TEXT characters without
    control characters or lone surrogates), else raise INVALID_VALUE."""
    return _TEXT.check(value, path, invalid)


class Node:
    """One JSON object of the payload together with its path from the root."""

    __slots__ = ("_data", "path")

    def __init__(self, data: JsonObject, path: str = "") -> None:
        self._data = data
        self.path = path

    def at(self, key: str) -> str:
        """The path of ``key`` inside this object."""
        return f"{self.path}.{key}" if self.path else key

    def raw(self, key: str, *, required: bool) -> object:
        """The value under ``key``; None when absent or null (MISSING_FIELD instead when ``required``)."""
        value = self._data.get(key)
        if value is None and required:
            raise missing(self.at(key))
        return value

    def parsed(self, key: str, parse: Callable[[object, str], T]) -> T:
        """A required field read with ``parse(value, path)`` (one of the ``values`` parsers)."""
        return parse(self.raw(key, required=True), self.at(key))

    def opt_parsed(self, key: str, parse: Callable[[object, str], T]) -> T | None:
        """An optional field read with ``parse(value, path)``."""
        value = self.raw(key, required=False)
        return None if value is None else parse(value, self.at(key))

    def string(self, key: str) -> str:
        """A required text field."""
        return text(self.raw(key, required=True), self.at(key))

    def opt_string(self, key: str) -> str | None:
        """An optional text field."""
        value = self.raw(key, required=False)
        return None if value is None else text(value, self.at(key))

    def integer(self, key: str, low: int, high: int) -> int:
        """A required integer in ``[low, high]`` (JSON booleans and floats are refused)."""
        value = self.raw(key, required=True)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise invalid(self.at(key), f"an integer from {low} to {high}")
        return value

    def boolean(self, key: str, default: bool) -> bool:
        """An optional JSON boolean."""
        value = self.raw(key, required=False)
        if value is None:
            return default
        if not isinstance(value, bool):
            raise invalid(self.at(key), "true or false")
        return value

    def choice(self, key: str, allowed: Mapping[str, T], default: T | None = None) -> T:
        """An enumerated field, translated through ``allowed`` (typed with the schema's symbols where it maps to
        an enum); required unless ``default`` is given."""
        value = self.raw(key, required=default is None)
        if value is None and default is not None:
            return default
        if not isinstance(value, str) or value not in allowed:
            raise invalid(self.at(key), "one of " + ", ".join(allowed))
        return allowed[value]

    def child(self, key: str) -> Node:
        """A required nested object."""
        found = self.opt_child(key)
        if found is None:
            raise missing(self.at(key))
        return found

    def opt_child(self, key: str) -> Node | None:
        """An optional nested object."""
        value = self.raw(key, required=False)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise invalid(self.at(key), "an object")
        return Node(value, self.at(key))

    def _list(self, key: str, *, required: bool, non_empty: bool) -> list[object]:
        value = self.raw(key, required=required)
        if value is None:
            return []
        if not isinstance(value, list):
            raise invalid(self.at(key), "a list")
        if non_empty and not value:
            raise invalid(self.at(key), "a non-empty list")
        return value

    def objects(self, key: str, *, required: bool = False, non_empty: bool = False) -> list[Node]:
        """A list of objects (absent: empty unless ``required``)."""
        out = []
        for i, item in enumerate(self._list(key, required=required, non_empty=non_empty)):
            if not isinstance(item, dict):
                raise invalid(f"{self.at(key)}[{i}]", "an object")
            out.append(Node(item, f"{self.at(key)}[{i}]"))
        return out

    def strings(self, key: str, *, required: bool = False, non_empty: bool = False) -> list[tuple[str, str]]:
        """A list of strings, as ``(path, value)`` pairs so callers can validate each with its path."""
        items = self._list(key, required=required, non_empty=non_empty)
        return [(f"{self.at(key)}[{i}]", text(item, f"{self.at(key)}[{i}]")) for i, item in enumerate(items)]
