"""``ValueSyntax``: the shared value syntaxes bound to one format's error wording.

A format's readers take ``(value, where)`` parsers; ``ValueSyntax`` turns the kit's ``dates``, ``durations``,
``money`` and ``languages`` functions into such parsers, with the format's ``invalid`` error and the few
choices formats make differently (the words for a timestamp and an amount, weeks in durations, the case of
``T`` and ``Z``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from adapters.kit import dates, durations, languages, money
from adapters.kit.errors import Invalid
from schemas.records import Duration


@dataclass(frozen=True)
class ValueSyntax:
    """Parsers ``(value, where) -> canonical value`` that raise ``invalid(where, expected)`` on a bad value."""

    invalid: Invalid
    timestamp_expected: str
    amount_expected: str
    weeks: bool = False  # durations may hold weeks (P2W), counted as seven days
    fold_case: bool = False  # timestamps may write t and z in lower case

    def date(self, value: object, where: object) -> dt.date:
        """A calendar date ``YYYY-MM-DD`` that exists."""
        return dates.iso_date(value, where, self.invalid)

    def timestamp(self, value: object, where: object) -> dt.datetime:
        """A date-time with an explicit offset, returned in UTC."""
        return dates.timestamp(value, where, self.timestamp_expected, self.invalid, fold_case=self.fold_case)

    def duration(self, value: object, where: object) -> Duration:
        """An ISO 8601 duration of years, months, (weeks,) days and hours, at least one component."""
        return durations.iso_duration(value, where, self.invalid, weeks=self.weeks)

    def amount(self, value: object, where: object) -> str:
        """A non-negative decimal, kept as text."""
        return money.amount(value, where, self.amount_expected, self.invalid)

    def currency(self, value: object, where: object) -> str:
        """An ISO 4217 currency code."""
        return money.currency(value, where, self.invalid)

    def language(self, value: object, where: object) -> str:
        """An ISO 639-1 language code."""
        return languages.language(value, where, self.invalid)

    def script(self, value: object, where: object) -> str:
        """An ISO 15924 script code."""
        return languages.script(value, where, self.invalid)
