"""The audit writer on audit batches: one leaf per event, byte for byte, as for single-event messages; a batch
refused whole when its signer may not emit every event in it; redelivery adds nothing."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from services.audit.notekey import load_note_verifiers
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.writer import AuditWriter
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.auditbatch import batch_audit
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.keys.ring import KeyRing
from tests.audit.conftest import WHEN
from tests.fixtures.keys import consumed, signed


def _writer(settings: Settings, keyring: KeyRing, registry: CollectorRegistry | None = None) -> AuditWriter:
    registry = registry or CollectorRegistry()
    store = SqliteAuditStore(":memory:", origin=settings.audit_log_origin)
    return AuditWriter(settings, keyring, store, b"secret", ServiceMetrics.create(registry), registry)


def _events(settings: Settings, component: str, kind: AuditEventType, n: int, prefix: str = "s") -> list[OutRecord]:
    emitter = AuditEmitter(component, settings.topic("audit"), b"secret")
    return [
        emitter.event(kind, occurred_at=WHEN, actor="crx", outcome="ok", submission_id=f"{prefix}{i}") for i in range(n)
    ]


def _batched(
    settings: Settings, keyring: KeyRing, producer: str, events: Sequence[OutRecord], *, offset: int = 0, **kw: int
) -> list[ConsumerRecord[bytes, bytes]]:
    """``events`` as ``producer``'s Producer sends them (audit batches, signed as one batch), consumed."""
    batches = batch_audit(events, settings.topic("audit"), **{"partitions": settings.topic_partitions, **kw})
    return consumed(signed(settings, keyring, producer, batches), offset=offset)


async def test_each_event_of_a_batch_is_one_leaf_of_its_exact_bytes(settings: Settings, keyring: KeyRing) -> None:
    """A batch's events are appended one leaf each, the leaf the emitted bytes, as a single-event message's
    would be; the log verifies."""
    writer = _writer(settings, keyring)
    events = _events(settings, "intake", AuditEventType.COLLECTION, 12)
    records = _batched(settings, keyring, "intake", events)
    assert len(records) < len(events)
    assert await writer.handle(records) == []
    assert writer.store.size == 12
    assert sorted(leaf for _, leaf in writer.store.leaves()) == sorted(e.value for e in events)
    assert writer.store.verify(load_note_verifiers(settings)).ok


async def test_old_single_events_and_batches_are_read_side_by_side(settings: Settings, keyring: KeyRing) -> None:
    """Single-event messages (producers before batching, or still on the topic) and batches in one consumed
    batch are all appended, in consumed order."""
    writer = _writer(settings, keyring)
    singles = _events(settings, "intake", AuditEventType.COLLECTION, 3, prefix="old")
    batched = _events(settings, "intake", AuditEventType.COLLECTION, 4, prefix="new")
    old = consumed(signed(settings, keyring, "intake", singles))
    new = _batched(settings, keyring, "intake", batched, offset=len(old), partitions=1)
    assert await writer.handle([*old, *new]) == []
    assert [leaf for _, leaf in writer.store.leaves()] == [e.value for e in [*singles, *batched]]


async def test_a_batch_mixing_components_is_refused_whole(settings: Settings, keyring: KeyRing) -> None:
    """The normaliser signing a batch that also carries an intake's COLLECTION event: nothing of it is
    appended; the refusal is counted (not_allowed) and logged as one ERROR event committing to its bytes."""
    registry = CollectorRegistry()
    writer = _writer(settings, keyring, registry)
    mixed = [
        *_events(settings, "normaliser", AuditEventType.NORMALISATION, 2),
        *_events(settings, "intake", AuditEventType.COLLECTION, 1, prefix="x"),
    ]
    assert await writer.handle(_batched(settings, keyring, "normaliser", mixed, partitions=1)) == []
    [error] = writer.store.events()
    assert (error["event_type"], error["reason"]) == ("ERROR", "UNAUTHENTICATED_NOT_ALLOWED")
    labels = {"service": "audit", "topic": settings.topic("audit"), "reason": "not_allowed"}
    assert registry.get_sample_value("crx_unauthenticated_messages_total", labels) == 1.0


async def test_a_redelivered_or_rebatched_batch_adds_nothing(settings: Settings, keyring: KeyRing) -> None:
    """Event ids are stable: the same batch again, or the same events batched otherwise (a producer that redoes
    its batch after a crash, split at another size), append no leaf."""
    writer = _writer(settings, keyring)
    events = _events(settings, "router", AuditEventType.DISCLOSURE, 10)
    await writer.handle(_batched(settings, keyring, "router", events))
    await writer.handle(_batched(settings, keyring, "router", events, offset=10))
    await writer.handle(_batched(settings, keyring, "router", events[::-1], offset=20, max_bytes=400))
    assert writer.store.size == 10 and writer.conflicts._value.get() == 0


async def test_a_batch_with_an_undecodable_event_logs_the_rest_and_is_dead_lettered(
    settings: Settings, keyring: KeyRing
) -> None:
    """A component's batch with one event that does not decode (its bug): the other events are appended, the
    message goes to the dead-letter topic (its replay adds nothing but what was missing)."""
    writer = _writer(settings, keyring)
    good = _events(settings, "intake", AuditEventType.COLLECTION, 3)
    broken = good[0].value[:12]  # an audit event's header, a truncated body
    value = codec("audit_batch").encode({"events": [good[0].value, broken, good[1].value, good[2].value]})
    records = consumed(signed(settings, keyring, "intake", [OutRecord(settings.topic("audit"), value, key=b"s0")]))
    out = await writer.handle(records)
    assert writer.store.size == 3
    assert settings.topic("dlq") in {o.topic for o in out}
