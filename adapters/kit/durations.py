"""Durations: the canonical Duration (years, months, days, hours) and the ISO 8601 notation of it.

The canonical Duration has no weeks, minutes or seconds; a format that has weeks counts them as seven days.
"""

from __future__ import annotations

import re

from adapters.kit.errors import Invalid
from adapters.kit.text import fullmatch
from schemas.records import Duration

UNITS = ("years", "months", "days", "hours")
_WEEKS = r"(?:([0-9]{1,4})W)?"
_NO_WEEKS = r"()"  # an empty group, so both patterns have the same five groups
_ISO = r"P(?:([0-9]{{1,4}})Y)?(?:([0-9]{{1,4}})M)?{weeks}(?:([0-9]{{1,5}})D)?(?:T([0-9]{{1,6}})H)?"
_PATTERNS = {weeks: re.compile(_ISO.format(weeks=_WEEKS if weeks else _NO_WEEKS), re.ASCII) for weeks in (True, False)}


def duration(years: int = 0, months: int = 0, days: int = 0, hours: int = 0) -> Duration:
    """The canonical Duration."""
    return {"years": years, "months": months, "days": days, "hours": hours}


def iso_duration(value: object, where: object, invalid: Invalid, *, weeks: bool = False) -> Duration:
    """An ISO 8601 duration of years, months, days and hours (``P1Y6M``, ``P30D``, ``PT48H``; with ``weeks``
    also ``P2W``) with at least one component; no minutes, seconds, fractions or signs.

    Raises ``invalid(where, ...)`` for another syntax, a value that is not a string, or ``P`` alone.
    """
    example = "P1Y6M, P2W, P30D or PT48H" if weeks else "P1Y6M, P30D or PT48H"
    found = fullmatch(_PATTERNS[weeks], value, where, f"an ISO 8601 duration like {example}", invalid)
    if not any(found.groups()):
        raise invalid(where, "an ISO 8601 duration with at least one component")
    years, months, week_count, days, hours = (int(g) if g else 0 for g in found.groups())
    return duration(years, months, week_count * 7 + days, hours)
