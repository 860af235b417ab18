"""The record layouts of the ``crx-fw/01`` batch format, column by column (the format's copybook).

Every line of a batch is one fixed-length record of ``RECORD_LENGTH`` characters (bytes: both declared
encodings are single-byte). Columns 1-2 hold the record type. Detail records then carry the key of the
register record they belong to (columns 3-18) and the conviction sequence (19-21); the header and trailer
have their own layouts. Fields are contiguous; the columns after the last field are filler (spaces). The
README next to this file documents the same table for registry engineers, and a test keeps both in step.
"""

from __future__ import annotations

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


def _layout(record_type: str, *fields: tuple[str, int, str]) -> Mapping[str, Field]:
    """Lay ``fields`` (name, width, picture) out contiguously from column 1 and add the trailing filler."""
    out: dict[str, Field] = {}
    column = 1
    for name, width, picture in (("record_type", 2, ALPHANUMERIC), *fields):
        out[name] = Field(record_type, name, column, width, picture)
        column += width
    if column <= RECORD_LENGTH:
        out["filler"] = Field(record_type, "filler", column, RECORD_LENGTH - column + 1, ALPHANUMERIC)
    return MappingProxyType(out)


_X, _9 = ALPHANUMERIC, NUMERIC
# The key every detail record starts with: the register's record number and the conviction sequence
# (000 on records about the person, 001-999 on a conviction and the records that belong to it).
_KEY = (("record_number", 16, _X), ("conviction_seq", 3, _9))
_UNITS = ("years", "months", "days", "hours")
_DURATION = (2, 2, 3, 4)  # widths of the duration units

LAYOUTS: Mapping[str, Mapping[str, Field]] = MappingProxyType(
    {
        HEADER: _layout(
            HEADER,
            ("format_version", 2, _X),
            ("sender", 2, _X),
            ("batch_number", 8, _9),
            ("creation_date", 8, _9),
            ("creation_time", 6, _9),
            ("encoding", 2, _X),
            ("title_language", 2, _X),
            ("legal_basis", 20, _X),
            ("purpose", 24, _X),
        ),
        "PS": _layout(
            "PS",
            *_KEY,
            ("version", 5, _9),
            ("message_type", 1, _X),
            ("sex", 1, _X),
            ("birth_date", 8, _9),
            ("family_name", 35, _X),
            ("given_names", 35, _X),
            ("birth_town", 30, _X),
            ("birth_country", 2, _X),
            ("fingerprint_ref", 20, _X),
        ),
        "NM": _layout("NM", *_KEY, ("name_kind", 1, _X), ("family_name", 35, _X), ("given_names", 35, _X)),
        "NA": _layout("NA", *_KEY, ("country", 2, _X)),
        "NI": _layout("NI", *_KEY, ("scheme", 10, _X), ("value", 30, _X), ("issuer", 10, _X)),
        "PN": _layout("PN", *_KEY, ("parent_name", 60, _X)),
        "CV": _layout(
            "CV",
            *_KEY,
            ("court_name", 60, _X),
            ("court_place", 30, _X),
            ("decision_date", 8, _9),
            ("date_final", 8, _9),
            ("file_number", 20, _X),
            ("retention_end", 8, _9),
        ),
        "OF": _layout(
            "OF",
            *_KEY,
            ("offence_code", 6, _9),
            ("title", 80, _X),
            ("legal_reference", 30, _X),
            ("completion", 1, _X),
            ("participation", 1, _X),
            ("committed_on", 8, _9),
            ("place_town", 30, _X),
            ("place_country", 2, _X),
        ),
        "SN": _layout(
            "SN",
            *_KEY,
            ("sanction_code", 6, _X),
            *((f"duration_{unit}", width, _9) for unit, width in zip(_UNITS, _DURATION, strict=True)),
            ("amount", 15, _9),
            ("currency", 3, _X),
            ("suspended", 1, _X),
            *((f"probation_{unit}", width, _9) for unit, width in zip(_UNITS, _DURATION, strict=True)),
        ),
        "LD": _layout("LD", *_KEY, ("decision_kind", 1, _X), ("decision_date", 8, _9), ("effective_from", 8, _9)),
        TRAILER: _layout(TRAILER, ("record_count", 9, _9), ("checksum", 8, _X)),
    }
)
PERSON_TYPES = frozenset({"NM", "NA", "NI", "PN"})  # belong to the PS before them, before its first CV
CONVICTION_TYPES = frozenset({"OF", "SN", "LD"})  # belong to the CV before them
DETAIL_TYPES = frozenset({"PS", "CV"}) | PERSON_TYPES | CONVICTION_TYPES
