"""A writer of ``crx-fw/01`` batches for the fixed-width adapter's tests (and the source of its samples).

It builds valid batches from plain dataclasses, field by field from the adapter's copybook
(``adapters.fixed_width.layout``), so tests can also build the invalid ones they need: ``render`` places
any string in any field, ``assemble`` seals any list of detail lines with a correct trailer (or a given
wrong count or checksum, or none). ``expected_record`` restates what the adapter must make of a written
person, without using the adapter's code. The samples shipped with the adapter are ``sample_latin1()`` and
``sample_cp1252()``; a test checks the packaged files are byte for byte what this writer builds.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import zlib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from adapters.base import record_message_id
from adapters.fixed_width.layout import LAYOUTS, NUMERIC
from adapters.kit.codes import CodeTable

CODECS = {"L1": "latin-1", "W1": "cp1252"}
NO_DATE = "00000000"
Duration = tuple[int, int, int, int]  # years, months, days, hours
NO_DURATION: Duration = (0, 0, 0, 0)


def render(record_type: str, **values: str | int) -> str:
    """One record of ``record_type``: ints are zero-padded to the field width, strings are left-justified
    and space-padded (placed as given, so a test can put anything anywhere). Unnamed fields are blank
    (text) or zero (numbers). Raises ValueError for an unknown field or a value wider than its field."""
    layout = LAYOUTS[record_type]
    unknown = set(values) - set(layout)
    if unknown:
        raise ValueError(f"{record_type} has no field {sorted(unknown)}")
    out = []
    for name, f in layout.items():
        value = record_type if name == "record_type" else values.get(name, 0 if f.picture == NUMERIC else "")
        text = str(value).rjust(f.width, "0") if isinstance(value, int) else value.ljust(f.width)
        if len(text) != f.width:
            raise ValueError(f"{record_type} {name}: wider than {f.width}")
        out.append(text)
    return "".join(out)


@dataclass
class Header:
    """The HD record."""

    sender: str = "FR"
    batch_number: int = 1
    creation_date: str = "20250110"
    creation_time: str = "021500"
    encoding: str = "L1"
    title_language: str = "fr"
    legal_basis: str = "EU-FD-2009/315"
    purpose: str = "ECRIS_NOTIFICATION"
    format_version: str = "01"

    def line(self) -> str:
        """The rendered HD record."""
        return render("HD", **vars(self))


@dataclass
class Name:
    """An NM record: kind B (birth), F (former) or A (alias)."""

    kind: str
    family: str
    given: str = ""


@dataclass
class Identifier:
    """An NI record."""

    scheme: str
    value: str
    issuer: str


@dataclass
class Offence:
    """An OF record."""

    code: int
    title: str
    legal_reference: str = ""
    completion: str = "C"
    participation: str = "P"
    committed_on: str = NO_DATE
    town: str = ""
    country: str = ""


@dataclass
class Sanction:
    """An SN record; ``amount_cents`` None leaves the amount blank."""

    code: str
    duration: Duration = NO_DURATION
    amount_cents: int | None = None
    currency: str = ""
    suspended: str = "N"
    probation: Duration = NO_DURATION


@dataclass
class LaterDecision:
    """An LD record."""

    kind: str
    decision_date: str
    effective_from: str = NO_DATE


@dataclass
class Conviction:
    """A CV record and the OF, SN and LD records that belong to it."""

    court: str
    decision_date: str
    court_place: str = ""
    date_final: str = NO_DATE
    file_number: str = ""
    retention_end: str = NO_DATE
    offences: list[Offence] = field(default_factory=list)
    sanctions: list[Sanction] = field(default_factory=list)
    later_decisions: list[LaterDecision] = field(default_factory=list)


@dataclass(kw_only=True)
class Person:
    """A register record: the PS record (its fields in column order) and every detail record after it."""

    record_number: str
    version: int = 1
    message_type: str = "N"
    sex: str = "U"
    birth_date: str = "19800101"
    family: str
    given: str = ""
    birth_town: str = ""
    birth_country: str = ""
    fingerprint_ref: str = ""
    names: list[Name] = field(default_factory=list)
    nationalities: list[str]
    identifiers: list[Identifier] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    convictions: list[Conviction] = field(default_factory=list)


# Which attribute of a writer dataclass each field of a record type is written from (``field:attribute``, or the
# field name alone when the attribute has the same name).
_SOURCES = {
    "PS": "version message_type sex birth_date family_name:family given_names:given birth_town birth_country "
    "fingerprint_ref",
    "NM": "name_kind:kind family_name:family given_names:given",
    "NI": "scheme value issuer",
    "CV": "court_name:court court_place decision_date date_final file_number retention_end",
    "OF": "offence_code:code title legal_reference completion participation committed_on place_town:town "
    "place_country:country",
    "SN": "sanction_code:code currency suspended",
    "LD": "decision_kind:kind decision_date effective_from",
}


def _record(record_type: str, source: object, **values: str | int) -> str:
    """``render`` of ``record_type`` with the fields ``_SOURCES`` names taken from ``source``, and ``values``."""
    pairs = (item.partition(":") for item in _SOURCES[record_type].split())
    fields = {name: getattr(source, attribute or name) for name, _, attribute in pairs}
    return render(record_type, **fields, **values)


def _duration_fields(prefix: str, parts: Duration) -> dict[str, int]:
    """The four fields ``<prefix>_years`` ... ``<prefix>_hours`` of a duration."""
    return {f"{prefix}_{unit}": n for unit, n in zip(("years", "months", "days", "hours"), parts, strict=True)}


def person_lines(p: Person) -> list[str]:
    """The detail records of one register record, in the order the format prescribes."""
    key: dict[str, str | int] = {"record_number": p.record_number}
    lines = [_record("PS", p, **key)]
    lines += [_record("NM", n, **key) for n in p.names]
    lines += [render("NA", **key, country=c) for c in p.nationalities]
    lines += [_record("NI", i, **key) for i in p.identifiers]
    lines += [render("PN", **key, parent_name=name) for name in p.parents]
    for seq, c in enumerate(p.convictions, start=1):
        ckey: dict[str, str | int] = {**key, "conviction_seq": seq}
        lines.append(_record("CV", c, **ckey))
        lines += [_record("OF", o, **ckey) for o in c.offences]
        lines += [
            _record(
                "SN",
                s,
                **ckey,
                **_duration_fields("duration", s.duration),
                **_duration_fields("probation", s.probation),
                amount="" if s.amount_cents is None else s.amount_cents,
            )
            for s in c.sanctions
        ]
        lines += [_record("LD", d, **ckey) for d in c.later_decisions]
    return lines


def trailer_line(count: int, checksum: int) -> str:
    """The TR record for ``count`` detail records whose CRC-32 is ``checksum``."""
    return render("TR", record_count=count, checksum=f"{checksum:08X}")


def assemble(
    header: str | None,
    details: list[str],
    *,
    encoding: str = "L1",
    terminator: str = "\r\n",
    count: int | None = None,
    checksum: int | None = None,
    trailer: bool = True,
    final_terminator: bool = True,
) -> bytes:
    """A batch: ``header`` (None: left out), the ``details`` encoded with the codec of ``encoding`` (L1, W1),
    and a trailer whose count and CRC-32 are right unless ``count`` or ``checksum`` say otherwise."""
    codec = CODECS[encoding]
    encoded = [line.encode(codec) for line in details]
    lines = [] if header is None else [header.encode("ascii")]
    lines += encoded
    if trailer:
        crc = zlib.crc32(b"".join(encoded)) if checksum is None else checksum
        lines.append(trailer_line(len(details) if count is None else count, crc).encode("ascii"))
    sep = terminator.encode("ascii")
    return sep.join(lines) + (sep if final_terminator and lines else b"")


def build_batch(persons: list[Person], header: Header | None = None, *, terminator: str = "\r\n") -> bytes:
    """A valid batch of ``persons`` (in order) under ``header`` (default: FR, batch 1, Latin-1)."""
    head = header or Header()
    details = [line for p in persons for line in person_lines(p)]
    return assemble(head.line(), details, encoding=head.encoding, terminator=terminator)


def replace_field(line: str, name: str, value: str | int) -> str:
    """``line`` with field ``name`` set to ``value`` (int: zero-padded; str: space-padded, placed as given).
    Raises ValueError for a value wider than the field."""
    f = LAYOUTS[line[:2]][name]
    text = str(value).rjust(f.width, "0") if isinstance(value, int) else value.ljust(f.width)
    if len(text) != f.width:
        raise ValueError(f"{name}: wider than {f.width}")
    return line[: f.start] + text + line[f.stop :]


def split_records(batch: bytes) -> list[bytes]:
    """The records of a batch without terminators (for tests that damage one)."""
    return [line.removesuffix(b"\r") for line in batch.split(b"\n") if line]


def seal(records: list[bytes], terminator: bytes = b"\r\n") -> bytes:
    """``records`` (a header, then raw detail records, no trailer) with a correct trailer appended: for tests
    that need a batch whose envelope is right and whose content is not."""
    details = records[1:]
    trailer = trailer_line(len(details), zlib.crc32(b"".join(details))).encode("ascii")
    return terminator.join([*records, trailer]) + terminator


def detail_offsets(batch: bytes) -> list[int]:
    """The byte offset in ``batch`` where each detail record starts (records between header and trailer)."""
    offsets, position = [], 0
    for line in batch.split(b"\n"):
        offsets.append(position)
        position += len(line) + 1
    return offsets[1 : len(split_records(batch)) - 1]


# --- what a reader must make of a Person: the canonical record, restated independently of the adapter --------

_README = resources.files("adapters.fixed_width").joinpath("README.md").read_text(encoding="utf-8")


def documented_codes(name: str) -> dict[str, str]:
    """The one-letter codes of field ``name`` and their canonical values, as the README's record tables list
    them (``| 28 | `sex` | X(1) | `M`, `F`, ... | `person.sex` `MALE`, `FEMALE`, ... |``): the format's
    documentation, not the adapter's tables, says what each code means."""
    row = re.search(rf"^\| [0-9]+ \| `{name}` \| X\(1\) \| (.+?) \| (.+?) \|$", _README, re.MULTILINE)
    if row is None:
        raise LookupError(f"README: no one-letter field {name}")
    codes, values = re.findall(r"`([A-Z])`", row[1]), re.findall(r"`([A-Z_]{2,})`", row[2])
    if len(codes) != len(values):
        raise LookupError(f"README: the codes of {name} and their canonical values do not pair up")
    return dict(zip(codes, values, strict=True))


