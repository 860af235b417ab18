"""``JsonV1Adapter``: one ``crx-json/1`` JSON object per payload -> one canonical record.

The format is documented in README.md next to this file. The adapter is pure: its only inputs are the
payload, the parse context and its packaged mapping tables, loaded once when it is constructed.
"""

from __future__ import annotations

from collections.abc import Mapping

from adapters.base import MALFORMED, AdapterError, CanonicalRecord, ParseContext, record_message_id
from adapters.json_v1 import case
from adapters.json_v1.convictions import build_convictions
from adapters.json_v1.document import load_document
from adapters.json_v1.fields import Node, invalid, missing
from adapters.json_v1.person import build_person
from adapters.json_v1.values import SYNTAX
from adapters.kit import canonical
from adapters.kit.codes import NO_TABLE, CodeTable, load_tables
from adapters.kit.countries import check_country
from adapters.kit.distinct import Distinct
from adapters.kit.errors import check_sender
from adapters.kit.samples import packaged_samples
from schemas.records import Header, MessageTypeSymbol, UrgencySymbol

PACKAGE = "adapters.json_v1"
FORMAT = "crx-json/1"
MESSAGE_TYPES: dict[str, MessageTypeSymbol] = canonical.as_written(
    "NOTIFICATION", "UPDATE", "DELETION", "REQUEST", "RESPONSE"
)
URGENCIES: dict[str, UrgencySymbol] = canonical.as_written("NORMAL", "URGENT")
# Message types that may carry no conviction: a deletion names the record, a request asks for one, and a
# response may be the answer "nothing on file".
MAY_BE_EMPTY = frozenset({"DELETION", "REQUEST", "RESPONSE"})
ADDRESSED = frozenset({"REQUEST", "RESPONSE"})  # must name the states they are for


class JsonV1Adapter:
    """The ``json-v1`` adapter (registered under the entry-point group ``crx.adapters``)."""

    name = "json-v1"

    def __init__(self, tables: Mapping[str, CodeTable] | None = None) -> None:
        self._tables = load_tables(PACKAGE) if tables is None else tables

    def parse(self, payload: bytes, ctx: ParseContext) -> list[CanonicalRecord]:
        """Parse one crx-json/1 object into one canonical record. Raises AdapterError, and only that."""
        root = Node(load_document(payload))
        _check_format(root)
        sender = check_sender(root.string("sender"), ctx.jurisdiction, "sender")
        header = self._header(root, sender, ctx)
        table = self._tables.get(sender, NO_TABLE)
        person = build_person(root.child("person"), ctx.received_at.date())
        message_type = header["message_type"]
        convictions = build_convictions(root, table, may_be_empty=message_type in MAY_BE_EMPTY)
        header["outcome"] = case.outcome(root, message_type, header["case_message"], bool(convictions))
        record: CanonicalRecord = {"header": header, "person": person, "convictions": convictions, "other_charges": []}
        return [record]

    def samples(self) -> list[tuple[str, bytes]]:
        """The packaged synthetic samples (``samples/*.json``), sorted by file name."""
        return packaged_samples(PACKAGE, ".json")

    @staticmethod
    def _header(root: Node, sender: str, ctx: ParseContext) -> Header:
        record_id = root.string("record_id")
        version = root.integer("version", 1, canonical.MAX_VERSION)
        message_type = root.choice("type", MESSAGE_TYPES)
        reply_to = root.opt_string("reply_to")
        if message_type == "RESPONSE" and reply_to is None:
            raise missing("reply_to")
        addressed_to = _addressed_to(root, sender)
        if message_type in ADDRESSED and not addressed_to:
            raise missing("addressed_to")
        return canonical.header(
            sender,
            record_id,
            version,
            message_type,
            ctx.received_at,
            reply_to=reply_to,
            legal_basis=root.string("legal_basis"),
            purpose=root.string("purpose"),
            urgency=root.choice("urgency", URGENCIES, default="NORMAL"),
            deadline=root.opt_parsed("deadline", SYNTAX.timestamp),
            addressed_to=addressed_to,
            external_message_id=root.opt_string("message_ref"),
            requesting_authority=case.requesting_authority(root, message_type),
            lookup_id=case.lookup_id(root, message_type),
            case_message=case.case_message(root, message_type, reply_to, record_message_id(sender, record_id, version)),
        )


def _addressed_to(root: Node, sender: str) -> list[str]:
    once = Distinct(invalid, "each state once, not the sender", excluded=sender)
    return [once.add(path, check_country(code, path)) for path, code in root.strings("addressed_to")]


def _check_format(root: Node) -> None:
    marker = root.raw("format", required=True)
    if marker != FORMAT:
        raise AdapterError(f"format: not a {FORMAT} document", reason_code=MALFORMED)
