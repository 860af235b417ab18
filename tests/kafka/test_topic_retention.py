"""On Apache Kafka the topics crx creates carry the retention.ms its settings give each one
(services/kernel/topics.py); the embedded broker stores topic configs without effect, so this runs here."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from services.kernel.config import load_settings
from services.kernel.kafka import client_options, ensure_topics, standard_topics
from services.kernel.topics import DAY_MS
from tools.kafka.cluster import KafkaCluster

pytestmark = pytest.mark.integration


async def test_created_topics_carry_their_retention(cluster3: KafkaCluster) -> None:
    """ensure_topics creates every standard topic with its retention.ms: the short one for the pipeline's
    topics, dlq_retention_days for crx.dlq, audit_topic_retention_days for crx.audit, as the broker reports."""
    settings = load_settings(
        None, {}, kafka_bootstrap=cluster3.bootstrap, topic_prefix=f"r{uuid.uuid4().hex[:10]}",
        topic_partitions=1, topic_replication=3, jurisdictions="DE",
        topic_retention_days=2, dlq_retention_days=45, audit_topic_retention_days=0.5,
    )  # fmt: skip
    topics = standard_topics(settings)
    await ensure_topics(settings, topics)
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        responses = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
    finally:
        await admin.close()
    found = {
        resource[3]: {entry[0]: entry[1] for entry in resource[4]}["retention.ms"]
        for response in responses
        for resource in response.resources
    }
    short = str(2 * DAY_MS)
    assert found == {
        settings.topic("records"): short,
        settings.topic("receipts"): short,
        settings.topic("feed.DE"): short,
        settings.topic("out.DE"): short,
        settings.topic("dlq"): str(45 * DAY_MS),
        settings.topic("audit"): str(DAY_MS // 2),
    }
