"""What "settled" and "exact" mean for a chaos row, checked from what crx leaves behind.

- The audit store: ``services.audit.accounting.account`` over the accepted submissions (its rule, not a copy
  of it) must be complete: every submission delivered, refused or dead-lettered, nothing pending; and the
  counts must be the ones the stream planned.
- The partners' output directories: every deliverable record at every expected partner exactly once, and
  nothing else.
- Duplicates: one act audited twice under two event ids (or one event id twice), one delivery receipted
  under two receipt ids on ``crx.receipts``, one record delivered twice to a partner. A receipt re-sent with
  the *same* id (at-least-once redelivery, absorbed by the audit writer) is counted apart, as ``resent``.
- Every service and partner client answers /healthz and /readyz, and none exited on its own.

Also reported: the audit log's ERROR events by reason, what an operator would be alerted to. A receipt that
did not verify is expected where a key was revoked; an event id that came again with other bytes
(EVENT_ID_CONFLICT) or a record refused as unauthenticated is an alarm without an attack, and makes the row
not exact (``run.py``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from schemas import RECEIPT
from services.audit.accounting import Accounting, account
from services.audit.store import AuditStore, open_store
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.kafka import client_options
from tools.chaos.load import Item

# Acts that happen once per submission, record or delivery: the same key twice is a duplicate.
ONCE = frozenset({"COLLECTION", "NORMALISATION", "DISCLOSURE", "REFUSAL", "DELIVERY_RECEIPT", "DEAD_LETTER"})


def audit_books(settings: Settings, submission_ids: Sequence[str]) -> Accounting:
    """``account`` over ``submission_ids`` from the row's audit store (opened read-side, then closed)."""
    store = open_store(settings, create=False)
    try:
        return account(store, submission_ids)
    finally:
        store.close()


@dataclass
class Deliveries:
    """The partners' output directories against the plan."""

    expected: int = 0
    missing: int = 0
    duplicated: int = 0
    unexpected: int = 0

    @property
    def exact(self) -> bool:
        """Every expected delivery there once, nothing else."""
        return not (self.missing or self.duplicated or self.unexpected)


class OutputScan:
    """Reads the partners' output directories (``<dir>/<record key>.json``, one file per record), each file once."""

    def __init__(self, out_dirs: dict[str, Path]) -> None:
        self._dirs = out_dirs
        self._seen: dict[Path, str] = {}

    def check(self, items: Iterable[Item]) -> Deliveries:
        """Compare what each partner holds (by source record id) with the accepted deliverable ``items``."""
        expected = {(p, item.record_id) for item in items if item.expect == "delivered" for p in item.recipients}
        counts: Counter[tuple[str, str]] = Counter()
        for party, directory in self._dirs.items():
            for path in directory.glob("*.json"):
                if path not in self._seen:
                    try:
                        self._seen[path] = str(json.loads(path.read_text("utf-8"))["header"]["source_record_id"])
                    except (OSError, ValueError, KeyError):
                        continue  # not complete yet (the sink renames into place, so this is rare): next time
                counts[(party, self._seen[path])] += 1
        return Deliveries(
            expected=len(expected),
            missing=len(expected - set(counts)),
            duplicated=sum(n - 1 for n in counts.values() if n > 1),
            unexpected=len(set(counts) - expected),
        )


