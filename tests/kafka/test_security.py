"""deploy/kafka's security, for real: a cluster built only with its scripts refuses wrong passwords and
plaintext, and each principal can do exactly what acls.sh grants, each refusal checked by its error."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from services.kernel.config import load_settings
from services.kernel.errors import ConfigError
from services.kernel.kafka import Producer, client_options, transactional_id
from tools.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.integration

OK = None


def options(cluster: KafkaCluster, user: str, **overrides: str) -> dict[str, Any]:
    """aiokafka options for ``user`` built by crx's own settings code, with CRX_KAFKA_* overrides."""
    environ = cluster.principal(user).environ(cluster.bootstrap) | overrides
    return client_options(load_settings(None, environ))


async def produce(cluster: KafkaCluster, user: str, topic: str) -> None:
    """Produce one record to crx.TOPIC as ``user``; raises what the broker answers."""
    producer = AIOKafkaProducer(**options(cluster, user), acks="all", request_timeout_ms=10_000)
    try:
        await producer.start()
        await producer.send_and_wait(f"crx.{topic}", b"probe")
    finally:
        await producer.stop()


async def consume(cluster: KafkaCluster, user: str, topic: str, group: str | None) -> int:
    """Read crx.TOPIC as ``user`` in consumer group ``group`` and commit (or, without a group, only read);
    returns how many records came."""
    consumer = AIOKafkaConsumer(
        f"crx.{topic}", **options(cluster, user), group_id=group, auto_offset_reset="earliest",
        enable_auto_commit=False, session_timeout_ms=10_000, heartbeat_interval_ms=3_000,
    )  # fmt: skip
    try:
        await consumer.start()
        batch = await consumer.getmany(timeout_ms=10_000, max_records=1)
        if group is not None:
            await consumer.commit()
        return sum(len(records) for records in batch.values())
    finally:
        await consumer.stop()


@pytest.fixture(scope="module")
def seeded(secure_cluster: KafkaCluster) -> Iterator[KafkaCluster]:
    """One record in every topic a test reads, produced by the admin super user."""
    import asyncio

    async def seed() -> None:
        for topic in ("out.FR", "out.DE", "audit", "records", "feed.DE"):
            await produce(secure_cluster, "admin", topic)

    asyncio.run(seed())
    yield secure_cluster


async def test_a_wrong_password_is_refused(secure_cluster: KafkaCluster, caplog: pytest.LogCaptureFixture) -> None:
    """SCRAM with a wrong password: the client cannot connect, and the broker's answer is an authentication
    failure; the same user with its own password connects."""
    caplog.set_level(logging.ERROR, logger="aiokafka")
    producer = AIOKafkaProducer(**options(secure_cluster, "partner-FR", CRX_KAFKA_SASL_PASSWORD="wrong"))
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()
    assert "SaslAuthenticationFailed" in caplog.text and "invalid credentials" in caplog.text
    await produce(secure_cluster, "partner-FR", "receipts")


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
async def test_connections_without_tls_are_refused(secure_cluster: KafkaCluster, protocol: str) -> None:
    """The client listener speaks SASL over TLS only: plaintext, with or without SASL, gets no metadata."""
    opts = options(secure_cluster, "admin", CRX_KAFKA_SECURITY_PROTOCOL=protocol)
    opts.pop("ssl_context", None)
    producer = AIOKafkaProducer(**opts, request_timeout_ms=5_000)
    with pytest.raises(KafkaConnectionError):
        await producer.start()
    await producer.stop()


