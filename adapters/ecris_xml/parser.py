"""``EcrisXmlAdapter``: one ECRIS-style XML message (``urn:crx:ecris:1``) per payload -> one canonical record.

The format is documented in README.md and ``ecris-message.xsd`` next to this file. The adapter is pure: its
only inputs are the payload, the parse context and its packaged tables, loaded once when it is constructed.
Every payload is parsed with ``adapters.kit.xmlsafe.parse_xml`` (no DTD, no entities, bounded size and depth).
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import CanonicalRecord, ParseContext
from adapters.ecris_xml import values
from adapters.ecris_xml.convictions import ConvictionReader, build_convictions
from adapters.ecris_xml.header import (
    NOTIFICATION,
    REQUEST,
    RESPONSE,
    Header,
    Kind,
    case_message,
    message_kind,
    read_header,
)
from adapters.ecris_xml.person import build_person
from adapters.ecris_xml.refcodes import (
    ACTIONS,
    OUTCOMES,
    PACKAGE,
    Categories,
    Countries,
    load_countries,
    load_ecris_table,
)
from adapters.ecris_xml.tree import AttributeAt, Node, invalid, missing
from adapters.kit import canonical
from adapters.kit.codes import CodeTable, load_tables
from adapters.kit.samples import packaged_samples
from adapters.kit.xmlsafe import parse_xml
from schemas.records import CaseMessageSymbol, MessageTypeSymbol, ResponseOutcomeSymbol
from schemas.records import Header as CanonicalHeader

SAMPLE_SUFFIX = ".xml"
# A notification's message type comes from @action.
MESSAGE_TYPES: dict[str, MessageTypeSymbol] = {REQUEST.code: "REQUEST", RESPONSE.code: "RESPONSE"}


class EcrisXmlAdapter:
    """The ``ecris-xml`` adapter (registered under the entry-point group ``crx.adapters``).

    ``tables`` (national tables by jurisdiction) and ``ecris`` (the ECRIS category table) default to the
    packaged ones; tests inject others.
    """

    name = "ecris-xml"

    def __init__(self, tables: Mapping[str, CodeTable] | None = None, ecris: CodeTable | None = None) -> None:
        national = load_tables(PACKAGE) if tables is None else tables
        self._categories = Categories(ecris=load_ecris_table() if ecris is None else ecris, national=national)
        self._countries: Countries = load_countries()

    def parse(self, payload: bytes, ctx: ParseContext) -> list[CanonicalRecord]:
        """Parse one ECRIS message into one canonical record. Raises AdapterError, and only that."""
        element = parse_xml(payload)
        kind = message_kind(element)
        root = Node(element, kind.root)
        parts = root.children(kind.body, attributes=kind.attributes)
        header = read_header(parts.one("Header"), kind, ctx.jurisdiction, self._countries, case_message(root, kind))
        person = build_person(parts.one("Person"), self._countries, ctx.received_at.date())
        reader = ConvictionReader(header.sender, self._categories, self._countries, foreign=kind is RESPONSE)
        conviction_nodes = parts.all("Conviction")
        convictions = build_convictions(conviction_nodes, reader)
        if kind is NOTIFICATION:
            message_type, record_id, version = _notification_identity(root, convictions[0]["conviction_id"])
        else:
            message_type, record_id, version = MESSAGE_TYPES[kind.code], header.local_id, 1
        outcome = None
        if kind is RESPONSE:
            outcome = _outcome(parts.opt("ResponseOutcome"), conviction_nodes, header.case_message)
        authority = values.opt_text(parts.opt("RequestingAuthority"))  # a request's: a court, a prosecutor's office
        record: CanonicalRecord = {
            "header": _canonical_header(header, kind, (message_type, record_id, version), ctx, outcome, authority),
            "person": person,
            "convictions": convictions,
            "other_charges": [],
        }
        return [record]

    def samples(self) -> list[tuple[str, bytes]]:
        """The packaged synthetic samples (``samples/*.xml``), sorted by file name."""
        return packaged_samples(PACKAGE, SAMPLE_SUFFIX)


def _notification_identity(root: Node, conviction_id: str) -> tuple[MessageTypeSymbol, str, int]:
    """``(message type, source record id, version)`` of a notification: the record is the conviction; its
    version comes from ``@version`` (1 for a new notification, at least 2 for an update or a deletion)."""
    raw_action = root.attribute("action")
    action = "NEW" if raw_action is None else raw_action.strip(" \t\r\n")
    message_type = values.choice(action, ACTIONS, AttributeAt(root, "action"))
    raw_version = root.attribute("version")
    if raw_version is None:
        if action != "NEW":
            raise missing(f"{root.path}/@version")
        return message_type, conviction_id, 1
    version = values.version(raw_version.strip(" \t\r\n"), AttributeAt(root, "version"))
    if (action == "NEW") != (version == 1):
        raise invalid(AttributeAt(root, "version"), "1 for a NEW notification, 2 or more for UPDATE and DELETE")
    return message_type, conviction_id, version


def _outcome(
    stated: Node | None, convictions: list[Node], case: CaseMessageSymbol | None
) -> ResponseOutcomeSymbol | None:
    """The outcome of a response: its ``ResponseOutcome``, else inferred from its convictions (CONVICTIONS_FOUND
    when it carries any, else NO_RECORD). A response that asks for more information has no outcome and carries
    no conviction; a stated outcome must agree with the convictions (RO-00-CNV with some, any other with
    none)."""
    if case == "MORE_INFORMATION_REQUEST":
        extra = stated if stated is not None else (convictions[0] if convictions else None)
        if extra is not None:
            raise invalid(extra.where, "neither ResponseOutcome nor Conviction when the action is REQUEST_INFORMATION")
        return None
    if stated is None:
        return "CONVICTIONS_FOUND" if convictions else "NO_RECORD"
    outcome = values.choice(stated.token(), OUTCOMES, stated)
    if (outcome == "CONVICTIONS_FOUND") != bool(convictions):
        raise invalid(stated.where, "RO-00-CNV with one or more Conviction, any other outcome with none")
    return outcome


def _canonical_header(
    header: Header,
    kind: Kind,
    identity: tuple[MessageTypeSymbol, str, int],
    ctx: ParseContext,
    outcome: ResponseOutcomeSymbol | None,
    authority: str | None,
) -> CanonicalHeader:
    """The canonical header; ``identity`` is (message type, source record id, version)."""
    message_type, record_id, version = identity
    return canonical.header(
        header.sender,
        record_id,
        version,
        message_type,
        ctx.received_at,
        legal_basis=header.legal_basis,
        purpose=header.purpose,
        reply_to=header.reply_to,
        urgency=header.urgency,
        deadline=header.deadline,
        # The receiving states of a notification are informational: the router derives its recipients
        # from the person's nationalities.
        addressed_to=() if kind is NOTIFICATION else header.receiving_states,
        external_message_id=header.global_id,
        requesting_authority=authority,
        case_message=header.case_message,
        outcome=outcome,
    )
