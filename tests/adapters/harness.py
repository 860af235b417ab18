"""What the tests of every adapter share: the adapter under test with its samples, a fixed receive time,
parse and refusal helpers, and the canonical codec round trip."""

from __future__ import annotations

import datetime as dt

import pytest

from adapters.base import AdapterError, ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord, Duration, Sanction
from services.kernel.codec import typed_codec

RECEIVED = dt.datetime(2025, 1, 15, 9, 30, tzinfo=dt.UTC)
Record = CriminalRecord


class Feed:
    """The registered adapter ``name`` as a feed of ``jurisdiction`` (the default) delivers payloads to it.

    ``samples`` are its packaged samples by file name. Every parse is received at RECEIVED unless told.
    """

    def __init__(self, name: str, jurisdiction: str) -> None:
        self.adapter = get_adapter(name)
        self.samples = dict(self.adapter.samples())
        self.jurisdiction = jurisdiction

    def parse(self, payload: bytes, jurisdiction: str | None = None, received: dt.datetime = RECEIVED) -> list[Record]:
        """The records of ``payload`` on the feed of ``jurisdiction`` (default: this feed's)."""
        return self.adapter.parse(payload, ParseContext(jurisdiction or self.jurisdiction, received))

    def parse_one(self, payload: bytes, jurisdiction: str | None = None) -> Record:
        """The one record of ``payload``; fails the test when there are more or none."""
        records = self.parse(payload, jurisdiction)
        assert len(records) == 1
        return records[0]

    def refusal(self, payload: bytes, jurisdiction: str | None = None) -> AdapterError:
        """The AdapterError parsing ``payload`` raises; fails the test when it parses."""
        with pytest.raises(AdapterError) as info:
            self.parse(payload, jurisdiction)
        return info.value


def round_trip(record: Record) -> Record:
    """``record`` encoded with the canonical codec and decoded again."""
    canonical = typed_codec(CANONICAL_RECORD)
    return canonical.decode(canonical.encode(record))


def assert_survives_codec(record: Record) -> None:
    """The canonical codec encodes ``record`` and decodes it unchanged in substance: the same message id,
    person, convictions and other charges, and RECEIVED as its creation time."""
    back = round_trip(record)
    assert str(back["header"]["message_id"]) == record["header"]["message_id"]
    assert back["person"] == record["person"]
    assert back["convictions"] == record["convictions"]
    assert back["other_charges"] == record["other_charges"]
    assert back["header"]["created_at"] == RECEIVED


def duration_of(sanction: Sanction) -> Duration:
    """The duration of ``sanction``; fails the test when it has none."""
    assert sanction["duration"] is not None
    return sanction["duration"]
