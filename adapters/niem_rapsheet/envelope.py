"""Finding the rap sheets of a document and reading the Nlets message header that may wrap them.

Real exchanges wrap the rap sheet: an Nlets message (``n2:NLETS`` with ``n2:NLETSMessageHeader`` and
``n2:NLETSResponseData``), a SOAP envelope, an IEPD's own document element (``ch-doc:CriminalHistory``). The
adapter does not need to know the wrapper: it walks the document in document order, down to
``MAX_WRAPPER_DEPTH`` levels below the root, and takes every ``RapSheet`` element (``rap:RapSheet`` or a
substitute) it meets, without looking inside a rap sheet for another. On the way it notes the first Nlets
message header.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

from adapters.niem_rapsheet.names import role
from adapters.niem_rapsheet.tree import clean_text

NLETS = "http://www.nlets.org/niem/1.0"
NLETS_HEADER = "http://www.nlets.org/niem/nlets-hdr/1.0"
MAX_WRAPPER_DEPTH = 8
_HEADER_TAG = f"{{{NLETS}}}NLETSMessageHeader"
_HEADER_PATH = "NLETSMessageHeader"


@dataclass(frozen=True)
class NletsHeader:
    """What the adapter reads from an Nlets message header (every field optional)."""

    message_key: str | None = None
    control_field: str | None = None
    destination: str | None = None


NO_HEADER = NletsHeader()


def locate(root: etree._Element) -> tuple[list[etree._Element], etree._Element | None]:
    """The rap sheet elements within MAX_WRAPPER_DEPTH levels of ``root`` (document order) and the first Nlets
    message header element met on the way (or None)."""
    sheets: list[etree._Element] = []
    header: etree._Element | None = None
    stack: list[tuple[etree._Element, int]] = [(root, 0)]
    while stack:
        element, depth = stack.pop()
        if role(element.tag) == "RapSheet":
            sheets.append(element)
            continue
        if element.tag == _HEADER_TAG:
            header = element if header is None else header
            continue
        if depth < MAX_WRAPPER_DEPTH:
            stack.extend((child, depth + 1) for child in reversed(element) if isinstance(child.tag, str))
    return sheets, header


def read_header(element: etree._Element | None) -> NletsHeader:
    """The message key, document control field and destination of an Nlets header element."""
    if element is None:
        return NO_HEADER
    fields: dict[str, str | None] = {}
    for child in element:
        if not isinstance(child.tag, str) or not child.tag.startswith(f"{{{NLETS_HEADER}}}"):
            continue
        local = child.tag.rpartition("}")[2]
        if local in ("MessageKeyCodeText", "DocumentControlFieldText", "DestinationORIID") and local not in fields:
            fields[local] = clean_text(child.text, f"{_HEADER_PATH}/{local}")
    return NletsHeader(
        message_key=fields.get("MessageKeyCodeText"),
        control_field=fields.get("DocumentControlFieldText"),
        destination=fields.get("DestinationORIID"),
    )