SEXES = documented_codes("sex")
NAME_KINDS = documented_codes("name_kind")
MESSAGE_TYPES = documented_codes("message_type")
COMPLETION = documented_codes("completion")
PARTICIPATION = documented_codes("participation")
LATER_DECISIONS = documented_codes("decision_kind")


def _partial(text: str) -> dict[str, int | None]:
    return {"year": int(text[:4]) or None, "month": int(text[4:6]) or None, "day": int(text[6:]) or None}


def _date(text: str) -> dt.date | None:
    return None if text == NO_DATE else dt.date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _place(town: str, country: str) -> dict[str, str | None] | None:
    return {"town": town or None, "country": country or None} if town or country else None


def _duration(parts: Duration) -> dict[str, int] | None:
    return dict(zip(("years", "months", "days", "hours"), parts, strict=True)) if any(parts) else None


def expected_record(p: Person, head: Header, table: CodeTable, received_at: dt.datetime) -> dict[str, Any]:
    """The canonical record the adapter must make of ``p`` in a batch under ``head``, received at
    ``received_at``, with the categories of ``table``."""
    names = [
        {"kind": "CURRENT", "given": p.given or None, "family": p.family, "script": "Latn", "transliteration": None}
    ]
    names += [
        {
            "kind": NAME_KINDS[n.kind],
            "given": n.given or None,
            "family": n.family,
            "script": "Latn",
            "transliteration": None,
        }
        for n in p.names
    ]
    convictions = []
    for seq, c in enumerate(p.convictions, start=1):
        offences = [
            {
                "national_code": str(o.code),
                "national_title": o.title,
                "legal_reference": o.legal_reference or None,
                "title_language": head.title_language,
                "category": table.offence_category(str(o.code)),
                "completion": COMPLETION[o.completion],
                "participation": PARTICIPATION[o.participation],
                "committed_on": None if o.committed_on == NO_DATE else _partial(o.committed_on),
                "place": _place(o.town, o.country),
            }
            for o in c.offences
        ]
        sanctions = [
            {
                "national_code": s.code,
                "category": table.sanction_category(s.code),
                "duration": _duration(s.duration),
                "amount": None if s.amount_cents is None else f"{s.amount_cents // 100}.{s.amount_cents % 100:02d}",
                "currency": s.currency or None,
                "suspended": s.suspended == "Y",
                "probation": _duration(s.probation),
            }
            for s in c.sanctions
        ]
        later = [
            {
                "kind": LATER_DECISIONS[d.kind],
                "decision_date": _date(d.decision_date),
                "effective_from": _date(d.effective_from),
            }
            for d in c.later_decisions
        ]
        convictions.append(
            {
                "conviction_id": f"{p.record_number}-{seq:03d}",
                "court": {"name": c.court, "place": c.court_place or None},
                "decision_date": _date(c.decision_date),
                "date_final": _date(c.date_final),
                "file_number": c.file_number or None,
                "offences": offences,
                "sanctions": sanctions,
                "later_decisions": later,
                "retention_end": _date(c.retention_end),
            }
        )
    return {
        "header": {
            "message_id": record_message_id(head.sender, p.record_number, p.version),
            "message_type": MESSAGE_TYPES[p.message_type],
            "source_jurisdiction": head.sender,
            "source_record_id": p.record_number,
            "source_record_version": p.version,
            "reply_to": None,
            "created_at": received_at,
            "legal_basis": head.legal_basis,
            "purpose": head.purpose,
            "urgency": "NORMAL",
            "deadline": None,
            "reference_tables": "crx-categories-1",
            "addressed_to": [],
            "external_message_id": f"{head.batch_number:08d}",
            "requesting_authority": None,
            "case_message": None,
            "outcome": None,
            "lookup_id": None,
        },
        "person": {
            "names": names,
            "sex": SEXES[p.sex],
            "birth_date": _partial(p.birth_date),
            "birth_place": _place(p.birth_town, p.birth_country),
            "nationalities": p.nationalities,
            "national_identifiers": [{"scheme": i.scheme, "value": i.value, "issuer": i.issuer} for i in p.identifiers],
            "parent_names": p.parents,
            "fingerprint_reference": p.fingerprint_ref or None,
        },
        "convictions": convictions,
        "other_charges": [],
    }


