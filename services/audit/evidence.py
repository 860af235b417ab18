"""The evidence of one submission, from the audit log: every event about it, each with its inclusion proof.

``submission_evidence`` answers what became of a submission (``accounting.settlement``) and shows it: for each
canonical record the normaliser made of it, every DISCLOSURE (per recipient) with the recipient's
DELIVERY_RECEIPT, every REFUSAL, and the submission's dead letters. Every event carries its evidence: the
exact leaf bytes the Merkle tree commits to (the event's Avro single-object encoding: ids, codes and salted
commitments only, never personal data), its leaf index and its RFC 9162 inclusion proof to *one* signed
checkpoint, the latest when the answer was built, which the answer carries verbatim with the log's verifier
key. Whoever holds that key (pinned out of band) checks a delivery without trusting crx: hash the leaf,
fold the path, compare with the signed root, check the signature.

An event appended after that checkpoint gets ``"evidence": null, "pending_checkpoint": true``: never a
proof to an unsigned root, which would prove nothing to anyone outside. Ask again after the next checkpoint
(``audit_checkpoint_seconds`` at most).

The submitting jurisdiction is read from the intake's own events (``owner``): the COLLECTION it logged when it
accepted the submission (actor = the authenticated jurisdiction), or, for a submission refused at the door,
its DEAD_LETTER. Events of later stages name a record's source jurisdiction as the payload states it, so they
are not used to decide who may read the answer.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any

from services.audit.accounting import settlement
from services.audit.store import AuditStore, StoredCheckpoint
from services.translog.notes import NoteVerifier

INTAKE = "intake"  # the component whose events say who submitted
RECORD_EVENTS = frozenset({"NORMALISATION", "DISCLOSURE", "REFUSAL", "DELIVERY_RECEIPT"})  # about one record

Json = dict[str, Any]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _time(event: Json) -> str | None:
    when = event.get("occurred_at")
    return None if when is None else str(when.isoformat())


def owner(events: Sequence[Json]) -> str | None:
    """The jurisdiction that submitted, from the intake's events among ``events``: the actor of its COLLECTION,
    else the source jurisdiction of its DEAD_LETTER (refused at the door); None when neither is logged (yet)."""
    for event in events:
        if event["component"] == INTAKE and event["event_type"] == "COLLECTION":
            return str(event["actor"])
    for event in events:
        if event["component"] == INTAKE and event["event_type"] == "DEAD_LETTER" and event["source_jurisdiction"]:
            return str(event["source_jurisdiction"])
    return None


def signing_key(note: str, verifiers: Sequence[NoteVerifier]) -> str | None:
    """The verifier key (vkey form) among ``verifiers`` whose name and key id sign ``note``, else None.

    Only matches names and key ids: whoever relies on the answer verifies the signature with their own copy.
    """
    block = note[note.rfind("\n\n") + 2 :]
    for line in block.splitlines():
        name, _, sig = line.removeprefix("\u2014 ").partition(" ")
        try:
            key_id = base64.b64decode(sig, validate=True)[:4]
        except ValueError:
            continue
        for verifier in verifiers:
            if verifier.name == name and verifier.key_id == key_id:
                return verifier.vkey()
    return None


class _Prover:
    """Evidence of events against one signed checkpoint (or none yet)."""

    def __init__(self, store: AuditStore, checkpoint: StoredCheckpoint | None) -> None:
        self._store = store
        self._size = checkpoint.size if checkpoint else 0

    def attach(self, item: Json, event: Json) -> Json:
        """``item`` with ``evidence`` (or None) and ``pending_checkpoint`` for ``event``."""
        event_id = str(event["event_id"])
        index = self._store.index_of(event_id)
        if index is None or index >= self._size:
            return item | {"evidence": None, "pending_checkpoint": True}
        evidence = {
            "event_id": event_id,
            "leaf_index": index,
            "leaf": _b64(self._store.leaf(index)),
            "inclusion_proof": [_b64(h) for h in self._store.inclusion_proof(index, self._size)],
            "tree_size": self._size,
        }
        return item | {"evidence": evidence, "pending_checkpoint": False}


def _receipt(receipts: list[Json], recipient: str) -> Json | None:
    """The recipient's ACCEPTED receipt if it sent one, else its latest receipt, else None."""
    mine = [r for r in receipts if recipient in r["recipients"]]
    accepted = [r for r in mine if r["outcome"] == "accepted"]
    if accepted:
        return accepted[0]
    return mine[-1] if mine else None


