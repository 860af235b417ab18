"""The three message types (root elements) and their ``Header``: states, message identifiers, legal basis,
purpose, urgency, deadline and, for a response, the request it answers."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from lxml import etree

from adapters.base import MALFORMED, AdapterError, record_message_id
from adapters.ecris_xml import values
from adapters.ecris_xml.refcodes import NOTIFICATION_PURPOSE, PURPOSES, URGENCIES, Countries
from adapters.ecris_xml.tree import NS, Model, Node, Slot, invalid, many, opt
from adapters.ecris_xml.values import SYNTAX
from adapters.kit.distinct import Distinct
from adapters.kit.errors import check_sender
from adapters.kit.xmlsafe import split_tag
from schemas.records import UrgencySymbol

IN_RESPONSE_TO = Model(Slot("RequestingState"), Slot("RequestLocalMessageId"), opt("RequestGlobalMessageId"))


def _header(receiving: Slot, *rest: Slot) -> Model:
    """A ``Header`` content model: the sending state, ``receiving`` states, the two message ids and the legal
    basis every message type has, then the ``rest`` of its own."""
    return Model(
        Slot("SendingState"), receiving, Slot("LocalMessageId"), Slot("GlobalMessageId"), Slot("LegalBasis"), *rest
    )


@dataclass(frozen=True)
class Kind:
    """One message type: its root element, ECRIS code, content model, root attributes and header model."""

    root: str
    code: str
    body: Model
    attributes: tuple[str, ...]
    header: Model


NOTIFICATION = Kind(
    root="Notification",
    code="NOT",
    body=Model(Slot("Header"), Slot("Person"), Slot("Conviction")),
    attributes=("action", "version"),
    header=_header(many("ReceivingState"), opt("Urgency")),
)
REQUEST = Kind(
    root="Request",
    code="REQ",
    body=Model(Slot("Header"), Slot("Person"), opt("RequestingAuthority")),
    attributes=(),
    header=_header(many("ReceivingState", 1), Slot("Purpose"), opt("Urgency"), opt("Deadline")),
)
RESPONSE = Kind(
    root="RequestResponse",
    code="RRS",
    body=Model(Slot("Header"), Slot("Person"), many("Conviction")),
    attributes=(),
    header=_header(Slot("ReceivingState"), Slot("Purpose"), opt("Urgency"), Slot("InResponseTo")),
)
KINDS = {kind.root: kind for kind in (NOTIFICATION, REQUEST, RESPONSE)}


@dataclass(frozen=True)
class Header:
    """What the ``Header`` element says, in canonical terms."""

    sender: str
    receiving_states: list[str]
    local_id: str
    global_id: str
    legal_basis: str
    purpose: str
    urgency: UrgencySymbol
    deadline: dt.datetime | None
    reply_to: str | None


def message_kind(root: etree._Element) -> Kind:
    """The message type of ``root``. Raises MALFORMED when it is not a root element of the format."""
    tag = root.tag
    namespace, local = split_tag(tag) if isinstance(tag, str) else ("", "")
    kind = KINDS.get(local) if namespace == NS else None
    if kind is None:
        raise AdapterError(
            f"not an ECRIS message: the root must be Notification, Request or RequestResponse in {NS}",
            reason_code=MALFORMED,
        )
    return kind


def _states(nodes: list[Node], sender: str, countries: Countries) -> list[str]:
    once = Distinct(invalid, "each receiving state once, not the sending state", excluded=sender)
    return [once.add(node, values.read(node, countries.alpha2)) for node in nodes]


def _reply_to(node: Node, receiving: list[str], countries: Countries) -> str:
    """The crx message id of the answered request: record_message_id(requesting state, its local id, 1).
    The requesting state must be the (single) receiving state of the response."""
    parts = node.children(IN_RESPONSE_TO)
    state_node = parts.one("RequestingState")
    state = values.read(state_node, countries.alpha2)
    if [state] != receiving:
        raise invalid(state_node.where, "the receiving state of the response")
    values.opt_read(parts.opt("RequestGlobalMessageId"), values.identifier)  # checked, not carried
    return record_message_id(state, values.read(parts.one("RequestLocalMessageId"), values.identifier), 1)


def read_header(node: Node, kind: Kind, feed: str, countries: Countries) -> Header:
    """The header of a ``kind`` message that arrived on the feed of jurisdiction ``feed``.

    Raises SENDER_MISMATCH when the sending state is not ``feed``; MISSING_FIELD, INVALID_VALUE or
    UNKNOWN_JURISDICTION for a bad header. A response must be addressed to the requesting state.
    """
    parts = node.children(kind.header)
    sending = parts.one("SendingState")
    sender = check_sender(values.read(sending, countries.alpha2), feed, sending)
    receiving = _states(parts.all("ReceivingState"), sender, countries)
    in_response_to = parts.opt("InResponseTo")
    return Header(
        sender=sender,
        receiving_states=receiving,
        local_id=values.read(parts.one("LocalMessageId"), values.identifier),
        global_id=values.read(parts.one("GlobalMessageId"), values.identifier),
        legal_basis=values.read(parts.one("LegalBasis"), values.identifier),
        purpose=values.opt_choice(parts.opt("Purpose"), PURPOSES, NOTIFICATION_PURPOSE),
        urgency=values.opt_choice(parts.opt("Urgency"), URGENCIES, "NORMAL"),
        deadline=values.opt_read(parts.opt("Deadline"), SYNTAX.timestamp),
        reply_to=None if in_response_to is None else _reply_to(in_response_to, receiving, countries),
    )
