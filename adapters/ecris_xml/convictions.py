"""``Conviction`` elements of an ECRIS message -> canonical convictions, categories mapped."""

from __future__ import annotations

import re

from adapters.ecris_xml import values
from adapters.ecris_xml.person import partial_date, place
from adapters.ecris_xml.refcodes import (
    COMPLETION,
    LATER_DECISIONS,
    OFFENCE_CODE,
    PARTICIPATION,
    SANCTION_CODE,
    Categories,
    Countries,
)
from adapters.ecris_xml.tree import AttributeAt, Model, Node, Slot, invalid, many, opt
from adapters.ecris_xml.values import SYNTAX
from adapters.kit.distinct import Distinct
from schemas.records import Conviction, LaterDecision, Offence, PartialDate, Sanction

CONVICTION = Model(
    opt("ConvictingState"),
    Slot("Court"),
    Slot("DecisionDate"),
    opt("FinalDate"),
    opt("FileNumber"),
    many("Offence", 1),
    many("Sanction"),
    many("LaterDecision"),
    opt("RetentionEnd"),
)
COURT = Model(Slot("Name"), opt("Town"))
OFFENCE = Model(
    Slot("OffenceCategory"),
    Slot("NationalCode"),
    Slot("NationalTitle"),
    opt("LegalReference"),
    opt("Completion"),
    opt("Participation"),
    opt("CommittedOn"),
    opt("Place"),
)
SANCTION = Model(
    Slot("SanctionType"),
    opt("NationalCode"),
    opt("NationalTitle"),
    opt("Duration"),
    opt("Amount"),
    opt("Suspended"),
    opt("Probation"),
)
LATER_DECISION = Model(Slot("DecisionType"), Slot("DecisionDate"), opt("EffectiveFrom"))


class ConvictionReader:
    """Builds the canonical convictions of one message.

    ``sender`` is the sending state and the default convicting state; the national table of the convicting
    state maps the codes the ECRIS table does not. ``foreign`` says whether the message may carry convictions
    of other states (a response may; a notification is always about the sender's own conviction).
    """

    def __init__(self, sender: str, categories: Categories, countries: Countries, *, foreign: bool) -> None:
        self._sender = sender
        self._categories = categories
        self._countries = countries
        self._foreign = foreign

    def _state(self, node: Node | None) -> str:
        if node is None:
            return self._sender
        state = values.read(node, self._countries.alpha2)
        if state != self._sender and not self._foreign:
            raise invalid(node.where, "the sending state (a notification is about the sender's own conviction)")
        return state

    def _offence(self, node: Node, state: str) -> Offence:
        parts = node.children(OFFENCE)
        ecris_code = _code(parts.one("OffenceCategory"), OFFENCE_CODE, "an offence category O-00-nnnnnn")
        national_code = values.read_text(parts.one("NationalCode"))
        title, language = _titled(parts.one("NationalTitle"))
        return {
            "national_code": national_code,
            "national_title": title,
            "legal_reference": values.opt_text(parts.opt("LegalReference")),
            "title_language": language,
            "category": self._categories.offence(ecris_code, national_code, state),
            "completion": values.opt_choice(parts.opt("Completion"), COMPLETION, "UNKNOWN"),
            "participation": values.opt_choice(parts.opt("Participation"), PARTICIPATION, "UNKNOWN"),
            "committed_on": _opt_partial_date(parts.opt("CommittedOn")),
            "place": place(parts.opt("Place"), self._countries),
        }

    def _sanction(self, node: Node, state: str) -> Sanction:
        parts = node.children(SANCTION)
        ecris_code = _code(parts.one("SanctionType"), SANCTION_CODE, "a sanction type S-00-nnnnnn")
        national_code = values.opt_text(parts.opt("NationalCode"))
        title = parts.opt("NationalTitle")
        if title is not None:
            _titled(title)  # checked, not carried: the canonical sanction has no title
        amount_node = parts.opt("Amount")
        amount, currency = (None, None) if amount_node is None else _amount(amount_node)
        suspended = values.opt_read(parts.opt("Suspended"), values.boolean)
        return {
            "national_code": national_code,
            "category": self._categories.sanction(ecris_code, national_code, state),
            "duration": values.opt_read(parts.opt("Duration"), SYNTAX.duration),
            "amount": amount,
            "currency": currency,
            "suspended": bool(suspended),
            "probation": values.opt_read(parts.opt("Probation"), SYNTAX.duration),
        }

    def conviction(self, node: Node) -> Conviction:
        """One canonical conviction. Raises AdapterError naming the element path."""
        parts = node.children(CONVICTION, attributes=("id",))
        conviction_id = values.attribute(node, "id", values.identifier)
        state = self._state(parts.opt("ConvictingState"))
        court = parts.one("Court").children(COURT)
        final_node = parts.opt("FinalDate")
        decided = values.read(parts.one("DecisionDate"), SYNTAX.date)
        final = values.opt_read(final_node, SYNTAX.date)
        if final_node is not None and final is not None and final < decided:
            raise invalid(final_node.where, "a date not before DecisionDate")
        return {
            "conviction_id": conviction_id,
            "court": {"name": values.read_text(court.one("Name")), "place": values.opt_text(court.opt("Town"))},
            "decision_date": decided,
            "date_final": final,
            "file_number": values.opt_text(parts.opt("FileNumber")),
            "offences": [self._offence(n, state) for n in parts.all("Offence")],
            "sanctions": [self._sanction(n, state) for n in parts.all("Sanction")],
            "later_decisions": [_later_decision(n) for n in parts.all("LaterDecision")],
            "retention_end": values.opt_read(parts.opt("RetentionEnd"), SYNTAX.date),
        }


def _code(node: Node, pattern: re.Pattern[str], expected: str) -> str:
    code = node.token()
    if not pattern.fullmatch(code):
        raise invalid(node.where, expected)
    return code


def _opt_partial_date(node: Node | None) -> PartialDate | None:
    return None if node is None else partial_date(node)


def _titled(node: Node) -> tuple[str, str]:
    """A text with its required ``lang`` attribute: ``(text, ISO 639-1 code)``."""
    title = values.text(node.leaf(attributes=("lang",)), node)
    return title, values.attribute(node, "lang", SYNTAX.language)


def _amount(node: Node) -> tuple[str, str]:
    amount = SYNTAX.amount(node.token(attributes=("currency",)), node)
    return amount, values.attribute(node, "currency", SYNTAX.currency)


def _later_decision(node: Node) -> LaterDecision:
    parts = node.children(LATER_DECISION)
    kind = parts.one("DecisionType")
    return {
        "kind": values.choice(kind.token(), LATER_DECISIONS, kind),
        "decision_date": values.read(parts.one("DecisionDate"), SYNTAX.date),
        "effective_from": values.opt_read(parts.opt("EffectiveFrom"), SYNTAX.date),
    }


def build_convictions(nodes: list[Node], reader: ConvictionReader) -> list[Conviction]:
    """The canonical convictions of ``nodes``; conviction ids must be unique within the message.

    Raises AdapterError naming the element path (INVALID_VALUE for a repeated id).
    """
    ids = Distinct(invalid, "an id not used by another Conviction of the message")
    out: list[Conviction] = []
    for node in nodes:
        conviction = reader.conviction(node)
        ids.add(AttributeAt(node, "id"), conviction["conviction_id"])
        out.append(conviction)
    return out
