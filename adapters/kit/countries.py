"""Country codes: ISO 3166-1 alpha-2, the only country codes a canonical record holds.

``COUNTRIES`` are the officially assigned codes of ``schemas/reference/countries.txt``; a code outside them is
UNKNOWN_JURISDICTION, whatever the format. ``ALPHA2`` is the syntax (two capital letters) that formats check
before asking whether a code is assigned.
"""

from __future__ import annotations

import re
from importlib import resources

from adapters.base import UNKNOWN_JURISDICTION, AdapterError
from adapters.kit.errors import Invalid

ALPHA2 = re.compile(r"[A-Z]{2}", re.ASCII)


def _load_countries() -> frozenset[str]:
    """The first column of ``schemas/reference/countries.txt`` (``#`` lines are comments)."""
    text = resources.files("schemas").joinpath("reference/countries.txt").read_text(encoding="ascii")
    return frozenset(line.split()[0] for line in text.splitlines() if line and not line.startswith("#"))


COUNTRIES = _load_countries()


def check_country(code: object, field: str) -> str:
    """Return ``code`` if it is an assigned ISO 3166-1 alpha-2 code, else raise AdapterError
    (UNKNOWN_JURISDICTION) naming ``field``."""
    if not isinstance(code, str) or code not in COUNTRIES:
        raise AdapterError(f"{field}: not an ISO 3166-1 alpha-2 code", reason_code=UNKNOWN_JURISDICTION)
    return code


def alpha2(
    value: str, where: object, invalid: Invalid, expected: str = "an ISO 3166-1 alpha-2 code in capitals"
) -> str:
    """``value`` when it is an assigned alpha-2 code. Raises ``invalid(where, expected)`` for another syntax
    and UNKNOWN_JURISDICTION for two capitals that are not an assigned code."""
    if ALPHA2.fullmatch(value) is None:
        raise invalid(where, expected)
    return value if value in COUNTRIES else check_country(value, str(where))
