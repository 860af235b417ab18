"""Money: decimal amounts kept as text (no float rounding) and ISO 4217 currency codes."""

from __future__ import annotations

import re

from adapters.kit.errors import Invalid
from adapters.kit.text import fullmatch

AMOUNT = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,6})?", re.ASCII)
CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)


def amount(value: object, where: object, expected: str, invalid: Invalid) -> str:
    """A non-negative decimal (``1500.00``): up to 15 integer and 6 fraction digits, returned as written.

    Raises ``invalid(where, expected)`` for anything else.
    """
    return fullmatch(AMOUNT, value, where, expected, invalid).group()


def currency(value: object, where: object, invalid: Invalid) -> str:
    """An ISO 4217 code: three upper-case letters. Raises ``invalid(where, ...)`` for anything else."""
    return fullmatch(CURRENCY, value, where, "an ISO 4217 currency code", invalid).group()


def implied_decimal(digits: str, places: int = 2) -> str:
    """A decimal string from ``digits`` whose last ``places`` are the fraction (a COBOL ``9(n)V99``):
    ``"000000000150000"`` -> ``"1500.00"``. ``digits`` must be ASCII digits, more than ``places``."""
    return f"{int(digits[:-places])}.{digits[-places:]}"


def plain_amount(whole: str, fraction: str = "") -> str:
    """A decimal string without thousands separators: ``("1,500", ".00")`` -> ``"1500.00"``."""
    return whole.replace(",", "") + fraction
