"""A lookup query as a requesting state sends it, checked: names, optional birth date, optional nationalities.

``{"names": [{"given": "...", "family": "..."}], "birth_date": "YYYY-MM-DD" | null, "nationalities": ["FR"]}``.
Nationalities are checked and kept (the service may record them) but never matched on: states record them
differently and a person may have acquired one since, so matching on them would lose hits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from services.kernel.errors import CrxError

MAX_NAMES = 8
MAX_NAME_CHARS = 200
_COUNTRY = re.compile(r"[A-Z]{2}", re.ASCII)
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


class InvalidQuery(CrxError, dead_letter=False, reason_code="INVALID_QUERY"):
    """A lookup query is malformed. The message names the field, never its value."""


@dataclass(frozen=True)
class LookupQuery:
    """A checked lookup query: (given, family) names, the birth date if given, nationalities (not matched)."""

    names: tuple[tuple[str, str], ...]
    birth_date: dt.date | None
    nationalities: tuple[str, ...]


def _text(entry: Mapping[str, Any], field: str, *, required: bool) -> str:
    value = entry.get(field)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or len(value) > MAX_NAME_CHARS or (required and not value.strip()):
        raise InvalidQuery(f"names[].{field} must be a non-empty text of at most {MAX_NAME_CHARS} characters")
    return value


def _names(raw: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_NAMES:
        raise InvalidQuery(f"names must be a list of 1 to {MAX_NAMES} names")
    names = []
    for entry in raw:
        if not isinstance(entry, Mapping):
            raise InvalidQuery("names[] must be objects with given and family")
        names.append((_text(entry, "given", required=False), _text(entry, "family", required=True)))
    return tuple(names)


def _birth_date(raw: Any) -> dt.date | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not _DATE.fullmatch(raw):
        raise InvalidQuery("birth_date must be YYYY-MM-DD or null")
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise InvalidQuery("birth_date is not a calendar date") from None


def parse_query(raw: Mapping[str, Any]) -> LookupQuery:
    """Check a lookup query's JSON object. Raises InvalidQuery (naming the field, never its value)."""
    if not isinstance(raw, Mapping):
        raise InvalidQuery("a lookup query must be a JSON object")
    unknown = set(raw) - {"names", "birth_date", "nationalities"}
    if unknown:
        raise InvalidQuery(f"unknown field(s): {', '.join(sorted(unknown))}")
    nationalities = raw.get("nationalities")
    nationalities = [] if nationalities is None else nationalities
    if not isinstance(nationalities, list) or not all(
        isinstance(code, str) and _COUNTRY.fullmatch(code) for code in nationalities
    ):
        raise InvalidQuery("nationalities must be a list of ISO 3166-1 alpha-2 codes")
    return LookupQuery(_names(raw.get("names")), _birth_date(raw.get("birth_date")), tuple(nationalities))
