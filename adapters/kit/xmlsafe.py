"""Parsing untrusted XML: no DTD, no entities, no network, bounded size, depth and element count.

Every XML adapter parses through ``parse_xml``. National feeds need no document type declaration, so one is
refused outright, read from the document's bytes before any parser runs (``adapters.kit.xmlprolog``), whatever
the document's encoding: billion-laughs bombs, external entities and DTD retrieval never get a chance to
run, and the reason is FORBIDDEN_CONSTRUCT on every libxml2. Limits are checked while parsing, so a huge or
deeply nested document is refused after reading only as much as proves it too big.

Why the parser is fed in small chunks: lxml raises a libxml2 error as soon as the chunk that caused it is fed,
and (from lxml 6.2) discards the events that chunk produced. libxml2 has its own nesting limit (256). With
chunks of at most ``_CHUNK`` bytes, no chunk can take a document from within our depth limit to libxml2's
(each level costs at least three bytes, ``<a>``), so our limit, checked between chunks, always trips first.

Errors are ``AdapterError`` with a reason code; their messages give a line number at most and never quote
the input (tag names and text of a hostile document could be anything).
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters.base import FORBIDDEN_CONSTRUCT, LIMIT_EXCEEDED, MALFORMED, PAYLOAD_TOO_LARGE, AdapterError
from adapters.kit.xmlprolog import declares_doctype

_LIBXML2_MAX_DEPTH = 256  # xmlParserMaxDepth without XML_PARSE_HUGE
_CHUNK = 256  # bytes fed to the parser at a time: at most 85 levels, see the module docstring
_MAX_DEPTH_LIMIT = _LIBXML2_MAX_DEPTH - _CHUNK // 3 - 16  # what XmlLimits accepts, with a margin for buffering
# libxml2 errors that mean "a parser limit", not "not XML" (libxml2 2.12 has no ERR_RESOURCE_LIMIT).
_LIMIT_ERRORS = frozenset(
    code
    for code in (getattr(etree.ErrorTypes, "ERR_RESOURCE_LIMIT", None), etree.ErrorTypes.ERR_NAME_TOO_LONG)
    if code is not None
)


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on one document. The defaults fit the largest legitimate feed message with a wide margin."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 48
    max_elements: int = 250_000

    def __post_init__(self) -> None:
        """Raises ValueError for a depth limit libxml2's own (256) could overtake."""
        if not 0 < self.max_depth <= _MAX_DEPTH_LIMIT:
            raise ValueError(f"max_depth must be between 1 and {_MAX_DEPTH_LIMIT}")


class _Chunks:
    """A read-only file over ``data`` that hands out at most ``_CHUNK`` bytes per read, whatever is asked."""

    def __init__(self, data: bytes) -> None:
        self._data = memoryview(data)
        self._pos = 0

    def read(self, _size: int = -1) -> bytes:
        """The next chunk, or b"" at the end."""
        chunk = self._data[self._pos : self._pos + _CHUNK]
        self._pos += len(chunk)
        return chunk.tobytes()


DEFAULT_LIMITS = XmlLimits()


def parse_xml(payload: bytes, limits: XmlLimits = DEFAULT_LIMITS) -> etree._Element:
    """Parse ``payload`` as an untrusted XML document and return its root element.

    Guarantees: no DTD is loaded and any document type declaration is refused; no entity is expanded; no
    network or file access; comments and processing instructions are dropped; at most ``limits`` are used.
    Raises AdapterError: PAYLOAD_TOO_LARGE when the document is larger than ``limits.max_bytes`` (checked
    before parsing), FORBIDDEN_CONSTRUCT for a DOCTYPE, LIMIT_EXCEEDED for depth or element count, MALFORMED for
    anything that is not well-formed XML (syntax, encoding, truncation, binary data).
    """
    if len(payload) > limits.max_bytes:
        raise AdapterError(f"XML document exceeds {limits.max_bytes} bytes", reason_code=PAYLOAD_TOO_LARGE)
    if declares_doctype(payload):
        raise AdapterError("XML document type declarations are refused", reason_code=FORBIDDEN_CONSTRUCT)
    events = etree.iterparse(
        _Chunks(payload),
        events=("start", "end"),
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )
    depth = 0
    elements = 0
    root: etree._Element | None = None
    try:
        for event, element in events:
            if event == "end":
                depth -= 1
                continue
            if root is None:
                root = element
                if element.getroottree().docinfo.doctype:  # a second line, for encodings xmlprolog cannot read
                    raise AdapterError("XML document type declarations are refused", reason_code=FORBIDDEN_CONSTRUCT)
            depth += 1
            elements += 1
            if depth > limits.max_depth:
                raise AdapterError(f"XML nesting deeper than {limits.max_depth}", reason_code=LIMIT_EXCEEDED)
            if elements > limits.max_elements:
                raise AdapterError(f"XML has more than {limits.max_elements} elements", reason_code=LIMIT_EXCEEDED)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else 0
        if exc.code in _LIMIT_ERRORS:  # type: ignore[attr-defined]  # lxml-stubs lack ParseError.code
            raise AdapterError(f"XML exceeds a parser limit (line {line})", reason_code=LIMIT_EXCEEDED) from None
        raise AdapterError(f"not well-formed XML (line {line})", reason_code=MALFORMED) from None
    except (etree.LxmlError, ValueError, UnicodeError):
        raise AdapterError("not well-formed XML", reason_code=MALFORMED) from None
    if root is None:
        raise AdapterError("empty XML document", reason_code=MALFORMED)
    if _has_entity_reference(root):
        raise AdapterError("XML entity references are not accepted", reason_code=FORBIDDEN_CONSTRUCT)
    return root


def _has_entity_reference(root: etree._Element) -> bool:
    """True when an unexpanded entity reference survived (only possible with a DOCTYPE, checked anyway)."""
    return any(isinstance(node, etree._Entity) for node in root.iter(etree.Entity))


def local_name(element: etree._Element) -> str:
    """The tag of ``element`` without its namespace."""
    return etree.QName(element).localname


def split_tag(tag: str) -> tuple[str, str]:
    """``(namespace, local name)`` of an lxml tag: ``{ns}local`` -> ``(ns, local)``, ``local`` -> ``("", local)``."""
    end = tag.find("}")
    if end > 0 and tag[0] == "{":
        return tag[1:end], tag[end + 1 :]
    return "", tag
