"""What the audit log answers to partners and supervisors: signed checkpoints, inclusion and consistency proofs.

The same answers go out on the command line (``crx audit checkpoint | prove | consistency``) and over HTTP
(the audit service's ``/v1/...`` routes). Every proof is against a *signed* checkpoint: a leaf appended after
the latest checkpoint is not provable until the next one is signed (``NotYetSigned``), because a proof
against an unsigned root would prove nothing to anyone outside.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from services.audit.store import AuditStore
from services.kernel.errors import CrxError
from services.translog.notes import tlog_proof


class NotFound(CrxError, dead_letter=False, reason_code="NOT_FOUND"):
    """No such event, or no such checkpoint, in this log."""


class NotYetSigned(CrxError, dead_letter=False, reason_code="NOT_YET_SIGNED"):
    """The event is in the log but after the latest signed checkpoint; ask again after the next one."""


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def latest_checkpoint(store: AuditStore) -> str:
    """The latest signed checkpoint note. Raises NotFound when none has been signed yet."""
    checkpoint = store.latest_checkpoint()
    if checkpoint is None:
        raise NotFound("no checkpoint has been signed yet")
    return checkpoint.note


def prove(store: AuditStore, event_id: str) -> str:
    """A ``c2sp.org/tlog-proof@v1`` bundle for ``event_id``: leaf index, the leaf itself (as the extra data),
    the inclusion path to the latest signed checkpoint, and that checkpoint.

    Raises NotFound for an unknown event, NotYetSigned for one after the latest checkpoint.
    """
    index = store.index_of(event_id)
    if index is None:
        raise NotFound("no audit event with this id")
    checkpoint = store.latest_checkpoint()
    if checkpoint is None or index >= checkpoint.size:
        raise NotYetSigned("the event is not covered by a signed checkpoint yet")
    return tlog_proof(index, store.leaf(index), store.inclusion_proof(index, checkpoint.size), checkpoint.note)


def consistency(store: AuditStore, old_size: int, new_size: int | None = None) -> dict[str, Any]:
    """A consistency proof between two tree sizes, with both roots and, where signed, both checkpoints.

    ``new_size`` defaults to the latest signed checkpoint's size. Raises NotFound when a size is beyond the
    log or nothing is signed yet; the sizes must satisfy 0 < old_size <= new_size <= the log size.
    """
    latest = store.latest_checkpoint()
    if new_size is None:
        if latest is None:
            raise NotFound("no checkpoint has been signed yet")
        new_size = latest.size
    if not 0 < old_size <= new_size <= store.size:
        raise NotFound(f"sizes must satisfy 0 < old <= new <= {store.size}")
    signed = {cp.size: cp.note for cp in store.checkpoints() if cp.size in (old_size, new_size)}
    return {
        "old_size": old_size,
        "new_size": new_size,
        "old_root": _b64(store.root(old_size)),
        "new_root": _b64(store.root(new_size)),
        "proof": [_b64(h) for h in store.consistency_proof(old_size, new_size)],
        "old_checkpoint": signed.get(old_size),
        "new_checkpoint": signed.get(new_size),
    }


def consistency_json(store: AuditStore, old_size: int, new_size: int | None = None) -> str:
    """``consistency`` as indented JSON."""
    return json.dumps(consistency(store, old_size, new_size), indent=2)
