"""Builders of the parts of a canonical record (``schemas/canonical_record.avsc``) that every format fills the
same way: the header, a person's name and a place; and ``as_written``, the code map of a format that writes an
enum's symbols as the schema does.

Each returns the part's TypedDict of ``schemas.records``, so mypy checks every field where it is built. They
check nothing at run time: what goes in has been read and checked by the adapter, in its own format's terms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

from adapters.base import record_message_id
from adapters.kit.languages import LATIN
from adapters.kit.refs import REFERENCE_TABLES
from schemas.records import (
    CaseMessageSymbol,
    Header,
    MessageTypeSymbol,
    NameKindSymbol,
    PersonName,
    Place,
    ResponseOutcomeSymbol,
    UrgencySymbol,
)

MAX_VERSION = 2**31 - 1  # source_record_version is an Avro int
Symbol = TypeVar("Symbol", bound=str)  # a symbol of a schema enum (one of the ``...Symbol`` Literal aliases)


def as_written(*symbols: Symbol) -> dict[str, Symbol]:
    """``{symbol: symbol}`` for each of ``symbols``, in order: the code map of a format whose codes are the
    schema's symbols. Annotate the result (``dict[str, UrgencySymbol]``) and mypy checks every symbol."""
    return {symbol: symbol for symbol in symbols}


def header(
    sender: str,
    record_id: str,
    version: int,
    message_type: MessageTypeSymbol,
    received_at: dt.datetime,
    *,
    legal_basis: str,
    purpose: str,
    reply_to: str | None = None,
    urgency: UrgencySymbol = "NORMAL",
    deadline: dt.datetime | None = None,
    addressed_to: Sequence[str] = (),
    external_message_id: str | None = None,
    requesting_authority: str | None = None,
    case_message: CaseMessageSymbol | None = None,
    outcome: ResponseOutcomeSymbol | None = None,
    lookup_id: str | None = None,
) -> Header:
    """The canonical header of version ``version`` of source record ``record_id`` of ``sender``.

    Guarantees: the message id is ``record_message_id(sender, record_id, version)`` (the same record version
    always gets the same id), ``created_at`` is the receive time, ``reference_tables`` is REFERENCE_TABLES.
    """
    return {
        "message_id": record_message_id(sender, record_id, version),
        "message_type": message_type,
        "source_jurisdiction": sender,
        "source_record_id": record_id,
        "source_record_version": version,
        "reply_to": reply_to,
        "created_at": received_at,
        "legal_basis": legal_basis,
        "purpose": purpose,
        "urgency": urgency,
        "deadline": deadline,
        "reference_tables": REFERENCE_TABLES,
        "addressed_to": list(addressed_to),
        "external_message_id": external_message_id,
        "requesting_authority": requesting_authority,
        "case_message": case_message,
        "outcome": outcome,
        "lookup_id": lookup_id,
    }


def name(
    kind: NameKindSymbol, given: str | None, family: str, script: str = LATIN, transliteration: str | None = None
) -> PersonName:
    """A canonical PersonName."""
    return {"kind": kind, "given": given, "family": family, "script": script, "transliteration": transliteration}


def place(town: str | None, country: str | None) -> Place | None:
    """A canonical Place; None when neither the town nor the country is known."""
    if town is None and country is None:
        return None
    return {"town": town, "country": country}
