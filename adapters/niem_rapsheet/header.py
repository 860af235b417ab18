"""The canonical header of a rap sheet record: purpose, message type, addressing, a response's outcome and the
record version.

A rap sheet carries no version number, yet a re-sent, updated rap sheet must not be deduplicated away as the
message already seen, while the same rap sheet sent twice must get the same message id. The version is
therefore derived from the document itself::

    version = days(as-of date - 2000-01-01) * 65536 + digest16

``as-of date`` is the rap sheet's "data as of" date (``rap:Metadata/nc:ReportedDate``), else the latest
decision or disposition date in the record, else none (0 days). ``digest16`` is the first 16 bits of the
SHA-256 of the mapped content (person, convictions, other charges, message type, purpose, reply-to,
addressees), so unmapped differences (extension elements, white space, the Nlets control number) do not make a
new version, and any mapped change does. Versions of one subject grow with the as-of date.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping

from adapters.kit.countries import check_country
from adapters.niem_rapsheet import values
from adapters.niem_rapsheet.envelope import NletsHeader
from adapters.niem_rapsheet.names import S_ID, S_METADATA
from adapters.niem_rapsheet.tree import Node, invalid, missing
from schemas.records import MessageTypeSymbol, ResponseOutcomeSymbol

SENDER = "US"
LEGAL_BASIS = "US-28-CFR-20"
EPOCH = dt.date(2000, 1, 1)
MAX_DAYS = 2**15 - 1  # 2089-09-18: the day count and the 16-bit digest fill the 31 bits of an Avro int
# Nlets/III purpose codes -> canonical purposes.
PURPOSES = {
    "A": "ADMINISTRATIVE",
    "C": "CRIMINAL_PROCEEDINGS",
    "D": "DOMESTIC_VIOLENCE_STALKING",
    "E": "NON_CRIMINAL_JUSTICE_EMPLOYMENT",
    "F": "FIREARMS_RETURN",
    "H": "PUBLIC_HOUSING",
    "J": "CRIMINAL_JUSTICE_EMPLOYMENT",
    "X": "EXIGENT_CIRCUMSTANCES",
}
RESPONSE_KEYS = frozenset({"IR", "FR", "AR", "CR"})  # Nlets CHRI responses (identity, full record, ...)
_HEADER_PATH = "NLETSMessageHeader"


def purpose(sheet: Node) -> str:
    """The canonical purpose of ``rap:Introduction/rap:RapSheetRequest/rap:PurposeCode`` (required)."""
    node = sheet.find("Introduction", "RapSheetRequest", "PurposeCode")
    code = None if node is None else node.text()
    if node is None or code is None:
        raise missing(sheet.at("Introduction/RapSheetRequest/PurposeCode"))
    found = PURPOSES.get(code.upper())
    if found is None:
        raise invalid(node.path, "an Nlets purpose code " + ", ".join(PURPOSES))
    return found


def addressing(header: NletsHeader) -> tuple[MessageTypeSymbol, str | None, list[str]]:
    """(message type, reply_to, addressed_to): a RESPONSE when the Nlets message key is a CHRI response, which
    then needs the control field it answers and a destination that is the requesting state's ISO code."""
    if header.message_key is None or header.message_key.upper() not in RESPONSE_KEYS:
        return "NOTIFICATION", None, []
    if header.control_field is None:
        raise missing(f"{_HEADER_PATH}/DocumentControlFieldText")
    if header.destination is None:
        raise missing(f"{_HEADER_PATH}/DestinationORIID")
    state = check_country(header.destination.upper(), f"{_HEADER_PATH}/DestinationORIID")
    if state == SENDER:
        raise invalid(f"{_HEADER_PATH}/DestinationORIID", "the requesting state, not the sender")
    return "RESPONSE", header.control_field, [state]


def outcome(message_type: MessageTypeSymbol, has_convictions: bool) -> ResponseOutcomeSymbol | None:
    """The outcome of a RESPONSE (None for a notification). A rap sheet does not state one: CONVICTIONS_FOUND
    when the record carries convictions, else NO_RECORD, whatever arrests or pending or dismissed charges
    (``other_charges``) it also reports, since those are not convictions."""
    if message_type != "RESPONSE":
        return None
    return "CONVICTIONS_FOUND" if has_convictions else "NO_RECORD"


def _reported(metadata: Node) -> dt.date | None:
    found = values.read_date(metadata.first("ReportedDate"))
    return None if found is None else found.full


def as_of_date(sheet: Node) -> dt.date | None:
    """The rap sheet's "data as of" date: ``nc:ReportedDate`` of the ``rap:Metadata`` the rap sheet refers to
    (``s:metadata``), else of the first ``rap:Metadata`` that has one."""
    metadata = sheet.all("Metadata")
    wanted = (sheet.attribute(S_METADATA) or "").split()
    for item in metadata:
        if item.attribute(S_ID) in wanted and (found := _reported(item)) is not None:
            return found
    for item in metadata:
        if (found := _reported(item)) is not None:
            return found
    return None


def _plain(value: object) -> object:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)  # pragma: no cover - the record holds only JSON types and dates


def version(as_of: dt.date | None, content: Mapping[str, object], path: str) -> int:
    """The record version for ``content`` as of ``as_of`` (see the module docstring). Raises INVALID_VALUE for
    an as-of date after 2089-09-18."""
    days = 0 if as_of is None else max(0, (as_of - EPOCH).days)
    if days > MAX_DAYS:
        raise invalid(path, "a date before 2089-09-18")
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain)
    digest = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:2], "big")
    return days * 65536 + digest
