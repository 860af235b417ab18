"""Audit batches on crx.audit: what the producer makes of a batch's audit events (``batch_audit``), how readers
get the events back (``audit_leaves``), and who may produce a batch (``ProducerRules``)."""

from __future__ import annotations

import datetime as dt

import pytest

from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.auditbatch import audit_events_of, audit_leaves, batch_audit, is_audit_batch, partition_of
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.errors import CodecError
from services.kernel.kafka import OutRecord
from services.kernel.producers import ProducerRules, component_party

WHEN = dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
TOPIC = "crx.audit"


def _events(component: str, submissions: int, *, per: int = 2, source: str | None = None) -> list[OutRecord]:
    """``per`` events of ``component`` for each of ``submissions`` submissions, in emitted order."""
    emitter = AuditEmitter(component, TOPIC, b"secret")
    kind = {"intake": AuditEventType.COLLECTION, "normaliser": AuditEventType.NORMALISATION}.get(
        component, AuditEventType.DISCLOSURE
    )
    return [
        emitter.event(
            kind,
            occurred_at=WHEN,
            actor="crx",
            outcome="ok",
            submission_id=f"s{i}",
            recipients=[f"R{j}"],
            source_jurisdiction=source,
        )
        for i in range(submissions)
        for j in range(per)
    ]


def test_a_batch_carries_each_partitions_events_in_order_byte_for_byte() -> None:
    """The audit events of a produced batch become one AuditBatch per partition, keyed so that it lands where
    each of its events would have; read back, the events are the emitted bytes in emitted order; other topics'
    records and what is not an event stay messages of their own."""
    events = _events("router", 20)
    other = OutRecord("crx.out.FR", b"envelope", key=b"k")
    garbage = OutRecord(TOPIC, b"not an event")
    out = batch_audit([other, *events, garbage], TOPIC, partitions=4)
    assert out[:2] == [other, garbage]
    batches = out[2:]
    assert all(is_audit_batch(b.value) and b.topic == TOPIC for b in batches)
    expected = {partition_of(e.key, 4) for e in events}
    assert len(batches) == len(expected) > 1
    read: dict[int | None, list[bytes]] = {}
    for batch in batches:
        leaves = audit_leaves(batch.value)
        partition = partition_of(batch.key, 4)
        assert all(partition_of(e.key, 4) == partition for e in events if e.value in leaves)
        read[partition] = leaves
    for partition in expected:
        assert read[partition] == [e.value for e in events if partition_of(e.key, 4) == partition]


def test_a_single_event_message_reads_as_itself_and_a_corrupt_batch_does_not_read() -> None:
    """Readers take both kinds: a single event (as producers before batching sent) is its own only event; a
    batch whose body is damaged is a CodecError, never a partial list."""
    [event] = _events("intake", 1, per=1)
    assert audit_leaves(event.value) == [event.value]
    assert audit_events_of(event.value) == [codec("audit_event").decode(event.value)]
    [batch] = batch_audit(_events("intake", 3, per=1), TOPIC, partitions=1)
    with pytest.raises(CodecError):
        audit_leaves(batch.value[:-3])


def test_a_batch_above_the_size_bound_is_split_in_order() -> None:
    """Events that do not fit one value of ``max_bytes`` go in several messages, each within the bound and in
    emitted order; an event larger than the bound alone travels alone."""
    events = _events("router", 30)
    bound = 5 * len(events[0].value)
    out = batch_audit(events, TOPIC, partitions=1, max_bytes=bound)
    assert len(out) > 5
    assert all(len(b.value) <= bound for b in out)
    assert [leaf for b in out for leaf in audit_leaves(b.value)] == [e.value for e in events]
    [alone] = batch_audit(events[:1], TOPIC, partitions=1, max_bytes=10)
    assert audit_leaves(alone.value) == [events[0].value]


def _allowed(settings: Settings, records: list[OutRecord]) -> frozenset[str]:
    [batch] = batch_audit(records, settings.topic("audit"), partitions=1)
    return ProducerRules(settings).allowed(settings.topic("audit"), batch.value)


def test_a_batch_is_allowed_only_from_a_producer_allowed_for_every_event(settings: Settings) -> None:
    """A batch of one component's events is accepted from that component; a batch mixing events of two
    components is accepted from neither (no component slips another's event in); a national intake's batch is
    accepted from it only while every event is about its own jurisdiction; an empty batch from nobody."""

    def party(component: str) -> str:
        return component_party(settings.broker_party, component)

    def retopic(records: list[OutRecord]) -> list[OutRecord]:
        return [OutRecord(settings.topic("audit"), r.value, key=r.key) for r in records]

    intake, normaliser = retopic(_events("intake", 3, per=1)), retopic(_events("normaliser", 3, per=1))
    assert _allowed(settings, intake) == {party("intake"), party("dlq")}
    assert _allowed(settings, normaliser) == {party("normaliser")}
    assert _allowed(settings, [*intake, *normaliser]) == frozenset()
    own = retopic(_events("intake", 2, per=1, source="DE"))
    assert "DE" in _allowed(settings, own)
    assert "DE" not in _allowed(settings, [*own, *retopic(_events("intake", 1, per=1, source="FR"))])
    empty = codec("audit_batch").encode({"events": []})
    assert ProducerRules(settings).allowed(settings.topic("audit"), empty) == frozenset()
