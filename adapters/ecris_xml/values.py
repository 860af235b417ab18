"""Parsers for the value syntaxes of the format: text, identifiers, dates (full and partial), timestamps,
ISO 8601 durations, decimal amounts, booleans and the short codes (currency, language, script, enumerations).

Each takes the value (already stripped of surrounding XML white space for everything but free text) and
``where`` it comes from (formatted only for an error message), and returns the canonical value or raises
INVALID_VALUE without quoting the value. ``SYNTAX`` holds the kit's shared syntaxes (``adapters.kit.syntax``)
in this format's words: ``SYNTAX.date``, ``.timestamp``, ``.duration``, ``.amount``, ``.currency``,
``.language``, ``.script``. All patterns are ASCII-only, so no other script's digits slip through ``int()``.
The ``read``/``opt_read``/``attribute`` helpers apply the parsers to elements and attributes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import TypeVar

from adapters.ecris_xml.tree import XML_SPACE, AttributeAt, Node, Where, invalid, missing
from adapters.kit import dates
from adapters.kit.canonical import MAX_VERSION
from adapters.kit.syntax import ValueSyntax
from adapters.kit.text import FreeText, fullmatch
from schemas.records import PartialDate

T = TypeVar("T")

_IDENTIFIER = re.compile(r"[!-~]{1,128}", re.ASCII)
_YEAR = re.compile(r"[0-9]{4}", re.ASCII)
_TWO_DIGITS = re.compile(r"[0-9]{2}", re.ASCII)
_VERSION = re.compile(r"[1-9][0-9]{0,9}", re.ASCII)
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}
_TEXT = FreeText(blank=" ")  # C0 and C1 controls are refused (XSD \p{Cc}), tab and line breaks included
# Durations have no weeks (XSD duration has none); timestamps are XSD dateTime with an offset.
SYNTAX = ValueSyntax(
    invalid,
    timestamp_expected="a date-time with offset, YYYY-MM-DDThh:mm:ss+hh:mm",
    amount_expected="a decimal like 1500.00",
)


def text(value: str, where: Where) -> str:
    """Free text: not blank, at most MAX_TEXT characters, no control characters (tab and line breaks
    included). Kept exactly as written."""
    return _TEXT.check(value, where, invalid)


def identifier(value: str, where: Where) -> str:
    """An identifier: 1 to 128 visible ASCII characters, no spaces."""
    return fullmatch(_IDENTIFIER, value, where, "1 to 128 visible ASCII characters", invalid).group()


def partial_date(year: str, month: str | None, day: str | None, where: Where) -> PartialDate:
    """A canonical PartialDate from the ``Year`` (4 digits), ``Month`` and ``Day`` (2 digits) elements.

    A day needs a month; the known parts must form an existing date. Raises INVALID_VALUE otherwise.
    """
    fullmatch(_YEAR, year, where, "a Year of four digits", invalid)
    if month is not None:
        fullmatch(_TWO_DIGITS, month, where, "a Month of two digits", invalid)
    if day is not None:
        if month is None:
            raise invalid(where, "a Month with the Day")
        fullmatch(_TWO_DIGITS, day, where, "a Day of two digits", invalid)
    parts = int(year), None if month is None else int(month), None if day is None else int(day)
    dates.existing_day(*parts, where, invalid)
    return dates.partial_date(*parts)


def boolean(value: str, where: Where) -> bool:
    """An XSD boolean: ``true``, ``false``, ``1`` or ``0``."""
    found = _BOOLEANS.get(value)
    if found is None:
        raise invalid(where, "true, false, 1 or 0")
    return found


def version(value: str, where: Where) -> int:
    """A record version: an integer from 1 to 2^31-1 without sign or leading zeros."""
    fullmatch(_VERSION, value, where, "an integer from 1", invalid)
    number = int(value)
    if number > MAX_VERSION:
        raise invalid(where, f"an integer up to {MAX_VERSION}")
    return number


def choice(value: str, allowed: Mapping[str, T], where: Where) -> T:
    """An enumerated code translated through ``allowed`` (typed with the schema's symbols where it maps to an
    enum)."""
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


def opt_choice(node: Node | None, allowed: Mapping[str, T], default: T) -> T:
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