def _record(message_id: str, events: list[Json], prove: _Prover) -> Json:
    """One canonical record: its disclosures (each with its receipt) and refusals."""
    of = {t: [e for e in events if e["event_type"] == t] for t in ("NORMALISATION", "DISCLOSURE", "REFUSAL")}
    receipts = [e for e in events if e["event_type"] == "DELIVERY_RECEIPT"]
    typed = next((e["message_type"] for e in events if e["message_type"]), None)
    disclosures = []
    for event in of["DISCLOSURE"]:
        recipient = event["recipients"][0] if event["recipients"] else None
        receipt = _receipt(receipts, recipient) if recipient else None
        item = {"recipient": recipient, "rule": event["rule"], "disclosed_at": _time(event)}
        if receipt is not None:
            answer = {"outcome": receipt["outcome"], "reason": receipt["reason"], "received_at": _time(receipt)}
            item["receipt"] = prove.attach(answer, receipt)
        else:
            item["receipt"] = None
        disclosures.append(prove.attach(item, event))
    refusals = [
        prove.attach(
            {"recipient": e["recipients"][0] if e["recipients"] else None, "reason": e["reason"], "rule": e["rule"]},
            e,
        )
        for e in of["REFUSAL"]
    ]
    normalised = of["NORMALISATION"]
    return {
        "message_id": message_id,
        "message_type": typed,
        "normalised_at": _time(normalised[0]) if normalised else None,
        "normalisation": prove.attach({}, normalised[0]) if normalised else None,
        "disclosures": disclosures,
        "refusals": refusals,
    }


def submission_evidence(store: AuditStore, submission_id: str, verifiers: Sequence[NoteVerifier] = ()) -> Json | None:
    """The evidence of ``submission_id`` (the module docstring says what it holds), JSON-ready, or None when
    the log holds no event about it.

    ``verifiers``: the log's note keys; the one that signed the checkpoint is named in ``log.verifier_key``
    (None when none of them did, or none was given). ``jurisdiction`` is ``owner``'s answer (None while the
    intake's event is not logged). Every proof leads to the one ``checkpoint`` in the answer (None while
    nothing is signed). Raises TransientError when the store cannot be read.
    """
    events = store.events(submission_id=submission_id)
    if not events:
        return None
    checkpoint = store.latest_checkpoint()
    prove = _Prover(store, checkpoint)
    by_record: dict[str, list[Json]] = {}
    for event in events:
        if event["message_id"] and event["event_type"] in RECORD_EVENTS:
            by_record.setdefault(str(event["message_id"]), []).append(event)
    collection = next((e for e in events if e["event_type"] == "COLLECTION" and e["component"] == INTAKE), None)
    dead = [
        prove.attach({"stage": e["component"], "reason": e["reason"], "occurred_at": _time(e)}, e)
        for e in events
        if e["event_type"] == "DEAD_LETTER"
    ]
    return {
        "submission_id": submission_id,
        "jurisdiction": owner(events),
        "state": settlement(events),
        "accepted_at": _time(collection) if collection else None,
        "collection": prove.attach({}, collection) if collection else None,
        "records": [_record(mid, evs, prove) for mid, evs in by_record.items()],
        "dead_letters": dead,
        "checkpoint": checkpoint.note if checkpoint else None,
        "log": {
            "origin": store.origin,
            "tree_size": checkpoint.size if checkpoint else 0,
            "verifier_key": signing_key(checkpoint.note, verifiers) if checkpoint else None,
        },
    }
