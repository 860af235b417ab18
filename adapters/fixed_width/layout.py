"""The record layouts of the ``crx-fw/01`` batch format, column by column (the format's copybook).

Every line of a batch is one fixed-length record of ``RECORD_LENGTH`` characters (bytes: both declared
encodings are single-byte). Columns 1-2 hold the record type. Detail records then carry the key of the
register record they belong to (columns 3-18) and the conviction sequence (19-21); the header and trailer
have their own layouts. Fields are contiguous; the columns after the last field are filler (spaces). The
README next to this file documents the same table for registry engineers, and a test keeps both in step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

RECORD_LENGTH = 200
FORMAT_VERSION = "01"
HEADER = "HD"
TRAILER = "TR"
ALPHANUMERIC = "X"  # text: left-justified, right-padded with spaces
NUMERIC = "9"  # unsigned ASCII digits, right-justified, left-padded with zeros


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a record layout: ``width`` characters from column ``first`` (1-based, as in a copybook).

    ``start`` and ``stop`` are the 0-based slice bounds, kept precomputed: they are read for every field of
    every record.
    """

    record_type: str
    name: str
    first: int
    width: int
    picture: str
    start: int = field(init=False)
    stop: int = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", self.first - 1)
        object.__setattr__(self, "stop", self.first - 1 + self.width)

    @property
    def last(self) -> int:
        """The last column of the field (1-based, inclusive)."""
        return self.first + self.width - 1


# The copybook: each record type (columns 1-2) and then its fields, a name and a COBOL picture each (``X(n)``
# text, ``9(n)`` digits, ``9(n)V99`` digits with two implied decimals), laid out contiguously from column 3;
# a line that starts with spaces continues the record type above. ``KEY`` stands for the key every detail
# record starts with: the register's record number and the conviction sequence (000 on records about the
# person, 001-999 on a conviction and the records that belong to it).
COPYBOOK = """
HD  format_version X(2)  sender X(2)  batch_number 9(8)  creation_date 9(8)  creation_time 9(6)  encoding X(2)
    title_language X(2)  legal_basis X(20)  purpose X(24)
PS  KEY  version 9(5)  message_type X(1)  sex X(1)  birth_date 9(8)  family_name X(35)  given_names X(35)
    birth_town X(30)  birth_country X(2)  fingerprint_ref X(20)
NM  KEY  name_kind X(1)  family_name X(35)  given_names X(35)
NA  KEY  country X(2)
NI  KEY  scheme X(10)  value X(30)  issuer X(10)
PN  KEY  parent_name X(60)
CV  KEY  court_name X(60)  court_place X(30)  decision_date 9(8)  date_final 9(8)  file_number X(20)
    retention_end 9(8)
OF  KEY  offence_code 9(6)  title X(80)  legal_reference X(30)  completion X(1)  participation X(1)
    committed_on 9(8)  place_town X(30)  place_country X(2)
SN  KEY  sanction_code X(6)  duration_years 9(2)  duration_months 9(2)  duration_days 9(3)  duration_hours 9(4)
    amount 9(13)V99  currency X(3)  suspended X(1)
    probation_years 9(2)  probation_months 9(2)  probation_days 9(3)  probation_hours 9(4)
LD  KEY  decision_kind X(1)  decision_date 9(8)  effective_from 9(8)
TR  record_count 9(9)  checksum X(8)
"""
KEY = "record_number X(16)  conviction_seq 9(3)"
_PICTURE = re.compile(r"([X9])\(([0-9]+)\)(?:V(9+))?")


def _layout(record_type: str, spec: str) -> Mapping[str, Field]:
    """Lay the fields of ``spec`` (name and picture pairs, ``KEY`` for the key) out contiguously from column 1,
    after the record type, and add the trailing filler. Raises ValueError for a spec that is not a copybook
    (a packaging bug, found when the module is imported)."""
    tokens = ["record_type", "X(2)", *spec.replace("KEY", KEY).split()]
    if len(tokens) % 2:
        raise ValueError(f"copybook {record_type}: a field without its picture")
    out: dict[str, Field] = {}
    column = 1
    for name, picture in zip(tokens[::2], tokens[1::2], strict=True):
        found = _PICTURE.fullmatch(picture)
        if found is None or name in out:
            raise ValueError(f"copybook {record_type}: bad picture or repeated field {name}")
        width = int(found[2]) + len(found[3] or "")
        out[name] = Field(record_type, name, column, width, found[1])
        column += width
    if column > RECORD_LENGTH + 1:
        raise ValueError(f"copybook {record_type}: longer than {RECORD_LENGTH} columns")
    if column <= RECORD_LENGTH:
        out["filler"] = Field(record_type, "filler", column, RECORD_LENGTH - column + 1, ALPHANUMERIC)
    return MappingProxyType(out)


def _record_types(copybook: str) -> dict[str, str]:
    """The copybook's specs by record type, continuation lines joined to the line they continue. Raises
    ValueError for a record type given twice or a continuation line before the first record type."""
    specs: dict[str, str] = {}
    record_type = ""
    for line in copybook.splitlines():
        if not line.strip():
            continue
        if not line[0].isspace():
            record_type, _, line = line.partition(" ")
            if record_type in specs:
                raise ValueError(f"copybook: record type {record_type} twice")
            specs[record_type] = ""
        elif not record_type:
            raise ValueError("copybook: a continuation line before any record type")
        specs[record_type] += " " + line
    return specs


LAYOUTS: Mapping[str, Mapping[str, Field]] = MappingProxyType(
    {record_type: _layout(record_type, spec) for record_type, spec in _record_types(COPYBOOK).items()}
)
PERSON_TYPES = frozenset({"NM", "NA", "NI", "PN"})  # belong to the PS before them, before its first CV
CONVICTION_TYPES = frozenset({"OF", "SN", "LD"})  # belong to the CV before them
DETAIL_TYPES = frozenset({"PS", "CV"}) | PERSON_TYPES | CONVICTION_TYPES
