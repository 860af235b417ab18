"""Parsers for the format's value syntaxes: dates (full and partial), RFC 3339 timestamps, ISO 8601
durations, decimal amounts and the short codes (currency, language, script).

Each takes the raw JSON value and its path and returns the canonical value, or raises INVALID_VALUE
naming the path only. All patterns are ASCII-only, so no other script's digits slip through ``int()``.
"""

from __future__ import annotations

import datetime as dt
import re

from adapters.json_v1.fields import invalid

_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})", re.ASCII)
_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})", re.ASCII)
_DURATION = re.compile(r"P(?:(\d{1,4})Y)?(?:(\d{1,4})M)?(?:(\d{1,4})W)?(?:(\d{1,5})D)?(?:T(\d{1,6})H)?", re.ASCII)
_AMOUNT = re.compile(r"\d{1,15}(?:\.\d{1,6})?", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_LANGUAGE = re.compile(r"[a-z]{2}", re.ASCII)
_SCRIPT = re.compile(r"[A-Z][a-z]{3}", re.ASCII)


def _matching(pattern: re.Pattern[str], value: object, path: str, expected: str) -> re.Match[str]:
    if not isinstance(value, str):
        raise invalid(path, expected)
    found = pattern.fullmatch(value)
    if found is None:
        raise invalid(path, expected)
    return found


def date(value: object, path: str) -> dt.date:
    """A calendar date ``YYYY-MM-DD``."""
    found = _matching(_DATE, value, path, "a date YYYY-MM-DD")
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise invalid(path, "an existing calendar date") from None


def partial_date(value: object, path: str) -> dict[str, int | None]:
    """A date of explicit precision, ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, as a canonical PartialDate."""
    found = _matching(_PARTIAL_DATE, value, path, "a date YYYY, YYYY-MM or YYYY-MM-DD")
    year = int(found[1])
    month = int(found[2]) if found[2] else None
    day = int(found[3]) if found[3] else None
    try:
        dt.date(year, 1 if month is None else month, 1 if day is None else day)
    except ValueError:
        raise invalid(path, "an existing calendar date") from None
    return {"year": year, "month": month, "day": day}


def partial_date_after(partial: dict[str, int | None], day: dt.date) -> bool:
    """True when every date ``partial`` may stand for lies after ``day``."""
    year, month, dom = partial["year"], partial["month"], partial["day"]
    if year is None:
        return False
    return (year, month or 1, dom or 1) > (day.year, day.month, day.day)


def timestamp(value: object, path: str) -> dt.datetime:
    """An RFC 3339 date-time with an explicit offset (``Z`` or ``+hh:mm``), returned in UTC."""
    expected = "an RFC 3339 date-time with offset"
    if not isinstance(value, str):
        raise invalid(path, expected)
    normal = _matching(_TIMESTAMP, value.upper(), path, expected).group()
    try:
        return dt.datetime.fromisoformat(normal).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise invalid(path, expected) from None


def duration(value: object, path: str) -> dict[str, int]:
    """An ISO 8601 duration in years, months, weeks, days and hours (``P1Y6M``, ``P30D``, ``PT48H``).

    Weeks are counted as seven days; minutes and seconds are not part of the format.
    """
    found = _matching(_DURATION, value, path, "an ISO 8601 duration like P1Y6M, P2W, P30D or PT48H")
    if not any(found.groups()):
        raise invalid(path, "an ISO 8601 duration with at least one component")
    years, months, weeks, days, hours = (int(g) if g else 0 for g in found.groups())
    return {"years": years, "months": months, "days": weeks * 7 + days, "hours": hours}


def amount(value: object, path: str) -> str:
    """A non-negative decimal string (``"1500.00"``), kept as text so no float rounding happens."""
    return _matching(_AMOUNT, value, path, "a decimal string like 1500.00").group()


def currency(value: object, path: str) -> str:
    """An ISO 4217 code: three upper-case letters."""
    return _matching(_CURRENCY, value, path, "an ISO 4217 currency code").group()


def language(value: object, path: str) -> str:
    """An ISO 639-1 code: two lower-case letters."""
    return _matching(_LANGUAGE, value, path, "an ISO 639-1 language code").group()


def script(value: object, path: str) -> str:
    """An ISO 15924 code: one upper-case and three lower-case letters (``Latn``, ``Cyrl``)."""
    return _matching(_SCRIPT, value, path, "an ISO 15924 script code").group()
