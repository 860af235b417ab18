"""The batch envelope: lines of fixed length, the HD header, the TR trailer's count and CRC-32, decoding.

``read_batch`` checks the whole batch before any detail record is interpreted, in this order:

1. the payload is not empty and has at most ``MAX_RECORDS`` detail lines (LIMIT_EXCEEDED);
2. every line is ``RECORD_LENGTH`` bytes once its terminator (LF or CR LF) is removed (MALFORMED);
3. line 1 is a valid HD header whose sender is the feed's jurisdiction (MALFORMED, INVALID_VALUE,
   SENDER_MISMATCH);
4. the last line is a TR trailer (BATCH_MISMATCH when there is none) whose record count and CRC-32 match
   the detail lines between them, taken as raw bytes without terminators (BATCH_MISMATCH);
5. the detail lines decode in the declared encoding and hold no control character (MALFORMED).

Only then are the detail lines handed out, so a damaged batch is refused whole and never yields records.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from adapters.base import BATCH_MISMATCH, LIMIT_EXCEEDED, MALFORMED, AdapterError
from adapters.fixed_width.fields import Line, malformed
from adapters.fixed_width.layout import FORMAT_VERSION, HEADER, LAYOUTS, RECORD_LENGTH, TRAILER
from adapters.kit.countries import ALPHA2
from adapters.kit.errors import check_sender
from adapters.kit.languages import LANGUAGE
from adapters.kit.text import CONTROLS

MAX_RECORDS = 100_000  # detail records per batch
ENCODINGS = {"L1": "latin-1", "W1": "cp1252"}
_PRINTABLE_ASCII = re.compile(r"[ -~]+", re.ASCII)
_CHECKSUM = re.compile(r"[0-9A-F]{8}", re.ASCII)
_COUNT = re.compile(r"[0-9]{9}", re.ASCII)


@dataclass(frozen=True)
class BatchHeader:
    """What the HD record says about the whole batch."""

    sender: str
    batch_number: str
    encoding: str
    title_language: str
    legal_basis: str
    purpose: str


@dataclass(frozen=True)
class Batch:
    """A checked batch: its header and its detail records, decoded and concatenated (each exactly
    ``RECORD_LENGTH`` characters, the first on line 2)."""

    header: BatchHeader
    details: str

    def lines(self) -> Iterator[Line]:
        """The detail records in order, as Lines numbered as in the file. Raises MALFORMED for a record
        type the format does not define."""
        text = self.details
        for index in range(0, len(text), RECORD_LENGTH):
            yield Line.of(index // RECORD_LENGTH + 2, text[index : index + RECORD_LENGTH])


def split_lines(payload: bytes) -> list[bytes]:
    """The records of ``payload`` without their terminators (LF or CR LF; the last may have none).

    Raises MALFORMED for an empty payload or a line of another length than RECORD_LENGTH (naming the line),
    LIMIT_EXCEEDED for more lines than a batch may have.
    """
    if not payload:
        raise AdapterError("empty payload: a batch starts with a header (HD) record", reason_code=MALFORMED)
    too_many = AdapterError(f"batch has more than {MAX_RECORDS} detail records", reason_code=LIMIT_EXCEEDED)
    if payload.count(b"\n") > MAX_RECORDS + 2:  # counted before splitting, so a huge batch costs nothing
        raise too_many
    lines = payload.split(b"\n")
    if not lines[-1]:
        lines.pop()  # the terminator of the last line
    if len(lines) > MAX_RECORDS + 2:
        raise too_many
    for index, line in enumerate(lines):
        if line.endswith(b"\r"):
            line = lines[index] = line[:-1]
        if len(line) != RECORD_LENGTH:
            raise malformed(index + 1, f"{len(line)} bytes, every record must be {RECORD_LENGTH}")
    return lines


def _ascii_line(number: int, raw: bytes, record_type: str) -> Line:
    if _PRINTABLE_ASCII.fullmatch(raw.decode("latin-1")) is None:
        raise malformed(number, f"the {record_type} record must be printable ASCII")
    return Line(number, raw.decode("ascii"), LAYOUTS[record_type])


def read_header(raw: bytes, jurisdiction: str) -> BatchHeader:
    """Parse line 1, the HD record. Raises MALFORMED (not a header, unknown format version or encoding),
    INVALID_VALUE (a bad field), SENDER_MISMATCH (a sender other than the feed's jurisdiction)."""
    if raw[:2] != HEADER.encode():
        raise malformed(1, "the batch must start with a header (HD) record")
    line = _ascii_line(1, raw, HEADER)
    if line.raw("format_version") != FORMAT_VERSION:
        raise AdapterError(f"{line.where('format_version')}: unsupported format version", reason_code=MALFORMED)
    encoding = ENCODINGS.get(line.raw("encoding"))
    if encoding is None:
        raise AdapterError(f"{line.where('encoding')}: expected L1 or W1", reason_code=MALFORMED)
    sender = line.raw("sender")
    if ALPHA2.fullmatch(sender) is None:
        raise line.invalid("sender", "an ISO 3166-1 alpha-2 code in capitals")
    check_sender(sender, jurisdiction, line.where("sender"))
    line.date("creation_date")
    time = line.digits("creation_time")
    if int(time[:2]) > 23 or int(time[2:4]) > 59 or int(time[4:]) > 59:
        raise line.invalid("creation_time", "a time HHMMSS")
    language = line.raw("title_language")
    if LANGUAGE.fullmatch(language) is None:
        raise line.invalid("title_language", "an ISO 639-1 code in lower case")
    line.check_filler()
    return BatchHeader(
        sender=sender,
        batch_number=line.digits("batch_number"),
        encoding=encoding,
        title_language=language,
        legal_basis=line.text_field("legal_basis"),
        purpose=line.text_field("purpose"),
    )


def check_trailer(lines: list[bytes], details: bytes) -> None:
    """Check that the last line is a TR record whose count and CRC-32 match ``details`` (the detail
    records joined). Raises BATCH_MISMATCH (missing trailer, wrong count, wrong checksum) or MALFORMED
    (a trailer before the last line, a badly formed trailer)."""
    last = len(lines)
    if last < 2 or lines[-1][:2] != TRAILER.encode():
        for number, raw in enumerate(lines[1:], start=2):
            if raw[:2] == TRAILER.encode():
                raise malformed(number, "the trailer (TR) record must be the last line")
        raise AdapterError("batch refused: trailer (TR) record missing", reason_code=BATCH_MISMATCH)
    line = _ascii_line(last, lines[-1], TRAILER)
    count, checksum = line.raw("record_count"), line.raw("checksum")
    if _COUNT.fullmatch(count) is None:
        raise AdapterError(f"{line.where('record_count')}: expected 9 digits", reason_code=MALFORMED)
    if _CHECKSUM.fullmatch(checksum) is None:
        raise AdapterError(f"{line.where('checksum')}: expected 8 upper-case hexadecimal digits", reason_code=MALFORMED)
    line.check_filler()
    if int(count) != last - 2:
        raise AdapterError(
            "batch refused: the trailer record count does not match the number of detail records",
            reason_code=BATCH_MISMATCH,
        )
    if int(checksum, 16) != zlib.crc32(details):
        raise AdapterError(
            "batch refused: the trailer checksum does not match the CRC-32 of the detail records",
            reason_code=BATCH_MISMATCH,
        )


def _decode(details: bytes, encoding: str) -> str:
    try:
        text = details.decode(encoding)
    except UnicodeDecodeError as exc:
        raise malformed(exc.start // RECORD_LENGTH + 2, "a byte that the declared encoding does not define") from None
    control = CONTROLS.search(text)  # controls are never data: C0 (tab included), DEL and C1
    if control is not None:
        raise malformed(control.start() // RECORD_LENGTH + 2, "a control character in a record")
    return text


def read_batch(payload: bytes, jurisdiction: str) -> Batch:
    """Check and decode the batch envelope (see the module docstring). Raises AdapterError only."""
    lines = split_lines(payload)
    header = read_header(lines[0], jurisdiction)
    details = b"".join(lines[1:-1])
    check_trailer(lines, details)  # CRC-32 (ISO-HDLC, as zlib.crc32) of the joined detail records
    return Batch(header, _decode(details, header.encoding))
