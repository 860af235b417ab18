"""The pure rules of a record's life at the partner (``services.partner.lifecycle``)."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import pytest

from services.partner.lifecycle import (
    Change,
    Delivery,
    Held,
    Operation,
    change_of,
    decide,
    record_key,
    retention_end_of,
    retention_ended,
)

D = Delivery("m", "c", bytes(32))


def _record(message_type: str, version: int = 1, ends: tuple[dt.date | None, ...] = ()) -> dict[str, Any]:
    header = {"message_type": message_type, "source_jurisdiction": "DE", "source_record_id": "R-1",
              "source_record_version": version}  # fmt: skip
    return {"header": header, "convictions": [{"retention_end": end} for end in ends]}


def test_the_key_is_an_opaque_hash_of_jurisdiction_and_record_id() -> None:
    """hex SHA-256 of ``<jurisdiction>\\x1f<record id>``: the record id never shows, and no two pairs collide by
    concatenation."""
    assert record_key("DE", "R-1") == hashlib.sha256(b"DE\x1fR-1").hexdigest()
    assert record_key("DE", "R-1") != record_key("DER", "-1")


def test_what_a_message_asks() -> None:
    """NOTIFICATION and UPDATE upsert, DELETION erases; requests, responses and case notices have no record life."""
    assert change_of(_record("NOTIFICATION", 2)) == Change(record_key("DE", "R-1"), 2, erase=False)
    assert change_of(_record("UPDATE", 3)) == Change(record_key("DE", "R-1"), 3, erase=False)
    assert change_of(_record("DELETION", 4)) == Change(record_key("DE", "R-1"), 4, erase=True)
    for other in ("REQUEST", "RESPONSE"):
        assert change_of(_record(other)) is None
    assert change_of({"case_notice": {"notice_id": "n"}}) is None


def test_the_retention_end_of_a_record_is_its_last_convictions() -> None:
    """The latest retention end when every conviction has one; none when any lacks one, or there is no conviction."""
    jan, feb = dt.date(2030, 1, 1), dt.date(2030, 2, 1)
    assert retention_end_of(_record("NOTIFICATION", ends=(feb, jan))) == feb
    assert retention_end_of(_record("NOTIFICATION", ends=(feb, None))) is None
    assert retention_end_of(_record("NOTIFICATION", ends=())) is None
    held = Held(1, D, erased=False, retention_end=jan)
    assert not retention_ended(held, dt.date(2029, 12, 31))
    assert retention_ended(held, jan) and retention_ended(held, feb)
    assert not retention_ended(Held(1, D, erased=True, retention_end=jan), feb)  # erased already
    assert not retention_ended(Held(1, D, erased=False), feb)  # no retention end: kept until deleted


LIVE2, GONE2 = Held(2, D, erased=False), Held(2, D, erased=True)
DECISIONS = {  # (what is held, whether the change erases): {the change's version: what it does}
    (None, False): {1: Operation.STORED},
    (LIVE2, False): {3: Operation.REPLACED, 2: Operation.UNCHANGED, 1: Operation.STALE},
    (GONE2, False): {1: Operation.STALE, 2: Operation.STALE, 3: Operation.STORED},
    (None, True): {1: Operation.ERASED},
    (LIVE2, True): {2: Operation.ERASED, 3: Operation.ERASED, 1: Operation.STALE},
    (GONE2, True): {1: Operation.ERASED},
}


def _held_id(value: object) -> str | None:
    """A test id for what is held: ``live2`` or ``gone2`` (pytest's own for the other values)."""
    return f"{'gone' if value.erased else 'live'}{value.version}" if isinstance(value, Held) else None


@pytest.mark.parametrize(
    ("held", "version", "erase", "expected"),
    [(held, v, erase, op) for (held, erase), by_version in DECISIONS.items() for v, op in by_version.items()],
    ids=_held_id,
)
def test_decide(held: Held | None, version: int, erase: bool, expected: Operation) -> None:
    """What a message does given what is held (see ``decide``'s docstring)."""
    assert decide(held, Change("k", version, erase)) is expected
