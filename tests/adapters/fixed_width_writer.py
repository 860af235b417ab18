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
import zlib
from dataclasses import dataclass, field
from typing import Any

from adapters.base import record_message_id
from adapters.codes import CodeTable
from adapters.fixed_width.layout import LAYOUTS, NUMERIC

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


@dataclass
class Person:
    """A register record: the PS record and every detail record after it."""

    record_number: str
    family: str
    nationalities: list[str]
    version: int = 1
    message_type: str = "N"
    sex: str = "U"
    birth_date: str = "19800101"
    given: str = ""
    birth_town: str = ""
    birth_country: str = ""
    fingerprint_ref: str = ""
    names: list[Name] = field(default_factory=list)
    identifiers: list[Identifier] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    convictions: list[Conviction] = field(default_factory=list)


def _duration_fields(prefix: str, parts: Duration) -> dict[str, int]:
    return {f"{prefix}_{unit}": n for unit, n in zip(("years", "months", "days", "hours"), parts, strict=True)}


def person_lines(p: Person) -> list[str]:
    """The detail records of one register record, in the order the format prescribes."""
    key: dict[str, str | int] = {"record_number": p.record_number}
    lines = [
        render(
            "PS",
            **key,
            version=p.version,
            message_type=p.message_type,
            sex=p.sex,
            birth_date=p.birth_date,
            family_name=p.family,
            given_names=p.given,
            birth_town=p.birth_town,
            birth_country=p.birth_country,
            fingerprint_ref=p.fingerprint_ref,
        )
    ]
    lines += [render("NM", **key, name_kind=n.kind, family_name=n.family, given_names=n.given) for n in p.names]
    lines += [render("NA", **key, country=c) for c in p.nationalities]
    lines += [render("NI", **key, scheme=i.scheme, value=i.value, issuer=i.issuer) for i in p.identifiers]
    lines += [render("PN", **key, parent_name=name) for name in p.parents]
    for seq, c in enumerate(p.convictions, start=1):
        ckey: dict[str, str | int] = {**key, "conviction_seq": seq}
        lines.append(
            render(
                "CV",
                **ckey,
                court_name=c.court,
                court_place=c.court_place,
                decision_date=c.decision_date,
                date_final=c.date_final,
                file_number=c.file_number,
                retention_end=c.retention_end,
            )
        )
        lines += [
            render(
                "OF",
                **ckey,
                offence_code=o.code,
                title=o.title,
                legal_reference=o.legal_reference,
                completion=o.completion,
                participation=o.participation,
                committed_on=o.committed_on,
                place_town=o.town,
                place_country=o.country,
            )
            for o in c.offences
        ]
        lines += [
            render(
                "SN",
                **ckey,
                sanction_code=s.code,
                **_duration_fields("duration", s.duration),
                amount="" if s.amount_cents is None else s.amount_cents,
                currency=s.currency,
                suspended=s.suspended,
                **_duration_fields("probation", s.probation),
            )
            for s in c.sanctions
        ]
        lines += [
            render("LD", **ckey, decision_kind=d.kind, decision_date=d.decision_date, effective_from=d.effective_from)
            for d in c.later_decisions
        ]
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

SEXES = {"M": "MALE", "F": "FEMALE", "X": "OTHER", "U": "UNKNOWN"}
NAME_KINDS = {"B": "BIRTH", "F": "FORMER", "A": "ALIAS"}
MESSAGE_TYPES = {"N": "NOTIFICATION", "U": "UPDATE", "D": "DELETION"}
COMPLETION = {"C": "COMPLETED", "A": "ATTEMPTED", "P": "PREPARATION", "U": "UNKNOWN"}
PARTICIPATION = {"P": "PERPETRATOR", "C": "CO_PERPETRATOR", "A": "ACCESSORY", "I": "INSTIGATOR", "U": "UNKNOWN"}
LATER_DECISIONS = {
    "P": "PARDON",
    "A": "AMNESTY",
    "R": "REHABILITATION",
    "V": "REVERSAL",
    "M": "SENTENCE_MODIFICATION",
    "S": "SUSPENSION_REVOKED",
    "E": "EXPUNGEMENT",
    "O": "OTHER",
}


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

