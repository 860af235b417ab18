"""A namespace-tolerant view of the rap sheet tree, with typed text reads that name the element path.

``Node`` wraps one element and its path from the rap sheet (``RapSheet/RapSheetCycle[2]/Arrest``, written
with the standard local names whatever the prefixes and substitutions of the document). Children are looked up
by standard local name through ``names.role``; unknown children are never seen. Text rules for the whole
format: an element's own text is taken with surrounding white space removed and inner runs of white space
(spaces, tabs, line breaks) collapsed to one space; empty text is the same as an absent element; text longer
than ``MAX_TEXT`` or containing control characters is INVALID_VALUE. Error messages name the path only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from lxml import etree

from adapters.kit.errors import FieldErrors
from adapters.kit.text import MAX_TEXT
from adapters.niem_rapsheet.names import role

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")  # controls but tab and line breaks
ERRORS = FieldErrors(missing_wording="required element missing or empty")
missing = ERRORS.missing  # a required element that is absent or empty
invalid = ERRORS.invalid  # an element whose value the format does not allow (the value is never quoted)


def clean_text(raw: str | None, path: str) -> str | None:
    """``raw`` with white space collapsed, or None when empty. Raises INVALID_VALUE for control characters
    or text longer than MAX_TEXT characters."""
    if raw is None:
        return None
    if _CONTROL.search(raw):
        raise invalid(path, "text without control characters")
    text = " ".join(raw.split())
    if not text:
        return None
    if len(text) > MAX_TEXT:
        raise invalid(path, f"at most {MAX_TEXT} characters")
    return text


class Node:
    """One element of the rap sheet with its path; children are found by standard local name.

    The children are indexed once, on first use, and each child node is created once, so repeated lookups
    along the same path cost a dictionary access each. Paths are only spelled out when needed (errors), and
    the standard name of each tag is worked out once per document."""

    __slots__ = ("_entries", "_index", "_name", "_parent", "_position", "_roles", "element")

    def __init__(
        self,
        element: etree._Element,
        path: str,
        parent: Node | None = None,
        position: int = 1,
        roles: dict[object, str | None] | None = None,
    ) -> None:
        self.element = element
        self._name = path  # the root's whole path, or a child's standard name
        self._parent = parent
        self._position = position
        self._roles: dict[object, str | None] = {} if roles is None else roles
        self._entries: list[tuple[str, Node]] | None = None
        self._index: dict[str, list[Node]] = {}

    @property
    def path(self) -> str:
        """``RapSheet/RapSheetCycle[2]/Arrest``: standard names from the root, indexed from 1 among siblings of
        the same name when there are several."""
        parent = self._parent
        if parent is None:
            return self._name
        suffix = f"[{self._position}]" if len(parent._index[self._name]) > 1 else ""
        return f"{parent.path}/{self._name}{suffix}"

    def __str__(self) -> str:
        """``path``: a Node is passed as the location of a value and formatted only if there is an error."""
        return self.path

    def _known(self) -> list[tuple[str, Node]]:
        entries = self._entries
        if entries is None:
            entries = []
            index, roles = self._index, self._roles
            for child in self.element:
                tag = child.tag
                name = roles.get(tag, "")
                if name == "":
                    name = roles[tag] = role(tag)
                if name is None:
                    continue
                siblings = index.get(name)
                if siblings is None:
                    siblings = index[name] = []
                node = Node(child, name, self, len(siblings) + 1, roles)
                siblings.append(node)
                entries.append((name, node))
            self._entries = entries
        return entries

    def at(self, name: str) -> str:
        """The path of a child called ``name``."""
        return f"{self.path}/{name}"

    def all(self, name: str) -> list[Node]:
        """Every child standing for ``name``, in document order (paths indexed from 1 when there are several)."""
        if self._entries is None:
            self._known()
        return self._index.get(name, [])

    def first(self, name: str) -> Node | None:
        """The first child standing for ``name``, or None."""
        if self._entries is None:
            self._known()
        found = self._index.get(name)
        return found[0] if found else None

    def find(self, *names: str) -> Node | None:
        """Follow first children along ``names``; None as soon as one is absent."""
        node: Node | None = self
        for name in names:
            if node is None:
                return None
            node = node.first(name)
        return node

    def items(self) -> Iterator[tuple[str, Node]]:
        """Every known child as ``(standard name, node)``, in document order."""
        yield from self._known()

    def text(self) -> str | None:
        """This element's own text, cleaned (None when empty)."""
        raw = self.element.text
        if raw is None:
            return None
        if _CONTROL.search(raw) or len(raw) > MAX_TEXT:
            return clean_text(raw, self.path)  # the slow path spells out the path for the error
        text = " ".join(raw.split())
        return text or None

    def text_of(self, *names: str) -> str | None:
        """The cleaned text of the element reached along ``names``, or None."""
        node = self.find(*names)
        return None if node is None else node.text()

    def attribute(self, qualified_name: str) -> str | None:
        """An attribute value with white space stripped, or None when absent or empty."""
        value = self.element.get(qualified_name)
        if value is None:
            return None
        if _CONTROL.search(value) or len(value) > MAX_TEXT:
            return clean_text(value, f"{self.path}/@{qualified_name.rpartition('}')[2]}")
        return value.strip() or None
