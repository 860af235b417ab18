"""The kernel's producer signs every batch it sends, and the signature survives the real broker."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt

import pytest

from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.auditbatch import audit_leaves, partition_of
from services.kernel.batchauth import HEADER_SIGNER, BatchProof, BatchSigner, BatchVerifier
from services.kernel.config import Settings
from services.kernel.errors import ConfigError, TransientError
from services.kernel.kafka import OutRecord, Producer, ensure_topics, standard_topics
from services.kernel.producers import ProducerRules
from services.keys.ring import KeyRing
from tests.fixtures.keys import signer
from tests.integration.helpers import read_topic

pytestmark = pytest.mark.integration


async def test_each_sent_batch_is_signed_once_and_verifies_after_the_broker(
    settings: Settings, keyring: KeyRing
) -> None:
    """Two send_all calls as the normaliser (records and audit topics mixed, routing headers kept) give two
    batches, one signature each; every record read back from the broker verifies as the normaliser's."""
    await ensure_topics(settings, standard_topics(settings))
    producer = Producer(settings, signer=signer(settings, keyring, "normaliser"))
    await producer.start()
    try:
        first = [OutRecord(settings.topic("records"), f"r{i}".encode(), key=b"k", headers=[("crx-channel", b"r")])
                 for i in range(3)]  # fmt: skip
        await producer.send_all([*first, OutRecord(settings.topic("audit"), b"not an event")])
        await producer.send_all([OutRecord(settings.topic("records"), b"alone")])
    finally:
        await producer.stop()
    read = await read_topic(settings, settings.topic("records")) + await read_topic(settings, settings.topic("audit"))
    assert len(read) == 5
    verifier, rules, now = BatchVerifier(keyring.registry), ProducerRules(settings), dt.datetime.now(dt.UTC)
    for r in read:
        allowed = rules.allowed(r.topic, r.value)
        assert verifier.verify(r.topic, r.key, r.value, r.headers, allowed=allowed, now=now) == "crx.normaliser"
        assert (HEADER_SIGNER, b"crx.normaliser") in r.headers
    sizes = sorted({BatchProof.parse(r.headers).size for r in read})
    assert sizes == [1, 4] and len({BatchProof.parse(r.headers).signature for r in read}) == 2
    assert all(("crx-channel", b"r") in r.headers for r in read if r.value.startswith(b"r"))


async def test_a_producer_whose_key_is_not_here_does_not_start(settings: Settings, keyring: KeyRing) -> None:
    """A component whose signing key is missing (or revoked with no successor) is refused at start, with the
    command that makes the key, instead of producing records every consumer would refuse."""
    await ensure_topics(settings, standard_topics(settings))
    empty = KeyRing.open(settings.data_dir / "elsewhere", None)
    producer = Producer(settings, signer=BatchSigner("crx.router", empty))
    with pytest.raises(ConfigError, match=r"crx keys generate --party crx\.router"):
        await producer.start()
    await producer.stop()


def test_a_batch_already_signed_is_signed_again_not_twice(settings: Settings, keyring: KeyRing) -> None:
    """A record forwarded with another component's headers (a replay) carries only its new producer's."""
    now = dt.datetime.now(dt.UTC)
    [by_intake] = signer(settings, keyring, "intake").sign([OutRecord(settings.topic("feed.DE"), b"x")], now)
    [by_dlq] = signer(settings, keyring, "dlq").sign([dataclasses.replace(by_intake)], now)
    assert [v for n, v in by_dlq.headers if n == HEADER_SIGNER] == [b"crx.dlq"]


async def test_a_batchs_audit_events_go_as_one_signed_message_per_partition(
    settings: Settings, keyring: KeyRing
) -> None:
    """The router's batch of envelopes and 30 DISCLOSURE events: on crx.audit one AuditBatch per partition its
    events' keys fall on, on that partition, each verifying as the router's; read back, every event, in emitted
    order within its partition, and each leaf the emitted bytes."""
    await ensure_topics(settings, standard_topics(settings))
    emitter = AuditEmitter("router", settings.topic("audit"), b"secret")
    now = dt.datetime.now(dt.UTC)
    events = [
        emitter.event(
            AuditEventType.DISCLOSURE, occurred_at=now, actor="crx", outcome="ok", submission_id=f"s{i}", recipients=[r]
        )
        for i in range(15)
        for r in ("FR", "PL")
    ]
    producer = Producer(settings, signer=signer(settings, keyring, "router"))
    await producer.start()
    try:
        await producer.send_all([OutRecord(settings.topic("out.FR"), b"sealed", key=b"k"), *events])
    finally:
        await producer.stop()
    read = await read_topic(settings, settings.topic("audit"))
    partitions = {partition_of(e.key, settings.topic_partitions) for e in events}
    assert len(read) == len(partitions) and {r.partition for r in read} == partitions
    verifier, rules = BatchVerifier(keyring.registry), ProducerRules(settings)
    for r in read:
        allowed = rules.allowed(r.topic, r.value)
        assert verifier.verify(r.topic, r.key, r.value, r.headers, allowed=allowed, now=now) == "crx.router"
        emitted = [e.value for e in events if partition_of(e.key, settings.topic_partitions) == r.partition]
        assert audit_leaves(r.value) == emitted


async def test_records_land_on_the_default_partitioners_partition_in_order(
    settings: Settings, keyring: KeyRing
) -> None:
    """send_all queues whole batches itself: each record still lands on the partition Kafka's default
    partitioner gives its key, in the order sent within a partition, across more records than one client batch
    holds; a record larger than max_request_bytes is refused (a transient failure, as from the client's send)."""
    await ensure_topics(settings, standard_topics(settings))
    topic = settings.topic("records")
    producer = Producer(settings, signer=signer(settings, keyring, "normaliser"))
    await producer.start()
    try:
        sent = [OutRecord(topic, f"{i:04d}".encode() * 100, key=f"key-{i % 7}".encode()) for i in range(300)]
        await producer.send_all(sent)
        oversized = OutRecord(topic, b"x" * (settings.max_request_bytes + 1), key=b"big")
        with pytest.raises(TransientError, match="MessageSizeTooLargeError"):
            await producer.send_all([oversized])
    finally:
        await producer.stop()
    read = await read_topic(settings, topic)
    assert len(read) == len(sent)
    for r in read:
        assert r.partition == partition_of(r.key, settings.topic_partitions)
    for partition in range(settings.topic_partitions):
        got = [r.value for r in sorted(read, key=lambda r: r.offset) if r.partition == partition]
        assert got == [s.value for s in sent if partition_of(s.key, settings.topic_partitions) == partition]


async def test_a_handled_batch_is_sent_at_once_not_after_the_clients_linger(
    settings: Settings, keyring: KeyRing
) -> None:
    """send_all closes each batch it queues: aiokafka sends a closed batch at once and an open one only once
    linger_ms has passed (5 ms per hop of every record's way, and per handled batch, before this). With the
    client's linger set to ten minutes, send_all is still acknowledged within a minute."""
    await ensure_topics(settings, standard_topics(settings))
    topic = settings.topic("records")
    producer = Producer(settings, signer=signer(settings, keyring, "normaliser"))
    await producer.start()
    try:
        client = producer._producer
        assert client is not None
        client._message_accumulator._linger_time = 600.0  # the client's own setting, as linger_ms=600000 sets it
        await asyncio.wait_for(producer.send_all([OutRecord(topic, b"x", key=b"k")]), timeout=60)
    finally:
        await producer.stop()
    assert [r.value for r in await read_topic(settings, topic)] == [b"x"]
