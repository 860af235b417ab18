"""The ``convictions`` section of a crx-json/1 record -> canonical convictions, categories mapped."""

from __future__ import annotations

from typing import get_args

from adapters.json_v1 import values
from adapters.json_v1.fields import Node, invalid, missing
from adapters.json_v1.person import place
from adapters.json_v1.values import SYNTAX
from adapters.kit import canonical
from adapters.kit.codes import CodeTable
from adapters.kit.distinct import Distinct
from schemas.records import (
    CompletionSymbol,
    Conviction,
    LaterDecision,
    LaterDecisionKindSymbol,
    Offence,
    ParticipationSymbol,
    Sanction,
)

COMPLETION: dict[str, CompletionSymbol] = canonical.as_written("COMPLETED", "ATTEMPTED", "PREPARATION", "UNKNOWN")
PARTICIPATION: dict[str, ParticipationSymbol] = canonical.as_written(
    "PERPETRATOR", "CO_PERPETRATOR", "ACCESSORY", "INSTIGATOR", "UNKNOWN"
)
# The schema's symbols, as written (get_args reads them from the Literal alias itself).
LATER_DECISION_KINDS: dict[str, LaterDecisionKindSymbol] = canonical.as_written(*get_args(LaterDecisionKindSymbol))


def _offence(node: Node, table: CodeTable) -> Offence:
    code = node.string("code")
    return {
        "national_code": code,
        "national_title": node.string("title"),
        "legal_reference": node.opt_string("legal_reference"),
        "title_language": node.parsed("lang", SYNTAX.language),
        "category": table.offence_category(code),
        "completion": node.choice("completion", COMPLETION, default="UNKNOWN"),
        "participation": node.choice("participation", PARTICIPATION, default="UNKNOWN"),
        "committed_on": node.opt_parsed("date", values.partial_date),
        "place": place(node.opt_child("place")),
    }


def _sanction(node: Node, table: CodeTable) -> Sanction:
    code = node.opt_string("code")
    amount = node.opt_parsed("amount", SYNTAX.amount)
    currency = node.opt_parsed("currency", SYNTAX.currency)
    if amount is not None and currency is None:
        raise missing(node.at("currency"))
    return {
        "national_code": code,
        "category": table.sanction_category(code),
        "duration": node.opt_parsed("duration", SYNTAX.duration),
        "amount": amount,
        "currency": currency,
        "suspended": node.boolean("suspended", default=False),
        "probation": node.opt_parsed("probation", SYNTAX.duration),
    }


def _later_decision(node: Node) -> LaterDecision:
    return {
        "kind": node.choice("kind", LATER_DECISION_KINDS),
        "decision_date": node.parsed("date", SYNTAX.date),
        "effective_from": node.opt_parsed("effective_from", SYNTAX.date),
    }


def _conviction(node: Node, table: CodeTable) -> Conviction:
    court = node.child("court")
    decided = node.parsed("decision_date", SYNTAX.date)
    final = node.opt_parsed("final_date", SYNTAX.date)
    if final is not None and final < decided:
        raise invalid(node.at("final_date"), "a date not before decision_date")
    return {
        "conviction_id": node.string("id"),
        "court": {"name": court.string("name"), "place": court.opt_string("place")},
        "decision_date": decided,
        "date_final": final,
        "file_number": node.opt_string("file_number"),
        "offences": [_offence(n, table) for n in node.objects("offences", required=True, non_empty=True)],
        "sanctions": [_sanction(n, table) for n in node.objects("sanctions", required=True)],
        "later_decisions": [_later_decision(n) for n in node.objects("later_decisions")],
        "retention_end": node.opt_parsed("retention_end", SYNTAX.date),
    }


def build_convictions(root: Node, table: CodeTable, *, may_be_empty: bool) -> list[Conviction]:
    """The canonical convictions; ``may_be_empty`` for message types that need none (the list may be absent).

    Raises AdapterError naming the field path; INVALID_VALUE also for two convictions with the same id.
    """
    nodes = root.objects("convictions", required=not may_be_empty, non_empty=not may_be_empty)
    out = [_conviction(n, table) for n in nodes]
    ids = Distinct(invalid, "an id not used by another conviction of the record")
    for i, conviction in enumerate(out):
        ids.add(f"convictions[{i}].id", conviction["conviction_id"])
    return out
