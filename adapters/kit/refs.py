"""The reference tables of ``schemas/reference``: the closed lists of crx offence and penalty categories.

``REFERENCE_TABLES`` names the version of those tables that canonical records are categorised against; every
adapter stamps it into the header of each record it makes.
"""

from __future__ import annotations

import csv
import io
from importlib import resources

REFERENCE_TABLES = "crx-categories-1"
OFFENCE_CATEGORIES = "offence_categories.csv"
PENALTY_CATEGORIES = "penalty_categories.csv"


def reference_codes(file_name: str) -> frozenset[str]:
    """The ``code`` column of ``schemas/reference/<file_name>``. Raises OSError or KeyError only when the
    installed package is broken."""
    table = resources.files("schemas").joinpath(f"reference/{file_name}").read_text(encoding="utf-8")
    return frozenset(row["code"] for row in csv.DictReader(io.StringIO(table)))