@dataclass
class Duplicates:
    """Everything counted twice, by where it was seen."""

    event_ids: int = 0
    acts: Counter[str] = field(default_factory=Counter)
    receipt_ids: int = 0
    deliveries: int = 0
    resent_receipts: Counter[str] = field(default_factory=Counter)  # per party: copies of one receipt id

    @property
    def total(self) -> int:
        """What the table's ``duplicates`` column shows (``resent_receipts`` excluded: same ids, absorbed)."""
        return self.event_ids + sum(self.acts.values()) + self.receipt_ids + self.deliveries

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready breakdown."""
        return {
            "event_ids": self.event_ids,
            "acts": dict(sorted(self.acts.items())),
            "receipt_ids": self.receipt_ids,
            "deliveries": self.deliveries,
            "resent_receipts_same_id": dict(sorted(self.resent_receipts.items())),
        }


def audit_findings(settings: Settings, into: Duplicates) -> Counter[str]:
    """Count event ids logged twice and acts logged under two event ids into ``into``; return the log's
    ERROR events by reason."""
    store = open_store(settings, create=False)
    try:
        events = store.events()
    finally:
        store.close()
    ids = Counter(e["event_id"] for e in events)
    into.event_ids = sum(n - 1 for n in ids.values() if n > 1)
    acts: Counter[tuple[Any, ...]] = Counter(
        (e["event_type"], e["component"], e["actor"], e["message_id"], e["submission_id"],
         tuple(e["recipients"]), e["outcome"])
        for e in {e["event_id"]: e for e in events}.values()
        if e["event_type"] in ONCE
    )  # fmt: skip
    for key, n in acts.items():
        if n > 1:
            into.acts[str(key[0])] += n - 1
    return Counter(str(e["reason"]) for e in events if e["event_type"] == "ERROR")


async def receipt_duplicates(settings: Settings, into: Duplicates, idle_polls: int = 3) -> None:
    """Read ``crx.receipts`` from the beginning (read_committed) to its end: receipt ids per (party, message,
    outcome), and copies of one receipt id. The end is the high-watermark fetches report (Tansu's
    ListOffsets is not trusted: TANSU.md) after ``idle_polls`` empty polls in a row."""
    consumer = AIOKafkaConsumer(
        **client_options(settings), group_id=None, enable_auto_commit=False, fetch_max_wait_ms=100,
        isolation_level="read_committed",
    )  # fmt: skip
    receipt_codec = codec(RECEIPT)
    copies: Counter[tuple[str, str]] = Counter()
    per_delivery: dict[tuple[str, str, str], set[str]] = {}
    await consumer.start()
    try:
        topic = settings.topic("receipts")
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        if not partitions:
            return
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        idle, deadline = 0, time.monotonic() + 120
        while idle < idle_polls and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=2000)
            records = [r for rs in batch.values() for r in rs]
            idle = 0 if records else idle + 1
            for record in records:
                receipt = receipt_codec.decode(record.value or b"")
                copies[(receipt["party"], receipt["receipt_id"])] += 1
                key = (receipt["party"], receipt["message_id"], receipt["outcome"])
                per_delivery.setdefault(key, set()).add(receipt["receipt_id"])
            if idle:
                behind = [tp for tp in partitions if (consumer.highwater(tp) or 0) > await consumer.position(tp)]
                idle = 0 if behind else idle
    finally:
        await consumer.stop()
    into.receipt_ids = sum(len(ids) - 1 for ids in per_delivery.values())
    for (party, _), n in copies.items():
        if n > 1:
            into.resent_receipts[party] += n - 1


def census(settings: Settings, submission_ids: Sequence[str]) -> Counter[str]:
    """Where each unsettled submission stands, from its audit events (for the reason of a row not exact)."""
    store: AuditStore = open_store(settings, create=False)
    stages: Counter[str] = Counter()
    try:
        for sid in submission_ids:
            events = store.events(submission_id=sid)
            types = Counter(e["event_type"] for e in events)
            accepted = sum(1 for e in events if e["event_type"] == "DELIVERY_RECEIPT" and e["outcome"] == "accepted")
            if not events:
                stages["no audit event at all"] += 1
            elif set(types) == {"COLLECTION"}:
                stages["collected, never normalised"] += 1
            elif "NORMALISATION" in types and not types.keys() & {"DISCLOSURE", "REFUSAL", "DEAD_LETTER"}:
                stages["normalised, never routed"] += 1
            elif types["DISCLOSURE"] and accepted < sum(
                len(e["recipients"]) for e in events if e["event_type"] == "DISCLOSURE"
            ):
                stages["disclosed, accepted receipt missing"] += 1
    finally:
        store.close()
    return stages
