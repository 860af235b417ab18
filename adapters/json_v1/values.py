"""Parsers for the format's value syntaxes: dates (full and partial), RFC 3339 timestamps, ISO 8601
durations with weeks, decimal amounts and the short codes (currency, language, script).

Each parser takes the raw JSON value and its path and returns the canonical value, or raises INVALID_VALUE
naming the path only. ``SYNTAX`` holds the kit's shared syntaxes (``adapters.kit.syntax``) in this format's
words: ``SYNTAX.date``, ``.timestamp``, ``.duration``, ``.amount``, ``.currency``, ``.language``,
``.script``; ``partial_date`` is the format's own. All patterns are ASCII-only, so no other script's digits
slip through ``int()``.
"""

from __future__ import annotations

import re

from adapters.json_v1.fields import invalid
from adapters.kit import dates
from adapters.kit.syntax import ValueSyntax
from adapters.kit.text import fullmatch
from schemas.records import PartialDate

_PARTIAL_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?", re.ASCII)
SYNTAX = ValueSyntax(
    invalid,
    timestamp_expected="an RFC 3339 date-time with offset",
    amount_expected="a decimal string like 1500.00",
    weeks=True,  # P2W: weeks count as seven days
    fold_case=True,  # RFC 3339 allows t and z
)


def partial_date(value: object, path: str) -> PartialDate:
    """A date of explicit precision, ``YYYY``, ``YYYY-MM`` or ``YYYY-MM-DD``, as a canonical PartialDate.

    Raises INVALID_VALUE for another syntax or a date that does not exist.
    """
    found = fullmatch(_PARTIAL_DATE, value, path, "a date YYYY, YYYY-MM or YYYY-MM-DD", invalid)
    year = int(found[1])
    month = int(found[2]) if found[2] else None
    day = int(found[3]) if found[3] else None
    dates.existing_day(year, month, day, path, invalid)
    return dates.partial_date(year, month, day)
