"""Parsers for the value syntaxes of the format: text, identifiers, dates (full and partial), timestamps,
ISO 8601 durations, decimal amounts, booleans and the short codes (currency, language, script, enumerations).

Each takes the value (already stripped of surrounding XML white space for everything but free text) and
``where`` it comes from (formatted only for an error message), and returns the canonical value or raises
INVALID_VALUE without quoting the value. All patterns are ASCII-only, so no other script's digits slip
through ``int()``. The ``read``/``opt_read``/``attribute`` helpers apply them to elements and attributes.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from adapters.ecris_xml.tree import XML_SPACE, AttributeAt, Node, Where, invalid, missing

T = TypeVar("T")

MAX_TEXT = 4096
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # C0 and C1 controls (XSD \p{Cc})
_IDENTIFIER = re.compile(r"[!-~]{1,128}", re.ASCII)
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})", re.ASCII)
_YEAR = re.compile(r"[0-9]{4}", re.ASCII)
_TWO_DIGITS = re.compile(r"[0-9]{2}", re.ASCII)
_TIMESTAMP = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?(?:Z|[+-][0-9]{2}:[0-9]{2})", re.ASCII
)
_DURATION = re.compile(r"P(?:([0-9]{1,4})Y)?(?:([0-9]{1,4})M)?(?:([0-9]{1,5})D)?(?:T([0-9]{1,6})H)?", re.ASCII)
_AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
_LANGUAGE = re.compile(r"[a-z]{2}", re.ASCII)
_SCRIPT = re.compile(r"[A-Z][a-z]{3}", re.ASCII)
_VERSION = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
MAX_VERSION = 2**31 - 1  # Avro int


def _matching(pattern: re.Pattern[str], value: str, where: Where, expected: str) -> re.Match[str]:
    found = pattern.fullmatch(value)
    if found is None:
        raise invalid(where, expected)
    return found


def text(value: str, where: Where) -> str:
    """Free text: not blank, at most MAX_TEXT characters, no control characters (tab and line breaks
    included). Kept exactly as written."""
    if not value.strip(" "):
        raise invalid(where, "non-blank text")
    if len(value) > MAX_TEXT:
        raise invalid(where, f"text of at most {MAX_TEXT} characters")
    if _CONTROL.search(value):
        raise invalid(where, "text without control characters")
    return value


def identifier(value: str, where: Where) -> str:
    """An identifier: 1 to 128 visible ASCII characters, no spaces."""
    return _matching(_IDENTIFIER, value, where, "1 to 128 visible ASCII characters").group()


def date(value: str, where: Where) -> dt.date:
    """A full calendar date ``YYYY-MM-DD`` (no time zone)."""
    found = _matching(_DATE, value, where, "a date YYYY-MM-DD")
    try:
        return dt.date(int(found[1]), int(found[2]), int(found[3]))
    except ValueError:
        raise invalid(where, "an existing calendar date") from None


def partial_date(year: str, month: str | None, day: str | None, where: Where) -> dict[str, int | None]:
    """A canonical PartialDate from the ``Year`` (4 digits), ``Month`` and ``Day`` (2 digits) elements.

    A day needs a month; the known parts must form an existing date.
    """
    _matching(_YEAR, year, where, "a Year of four digits")
    if month is not None:
        _matching(_TWO_DIGITS, month, where, "a Month of two digits")
    if day is not None:
        if month is None:
            raise invalid(where, "a Month with the Day")
        _matching(_TWO_DIGITS, day, where, "a Day of two digits")
    result: dict[str, int | None] = {
        "year": int(year),
        "month": None if month is None else int(month),
        "day": None if day is None else int(day),
    }
    try:
        dt.date(int(year), 1 if month is None else int(month), 1 if day is None else int(day))
    except ValueError:
        raise invalid(where, "an existing calendar date") from None
    return result


def partial_date_after(partial: dict[str, int | None], day: dt.date) -> bool:
    """True when every date ``partial`` may stand for lies after ``day``."""
    year, month, dom = partial["year"], partial["month"], partial["day"]
    if year is None:
        return False
    return (year, month or 1, dom or 1) > (day.year, day.month, day.day)


def timestamp(value: str, where: Where) -> dt.datetime:
    """An XSD ``dateTime`` with an explicit offset (``Z`` or ``+hh:mm``), returned in UTC."""
    expected = "a date-time with offset, YYYY-MM-DDThh:mm:ss+hh:mm"
    normal = _matching(_TIMESTAMP, value, where, expected).group()
    try:
        return dt.datetime.fromisoformat(normal).astimezone(dt.UTC)
    except (ValueError, OverflowError):
        raise invalid(where, expected) from None


def duration(value: str, where: Where) -> dict[str, int]:
    """An ISO 8601 duration in years, months, days and hours (``P1Y6M``, ``P30D``, ``PT48H``), at least one
    component; no weeks (XSD ``duration`` has none), minutes, seconds, fractions or signs."""
    found = _matching(_DURATION, value, where, "an ISO 8601 duration like P1Y6M, P30D or PT48H")
    if not any(found.groups()):
        raise invalid(where, "an ISO 8601 duration with at least one component")
    years, months, days, hours = (int(g) if g else 0 for g in found.groups())
    return {"years": years, "months": months, "days": days, "hours": hours}


def amount(value: str, where: Where) -> str:
    """A non-negative decimal (``1500.00``), kept as text so no float rounding happens."""
    return _matching(_AMOUNT, value, where, "a decimal like 1500.00").group()


def currency(value: str, where: Where) -> str:
    """An ISO 4217 code: three upper-case letters."""
    return _matching(_CURRENCY, value, where, "an ISO 4217 currency code").group()


def language(value: str, where: Where) -> str:
    """An ISO 639-1 code: two lower-case letters."""
    return _matching(_LANGUAGE, value, where, "an ISO 639-1 language code").group()


def script(value: str, where: Where) -> str:
    """An ISO 15924 code: one upper-case and three lower-case letters (``Latn``, ``Cyrl``)."""
    return _matching(_SCRIPT, value, where, "an ISO 15924 script code").group()


def boolean(value: str, where: Where) -> bool:
    """An XSD boolean: ``true``, ``false``, ``1`` or ``0``."""
    found = _BOOLEANS.get(value)
    if found is None:
        raise invalid(where, "true, false, 1 or 0")
    return found


def version(value: str, where: Where) -> int:
    """A record version: an integer from 1 to 2^31-1 without sign or leading zeros."""
    _matching(_VERSION, value, where, "an integer from 1")
    number = int(value)
    if number > MAX_VERSION:
        raise invalid(where, f"an integer up to {MAX_VERSION}")
    return number


def choice(value: str, allowed: Mapping[str, str], where: Where) -> str:
    """An enumerated code translated through ``allowed``."""
    found = allowed.get(value)
    if found is None:
        raise invalid(where, "one of " + ", ".join(allowed))
    return found


def read(node: Node, parse: Callable[[str, Where], T]) -> T:
    """``parse`` applied to the value of a simple element without attributes (surrounding white space off)."""
    return parse(node.token(), node)


def opt_read(node: Node | None, parse: Callable[[str, Where], T]) -> T | None:
    """``read`` for an optional element: None when it is absent."""
    return None if node is None else parse(node.token(), node)


def opt_choice(node: Node | None, allowed: Mapping[str, str], default: str) -> str:
    """An optional enumerated element translated through ``allowed``; ``default`` when absent."""
    return default if node is None else choice(node.token(), allowed, node)


def read_text(node: Node) -> str:
    """The free text of a simple element without attributes (kept exactly as written)."""
    return text(node.leaf(), node)


def opt_text(node: Node | None) -> str | None:
    """``read_text`` for an optional element: None when it is absent."""
    return None if node is None else read_text(node)


def attribute(node: Node, name: str, parse: Callable[[str, Where], T]) -> T:
    """The required unqualified attribute ``name`` of ``node``, parsed (surrounding white space off, except
    for free text). Raises MISSING_FIELD when it is absent."""
    raw = node.attribute(name)
    if raw is None:
        raise missing(f"{node.path}/@{name}")
    return parse(raw if parse is text else raw.strip(XML_SPACE), AttributeAt(node, name))