# --- the packaged samples ------------------------------------------------------------------------------
# The register records of the two sample batches are data: fixed_width_samples.json, next to this file (each
# person with a note saying what it covers). Fields left out have their dataclass defaults.


def _conviction(data: dict[str, Any]) -> Conviction:
    """A Conviction from its JSON object (offences, sanctions and later decisions as lists of objects)."""
    return Conviction(
        **{
            **data,
            "offences": [Offence(**o) for o in data.get("offences", [])],
            "sanctions": [Sanction(**{**s, **_durations(s)}) for s in data.get("sanctions", [])],
            "later_decisions": [LaterDecision(**d) for d in data.get("later_decisions", [])],
        }
    )


def _durations(sanction: dict[str, Any]) -> dict[str, Duration]:
    """The durations of a sanction's JSON object (lists of four numbers) as Duration tuples."""
    return {key: tuple(sanction[key]) for key in ("duration", "probation") if key in sanction}


def _person(data: dict[str, Any]) -> Person:
    """A Person from its JSON object (its ``note`` says what the sample covers and is not a field)."""
    fields = {key: value for key, value in data.items() if key != "note"}
    return Person(
        **{
            **fields,
            "names": [Name(**n) for n in data.get("names", [])],
            "identifiers": [Identifier(**i) for i in data.get("identifiers", [])],
            "convictions": [_conviction(c) for c in data.get("convictions", [])],
        }
    )


