"""``NiemRapSheetAdapter``: a NIEM 2.0 / Nlets Rap Sheet 4.1 document -> one canonical record per rap sheet.

The format is documented in README.md next to this file. The adapter is pure: its only inputs are the
payload, the parse context and its packaged tables (offence/sanction codes, citizenship codes), loaded once
when it is constructed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from adapters.base import MALFORMED, SENDER_MISMATCH, AdapterError, CanonicalRecord, ParseContext
from adapters.kit import canonical
from adapters.kit.codes import NO_TABLE, CodeTable, load_tables
from adapters.kit.samples import packaged_samples
from adapters.kit.xmlsafe import parse_xml
from adapters.niem_rapsheet import header
from adapters.niem_rapsheet.countries import CountryCodes, load_countries
from adapters.niem_rapsheet.cycles import build_events
from adapters.niem_rapsheet.envelope import MAX_WRAPPER_DEPTH, NletsHeader, locate, read_header
from adapters.niem_rapsheet.person import build_person, identifiers, source_record_id
from adapters.niem_rapsheet.tree import Node, missing
from schemas.records import Conviction, OtherCharge

PACKAGE = "adapters.niem_rapsheet"


class NiemRapSheetAdapter:
    """The ``niem-rapsheet`` adapter (registered under the entry-point group ``crx.adapters``)."""

    name = "niem-rapsheet"

    def __init__(self, tables: Mapping[str, CodeTable] | None = None, countries: CountryCodes | None = None) -> None:
        self._table = (load_tables(PACKAGE) if tables is None else tables).get(header.SENDER, NO_TABLE)
        self._countries = load_countries(PACKAGE) if countries is None else countries

    def parse(self, payload: bytes, ctx: ParseContext) -> list[CanonicalRecord]:
        """Parse every rap sheet of the document into a canonical record. Raises AdapterError, and only that."""
        root = parse_xml(payload)
        sheets, header_element = locate(root)
        if not sheets:
            raise AdapterError(
                f"no RapSheet element within {MAX_WRAPPER_DEPTH} levels of the document root", reason_code=MALFORMED
            )
        if ctx.jurisdiction != header.SENDER:
            raise AdapterError(
                "rap sheets are sent by US; the feed is of another jurisdiction", reason_code=SENDER_MISMATCH
            )
        nlets = read_header(header_element)
        many = len(sheets) > 1
        return [
            self._record(Node(sheet, f"RapSheet[{i}]" if many else "RapSheet"), nlets, ctx)
            for i, sheet in enumerate(sheets, 1)
        ]

    def samples(self) -> list[tuple[str, bytes]]:
        """The packaged synthetic samples (``samples/*.xml``), sorted by file name."""
        return packaged_samples(PACKAGE, ".xml")

    def _record(self, sheet: Node, nlets: NletsHeader, ctx: ParseContext) -> CanonicalRecord:
        subject = sheet.first("RapSheetPerson")
        if subject is None:
            raise missing(sheet.at("RapSheetPerson"))
        person = build_person(subject, self._countries, ctx.received_at.date())
        record_id = source_record_id(identifiers(subject), subject)
        message_type, reply_to, addressed_to = header.addressing(nlets)
        purpose = header.purpose(sheet)
        events = build_events(sheet, self._table)
        content: dict[str, object] = {
            "person": person,
            "convictions": events.convictions,
            "other_charges": events.other_charges,
            "message_type": message_type,
            "purpose": purpose,
            "reply_to": reply_to,
            "addressed_to": addressed_to,
        }
        as_of = header.as_of_date(sheet) or _latest_event(events.convictions, events.other_charges)
        version = header.version(as_of, content, sheet.at("Metadata/ReportedDate"))
        return {
            "header": canonical.header(
                header.SENDER,
                record_id,
                version,
                message_type,
                ctx.received_at,
                legal_basis=header.LEGAL_BASIS,
                purpose=purpose,
                reply_to=reply_to,
                addressed_to=addressed_to,
                external_message_id=nlets.control_field,
                outcome=header.outcome(message_type, bool(events.convictions)),
            ),
            "person": person,
            "convictions": events.convictions,
            "other_charges": events.other_charges,
        }


def _latest_event(convictions: list[Conviction], other_charges: list[OtherCharge]) -> dt.date | None:
    """The latest conviction decision date or full disposition date of the record, if any."""
    dates: list[dt.date] = [c["decision_date"] for c in convictions]
    for charge in other_charges:
        found = charge["disposition_date"]
        if found is None:
            continue
        year, month, day = found["year"], found["month"], found["day"]
        if year is not None and month is not None and day is not None:  # a known day comes with its month and year
            dates.append(dt.date(year, month, day))
    return max(dates, default=None)
