"""Value syntaxes of the format: NIEM date representations, XML Schema durations and money amounts.

Each reader takes a ``Node`` (or text and the node it came from) and returns the canonical value, raising INVALID_VALUE
naming the path only. All patterns are ASCII-only, so no other script's digits slip through ``int()``.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from adapters.kit import dates, durations, money
from adapters.niem_rapsheet.tree import Node, invalid
from schemas.records import Duration, PartialDate

_ZONE = r"(?:Z|[+-]\d{2}:\d{2})?"
_DATE = re.compile(rf"(\d{{4}})-(\d{{2}})-(\d{{2}}){_ZONE}", re.ASCII)
_DATE_TIME = re.compile(rf"(\d{{4}})-(\d{{2}})-(\d{{2}})T\d{{2}}:\d{{2}}:\d{{2}}(?:\.\d{{1,9}})?{_ZONE}", re.ASCII)
_YEAR_MONTH = re.compile(rf"(\d{{4}})-(\d{{2}}){_ZONE}", re.ASCII)
_YEAR = re.compile(rf"(\d{{4}}){_ZONE}", re.ASCII)
_DURATION = re.compile(
    r"P(?:(\d{1,4})Y)?(?:(\d{1,4})M)?(?:(\d{1,5})D)?(?:T(?:(\d{1,6})H)?(?:(0{1,2})M)?(?:(0{1,2}(?:\.0+)?)S)?)?",
    re.ASCII,
)
_AMOUNT = re.compile(r"(?:\$|USD)?\s*(\d{1,3}(?:,\d{3}){1,4}|\d{1,15})(\.\d{1,6})?", re.ASCII)

# NIEM 2.0 nc:DateRepresentation substitutes, in the order they are looked for.
_FORMS: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("Date", _DATE, "a date YYYY-MM-DD"),
    ("DateTime", _DATE_TIME, "a date-time YYYY-MM-DDThh:mm:ss"),
    ("YearMonth", _YEAR_MONTH, "a year and month YYYY-MM"),
    ("Year", _YEAR, "a year YYYY"),
)


@dataclass(frozen=True)
class DateValue:
    """A date as the document gives it: the canonical PartialDate, and the full date when the day is known."""

    partial: PartialDate
    full: dt.date | None


def read_date(node: Node | None) -> DateValue | None:
    """The date held by a NIEM date element (its ``nc:Date``, ``nc:DateTime``, ``nc:YearMonth`` or ``nc:Year``
    child, the first present in that order); None when ``node`` is None or holds none of them."""
    if node is None:
        return None
    for name, pattern, expected in _FORMS:
        child = node.first(name)
        if child is None:
            continue
        text = child.text()
        if text is None:
            continue
        found = pattern.fullmatch(text)
        if found is None:
            raise invalid(child.path, expected)
        groups = found.groups()
        year = int(groups[0])
        month = int(groups[1]) if len(groups) > 1 else None
        day = int(groups[2]) if len(groups) > 2 else None
        full = dates.existing_day(year, month, day, child, invalid)  # also refuses the year 0000
        return DateValue(dates.partial_date(year, month, day), full if day is not None else None)
    return None


def duration(text: str, where: Node) -> Duration:
    """An XML Schema duration in years, months, days and hours (``P2Y6M``, ``P30D``, ``PT48H``) as a canonical
    Duration. Minutes and seconds are accepted only when zero; negative durations are refused."""
    found = _DURATION.fullmatch(text)
    if found is None or not any(found.groups()[:4]) or text.endswith("T"):
        raise invalid(where.path, "an XML Schema duration of years, months, days or hours, like P2Y6M or P30D")
    years, months, days, hours = (int(g) if g else 0 for g in found.groups()[:4])
    return durations.duration(years, months, days, hours)


def amount(text: str, where: Node) -> str:
    """A non-negative money amount (``1500``, ``1500.00``, ``$1,500.00``) as a plain decimal string."""
    found = _AMOUNT.fullmatch(text)
    if found is None:
        raise invalid(where.path, "an amount like 1500.00")
    return money.plain_amount(found[1], found[2] or "")
