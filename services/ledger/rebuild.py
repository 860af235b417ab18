"""Rebuilding the disclosure ledger from the audit log, the one record of every disclosure.

Every disclosure of a notification, an update or a deletion is a DISCLOSURE event of the router carrying the
record's opaque key, its version, the recipient, the rule (which names the agreement), the instant and the
retention end; those events are the ledger's rows. Rebuilding reads the leaves the Merkle tree commits to,
so a rebuilt ledger is exactly what the verified log says, and adding a row already there changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from schemas import AUDIT_EVENT
from schemas.records import AuditEvent
from services.kernel.codec import typed_codec
from services.ledger.lifecycle import LIFECYCLE_TYPES
from services.ledger.store import Disclosure, DisclosureLedger

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
