"""The conviction records of a batch -> canonical convictions: CV (the decision), then OF (offences), SN
(sanctions) and LD (later decisions) in any order; codes mapped through the sender's table."""

from __future__ import annotations

import re

from adapters.fixed_width.fields import Line
from adapters.kit import canonical, durations, money
from adapters.kit.codes import CodeTable
from adapters.kit.durations import UNITS
from schemas.records import (
    CompletionSymbol,
    Conviction,
    Duration,
    LaterDecision,
    LaterDecisionKindSymbol,
    Offence,
    ParticipationSymbol,
    Sanction,
)

COMPLETION: dict[str, CompletionSymbol] = {"C": "COMPLETED", "A": "ATTEMPTED", "P": "PREPARATION", "U": "UNKNOWN"}
PARTICIPATION: dict[str, ParticipationSymbol] = {
    "P": "PERPETRATOR",
    "C": "CO_PERPETRATOR",
    "A": "ACCESSORY",
    "I": "INSTIGATOR",
    "U": "UNKNOWN",
}
LATER_DECISION_KINDS: dict[str, LaterDecisionKindSymbol] = {
    "P": "PARDON",
    "A": "AMNESTY",
    "R": "REHABILITATION",
    "V": "REVERSAL",
    "M": "SENTENCE_MODIFICATION",
    "S": "SUSPENSION_REVOKED",
    "E": "EXPUNGEMENT",
    "O": "OTHER",
}
YES_NO = {"Y": "Y", "N": "N"}
MAX_OFFENCE_CODE = 999_999
_SANCTION_CODE = re.compile(r"[A-Z0-9]{1,6}", re.ASCII)


def conviction_of(line: Line, record_id: str) -> Conviction:
    """The canonical conviction of a CV record; its offences, sanctions and later decisions still empty.

    ``conviction_id`` is the record number, a hyphen and the three-digit conviction sequence. Raises
    MISSING_FIELD (court name, decision date), INVALID_VALUE (bad dates, final before decided).
    """
    decided = line.date("decision_date")
    final = line.opt_date("date_final")
    if final is not None and final < decided:
        raise line.invalid("date_final", "a date not before decision_date")
    return {
        "conviction_id": f"{record_id}-{line.raw('conviction_seq')}",
        "court": {"name": line.text_field("court_name"), "place": line.opt_text("court_place")},
        "decision_date": decided,
        "date_final": final,
        "file_number": line.opt_text("file_number"),
        "offences": [],
        "sanctions": [],
        "later_decisions": [],
        "retention_end": line.opt_date("retention_end"),
    }


def offence_of(line: Line, table: CodeTable, language: str) -> Offence:
    """The canonical offence of an OF record. The national code is the offence code without its zero
    padding (``007875`` -> ``7875``); the title is in the batch's ``language``."""
    code = str(line.integer("offence_code", 1, MAX_OFFENCE_CODE))
    place = canonical.place(line.opt_text("place_town"), line.country("place_country", required=False))
    committed = line.partial_date("committed_on")
    return {
        "national_code": code,
        "national_title": line.text_field("title"),
        "legal_reference": line.opt_text("legal_reference"),
        "title_language": language,
        "category": table.offence_category(code),
        "completion": line.choice("completion", COMPLETION),
        "participation": line.choice("participation", PARTICIPATION),
        "committed_on": None if committed["year"] is None else committed,
        "place": place,
    }


def _duration(line: Line, prefix: str) -> Duration | None:
    """Years, months, days and hours; None when all four are zero."""
    parts = {unit: line.integer(f"{prefix}_{unit}") for unit in UNITS}
    return durations.duration(**parts) if any(parts.values()) else None


def _amount(line: Line) -> str | None:
    """The amount 9(13)V99 as a decimal string with two fraction digits; None when blank."""
    if not line.raw("amount").strip(" "):
        return None
    return money.implied_decimal(line.digits("amount"))


def sanction_of(line: Line, table: CodeTable) -> Sanction:
    """The canonical sanction of an SN record. Raises MISSING_FIELD (code; currency with an amount) and
    INVALID_VALUE (bad code, duration, amount, currency without amount, suspended flag)."""
    code = line.matching("sanction_code", _SANCTION_CODE, "up to 6 capital letters or digits")
    amount = _amount(line)
    currency = line.opt_matching("currency", money.CURRENCY, "an ISO 4217 code")
    if amount is not None and currency is None:
        raise line.missing("currency")
    if amount is None and currency is not None:
        raise line.invalid("currency", "blank when the amount is blank")
    return {
        "national_code": code,
        "category": table.sanction_category(code),
        "duration": _duration(line, "duration"),
        "amount": amount,
        "currency": currency,
        "suspended": line.choice("suspended", YES_NO) == "Y",
        "probation": _duration(line, "probation"),
    }


def later_decision_of(line: Line) -> LaterDecision:
    """The canonical later decision of an LD record."""
    return {
        "kind": line.choice("decision_kind", LATER_DECISION_KINDS),
        "decision_date": line.date("decision_date"),
        "effective_from": line.opt_date("effective_from"),
    }
