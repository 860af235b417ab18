"""Per-jurisdiction code tables: national offence and sanction codes -> common categories.

Every adapter ships its own tables, because each feed format carries its own kind of code (national
offence codes, statutes, NCIC codes, ECRIS reference codes). ``<adapter package>/mappings/<XX>.csv`` (XX: the
sending jurisdiction, ISO 3166-1 alpha-2) has the columns
``kind,national_code,category,note``: ``kind`` is ``offence`` or ``sanction``, ``category`` a code of
``schemas/reference/offence_categories.csv`` or ``penalty_categories.csv``, ``note`` a human-readable
gloss (not used by the parser). Codes match exactly. A code without a row, or a jurisdiction without a
table, yields the category ``UNKNOWN``: the record still flows and keeps its national code.

Tables are checked when loaded; a broken table is a packaging bug and raises ConfigError.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from types import MappingProxyType

from adapters.kit.countries import COUNTRIES
from adapters.kit.refs import OFFENCE_CATEGORIES, PENALTY_CATEGORIES, reference_codes
from services.kernel.errors import ConfigError

UNKNOWN = "UNKNOWN"
COLUMNS = ["kind", "national_code", "category", "note"]
_TABLE_NAME = re.compile(r"([A-Z]{2})\.csv")


@dataclass(frozen=True)
class CodeTable:
    """The code mappings of one jurisdiction."""

    offences: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    sanctions: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))

    def offence_category(self, national_code: str) -> str:
        """The common offence category of ``national_code``, or UNKNOWN."""
        return self.offences.get(national_code, UNKNOWN)

    def sanction_category(self, national_code: str | None) -> str:
        """The common penalty category of ``national_code``, or UNKNOWN (also when there is no code)."""
        if national_code is None:
            return UNKNOWN
        return self.sanctions.get(national_code, UNKNOWN)


NO_TABLE = CodeTable()  # a jurisdiction without a table: every code is UNKNOWN


def parse_table(name: str, content: str, offence_codes: frozenset[str], penalty_codes: frozenset[str]) -> CodeTable:
    """Parse one mapping file. Raises ConfigError naming the file and line of the first problem."""
    reader = csv.DictReader(io.StringIO(content))
    if reader.fieldnames != COLUMNS:
        raise ConfigError(f"{name}: header must be {','.join(COLUMNS)}")
    kinds: dict[str, tuple[dict[str, str], frozenset[str]]] = {
        "offence": ({}, offence_codes),
        "sanction": ({}, penalty_codes),
    }
    for row in reader:
        where = f"{name} line {reader.line_num}"
        if row["kind"] not in kinds:
            raise ConfigError(f"{where}: kind must be offence or sanction")
        target, allowed = kinds[row["kind"]]
        code, category = row["national_code"], row["category"]
        if not code or code != code.strip():
            raise ConfigError(f"{where}: empty or padded national code")
        if category not in allowed:
            raise ConfigError(f"{where}: category is not in the reference table")
        if code in target:
            raise ConfigError(f"{where}: national code mapped twice")
        target[code] = category
    return CodeTable(offences=MappingProxyType(kinds["offence"][0]), sanctions=MappingProxyType(kinds["sanction"][0]))


def load_tables(package: str, folder: str = "mappings") -> Mapping[str, CodeTable]:
    """Every table packaged in ``package``/``folder``, by jurisdiction. Raises ConfigError on a broken table."""
    offence_codes = reference_codes(OFFENCE_CATEGORIES)
    penalty_codes = reference_codes(PENALTY_CATEGORIES)
    tables: dict[str, CodeTable] = {}
    directory = resources.files(package).joinpath(folder)
    for entry in sorted(directory.iterdir(), key=lambda e: e.name):
        found = _TABLE_NAME.fullmatch(entry.name)
        if found is None:
            continue
        if found[1] not in COUNTRIES:
            raise ConfigError(f"mapping table {entry.name}: not named after an ISO 3166-1 alpha-2 code")
        content = entry.read_text(encoding="utf-8")
        tables[found[1]] = parse_table(entry.name, content, offence_codes, penalty_codes)
    return MappingProxyType(tables)