LATIN1_HEADER = Header(batch_number=42, creation_date="20250110", creation_time="021500", encoding="L1")
LATIN1_PERSONS = [
    Person(  # French national only: full birth date, identifier, parents, mapped theft, suspended + fine
        record_number="CJN-SYNTH-000101",
        family="DÉMONSTRATION",
        given="Gaëlle Anaïs",
        nationalities=["FR"],
        sex="F",
        birth_date="19900721",
        birth_town="Exempleville",
        birth_country="FR",
        identifiers=[Identifier("NIR", "SYNTH-NIR-000101", "FR")],
        parents=["Jean DÉMONSTRATION", "Marie-Cécile ESSAI"],
        convictions=[
            Conviction(
                court="Tribunal correctionnel d'Exempleville",
                court_place="Exempleville",
                decision_date="20240312",
                date_final="20240423",
                file_number="SYNTH-24/00017",
                retention_end="20340423",
                offences=[Offence(7875, "Vol", "C. pén. art. 311-3", "C", "P", "20231105", "Exempleville", "FR")],
                sanctions=[
                    Sanction("EMPS", duration=(0, 6, 0, 0), suspended="Y"),
                    Sanction("AMD", amount_cents=50000, currency="EUR"),
                ],
            )
        ],
    ),
    Person(  # German national: birth month precision, alias, unmapped offence code, day-fines, licence
        record_number="CJN-SYNTH-000102",
        family="BEISPIEL",
        given="Jörg",
        nationalities=["DE"],
        sex="M",
        birth_date="19840300",
        birth_town="Musterstadt",
        birth_country="DE",
        names=[Name("A", "BEISPIELMANN", "Georg")],
        convictions=[
            Conviction(
                court="Tribunal correctionnel de Modèleville",
                decision_date="20240607",
                date_final="20240607",
                offences=[
                    Offence(
                        10123,
                        "Conduite d'un véhicule sous l'empire d'un état alcoolique",
                        "C. route art. L234-1",
                        committed_on="20240519",
                        town="Modèleville",
                        country="FR",
                    ),
                    Offence(99001, "Infraction fictive non répertoriée", completion="U", participation="U"),
                ],
                sanctions=[
                    Sanction("JAM", amount_cents=90000, currency="EUR"),
                    Sanction("SUSP", duration=(0, 4, 0, 0)),
                ],
            )
        ],
    ),
    Person(  # Polish national: birth year precision, birth name, attempted fraud as accessory, probation, LD
        record_number="CJN-SYNTH-000103",
        family="PRZYKLADOWA",
        given="Zofia",
        nationalities=["PL"],
        sex="F",
        birth_date="19790000",
        birth_town="Przykladowo",
        birth_country="PL",
        names=[Name("B", "TESTOWA")],
        convictions=[
            Conviction(
                court="Cour d'appel de Fictionville",
                court_place="Fictionville",
                decision_date="20230915",
                date_final="20231002",
                offences=[Offence(7891, "Escroquerie", "C. pén. art. 313-1", "A", "A", "20220400")],
                sanctions=[Sanction("SPRO", duration=(1, 0, 0, 0), suspended="Y", probation=(2, 0, 0, 0))],
                later_decisions=[LaterDecision("M", "20240510", "20240601")],
            )
        ],
    ),
    Person(  # German and Polish national: update (version 2), former name, two convictions, pardon
        record_number="CJN-SYNTH-000104",
        version=2,
        message_type="U",
        family="TESTOWY-BEISPIEL",
        given="Tomasz Lukas",
        nationalities=["DE", "PL"],
        sex="M",
        birth_date="19951130",
        birth_town="Beispielburg",
        birth_country="DE",
        fingerprint_ref="FP-SYNTH-000104",
        names=[Name("F", "TESTOWY", "Tomasz")],
        identifiers=[Identifier("PESEL", "SYNTH-PESEL-000104", "PL")],
        parents=["Anna TESTOWA"],
        convictions=[
            Conviction(
                court="Tribunal correctionnel d'Exempleville",
                decision_date="20210118",
                date_final="20210301",
                offences=[
                    Offence(
                        7878,
                        "Vol par effraction dans un local d'habitation",
                        committed_on="20201224",
                        participation="C",
                    )
                ],
                sanctions=[Sanction("TIG", duration=(0, 0, 0, 140))],
                later_decisions=[LaterDecision("P", "20230714")],
            ),
            Conviction(
                court="Tribunal correctionnel de Modèleville",
                decision_date="20240920",
                file_number="SYNTH-24/00311",
                offences=[Offence(7989, "Trafic de stupéfiants", "C. pén. art. 222-37", committed_on="20240300")],
                sanctions=[Sanction("EMP", duration=(2, 0, 0, 0)), Sanction("CONF")],
            ),
        ],
    ),
]

CP1252_HEADER = Header(batch_number=43, creation_date="20250111", creation_time="031000", encoding="W1")
CP1252_PERSONS = [
    Person(  # characters Latin-1 lacks: U+2019 and Œ in the name, € in an offence title
        record_number="CJN-SYNTH-000201",
        family="D\u2019\u0152UVRE-FICTIVE",
        given="Zoë",
        nationalities=["FR"],
        sex="F",
        birth_date="19880214",
        birth_town="Cœurville",
        birth_country="FR",
        convictions=[
            Conviction(
                court="Tribunal correctionnel de Cœurville",
                decision_date="20241105",
                date_final="20241206",
                offences=[
                    Offence(
                        7891, "Escroquerie portant sur plus de 1 000 €", "C. pén. art. 313-1", committed_on="20240600"
                    )
                ],
                sanctions=[Sanction("AMD", amount_cents=150000, currency="EUR")],
            )
        ],
    ),
    Person(  # deletion of the first record of the Latin-1 sample: no conviction
        record_number="CJN-SYNTH-000101",
        version=2,
        message_type="D",
        family="DÉMONSTRATION",
        given="Gaëlle Anaïs",
        nationalities=["FR"],
        sex="F",
        birth_date="19900721",
    ),
]


def sample_latin1() -> bytes:
    """``FR-batch-latin1.dat``: four persons (FR, DE, PL, DE+PL nationals), Latin-1, CR LF terminators."""
    return build_batch(LATIN1_PERSONS, LATIN1_HEADER, terminator="\r\n")


def sample_cp1252() -> bytes:
    """``FR-batch-cp1252.dat``: a name with CP1252-only characters and a deletion, CP1252, LF terminators."""
    return build_batch(CP1252_PERSONS, CP1252_HEADER, terminator="\n")


SAMPLES = {"FR-batch-cp1252.dat": sample_cp1252, "FR-batch-latin1.dat": sample_latin1}
