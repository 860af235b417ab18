"""Parsing untrusted XML: no DTD, no entities, no network, bounded size, depth and element count.

Every XML adapter parses through ``parse_xml``. National feeds need no document type declaration, so one is
refused outright (before any entity could be expanded), whatever the document's encoding: billion-laughs
bombs, external entities and DTD retrieval never get a chance to run. Limits are checked while parsing, so a
huge or deeply nested document is refused after reading only as much as proves it too big.

Errors are ``AdapterError`` with a reason code; their messages give a line number at most and never quote
the input (tag names and text of a hostile document could be anything).
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from lxml import etree

from adapters.base import FORBIDDEN_CONSTRUCT, LIMIT_EXCEEDED, MALFORMED, PAYLOAD_TOO_LARGE, AdapterError


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on one document. The defaults fit the largest legitimate feed message with a wide margin."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 48
    max_elements: int = 250_000


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
    events = etree.iterparse(
        io.BytesIO(payload),
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
                if element.getroottree().docinfo.doctype:
                    raise AdapterError("XML document type declarations are refused", reason_code=FORBIDDEN_CONSTRUCT)
            depth += 1
            elements += 1
            if depth > limits.max_depth:
                raise AdapterError(f"XML nesting deeper than {limits.max_depth}", reason_code=LIMIT_EXCEEDED)
            if elements > limits.max_elements:
                raise AdapterError(f"XML has more than {limits.max_elements} elements", reason_code=LIMIT_EXCEEDED)
    except etree.XMLSyntaxError as exc:
        line = exc.position[0] if exc.position else 0
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
