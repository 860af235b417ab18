"""The ECRIS-style reference codes of the format and the tables behind them.

- Countries ``CO-00-616-POL`` (ISO 3166-1 numeric and alpha-3) -> ISO alpha-2, through the packaged table
  ``mappings/ecris-countries.csv``; a plain alpha-2 code is accepted as well.
- Offence categories ``O-00-nnnnnn`` and sanction types ``S-00-nnnnnn`` -> crx categories, through
  ``mappings/ecris-categories.csv`` first, then the national table of the convicting state
  (``mappings/<XX>.csv``, keyed by national code), else ``UNKNOWN``.
- The closed enumerations: completion ``LC-00-x``, participation ``LP-00-x``, later decisions ``DC-00-xxx``,
  response outcomes ``RO-00-xxx``, purposes, sex, and the root ``@action`` of each message type.

Tables are checked when loaded; a broken table is a packaging bug and raises ConfigError.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType

from adapters.base import UNKNOWN_JURISDICTION, AdapterError
from adapters.ecris_xml.tree import Where, invalid
from adapters.kit import countries
from adapters.kit.codes import NO_TABLE, CodeTable, parse_table
from adapters.kit.refs import OFFENCE_CATEGORIES, PENALTY_CATEGORIES, reference_codes
from schemas.records import (
    CaseMessageSymbol,
    CompletionSymbol,
    LaterDecisionKindSymbol,
    MessageTypeSymbol,
    ParticipationSymbol,
    ResponseOutcomeSymbol,
    SexSymbol,
    UrgencySymbol,
)
from services.kernel.errors import ConfigError

PACKAGE = "adapters.ecris_xml"
COUNTRY_TABLE = "ecris-countries.csv"
CATEGORY_TABLE = "ecris-categories.csv"
COUNTRY_COLUMNS = ["numeric", "alpha3", "alpha2", "name"]

COMPLETION: Mapping[str, CompletionSymbol] = MappingProxyType(
    {"LC-00-C": "COMPLETED", "LC-00-A": "ATTEMPTED", "LC-00-P": "PREPARATION"}
)
PARTICIPATION: Mapping[str, ParticipationSymbol] = MappingProxyType(
    {"LP-00-M": "PERPETRATOR", "LP-00-C": "CO_PERPETRATOR", "LP-00-A": "ACCESSORY", "LP-00-I": "INSTIGATOR"}
)
LATER_DECISIONS: Mapping[str, LaterDecisionKindSymbol] = MappingProxyType(
    {
        "DC-00-PAR": "PARDON",
        "DC-00-AMN": "AMNESTY",
        "DC-00-REH": "REHABILITATION",
        "DC-00-REV": "REVERSAL",
        "DC-00-MOD": "SENTENCE_MODIFICATION",
        "DC-00-SRV": "SUSPENSION_REVOKED",
        "DC-00-EXP": "EXPUNGEMENT",
        "DC-00-OTH": "OTHER",
    }
)
PURPOSES = MappingProxyType(
    {
        "A": "CRIMINAL_PROCEEDINGS",
        "B": "NON_CRIMINAL_PROCEEDINGS",
        "C": "PERSON_CONCERNED_REQUEST",
        "D": "EMPLOYMENT_WITH_CHILDREN",
        "E": "OTHER_LAWFUL_PURPOSE",
    }
)
NOTIFICATION_PURPOSE = "ECRIS_NOTIFICATION"
SEXES: Mapping[str, SexSymbol] = MappingProxyType({"M": "MALE", "F": "FEMALE", "X": "OTHER", "U": "UNKNOWN"})
ACTIONS: Mapping[str, MessageTypeSymbol] = MappingProxyType(
    {"NEW": "NOTIFICATION", "UPDATE": "UPDATE", "DELETE": "DELETION"}
)
# What a request or a response does to the case of a request (None: the ordinary message, the default action).
REQUEST_ACTIONS: Mapping[str, CaseMessageSymbol | None] = MappingProxyType(
    {"NEW": None, "CANCEL": "CANCELLATION", "PROVIDE_INFORMATION": "MORE_INFORMATION"}
)
RESPONSE_ACTIONS: Mapping[str, CaseMessageSymbol | None] = MappingProxyType(
    {"ANSWER": None, "REQUEST_INFORMATION": "MORE_INFORMATION_REQUEST"}
)
# The answer a response gives (``ResponseOutcome``). The schema's OTHER is a reader's fallback, not a code.
OUTCOMES: Mapping[str, ResponseOutcomeSymbol] = MappingProxyType(
    {
        "RO-00-CNV": "CONVICTIONS_FOUND",
        "RO-00-NIL": "NO_RECORD",
        "RO-00-NNA": "NOT_A_NATIONAL",
        "RO-00-REF": "REFUSED_UNDER_NATIONAL_LAW",
        "RO-00-MUL": "MULTIPLE_MATCHES",
        "RO-00-INS": "INSUFFICIENT_IDENTIFICATION",
    }
)
URGENCIES: Mapping[str, UrgencySymbol] = MappingProxyType({"NORMAL": "NORMAL", "URGENT": "URGENT"})

_COUNTRY_CODE = re.compile(r"CO-00-([0-9]{3})-([A-Z]{3})", re.ASCII)
OFFENCE_CODE = re.compile(r"O-00-[0-9]{6}", re.ASCII)
SANCTION_CODE = re.compile(r"S-00-[0-9]{6}", re.ASCII)


@dataclass(frozen=True)
class Countries:
    """The ECRIS country codes the adapter knows: ``(numeric, alpha-3)`` -> alpha-2."""

    by_code: Mapping[tuple[str, str], str]

    def alpha2(self, value: str, where: Where) -> str:
        """The ISO alpha-2 code of ``CO-00-nnn-AAA`` or of an alpha-2 code.

        Raises INVALID_VALUE for another syntax and UNKNOWN_JURISDICTION for a code that is not an assigned
        country (or whose numeric and alpha-3 parts do not belong together).
        """
        found = _COUNTRY_CODE.fullmatch(value)
        if found is not None:
            alpha2 = self.by_code.get((found[1], found[2]))
            if alpha2 is None:
                raise AdapterError(f"{where}: not a known ECRIS country code", reason_code=UNKNOWN_JURISDICTION)
            return alpha2
        return countries.alpha2(value, where, invalid, "a country code CO-00-nnn-AAA or an ISO 3166-1 alpha-2 code")


@dataclass(frozen=True)
class Categories:
    """crx categories of offences and sanctions: the ECRIS common code first, then the national code in the
    table of the convicting state, else UNKNOWN."""

    ecris: CodeTable
    national: Mapping[str, CodeTable]

    def offence(self, ecris_code: str, national_code: str, state: str) -> str:
        """The category of an offence of ``state`` (the convicting state)."""
        found = self.ecris.offences.get(ecris_code)
        if found is not None:
            return found
        return self.national.get(state, NO_TABLE).offence_category(national_code)

    def sanction(self, ecris_code: str, national_code: str | None, state: str) -> str:
        """The category of a sanction imposed by ``state`` (UNKNOWN when neither code is mapped)."""
        found = self.ecris.sanctions.get(ecris_code)
        if found is not None:
            return found
        return self.national.get(state, NO_TABLE).sanction_category(national_code)


def _read(name: str) -> str:
    return resources.files(PACKAGE).joinpath("mappings").joinpath(name).read_text(encoding="utf-8")


def parse_countries(content: str) -> Countries:
    """Parse the country table. Raises ConfigError naming the line of the first problem."""
    reader = csv.DictReader(io.StringIO(content))
    if reader.fieldnames != COUNTRY_COLUMNS:
        raise ConfigError(f"{COUNTRY_TABLE}: header must be {','.join(COUNTRY_COLUMNS)}")
    by_code: dict[tuple[str, str], str] = {}
    seen: set[str] = set()
    for row in reader:
        numeric, alpha3, alpha2 = row["numeric"], row["alpha3"], row["alpha2"]
        where = f"{COUNTRY_TABLE} line {reader.line_num}"
        if not _COUNTRY_CODE.fullmatch(f"CO-00-{numeric}-{alpha3}") or alpha2 not in countries.COUNTRIES:
            raise ConfigError(f"{where}: not a numeric, alpha-3 and assigned alpha-2 code")
        if {numeric, alpha3, alpha2} & seen:
            raise ConfigError(f"{where}: code listed twice")
        seen.update((numeric, alpha3, alpha2))
        by_code[(numeric, alpha3)] = alpha2
    return Countries(MappingProxyType(by_code))


def parse_ecris_table(content: str) -> CodeTable:
    """Parse the ECRIS category table (the columns of ``adapters.kit.codes``, ``national_code`` holding the
    ECRIS code). Raises ConfigError for a broken table or a code that is not an O-/S- code of its kind."""
    table = parse_table(
        CATEGORY_TABLE, content, reference_codes(OFFENCE_CATEGORIES), reference_codes(PENALTY_CATEGORIES)
    )
    if not all(OFFENCE_CODE.fullmatch(code) for code in table.offences):
        raise ConfigError(f"{CATEGORY_TABLE}: an offence row whose code is not O-00-nnnnnn")
    if not all(SANCTION_CODE.fullmatch(code) for code in table.sanctions):
        raise ConfigError(f"{CATEGORY_TABLE}: a sanction row whose code is not S-00-nnnnnn")
    return table


def load_countries() -> Countries:
    """The packaged country table."""
    return parse_countries(_read(COUNTRY_TABLE))


def load_ecris_table() -> CodeTable:
    """The packaged ECRIS category table."""
    return parse_ecris_table(_read(CATEGORY_TABLE))