@pytest.mark.parametrize(
    ("user", "topic", "expected"),
    [
        ("router", "out.FR", OK),
        ("cases", "out.FR", OK),  # reminders and overdue notices to the requested state
        ("cases", "audit", OK),
        ("cases", "dlq", TopicAuthorizationFailedError),
        ("cases", "records", TopicAuthorizationFailedError),
        ("cases", "receipts", TopicAuthorizationFailedError),
        ("lookup", "audit", OK),  # each lookup's audit event
        ("lookup", "dlq", OK),
        ("lookup", "records", TopicAuthorizationFailedError),  # it reads the records, never writes them
        ("lookup", "out.FR", TopicAuthorizationFailedError),  # it discloses nothing to partners
        ("partner-FR", "out.FR", TopicAuthorizationFailedError),  # a partner cannot forge a delivery
        ("partner-FR", "receipts", OK),
        ("partner-FR", "audit", TopicAuthorizationFailedError),
        ("intake-DE", "feed.DE", OK),
        ("intake-DE", "feed.FR", TopicAuthorizationFailedError),  # a jurisdiction writes its own feed only
        ("intake", "feed.FR", OK),  # the HTTP intake serves every jurisdiction
        ("normaliser", "records", OK),
        ("normaliser", "out.FR", TopicAuthorizationFailedError),  # only the router discloses
        ("audit", "records", TopicAuthorizationFailedError),
        ("exporter", "records", TopicAuthorizationFailedError),
    ],
)
async def test_each_principal_writes_exactly_where_acls_sh_allows(
    seeded: KafkaCluster, user: str, topic: str, expected: type[Exception] | None
) -> None:
    """Produce as each crx principal: allowed topics accept, every other answers TopicAuthorizationFailed."""
    if expected is None:
        await produce(seeded, user, topic)
    else:
        with pytest.raises(expected):
            await produce(seeded, user, topic)


@pytest.mark.parametrize(
    ("user", "topic", "group", "expected"),
    [
        ("partner-FR", "out.FR", "crx.partner.FR", OK),
        ("partner-FR", "out.DE", "crx.partner.FR", TopicAuthorizationFailedError),  # not another partner's
        ("partner-DE", "out.FR", "crx.partner.DE", TopicAuthorizationFailedError),
        ("partner-FR", "out.FR", "crx.router", GroupAuthorizationFailedError),  # its own group only
        ("audit", "audit", "crx.audit", OK),
        ("router", "audit", "crx.router", TopicAuthorizationFailedError),  # only the audit writer reads it
        ("normaliser", "audit", "crx.normaliser", TopicAuthorizationFailedError),
        ("router", "records", "crx.router", OK),
        ("lookup", "records", "crx.lookup", OK),  # its own group on crx.records feeds the index
        ("lookup", "audit", "crx.lookup", TopicAuthorizationFailedError),
        ("normaliser", "feed.DE", "crx.normaliser", OK),
        ("intake", "feed.DE", "crx.normaliser", GroupAuthorizationFailedError),  # intake reads nothing...
        ("intake", "feed.DE", None, TopicAuthorizationFailedError),  # ... not even without a group
        ("exporter", "records", "crx-exporter", GroupAuthorizationFailedError),  # lag: describe only
        ("exporter", "records", None, TopicAuthorizationFailedError),
    ],
)
async def test_each_principal_reads_exactly_what_acls_sh_allows(
    seeded: KafkaCluster, user: str, topic: str, group: str | None, expected: type[Exception] | None
) -> None:
    """Consume (and commit) as each crx principal: allowed reads get the seeded record, others the typed
    authorisation error for the topic or the group."""
    if expected is None:
        assert await consume(seeded, user, topic, group) == 1
    else:
        with pytest.raises(expected):
            await consume(seeded, user, topic, group)


@pytest.mark.parametrize(
    ("user", "group", "granted"),
    [
        ("router", "crx.router", True),
        ("partner-FR", "crx.partner.FR", True),
        ("partner-FR", "crx.router", False),  # another service's transactional ids
        ("intake", "crx.normaliser", False),  # the intake has none
    ],
)
async def test_each_service_may_use_only_its_own_transactional_ids(
    seeded: KafkaCluster, user: str, group: str, granted: bool
) -> None:
    """crx's Producer, as each principal, with the transactional id of a service (its group id as prefix):
    granted ones run transactional; others fall back to at-least-once under "auto" and refuse to start
    under "on"."""
    environ = seeded.principal(user).environ(seeded.bootstrap)
    for mode in ("auto", "on"):
        settings = load_settings(None, environ | {"CRX_KAFKA_TRANSACTIONS": mode, "CRX_INSTANCE_ID": "acl-test"})
        producer = Producer(settings, transactional_id=transactional_id(settings, group))
        try:
            if granted or mode == "auto":
                await producer.start()
                assert producer.transactional is granted
            else:
                with pytest.raises(ConfigError, match="TransactionalIdAuthorizationFailed"):
                    await producer.start()
        finally:
            await producer.stop()
