"""Apache Kafka clusters for the tests of tools/kafka, deploy/kafka's security and broker failover.

They need Java 17+ and Maven (tools/kafka fetches Kafka from Maven Central); without them each test is skipped
with the reason, or fails where CI sets CRX_REQUIRE_APACHE=1.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.broker import skip_or_fail
from tools.kafka.cluster import KafkaCluster
from tools.kafka.distribution import Distribution, KafkaUnavailable, fetch

SECURE_JURISDICTIONS = ("DE", "FR")


@pytest.fixture(scope="session")
def kafka_dist() -> Distribution:
    """The verified Apache Kafka distribution (fetched on first use)."""
    try:
        return fetch()
    except KafkaUnavailable as exc:
        skip_or_fail(f"Apache Kafka cannot run here: {exc}")
        raise  # unreachable: skip_or_fail raises


@pytest.fixture(scope="module")
def secure_cluster(kafka_dist: Distribution, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """One node secured by deploy/kafka's own scripts: certificates, SASL_SSL/SCRAM, users, topics, ACLs."""
    workdir = tmp_path_factory.mktemp("secure-kafka")
    with KafkaCluster(kafka_dist, workdir, secure=True, jurisdictions=SECURE_JURISDICTIONS) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def cluster3(kafka_dist: Distribution, tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaCluster]:
    """Three nodes: replication factor 3, min.insync.replicas 2 (one broker may die under acks=all)."""
    with KafkaCluster(kafka_dist, tmp_path_factory.mktemp("kafka3"), brokers=3) as cluster:
        yield cluster
