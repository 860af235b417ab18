"""Audit events on ``crx.audit`` in batches: one ``AuditBatch`` message (``schemas/audit_batch.avsc``) per
produced batch and partition instead of one message per event, and reading either kind back.

The Producer (``services.kernel.kafka``) collapses the audit events of every batch it sends (``batch_audit``)
before it signs the batch, so no service batches its own. An ``AuditBatch`` carries each event as the exact
single-object bytes a single-event message carried: the leaf the audit writer logs, unchanged. Readers of the
topic take both kinds (``audit_leaves``, ``audit_events_of``): single events are what producers before audit
batching sent, and are still on the topic for its retention.
"""

from __future__ import annotations

from collections.abc import Sequence

from schemas import AUDIT_BATCH, AUDIT_EVENT
from schemas.records import AuditEvent
from services.kernel.codec import HEADER_LEN, MAGIC, codec, typed_codec
from services.kernel.outrecord import OutRecord
from services.kernel.partitioner import partition_for

AUDIT_BATCH_BYTES = 1_048_576
"""The largest ``AuditBatch`` value ``batch_audit`` makes by default; the Producer passes its own bound
(``max_request_bytes`` less ``AUDIT_BATCH_HEADROOM``)."""

AUDIT_BATCH_HEADROOM = 16_384
"""Bytes of a Kafka request kept for what an audit batch message carries besides its value: its key, the
batch-authentication headers (an audit path of at most 32 hashes) and Kafka's record and batch framing."""

_ITEM_OVERHEAD = 5  # an Avro bytes item's length prefix: a zig-zag varint, at most 5 bytes below 2 GiB
_ARRAY_OVERHEAD = HEADER_LEN + 2 * _ITEM_OVERHEAD  # single-object header, one block's count, the end marker


def is_audit_event(value: bytes) -> bool:
    """Whether ``value`` is headed as an audit event (single-object magic and a fingerprint of the current or a
    previous audit_event schema). Only the header is looked at: the body may still not decode."""
    return value[:2] == MAGIC and typed_codec(AUDIT_EVENT).knows(value[2:HEADER_LEN])


def is_audit_batch(value: bytes) -> bool:
    """Whether ``value`` is headed as an ``AuditBatch`` (only the header is looked at)."""
    return value[:2] == MAGIC and codec(AUDIT_BATCH).knows(value[2:HEADER_LEN])


def audit_leaves(value: bytes) -> list[bytes]:
    """The audit events one crx.audit message carries, each its single-object bytes, in order: a batch's
    events, or the message itself when it is not a batch (a single event, as producers before audit batching
    sent; its bytes are not checked here). Raises CodecError for a batch that does not decode."""
    if not is_audit_batch(value):
        return [value]
    return [bytes(event) for event in codec(AUDIT_BATCH).decode(value)["events"]]


def audit_events_of(value: bytes) -> list[AuditEvent]:
    """The decoded audit events of one crx.audit message (``audit_leaves``), for readers of the topic.

    Raises CodecError for a batch or an event that does not decode."""
    decode = typed_codec(AUDIT_EVENT).decode
    return [decode(leaf) for leaf in audit_leaves(value)]


def partition_of(key: bytes | None, partitions: int) -> int | None:
    """The partition Kafka's default partitioner (murmur2, as the Producer's ``services.kernel.partitioner`` and
    the Java client) gives ``key`` among ``partitions``; None for no key (any partition)."""
    return None if key is None else partition_for(key, partitions)


def batch_audit(
    records: Sequence[OutRecord], topic: str, partitions: int, max_bytes: int = AUDIT_BATCH_BYTES
) -> list[OutRecord]:
    """``records`` with their audit events (records on ``topic`` headed as an audit event) replaced by
    ``AuditBatch`` messages, after the other records: the events of one partition (their keys' partition among
    ``partitions``, see ``partition_of``) in emitted order, as few messages as values of at most ``max_bytes``
    allow (an event larger than that alone). Each batch is keyed by its first event's key, so it lands on
    the partition each of its events would have: one submission's events stay on one partition, in order.
    Anything else on ``topic`` (not headed as an event) is kept as it is, a message of its own.
    """
    kept: list[OutRecord] = []
    groups: dict[int | None, list[OutRecord]] = {}
    partition_memo: dict[bytes | None, int | None] = {}
    for record in records:
        if record.topic != topic or not is_audit_event(record.value):
            kept.append(record)
            continue
        if record.key not in partition_memo:
            partition_memo[record.key] = partition_of(record.key, partitions)
        groups.setdefault(partition_memo[record.key], []).append(record)
    encode = codec(AUDIT_BATCH).encode
    for events in groups.values():
        chunk: list[OutRecord] = []
        size = _ARRAY_OVERHEAD
        for event in events:
            grown = size + len(event.value) + _ITEM_OVERHEAD
            if chunk and grown > max_bytes:
                kept.append(OutRecord(topic, encode({"events": [e.value for e in chunk]}), key=chunk[0].key))
                chunk, grown = [], _ARRAY_OVERHEAD + len(event.value) + _ITEM_OVERHEAD
            chunk.append(event)
            size = grown
        kept.append(OutRecord(topic, encode({"events": [e.value for e in chunk]}), key=chunk[0].key))
    return kept