_SAMPLE_DATA: dict[str, Any] = json.loads(Path(__file__).with_name("fixed_width_samples.json").read_text("utf-8"))
LATIN1_HEADER = Header(**_SAMPLE_DATA["FR-batch-latin1.dat"]["header"])
LATIN1_PERSONS = [_person(p) for p in _SAMPLE_DATA["FR-batch-latin1.dat"]["persons"]]
CP1252_HEADER = Header(**_SAMPLE_DATA["FR-batch-cp1252.dat"]["header"])
CP1252_PERSONS = [_person(p) for p in _SAMPLE_DATA["FR-batch-cp1252.dat"]["persons"]]


def sample_latin1() -> bytes:
    """``FR-batch-latin1.dat``: four persons (FR, DE, PL, DE+PL nationals), Latin-1, CR LF terminators."""
    return build_batch(LATIN1_PERSONS, LATIN1_HEADER, terminator="\r\n")


def sample_cp1252() -> bytes:
    """``FR-batch-cp1252.dat``: a name with CP1252-only characters and a deletion, CP1252, LF terminators."""
    return build_batch(CP1252_PERSONS, CP1252_HEADER, terminator="\n")


SAMPLES = {"FR-batch-cp1252.dat": sample_cp1252, "FR-batch-latin1.dat": sample_latin1}
