"""The record's life in ``crx demo``: the lifecycle sample set, submitted step by step, and what the audit log
says became of it.

The steps are the json-v1 sample set ``samples/lifecycle/`` (see the adapter's README): a notification to FR
and PL, a change of nationality, an update, a stale resubmission, a deletion, and beside the first step a record
whose retention ended before the partners receive it. Files that share a number are one step; a step is
submitted once the one before is accounted for, as a national system sends the versions of one record.

The counts are read from the audit log, never from what the demo meant to do: a disclosure the router did not
make, a receipt a partner did not send, is not counted.
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterable
from typing import Any

from adapters.kit.samples import packaged_samples
from services.audit.store import AuditStore
from services.intake.publisher import Submission
from services.ledger.lifecycle import STALE_VERSION

LIFECYCLE_PACKAGE = "adapters.json_v1"
LIFECYCLE_FOLDER = "samples/lifecycle"
LIFECYCLE_ADAPTER = "json-v1"


def lifecycle_steps() -> list[list[Submission]]:
    """The lifecycle sample set as steps, in order: each a list of submissions to the feed its files' names
    name (``<step>-<jurisdiction>-...``), with a stable idempotency key per file."""
    files = packaged_samples(LIFECYCLE_PACKAGE, ".json", LIFECYCLE_FOLDER)
    steps = []
    for _step, group in itertools.groupby(files, key=lambda item: int(item[0].split("-", 1)[0])):
        steps.append(
            [
                Submission(name.split("-")[1], LIFECYCLE_ADAPTER, payload, idempotency_key=f"lifecycle:{name}")
                for name, payload in group
            ]
        )
    return steps


def lifecycle_counts(store: AuditStore, submission_ids: Iterable[str], crx_purged: int = 0) -> dict[str, int]:
    """What the audit log holds of the record lifecycle of ``submission_ids``' messages.

    - ``updates``, ``deletions``: the router's DISCLOSURE events of an UPDATE, of a DELETION (a bare deletion to
      a recipient that may no longer receive a record's content counts as a deletion), one per recipient;
    - ``erasure_receipts``: ERASURE events (a partner's signed receipt that it no longer holds a record);
    - ``stale_refused``: REFUSAL events with reason ``STALE_VERSION``;
    - ``retention_purged``: the erasures of a notification or update whose retention end had come by the
      erasure's day (a partner's purge), plus ``crx_purged``, what crx's own retention purge erased of its copies.

    An erasure is matched to the disclosure it answers by message id, party and submission. Raises
    TransientError when the store does not answer.
    """
    events = _events(store, submission_ids)
    disclosed = {
        (str(e["message_id"]), r, str(e["submission_id"])): e
        for e in events
        if e["event_type"] == "DISCLOSURE" and e["record_key"] is not None
        for r in e["recipients"]
    }
    kinds = Counter(_kind(e) for e in disclosed.values())
    erasures = [e for e in events if e["event_type"] == "ERASURE"]
    purged = 0
    for erasure in erasures:
        answered = disclosed.get(erasure_of(erasure))
        end = answered["retention_end"] if answered is not None and _kind(answered) != "DELETION" else None
        purged += end is not None and end <= erasure["occurred_at"].date()
    stale = sum(e["event_type"] == "REFUSAL" and e["reason"] == STALE_VERSION for e in events)
    return {
        "updates": kinds["UPDATE"],
        "deletions": kinds["DELETION"],
        "erasure_receipts": len(erasures),
        "stale_refused": stale,
        "retention_purged": purged + crx_purged,
    }


def erasure_of(event: dict[str, Any]) -> tuple[str, str, str]:
    """(message id, party, submission id) of an ERASURE or DISCLOSURE event (a disclosure's one recipient)."""
    [party] = event["recipients"]
    return str(event["message_id"]), str(party), str(event["submission_id"])


def erasures_of(store: AuditStore, submission_ids: Iterable[str]) -> list[tuple[str, str, str]]:
    """``erasure_of`` every ERASURE event of ``submission_ids``, in log order."""
    return [erasure_of(e) for e in _events(store, submission_ids) if e["event_type"] == "ERASURE"]


def _events(store: AuditStore, submission_ids: Iterable[str]) -> list[dict[str, Any]]:
    return [e for sid in dict.fromkeys(submission_ids) for e in store.events(submission_id=sid)]


def _kind(event: dict[str, Any]) -> str:
    return str(event["message_type"] or "").split("/")[0]
