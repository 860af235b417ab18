"""Rebuilding the disclosure ledger from the audit log, the one record of every disclosure.

Every disclosure of a notification, an update or a deletion is a DISCLOSURE event of the router carrying the
record's opaque key, its version, the recipient, the rule (which names the agreement), the instant and the
retention end; those events are the ledger's rows. Rebuilding reads the leaves the Merkle tree commits to,
so a rebuilt ledger is exactly what the verified log says, and adding a row already there changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from schemas import AUDIT_EVENT
from schemas.records import AuditEvent
from services.kernel.codec import typed_codec
from services.ledger.lifecycle import LIFECYCLE_TYPES
from services.ledger.store import Disclosure, DisclosureLedger

RowKey = tuple[str, str, int, str]  # record key, recipient, version, message type: the ledger's primary key

BATCH = 1000


def _agreement(rule: str | None) -> str | None:
    """The agreement a router rule names (``<rule id>/<agreement id>[/...]``), or None (``ledger-erasure``)."""
    parts = (rule or "").split("/")
    return parts[1] if len(parts) > 1 else None


def disclosures_of(event: AuditEvent) -> Iterator[Disclosure]:
    """The ledger rows one decoded audit event holds: one per recipient of a router DISCLOSURE of a
    notification, update or deletion; none for any other event."""
    message_type = (event["message_type"] or "").split("/")[0]
    if (
        event["event_type"] != "DISCLOSURE"
        or event["component"] != "router"
        or event["record_key"] is None
        or event["record_version"] is None
        or message_type not in LIFECYCLE_TYPES
    ):
        return
    for recipient in event["recipients"]:
        yield Disclosure(
            record_key=event["record_key"],
            recipient=recipient,
            version=event["record_version"],
            message_id=str(event["message_id"]),
            message_type=message_type,
            agreement=_agreement(event["rule"]),
            disclosed_at=event["occurred_at"],
            retention_end=event["retention_end"],
        )


def disclosures(leaves: Iterable[tuple[int, bytes]]) -> Iterator[Disclosure]:
    """The ledger rows the audit leaves hold. Raises CodecError for a leaf that is not an audit event."""
    decode = typed_codec(AUDIT_EVENT).decode
    for _index, leaf in leaves:
        yield from disclosures_of(decode(leaf))


def rebuild(ledger: DisclosureLedger, leaves: Iterable[tuple[int, bytes]]) -> int:
    """Add every disclosure of ``leaves`` to ``ledger``; returns how many the log holds. Raises TransientError
    when the ledger's database does not answer, CodecError for a leaf that is not an audit event."""
    count, batch = 0, []
    for row in disclosures(leaves):
        batch.append(row)
        if len(batch) >= BATCH:
            ledger.add(batch)
            count, batch = count + len(batch), []
    ledger.add(batch)
    return count + len(batch)


def row_key(row: Disclosure) -> RowKey:
    """The ledger's primary key of ``row``: one row per record, recipient, version and message type."""
    return row.record_key, row.recipient, row.version, row.message_type


@dataclass(frozen=True)
class Plan:
    """What rebuilding a ledger from the audit log would do: the log's rows (the first of each key, as ``add``
    keeps it), those the ledger lacks, and the ledger's rows the log does not hold (never removed by a rebuild:
    the log is append-only, so such a row was written by a router whose audit events are not (yet) logged)."""

    logged: list[Disclosure]
    missing: list[Disclosure]
    unlogged: list[Disclosure]


def plan(ledger: DisclosureLedger, leaves: Iterable[tuple[int, bytes]]) -> Plan:
    """Compare ``ledger`` with the disclosures of ``leaves`` without writing anything. Raises TransientError
    when the ledger's database does not answer, CodecError for a leaf that is not an audit event."""
    logged: dict[RowKey, Disclosure] = {}
    for row in disclosures(leaves):
        logged.setdefault(row_key(row), row)
    held = {row_key(r): r for r in ledger.rows()}
    missing = [r for k, r in logged.items() if k not in held]
    unlogged = [r for k, r in held.items() if k not in logged]
    return Plan(list(logged.values()), missing, unlogged)
