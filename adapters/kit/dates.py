"""Dates: calendar dates and RFC 3339 / XSD timestamps in ISO 8601 notation, and the canonical PartialDate.

A PartialDate (``schemas.records.PartialDate``) is ``{"year", "month", "day"}`` with None for an unknown part (a
day only with a month). All patterns are ASCII-only, so no other script's digits slip through ``int()``.
"""

from __future__ import annotations

import datetime as dt
import re

from adapters.kit.errors import Invalid
from adapters.kit.text import fullmatch
from schemas.records import PartialDate

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
EXISTING = "an existing calendar date"


def first_day(year: int, month: int | None, day: int | None) -> dt.date | None:
    """The earliest day that ``year``, ``month`` and ``day`` may stand for (an unknown month or day counts as
    1), or None when there is no such day (year 0, month 0 or 13, 30 February). Raises nothing."""
    try:
        return dt.date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        return None


def existing_day(year: int, month: int | None, day: int | None, where: object, invalid: Invalid) -> dt.date:
    """``first_day``, or ``invalid(where, "an existing calendar date")`` raised when there is none."""
    found = first_day(year, month, day)
    if found is None:
        raise invalid(where, EXISTING)
    return found


def partial_date(year: int | None, month: int | None, day: int | None) -> PartialDate:
    """The canonical PartialDate of the known parts, None for an unknown one (not checked: see ``existing_day``)."""
    return {"year": year, "month": month, "day": day}


def partial_date_after(partial: PartialDate, day: dt.date) -> bool:
    """True when every date ``partial`` may stand for lies after ``day`` (never for an unknown year)."""
    year, month, dom = partial["year"], partial["month"], partial["day"]
    if year is None:
        return False
    return (year, month or 1, dom or 1) > (day.year, day.month, day.day)


def iso_date(value: object, where: object, invalid: Invalid) -> dt.date:
    """A calendar date ``YYYY-MM-DD``.

    Raises ``invalid(where, ...)`` for another syntax (or a value that is not a string) and for a date that
    does not exist.
    """
    found = fullmatch(_DATE, value, where, "a date YYYY-MM-DD", invalid)
    return existing_day(int(found[1]), int(found[2]), int(found[3]), where, invalid)


def timestamp(value: object, where: object, expected: str, invalid: Invalid, *, fold_case: bool = False) -> dt.datetime:
    """A date-time ``YYYY-MM-DDThh:mm:ss[.fraction]`` with an explicit offset (``Z`` or ``+hh:mm``), in UTC.

    ``fold_case`` also accepts ``t`` and ``z`` (RFC 3339 allows them). Raises ``invalid(where, expected)``
    for another syntax, a value that is not a string, or a date-time that does not exist.
    """
    if fold_case and isinstance(value, str):
        value = value.upper()
    normal = fullmatch(_TIMESTAMP, value, where, expected, invalid).group()
    try:
        return dt.datetime.fromisoformat(normal).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise invalid(where, expected) from None
