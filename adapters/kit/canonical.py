"""Builders of the parts of a canonical record (``schemas/canonical_record.avsc``) that every format fills the
same way: the header, a person's name and a place.

They check nothing: what goes in has been read and checked by the adapter, in its own format's terms.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from adapters.base import record_message_id
from adapters.kit.languages import LATIN
from adapters.kit.refs import REFERENCE_TABLES

MAX_VERSION = 2**31 - 1  # source_record_version is an Avro int


def header(
    sender: str,
    record_id: str,
    version: int,
    message_type: str,
    received_at: dt.datetime,
    *,
    legal_basis: str,
    purpose: str,
    reply_to: str | None = None,
    urgency: str = "NORMAL",
    deadline: dt.datetime | None = None,
    addressed_to: Sequence[str] = (),
    external_message_id: str | None = None,
) -> dict[str, Any]:
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
    }


def name(
    kind: str, given: str | None, family: str, script: str = LATIN, transliteration: str | None = None
) -> dict[str, Any]:
    """A canonical PersonName (``kind``: CURRENT, BIRTH, FORMER or ALIAS)."""
    return {"kind": kind, "given": given, "family": family, "script": script, "transliteration": transliteration}


def place(town: str | None, country: str | None) -> dict[str, Any] | None:
    """A canonical Place; None when neither the town nor the country is known."""
    if town is None and country is None:
        return None
    return {"town": town, "country": country}
