"""Typed reads from one decoded fixed-length record, each failure an AdapterError naming the line and field.

A ``Line`` is one record of the batch with its line number in the file. Its readers apply the format's
padding rules: text is left-justified and right-padded with spaces (blank = absent), numbers are ASCII
digits left-padded with zeros, dates are ``YYYYMMDD`` (``00000000`` = absent where a field allows it,
``00`` for an unknown month or day in partial dates). Messages name the line, record type, field and
columns, never the value.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Literal, TypeVar, overload

from adapters.base import MALFORMED, AdapterError
from adapters.fixed_width.layout import LAYOUTS, Field
from adapters.kit import countries, dates
from adapters.kit.errors import FieldErrors
from schemas.records import PartialDate

T = TypeVar("T")
NO_DATE = "00000000"
ERRORS = FieldErrors(missing_wording="required field is blank")
_DIGITS = re.compile(r"[0-9]+", re.ASCII)


def malformed(line_number: int, what: str) -> AdapterError:
    """The error for a line that breaks the batch structure (length, record type, order, encoding)."""
    return AdapterError(f"line {line_number}: {what}", reason_code=MALFORMED)


class Line:
    """One record of a batch: its 1-based line number, its decoded text and its record type."""

    __slots__ = ("fields", "number", "record_type", "text")

    def __init__(self, number: int, text: str, fields: Mapping[str, Field]) -> None:
        self.number = number
        self.text = text
        self.record_type = text[:2]
        self.fields = fields

    @classmethod
    def of(cls, number: int, text: str) -> Line:
        """The line ``text`` with the layout of its record type. Raises MALFORMED for an unknown type."""
        layout = LAYOUTS.get(text[:2])
        if layout is None:
            raise malformed(number, "unknown record type (columns 1-2)")
        return cls(number, text, layout)

    def where(self, name: str) -> str:
        """``line N, XX name (columns a-b)``: how error messages point at a field."""
        f = self.fields[name]
        return f"line {self.number}, {self.record_type} {name} (columns {f.first}-{f.last})"

    def missing(self, name: str) -> AdapterError:
        """The MISSING_FIELD error for a required field left blank."""
        return ERRORS.missing(self.where(name))

    def invalid(self, name: str, expected: str) -> AdapterError:
        """The INVALID_VALUE error for a field whose content the format does not allow (never quoted)."""
        return ERRORS.invalid(self.where(name), expected)

    def raw(self, name: str) -> str:
        """The field's characters exactly as in the record, padding included."""
        f = self.fields[name]
        return self.text[f.start : f.stop]

    def opt_text(self, name: str) -> str | None:
        """A text field without its padding; None when blank. Leading or trailing whitespace is refused."""
        value = self.raw(name).rstrip(" ")
        if not value:
            return None
        if value != value.strip():
            raise self.invalid(name, "left-justified text, no leading or trailing whitespace")
        return value

    def text_field(self, name: str) -> str:
        """A required text field."""
        value = self.opt_text(name)
        if value is None:
            raise self.missing(name)
        return value

    def matching(self, name: str, pattern: re.Pattern[str], expected: str) -> str:
        """A required text field that must match ``pattern`` in full."""
        value = self.text_field(name)
        if pattern.fullmatch(value) is None:
            raise self.invalid(name, expected)
        return value

    def opt_matching(self, name: str, pattern: re.Pattern[str], expected: str) -> str | None:
        """An optional text field that must match ``pattern`` in full when it is not blank."""
        value = self.opt_text(name)
        if value is not None and pattern.fullmatch(value) is None:
            raise self.invalid(name, expected)
        return value

    def choice(self, name: str, allowed: Mapping[str, T]) -> T:
        """A one-letter code translated through ``allowed`` (typed with the schema's symbols where it maps to an
        enum)."""
        value = self.raw(name)
        if value not in allowed:
            raise self.invalid(name, "one of " + ", ".join(allowed))
        return allowed[value]

    def digits(self, name: str) -> str:
        """A numeric field's digits (ASCII 0-9 only, zero-padded to the full width)."""
        value = self.raw(name)
        if _DIGITS.fullmatch(value) is None:
            raise self.invalid(name, f"{len(value)} digits, zero-padded")
        return value

    def integer(self, name: str, low: int = 0, high: int | None = None) -> int:
        """A numeric field as an integer in ``[low, high]`` (``high`` defaults to what the width allows)."""
        value = int(self.digits(name))
        if value < low or (high is not None and value > high):
            raise self.invalid(name, f"a number from {low} to {high if high is not None else 'the field maximum'}")
        return value

    def date(self, name: str) -> dt.date:
        """A required calendar date ``YYYYMMDD``."""
        found = self.opt_date(name)
        if found is None:
            raise self.missing(name)
        return found

    def opt_date(self, name: str) -> dt.date | None:
        """A calendar date ``YYYYMMDD``; None for ``00000000``."""
        value = self.digits(name)
        if value == NO_DATE:
            return None
        try:
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            raise self.invalid(name, "an existing calendar date YYYYMMDD") from None

    def partial_date(self, name: str) -> PartialDate:
        """A date of explicit precision: ``YYYYMMDD``, ``YYYYMM00``, ``YYYY0000``; ``00000000`` = all unknown."""
        value = self.digits(name)
        year, month, day = int(value[:4]), int(value[4:6]), int(value[6:])
        expected = "a date YYYYMMDD with 00 for an unknown month or day"
        if (year == 0 and (month or day)) or (month == 0 and day):
            raise self.invalid(name, expected)
        if dates.first_day(year or 1, month or None, day or None) is None:
            raise self.invalid(name, expected)
        return dates.partial_date(year or None, month or None, day or None)

    @overload
    def country(self, name: str, *, required: Literal[True]) -> str: ...
    @overload
    def country(self, name: str, *, required: bool) -> str | None: ...
    def country(self, name: str, *, required: bool) -> str | None:
        """An ISO 3166-1 alpha-2 code (blank allowed unless ``required``). Raises UNKNOWN_JURISDICTION for an
        unassigned code."""
        value = self.raw(name)
        if not value.strip():
            if required:
                raise self.missing(name)
            return None
        return countries.alpha2(value, self.where(name), ERRORS.invalid)

    def check_filler(self) -> None:
        """Raise INVALID_VALUE unless the record's filler columns are blank (a shifted layout shows here)."""
        if "filler" in self.fields and self.raw("filler").strip(" "):
            raise self.invalid("filler", "spaces")
