"""The three message types (root elements) and their ``Header``: states, message identifiers, legal basis,
purpose, urgency, deadline and the request a message refers to: the one a response answers
(``InResponseTo``), or the one a cancellation or additional information of the requesting state follows up
(``OriginalRequest``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from lxml import etree

from adapters.base import MALFORMED, AdapterError, record_message_id
from adapters.ecris_xml import values
from adapters.ecris_xml.refcodes import (
    NOTIFICATION_PURPOSE,
    PURPOSES,
    REQUEST_ACTIONS,
    RESPONSE_ACTIONS,
    URGENCIES,
    Countries,
)
from adapters.ecris_xml.tree import NS, XML_SPACE, AttributeAt, Model, Node, Slot, invalid, many, missing, opt
from adapters.ecris_xml.values import SYNTAX
from adapters.kit.distinct import Distinct
from adapters.kit.errors import check_sender
from adapters.kit.xmlsafe import split_tag
from schemas.records import CaseMessageSymbol, UrgencySymbol

# InResponseTo and OriginalRequest: a request, named by its requesting state and that state's ids of it.
REQUEST_REFERENCE = Model(Slot("RequestingState"), Slot("RequestLocalMessageId"), opt("RequestGlobalMessageId"))


def _header(receiving: Slot, *rest: Slot) -> Model:
    """A ``Header`` content model: the sending state, ``receiving`` states, the two message ids and the legal
    basis every message type has, then the ``rest`` of its own."""
    return Model(
        Slot("SendingState"), receiving, Slot("LocalMessageId"), Slot("GlobalMessageId"), Slot("LegalBasis"), *rest
    )


@dataclass(frozen=True)
class Kind:
    """One message type: its root element, ECRIS code, content model, root attributes and header model, and
    what the values of its ``@action`` do to the case of a request (none for a notification, whose action
    says what it does to the record)."""

    root: str
    code: str
    body: Model
    attributes: tuple[str, ...]
    header: Model
    case_actions: Mapping[str, CaseMessageSymbol | None] = field(default_factory=dict, compare=False)


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
    attributes=("action",),
    header=_header(many("ReceivingState", 1), Slot("Purpose"), opt("Urgency"), opt("Deadline"), opt("OriginalRequest")),
    case_actions=REQUEST_ACTIONS,
)
RESPONSE = Kind(
    root="RequestResponse",
    code="RRS",
    body=Model(Slot("Header"), Slot("Person"), opt("ResponseOutcome"), many("Conviction")),
    attributes=("action",),
    header=_header(Slot("ReceivingState"), Slot("Purpose"), opt("Urgency"), Slot("InResponseTo")),
    case_actions=RESPONSE_ACTIONS,
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
    case_message: CaseMessageSymbol | None


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


def _request_id(node: Node, expected: str, expectation: str, countries: Countries) -> str:
    """The crx message id of the request ``node`` names: record_message_id(requesting state, its local id, 1).
    The requesting state must be ``expected`` (INVALID_VALUE naming ``expectation`` otherwise)."""
    parts = node.children(REQUEST_REFERENCE)
    state_node = parts.one("RequestingState")
    if values.read(state_node, countries.alpha2) != expected:
        raise invalid(state_node.where, expectation)
    values.opt_read(parts.opt("RequestGlobalMessageId"), values.identifier)  # checked, not carried
    return record_message_id(expected, values.read(parts.one("RequestLocalMessageId"), values.identifier), 1)


def case_message(root: Node, kind: Kind) -> CaseMessageSymbol | None:
    """What a request or a response does to the case of a request, from the root's ``@action`` (absent: the
    default action, None). None for a notification, whose ``@action`` the parser reads as its message type."""
    raw = root.attribute("action")
    if raw is None or not kind.case_actions:
        return None
    action = raw.strip(XML_SPACE)
    if action not in kind.case_actions:
        raise invalid(AttributeAt(root, "action"), "one of " + ", ".join(kind.case_actions))
    return kind.case_actions[action]


def _follow_up(
    header: Node, original: Node | None, case: CaseMessageSymbol | None, sender: str, countries: Countries
) -> str | None:
    """The reply_to of a request: None for a new request (which may not name an ``OriginalRequest``); for a
    cancellation or additional information, the crx id of the sender's own request that ``OriginalRequest``
    (then required) names."""
    if case is None:
        if original is not None:
            raise invalid(original.where, "an OriginalRequest only when the action is CANCEL or PROVIDE_INFORMATION")
        return None
    if original is None:
        raise missing(f"{header.path}/OriginalRequest")
    return _request_id(original, sender, "the sending state (a request follows up its own request)", countries)


def read_header(
    node: Node, kind: Kind, feed: str, countries: Countries, case: CaseMessageSymbol | None = None
) -> Header:
    """The header of a ``kind`` message that arrived on the feed of jurisdiction ``feed``; ``case`` is what the
    message does to the case of a request (``case_message``).

    Raises SENDER_MISMATCH when the sending state is not ``feed``; MISSING_FIELD, INVALID_VALUE or
    UNKNOWN_JURISDICTION for a bad header. A response must be addressed to the requesting state; a follow-up
    request must name an original request of its own, not itself; a cancellation has no deadline.
    """
    parts = node.children(kind.header)
    sending = parts.one("SendingState")
    sender = check_sender(values.read(sending, countries.alpha2), feed, sending)
    receiving = _states(parts.all("ReceivingState"), sender, countries)
    local_id = values.read(parts.one("LocalMessageId"), values.identifier)
    deadline = parts.opt("Deadline")
    if deadline is not None and case == "CANCELLATION":
        raise invalid(deadline.where, "no Deadline in a cancellation")
    in_response_to = parts.opt("InResponseTo")
    reply_to: str | None
    if in_response_to is not None:
        reply_to = _request_id(in_response_to, receiving[0], "the receiving state of the response", countries)
    else:
        reply_to = _follow_up(node, parts.opt("OriginalRequest"), case, sender, countries)
        if reply_to == record_message_id(sender, local_id, 1):
            raise invalid(f"{node.path}/OriginalRequest", "another request than this message itself")
    return Header(
        sender=sender,
        receiving_states=receiving,
        local_id=local_id,
        global_id=values.read(parts.one("GlobalMessageId"), values.identifier),
        legal_basis=values.read(parts.one("LegalBasis"), values.identifier),
        purpose=values.opt_choice(parts.opt("Purpose"), PURPOSES, NOTIFICATION_PURPOSE),
        urgency=values.opt_choice(parts.opt("Urgency"), URGENCIES, "NORMAL"),
        deadline=values.opt_read(deadline, SYNTAX.timestamp),
        reply_to=reply_to,
        case_message=case,
    )
