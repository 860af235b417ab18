"""Citizenship codes -> ISO 3166-1 alpha-2, through the packaged table ``mappings/countries.csv``.

NIEM 2.0 offers several citizenship elements; each is read with its own code list:

- ``nc:PersonCitizenshipISO3166Alpha2Code``: ISO alpha-2, any assigned code (the table is not needed);
- ``nc:PersonCitizenshipISO3166Alpha3Code``: ISO alpha-3, the codes of the table;
- ``nc:PersonCitizenshipFIPS10-4Code``: FIPS 10-4 (``GM`` Germany, ``UK`` United Kingdom), the codes of the table;
- ``nc:PersonCitizenshipText``: free text, an ISO alpha-3 code or an English country name of the table (upper
  or lower case). Two-letter text is refused: ISO, FIPS and NCIC two-letter codes collide (``AU``, ``SP``).

A code outside its list is UNKNOWN_JURISDICTION. The table is checked when loaded (ConfigError if broken).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from adapters.base import UNKNOWN_JURISDICTION, AdapterError
from adapters.kit.countries import COUNTRIES, check_country
from adapters.niem_rapsheet.tree import Node
from services.kernel.errors import ConfigError

TABLE = "mappings/countries.csv"
COLUMNS = ["iso2", "iso3", "fips", "names"]
ELEMENTS = frozenset(
    {
        "PersonCitizenshipISO3166Alpha2Code",
        "PersonCitizenshipISO3166Alpha3Code",
        "PersonCitizenshipFIPS10-4Code",
        "PersonCitizenshipText",
    }
)


@dataclass(frozen=True)
class CountryCodes:
    """The alpha-3, FIPS 10-4 and name lookups of the citizenship table."""

    alpha3: Mapping[str, str]
    fips: Mapping[str, str]
    names: Mapping[str, str]

    def resolve(self, element: str, text: str, where: Node) -> str:
        """The ISO alpha-2 code for ``text`` found in citizenship ``element`` (one of ELEMENTS).

        Raises AdapterError(UNKNOWN_JURISDICTION) when the code or name is not in the element's list."""
        value = text.upper()
        found: str | None
        if element == "PersonCitizenshipISO3166Alpha2Code":
            if value in COUNTRIES:
                return value
            return check_country(value, where.path)
        if element == "PersonCitizenshipISO3166Alpha3Code":
            found = self.alpha3.get(value)
        elif element == "PersonCitizenshipFIPS10-4Code":
            found = self.fips.get(value)
        else:
            found = self.alpha3.get(value) or self.names.get(value)
        if found is None:
            raise AdapterError(f"{where.path}: not a known country code or name", reason_code=UNKNOWN_JURISDICTION)
        return found


def parse_table(content: str) -> CountryCodes:
    """Parse the citizenship table. Raises ConfigError naming the line of the first problem."""
    reader = csv.DictReader(io.StringIO(content))
    if reader.fieldnames != COLUMNS:
        raise ConfigError(f"{TABLE}: header must be {','.join(COLUMNS)}")
    alpha3: dict[str, str] = {}
    fips: dict[str, str] = {}
    names: dict[str, str] = {}
    for row in reader:
        where = f"{TABLE} line {reader.line_num}"
        iso2 = row["iso2"]
        if iso2 not in COUNTRIES:
            raise ConfigError(f"{where}: iso2 is not an assigned ISO 3166-1 alpha-2 code")
        keys = [(alpha3, row["iso3"]), (fips, row["fips"])] + [(names, n) for n in row["names"].split("|")]
        for target, key in keys:
            if not key or key != key.strip().upper() or key in target:
                raise ConfigError(f"{where}: empty, lower-case, padded or repeated code or name")
            target[key] = iso2
    return CountryCodes(MappingProxyType(alpha3), MappingProxyType(fips), MappingProxyType(names))


def load_countries(package: str = "adapters.niem_rapsheet") -> CountryCodes:
    """The packaged citizenship table. Raises ConfigError when it is broken."""
    return parse_table(resources.files(package).joinpath(TABLE).read_text(encoding="utf-8"))
