"""Accounting from the audit log: what became of every pushed submission.

``settlement`` is the one rule, used by the books below and by the intake's reconciler (which keeps every
accepted submission until the log shows it settled). From a submission's events:

- ``delivered``: every record the normaliser produced is disclosed or refused, at least one is disclosed,
  and every disclosure (record, recipient) is acknowledged by an ACCEPTED receipt from that recipient. A
  DISCLOSURE alone is not a delivery: a partner that rejected the envelope (a revoked key, say) or never
  answered has not received it;
- else ``dead_lettered`` when the intake gave up on it (a DEAD_LETTER with reason ``UNDELIVERED``);
- else ``pending`` while a record awaits the router or a disclosure awaits its ACCEPTED receipt;
- else ``refused`` when the router refused it for every candidate, ``dead_lettered`` when a stage
  dead-lettered it (a dead letter replayed with success is therefore delivered or refused later), and
  ``pending`` when the log shows nothing but its collection.

The audit log is the source of truth, so the books balance only if every act was audited. A submission may
hold many records (a batch file): the books are kept per canonical record too (NORMALISATION events).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from services.audit.store import AuditStore

UNDELIVERED = "UNDELIVERED"  # the reason of the intake's dead letter for a submission it stopped re-sending
SETTLED = ("delivered", "refused", "dead_lettered")


def settlement(events: Iterable[dict[str, Any]]) -> str:
    """``delivered``, ``refused``, ``dead_lettered`` or ``pending``: what became of one submission, from
    its audit events (the module docstring gives the rule). Never raises for well-formed events."""
    events = list(events)
    of_type = _by_type(events)
    disclosed = {(e["message_id"], r) for e in of_type["DISCLOSURE"] for r in e["recipients"]}
    accepted = _accepted(of_type["DELIVERY_RECEIPT"])
    normalised = {e["message_id"] for e in of_type["NORMALISATION"]}
    routed = {e["message_id"] for e in of_type["DISCLOSURE"]} | {e["message_id"] for e in of_type["REFUSAL"]}
    dead = {e["message_id"] for e in of_type["DEAD_LETTER"]}
    records_waiting = bool(normalised - routed - dead)
    if disclosed and disclosed <= accepted and not records_waiting:
        return "delivered"
    if any(e["reason"] == UNDELIVERED for e in of_type["DEAD_LETTER"]):
        return "dead_lettered"
    if records_waiting or disclosed:
        return "pending"
    if of_type["REFUSAL"]:
        return "refused"
    if of_type["DEAD_LETTER"]:
        return "dead_lettered"
    return "pending"


def settlement_states(store: AuditStore, submission_ids: Iterable[str]) -> dict[str, str]:
    """``settlement`` of each submission, from the store. Raises TransientError when the store fails."""
    return {sid: settlement(store.events(submission_id=sid)) for sid in submission_ids}


def _accepted(events: Iterable[dict[str, Any]]) -> set[tuple[str, str]]:
    """(message id, recipient) of every ACCEPTED receipt among ``events``."""
    receipts = (e for e in events if e["event_type"] == "DELIVERY_RECEIPT" and e["outcome"] == "accepted")
    return {(e["message_id"], r) for e in receipts for r in e["recipients"]}


def _by_type(events: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {
        t: [] for t in ("DISCLOSURE", "DELIVERY_RECEIPT", "NORMALISATION", "REFUSAL", "DEAD_LETTER")
    }
    for e in events:
        grouped.setdefault(str(e["event_type"]), []).append(e)
    return grouped


@dataclass
class RecordTotals:
    """The canonical records normalised from a set of submissions: each one ``delivered`` (disclosed to a
    recipient at least), ``refused`` (to every candidate) or still ``pending`` (neither yet)."""

    normalised: int = 0
    delivered: int = 0
    refused: int = 0
    pending: int = 0


@dataclass
class Accounting:
    """Totals over a set of submissions."""

    pushed: int = 0
    delivered_records: int = 0  # submissions delivered (see ``settlement``)
    delivered: Counter[str] = field(default_factory=Counter)  # ACCEPTED receipts per recipient
    refused: int = 0
    dead_lettered: int = 0
    dead_letter_reasons: Counter[str] = field(default_factory=Counter)
    refusal_reasons: Counter[str] = field(default_factory=Counter)  # per REFUSAL event (one per recipient refused)
    pending: list[str] = field(default_factory=list)
    disclosures: int = 0
    receipts: int = 0
    records: RecordTotals = field(default_factory=RecordTotals)

    @property
    def balanced(self) -> bool:
        """Every pushed submission is delivered, refused or dead-lettered."""
        return self.pushed == self.delivered_records + self.refused + self.dead_lettered

    @property
    def complete(self) -> bool:
        """Balanced and nothing pending (so every delivery acknowledged by an ACCEPTED receipt)."""
        return self.balanced and not self.pending and not self.records.pending

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready summary."""
        return {
            "pushed": self.pushed,
            "delivered": dict(sorted(self.delivered.items())),
            "delivered_records": self.delivered_records,
            "refused": self.refused,
            "dead_lettered": self.dead_lettered,
            "dead_letter_reasons": dict(sorted(self.dead_letter_reasons.items())),
            "refusal_reasons": dict(sorted(self.refusal_reasons.items())),
            "pending": len(self.pending),
            "receipts": self.receipts,
            "balanced": self.balanced,
            "records": asdict(self.records),
        }


def account(store: AuditStore, submission_ids: Iterable[str]) -> Accounting:
    """Classify each submission from its audit events (``settlement``)."""
    acc = Accounting()
    for sid in submission_ids:
        acc.pushed += 1
        events = store.events(submission_id=sid)
        accepted = _accepted(events)
        acc.disclosures += sum(len(e["recipients"]) for e in events if e["event_type"] == "DISCLOSURE")
        acc.receipts += len(accepted)
        acc.refusal_reasons.update(e["reason"] or "-" for e in events if e["event_type"] == "REFUSAL")
        state = settlement(events)
        if state == "delivered":
            acc.delivered_records += 1
            acc.delivered.update(r for _, r in accepted)
        elif state == "refused":
            acc.refused += 1
        elif state == "dead_lettered":
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
    acc.records.normalised += len(normalised)
    acc.records.delivered += len(normalised & disclosed)
    acc.records.refused += len((normalised & refused) - disclosed)
    acc.records.pending += len(normalised - disclosed - refused)
