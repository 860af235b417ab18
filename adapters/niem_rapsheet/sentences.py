"""A cycle's sentences (``rap:Sentencing/rap:Sentence``) -> canonical sanctions.

Structured parts of a sentence come first: each ``j:SentenceTerm`` or ``j:SupervisionAssignedTerm`` (kind from
``nc:ActivityCategoryText`` or ``nc:ActivityDescriptionText``, length from ``j:TermDuration``, else
``j:TermMaximumDuration``, else ``j:TermMinimumDuration``), each ``j:SentenceSuspendedTerm`` (a suspended term) and
each ``rap:SupervisionFineAmount`` (a fine in USD, its text or its ``nc:Amount``). A sentence with none of these
is read from its ``j:SentenceDescriptionText`` (``365 DAYS JAIL``, ``003 YEARS PROBATION``, ``A FINE OF
$1,000.00``); a description the adapter cannot read still gives one sanction of category UNKNOWN.
"""

from __future__ import annotations

import re

from adapters.kit import durations, money
from adapters.kit.codes import CodeTable
from adapters.niem_rapsheet import values
from adapters.niem_rapsheet.tree import Node
from schemas.records import Duration, Sanction

CURRENCY = "USD"
FINE = "FINE"
SUSPENDED = "SUSPENDED"
_TERM_KINDS = ("SentenceTerm", "SupervisionAssignedTerm")
_LENGTHS = ("TermDuration", "TermMaximumDuration", "TermMinimumDuration")
_TEXT_TERM = re.compile(
    r"\b(\d{1,4})\s*(YEARS?|YRS?|MONTHS?|MOS?|DAYS?|HOURS?|HRS?)\s+(?:OF\s+)?"
    r"(PRISON|JAIL|CONFINEMENT|PROBATION|COMMUNITY SERVICE)\b(\s+SUSP(?:ENDED)?\b)?",
    re.ASCII,
)
_TEXT_FINE = re.compile(
    r"\bFINE(?:\s+OF)?\s*\$\s*(\d{1,3}(?:,\d{3}){1,4}|\d{1,15})(\.\d{1,2})?"
    r"|\$\s*(\d{1,3}(?:,\d{3}){1,4}|\d{1,15})(\.\d{1,2})?\s+FINE\b",
    re.ASCII,
)
_UNITS = {"Y": "years", "M": "months", "D": "days", "H": "hours"}


def _sanction(
    table: CodeTable,
    code: str | None,
    duration: Duration | None = None,
    amount: str | None = None,
    suspended: bool = False,
) -> Sanction:
    category = table.sanction_category(code)
    if suspended and category == "IMPRISONMENT":
        category = "SUSPENDED_IMPRISONMENT"
    return {
        "national_code": code,
        "category": category,
        "duration": duration,
        "amount": amount,
        "currency": CURRENCY if amount is not None else None,
        "suspended": suspended,
        "probation": None,
    }


def _length(term: Node) -> Duration | None:
    for name in _LENGTHS:
        child = term.first(name)
        if child is not None and (text := child.text()) is not None:
            return values.duration(text, child)
    return None


def _kind(term: Node) -> str | None:
    text = term.text_of("ActivityCategoryText") or term.text_of("ActivityDescriptionText")
    return None if text is None else text.upper()


def _from_description(text: str, table: CodeTable) -> list[Sanction]:
    upper = text.upper()
    out: list[Sanction] = []
    for number, unit, kind, suspended in _TEXT_TERM.findall(upper):
        duration = durations.duration(**{_UNITS[unit[0]]: int(number)})
        out.append(_sanction(table, kind, duration, suspended=bool(suspended)))
    for whole, cents, whole_after, cents_after in _TEXT_FINE.findall(upper):
        out.append(_sanction(table, FINE, amount=money.plain_amount(whole or whole_after, cents or cents_after)))
    return out or [_sanction(table, None)]


def sanctions_of(sentence: Node, table: CodeTable) -> list[Sanction]:
    """The canonical sanctions of one ``rap:Sentence``. Raises INVALID_VALUE for a bad duration or amount."""
    out: list[Sanction] = []
    for kind in _TERM_KINDS:
        for term in sentence.all(kind):
            code, length = _kind(term), _length(term)
            if code is not None or length is not None:
                out.append(_sanction(table, code, length))
    for term in sentence.all("SentenceSuspendedTerm"):
        length = _length(term)
        if length is not None:
            out.append(_sanction(table, _kind(term) or SUSPENDED, length, suspended=True))
    for fine in sentence.all("SupervisionFineAmount"):
        holder = fine.first("Amount") or fine
        text = holder.text()
        if text is not None:
            out.append(_sanction(table, FINE, amount=values.amount(text, holder)))
    if not out:
        description = sentence.text_of("SentenceDescriptionText")
        if description is not None:
            out = _from_description(description, table)
    return out
