"""Detail records -> canonical records: a PS record opens a register record, the records after it belong
to it until the next PS; each register record becomes one canonical record.

The hierarchy is checked as it is read: every detail record repeats the record number of its PS; person
records (NM, NA, NI, PN) carry conviction sequence 000 and come before the first CV; a CV opens the
conviction whose sequence its OF, SN and LD records repeat; sequences ascend within a register record.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from adapters.base import MISSING_FIELD, AdapterError, CanonicalRecord
from adapters.fixed_width import convictions, person
from adapters.fixed_width.batch import Batch, BatchHeader
from adapters.fixed_width.fields import Line, malformed
from adapters.fixed_width.layout import CONVICTION_TYPES, HEADER, PERSON_TYPES, TRAILER
from adapters.kit import canonical
from adapters.kit.codes import CodeTable
from schemas.records import Conviction, MessageTypeSymbol, Person

MESSAGE_TYPES: dict[str, MessageTypeSymbol] = {"N": "NOTIFICATION", "U": "UPDATE", "D": "DELETION"}
MAX_VERSION = 99_999  # 9(5)
MAX_CONVICTION_SEQ = 999  # 9(3)
_RECORD_NUMBER = re.compile(r"[A-Z0-9][A-Z0-9./-]*", re.ASCII)
_PERSON_RECORDS: dict[str, Callable[[Person, Line], None]] = {
    "NM": person.add_name,
    "NA": person.add_nationality,
    "NI": person.add_identifier,
    "PN": person.add_parent,
}


class _Open:
    """The register record being read: its PS line, canonical record, and the conviction being read."""

    __slots__ = ("conviction", "conviction_line", "conviction_lines", "key", "line", "record", "seq")

    def __init__(self, line: Line, record: CanonicalRecord) -> None:
        self.line = line.number
        self.key = line.raw("record_number")
        self.record = record
        self.conviction: Conviction | None = None
        self.conviction_line = 0
        self.seq = "000"  # the conviction sequence of the open conviction, as written
        self.conviction_lines: list[int] = []


class Assembler:
    """Turns the detail lines of one batch, fed in order, into canonical records."""

    def __init__(self, header: BatchHeader, table: CodeTable, received_at: dt.datetime) -> None:
        self._header = header
        self._table = table
        self._received_at = received_at
        self._open: _Open | None = None
        self._seen: dict[tuple[str, int], int] = {}  # (record number, version) -> its PS line
        self.records: list[CanonicalRecord] = []

    def feed(self, line: Line) -> None:
        """Add one detail line. Raises AdapterError (MALFORMED for a broken hierarchy, field errors)."""
        kind = line.record_type
        if kind == "PS":
            self._close()
            self._start(line)
            return
        if kind == HEADER:
            raise malformed(line.number, "a second header (HD) record")
        if kind == TRAILER:
            raise malformed(line.number, "the trailer (TR) record must be the last line")
        current = self._open
        if current is None:
            raise malformed(line.number, f"{kind} record before any PS record")
        if line.raw("record_number") != current.key:
            raise malformed(line.number, f"record number differs from that of the PS record on line {current.line}")
        if kind in PERSON_TYPES:
            self._person_record(current, line)
        elif kind == "CV":
            self._conviction(current, line)
        elif kind in CONVICTION_TYPES:
            self._conviction_record(current, line)
        line.check_filler()

    def finish(self) -> list[CanonicalRecord]:
        """Close the last register record and return every record, in batch order."""
        self._close()
        return self.records

    def _start(self, line: Line) -> None:
        record_id = line.matching("record_number", _RECORD_NUMBER, "capital letters, digits and . / -")
        if line.raw("conviction_seq") != "000":
            raise line.invalid("conviction_seq", "000 on a PS record")
        version = line.integer("version", 1, MAX_VERSION)
        earlier = self._seen.setdefault((record_id, version), line.number)
        if earlier != line.number:
            raise line.invalid("version", f"a record number and version not already on line {earlier}")
        header = canonical.header(
            self._header.sender,
            record_id,
            version,
            line.choice("message_type", MESSAGE_TYPES),
            self._received_at,
            legal_basis=self._header.legal_basis,
            purpose=self._header.purpose,
            external_message_id=self._header.batch_number,
        )
        record: CanonicalRecord = {
            "header": header,
            "person": person.person_of(line, self._received_at.date()),
            "convictions": [],
            "other_charges": [],
        }
        line.check_filler()
        self._open = _Open(line, record)

    def _person_record(self, current: _Open, line: Line) -> None:
        if current.conviction is not None:
            raise malformed(line.number, f"{line.record_type} record after a CV record of the same person")
        if line.raw("conviction_seq") != "000":
            raise line.invalid("conviction_seq", f"000 on an {line.record_type} record")
        _PERSON_RECORDS[line.record_type](current.record["person"], line)

    def _conviction(self, current: _Open, line: Line) -> None:
        if line.integer("conviction_seq", 1, MAX_CONVICTION_SEQ) <= int(current.seq):
            raise line.invalid("conviction_seq", "a sequence above that of the previous CV record")
        current.seq = line.raw("conviction_seq")
        current.conviction = convictions.conviction_of(line, current.record["header"]["source_record_id"])
        current.conviction_line = line.number
        current.conviction_lines.append(line.number)
        current.record["convictions"].append(current.conviction)

    def _conviction_record(self, current: _Open, line: Line) -> None:
        conviction = current.conviction
        if conviction is None:
            raise malformed(line.number, f"{line.record_type} record before any CV record of the person")
        if line.raw("conviction_seq") != current.seq:
            raise malformed(line.number, f"conviction sequence differs from the CV on line {current.conviction_line}")
        kind = line.record_type
        if kind == "OF":
            conviction["offences"].append(convictions.offence_of(line, self._table, self._header.title_language))
        elif kind == "SN":
            conviction["sanctions"].append(convictions.sanction_of(line, self._table))
        else:
            conviction["later_decisions"].append(convictions.later_decision_of(line))

    def _close(self) -> None:
        current, self._open = self._open, None
        if current is None:
            return
        record = current.record
        if not record["person"]["nationalities"]:
            raise _missing(current.line, "PS", "no NA record: at least one nationality is required")
        if not record["convictions"] and record["header"]["message_type"] != "DELETION":
            raise _missing(current.line, "PS", "no CV record: notifications and updates carry a conviction")
        for number, conviction in zip(current.conviction_lines, record["convictions"], strict=True):
            if not conviction["offences"]:
                raise _missing(number, "CV", "no OF record: every conviction has an offence")
        self.records.append(record)


def _missing(number: int, record_type: str, what: str) -> AdapterError:
    return AdapterError(f"line {number}, {record_type} record: {what}", reason_code=MISSING_FIELD)


def assemble(batch: Batch, table: CodeTable, received_at: dt.datetime) -> list[CanonicalRecord]:
    """The canonical records of a checked batch, in batch order. Raises AdapterError only."""
    assembler = Assembler(batch.header, table, received_at)
    for line in batch.lines():
        assembler.feed(line)
    return assembler.finish()
