"""Walking the element tree of an ECRIS message under the format's closed content models.

The format is closed: a complex element holds exactly the elements of its content model, in order, with the
cardinalities of the model (the ``xs:sequence`` of ``ecris-message.xsd``); elements of the format namespace
that the model does not name, elements without a namespace and non-blank text between elements are refused.
Elements of *other* namespaces are extensions: they are skipped, with their content, but only after the
format's own children (the XSD's trailing ``xs:any namespace="##other"``). Unqualified attributes must be
declared; attributes in other namespaces (``xsi:``, ``xml:``, vendors) are ignored.

Errors are AdapterError naming the element path from the spec (``Notification/Conviction/Offence[2]``) and
the line; they never quote content, nor the names of elements or attributes the format does not define.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lxml import etree

from adapters.base import AdapterError
from adapters.kit.errors import FieldErrors

NS = "urn:crx:ecris:1"
UNBOUNDED = 1 << 31
XML_SPACE = " \t\r\n"  # the XML white-space characters (S production)
_PREFIX = f"{{{NS}}}"  # how lxml spells a tag or attribute name of the format namespace
_PREFIX_LENGTH = len(_PREFIX)
ERRORS = FieldErrors(missing_wording="required element or attribute missing", invalid_wording="invalid, expected")
missing = ERRORS.missing  # a required element or attribute that is absent
invalid = ERRORS.invalid  # content the format does not allow at ``where`` (the content is not quoted)


@dataclass(frozen=True)
class Slot:
    """One particle of a content model: element ``name`` occurring ``low`` to ``high`` times."""

    name: str
    low: int = 1
    high: int = 1


def opt(name: str) -> Slot:
    """An optional, non-repeating element."""
    return Slot(name, 0, 1)


def many(name: str, low: int = 0) -> Slot:
    """A repeating element occurring at least ``low`` times."""
    return Slot(name, low, UNBOUNDED)


class Model:
    """A content model: the slots of an ``xs:sequence``, in order, each name once."""

    __slots__ = ("index", "slots")

    def __init__(self, *slots: Slot) -> None:
        self.slots: Sequence[Slot] = slots
        self.index = {slot.name: i for i, slot in enumerate(slots)}


class Node:
    """One element of the message. Its path from the root (spec names only, for error messages) is built
    only when asked for, from the parent's path, the element name and its position among its namesakes."""

    __slots__ = ("_name", "_parent", "_position", "element")

    def __init__(self, element: etree._Element, name: str, parent: Node | None = None, position: int = 0) -> None:
        self.element = element
        self._name = name
        self._parent = parent
        self._position = position  # 1-based among repeatable namesakes; 0 for a non-repeating element

    @property
    def path(self) -> str:
        """``Notification/Conviction/Offence[2]/NationalTitle``."""
        step = f"{self._name}[{self._position}]" if self._position else self._name
        return step if self._parent is None else f"{self._parent.path}/{step}"

    @property
    def where(self) -> str:
        """The path and source line of this element, for error messages."""
        return f"{self.path} (line {self.element.sourceline or 0})"

    def __str__(self) -> str:
        """``where``: a Node is passed as the location of a value and formatted only if there is an error."""
        return self.where

    def attribute(self, name: str) -> str | None:
        """The raw value of unqualified attribute ``name`` (validated by ``children`` or ``leaf``)."""
        value = self.element.get(name)
        return None if value is None else str(value)

    def _check_attributes(self, allowed: Collection[str]) -> None:
        for key in self.element.attrib:
            name = str(key)
            if name[:1] == "{":
                if name.startswith(_PREFIX):
                    raise invalid(self.where, "no attribute in the format namespace")
                continue  # xsi:, xml: and vendor attributes are ignored
            if name not in allowed:
                raise invalid(self.where, "only the attributes the format defines here")

    def _stray_text(self) -> AdapterError:
        return invalid(self.where, "child elements only, no text")

    def children(self, model: Model, attributes: Collection[str] = ()) -> Children:
        """Check this element against ``model`` and return its children by name.

        Raises MISSING_FIELD for a required child that is absent, and INVALID_VALUE for an undefined,
        misplaced or repeated child, an unqualified child, text content or an undefined attribute.
        """
        element = self.element
        if element.attrib:
            self._check_attributes(attributes)
        text = element.text
        if text is not None and text.strip(XML_SPACE):
            raise self._stray_text()
        slots = model.slots
        found: dict[str, list[Node]] = {slot.name: [] for slot in slots}
        current = 0
        extensions = False
        for child in element:
            tail = child.tail
            if tail is not None and tail.strip(XML_SPACE):
                raise self._stray_text()
            tag = child.tag
            if not isinstance(tag, str):
                continue  # comments and processing instructions (the parser drops them already)
            if not tag.startswith(_PREFIX):
                if tag[:1] != "{":
                    raise invalid(self.where, "child elements in the format namespace (found one without)")
                extensions = True
                continue
            local = tag[_PREFIX_LENGTH:]
            position = model.index.get(local)
            if position is None:
                raise invalid(self.where, "only the child elements the format defines here")
            if extensions:
                raise invalid(self.where, "extension elements after the format's own elements only")
            if position != current:
                if position < current:
                    raise invalid(f"{self.path}/{local} (line {child.sourceline or 0})", "the documented element order")
                for skipped in slots[current:position]:
                    if len(found[skipped.name]) < skipped.low:
                        raise self._absent_or_misplaced(skipped.name)
                current = position
            slot = slots[position]
            items = found[local]
            if len(items) >= slot.high:
                raise invalid(f"{self.path}/{local} (line {child.sourceline or 0})", f"at most {slot.high} of it")
            items.append(Node(child, local, self, len(items) + 1 if slot.high > 1 else 0))
        for slot in slots[current:]:
            if len(found[slot.name]) < slot.low:
                raise missing(f"{self.path}/{slot.name}")
        return Children(found)

    def _absent_or_misplaced(self, name: str) -> AdapterError:
        """MISSING_FIELD for a required child ``name`` not seen where it belongs; INVALID_VALUE (order) when it
        does come later. Only on the error path, so the extra scan costs nothing on valid input."""
        tag = _PREFIX + name
        if any(child.tag == tag for child in self.element):
            return invalid(f"{self.path}/{name}", "the documented element order")
        return missing(f"{self.path}/{name}")

    def leaf(self, attributes: Collection[str] = ()) -> str:
        """The text of an element with simple content (no child elements), unchanged."""
        if self.element.attrib:
            self._check_attributes(attributes)
        if len(self.element):
            raise invalid(self.where, "text only, no child elements")
        return self.element.text or ""

    def token(self, attributes: Collection[str] = ()) -> str:
        """The text of a simple element holding a code, date or number, without surrounding XML white space
        (the XSD's ``whiteSpace collapse``)."""
        return self.leaf(attributes).strip(XML_SPACE)


class AttributeAt:
    """The location of attribute ``name`` of ``node``, formatted only when an error needs it."""

    __slots__ = ("name", "node")

    def __init__(self, node: Node, name: str) -> None:
        self.node = node
        self.name = name

    def __str__(self) -> str:
        return f"{self.node.where} @{self.name}"


# Where a value comes from, for error messages: a prebuilt text, or an element or attribute whose path is only
# built (by ``str()``) when an error is raised.
Where = str | Node | AttributeAt


class Children:
    """The children of a checked element, by local name, in document order."""

    __slots__ = ("_found",)

    def __init__(self, found: dict[str, list[Node]]) -> None:
        self._found = found

    def one(self, name: str) -> Node:
        """The single child ``name`` (the model made it required)."""
        return self._found[name][0]

    def opt(self, name: str) -> Node | None:
        """The child ``name`` when present (None also when the model has no such slot)."""
        items = self._found.get(name, ())
        return items[0] if items else None

    def all(self, name: str) -> list[Node]:
        """Every child ``name``, in document order (empty also when the model has no such slot)."""
        return self._found.get(name, [])
