"""Accounting from the audit log: what became of every pushed submission.

A submission is ``delivered`` when at least one DISCLOSURE names it, else ``refused`` when the router refused
it for every candidate, else ``dead_lettered`` when a DEAD_LETTER names it (a dead letter replayed with
success is therefore delivered or refused), and ``pending`` otherwise. The
audit log is the source of truth, so the books balance only if every act was audited.

A submission may hold many records (a batch file). The same books are kept per canonical record too: every
record the normaliser produced (a NORMALISATION event) is ``delivered`` to at least one recipient, or
``refused`` for all, or still pending.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from services.audit.store import AuditStore


@dataclass
class Accounting:
    """Totals over a set of submissions."""

    pushed: int = 0
    delivered_records: int = 0
    delivered: Counter[str] = field(default_factory=Counter)
    refused: int = 0
    dead_lettered: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    pending: list[str] = field(default_factory=list)
    disclosures: int = 0
    receipts: int = 0
    records: int = 0
    records_delivered: int = 0
    records_refused: int = 0
    records_pending: int = 0

    @property
    def balanced(self) -> bool:
        """Every pushed submission is delivered, refused or dead-lettered."""
        return self.pushed == self.delivered_records + self.refused + self.dead_lettered

    @property
    def complete(self) -> bool:
        """Balanced, nothing pending, and every disclosure acknowledged by a receipt."""
        return self.balanced and not self.pending and not self.records_pending and self.receipts >= self.disclosures

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "pushed": self.pushed,
            "delivered": dict(sorted(self.delivered.items())),
            "delivered_records": self.delivered_records,
            "refused": self.refused,
            "dead_lettered": self.dead_lettered,
            "dead_letter_reasons": dict(sorted(self.dead_letter_reasons.items())),
            "pending": len(self.pending),
            "receipts": self.receipts,
            "balanced": self.balanced,
            "records": {
                "normalised": self.records,
                "delivered": self.records_delivered,
                "refused": self.records_refused,
                "pending": self.records_pending,
            },
        }


def account(store: AuditStore, submission_ids: Iterable[str]) -> Accounting:
    """Classify each submission from its audit events."""
    acc = Accounting()
    for sid in submission_ids:
        acc.pushed += 1
        events = store.events(submission_id=sid)
        types = {e["event_type"] for e in events}
        disclosures = [e for e in events if e["event_type"] == "DISCLOSURE"]
        acc.disclosures += len(disclosures)
        acc.receipts += sum(1 for e in events if e["event_type"] == "DELIVERY_RECEIPT" and e["outcome"] == "accepted")
        if disclosures:  # also a dead letter replayed once its cause was fixed
            acc.delivered_records += 1
            acc.delivered.update(r for e in disclosures for r in e["recipients"])
        elif "REFUSAL" in types:
            acc.refused += 1
        elif "DEAD_LETTER" in types:
            acc.dead_lettered += 1
            acc.dead_letter_reasons.update(e["reason"] for e in events if e["event_type"] == "DEAD_LETTER")
        else:
            acc.pending.append(sid)
        _account_records(acc, events)
    return acc


def _account_records(acc: Accounting, events: list[dict[str, Any]]) -> None:
    """Per canonical record of one submission: delivered, refused for every candidate, or pending."""
    normalised = {e["message_id"] for e in events if e["event_type"] == "NORMALISATION"}
    disclosed = {e["message_id"] for e in events if e["event_type"] == "DISCLOSURE"}
    refused = {e["message_id"] for e in events if e["event_type"] == "REFUSAL"}
    acc.records += len(normalised)
    acc.records_delivered += len(normalised & disclosed)
    acc.records_refused += len((normalised & refused) - disclosed)
    acc.records_pending += len(normalised - disclosed - refused)
