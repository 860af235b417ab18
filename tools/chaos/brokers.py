"""The Kafka a chaos row runs on: the embedded broker (Tansu, a fresh one per row) or Apache Kafka (one KRaft
node for the whole run, each row on its own topic prefix).

Both can be paused (SIGSTOP/SIGCONT of the broker process itself, never a wrapper) and killed with SIGKILL
and started again on the same port. Tansu keeps everything in memory, so its restart is an empty cluster
(every topic, record and committed offset gone: TANSU.md); Apache Kafka restarts on its own log directories.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

from services.devstack.embedded_broker import EmbeddedBroker
from tools.kafka.cluster import KafkaCluster

KINDS = ("embedded", "apache")


class Broker(Protocol):
    """One broker as a row sees it."""

    kind: str

    @property
    def bootstrap(self) -> str:
        """The address clients connect to."""
        ...

    @property
    def pid(self) -> int:
        """The broker process (the one to SIGSTOP or SIGKILL)."""
        ...

    def crash_and_restart(self, down_seconds: float) -> None:
        """SIGKILL the broker, wait ``down_seconds``, start it again on the same port (blocks until it answers)."""
        ...


class Backend(Protocol):
    """Where rows get their broker from."""

    kind: str

    def unavailable(self) -> str | None:
        """Why this backend cannot run here (a missing tool, not a failure), or None."""
        ...

    def open(self) -> None:
        """Start what every row shares, if anything. Raises when it does not start."""
        ...

    def row(self, workdir: Path) -> contextlib.AbstractContextManager[Broker]:
        """The broker for one row (started; stopped or left running for the next row on exit)."""
        ...

    def close(self) -> None:
        """Stop whatever the backend started."""
        ...


class EmbeddedKafka:
    """A fresh Tansu broker per row, its log in the row's directory."""

    kind = "embedded"

    def __init__(self, workdir: Path) -> None:
        self._broker = EmbeddedBroker(log_path=workdir / "tansu.log")

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return self._broker.bootstrap

    @property
    def pid(self) -> int:
        """The Tansu process."""
        if self._broker.pid is None:
            raise RuntimeError("the embedded broker is not running")
        return self._broker.pid

    def crash_and_restart(self, down_seconds: float) -> None:
        """kill -9 Tansu, then a new (empty) Tansu on the same port."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)
        self._broker.stop()
        time.sleep(down_seconds)
        self._broker.start()

    def start(self) -> None:
        """Start the broker (returns once it answers)."""
        self._broker.start()

    def stop(self) -> None:
        """Stop the broker."""
        self._broker.stop()


class EmbeddedBackend:
    """Rows on the embedded broker."""

    kind = "embedded"

    def unavailable(self) -> str | None:
        """Why the embedded broker cannot run (the ``embedded`` extra missing), or None."""
        from services.devstack.embedded_broker import EmbeddedBrokerMissing, broker_binary

        try:
            broker_binary()
        except EmbeddedBrokerMissing as exc:
            return str(exc)
        return None

    def open(self) -> None:
        """Nothing is shared between rows."""

    @contextlib.contextmanager
    def row(self, workdir: Path) -> Iterator[Broker]:
        """A fresh broker, stopped when the row ends."""
        broker = EmbeddedKafka(workdir)
        broker.start()
        try:
            yield broker
        finally:
            broker.stop()

    def close(self) -> None:
        """Nothing outlives a row."""


class ApacheKafka:
    """The one node of the backend's KRaft cluster."""

    kind = "apache"

    def __init__(self, cluster: KafkaCluster) -> None:
        self._cluster = cluster

    @property
    def bootstrap(self) -> str:
        """The node's address."""
        return self._cluster.bootstrap

    @property
    def pid(self) -> int:
        """The node's JVM."""
        process = self._cluster.nodes[0].process
        if process is None:
            raise RuntimeError("the Apache Kafka node is not running")
        return process.pid

    def crash_and_restart(self, down_seconds: float) -> None:
        """kill -9 the node, then start it again on its log directories (waits until it is registered)."""
        self._cluster.kill(0)
        time.sleep(down_seconds)
        self._cluster.restart(0)


class ApacheBackend:
    """Rows on one Apache Kafka node (tools/kafka: Java 17+ and Maven), started on first use."""

    kind = "apache"

    def __init__(self, workdir: Path) -> None:
        self._workdir = workdir
        self._cluster: KafkaCluster | None = None

    def unavailable(self) -> str | None:
        """Why Apache Kafka cannot run here (no java or mvn), or None."""
        if not (shutil.which("java") and shutil.which("mvn")):
            return "no java or mvn on PATH (Apache Kafka needs Java 17+ and Maven)"
        return None

    def open(self) -> None:
        """Fetch Apache Kafka (tools/kafka) and start the node on fresh storage. Raises KafkaUnavailable."""
        self._start()

    def _start(self) -> KafkaCluster:
        if self._cluster is None:
            from tools.kafka.distribution import fetch

            storage = self._workdir / "apache-kafka"
            shutil.rmtree(storage, ignore_errors=True)  # a node formatted by an earlier run has another cluster id
            cluster = KafkaCluster(fetch(), storage)
            cluster.start()
            self._cluster = cluster
        return self._cluster

    @contextlib.contextmanager
    def row(self, workdir: Path) -> Iterator[Broker]:
        """The shared node (each row uses its own topic prefix); restarted first if a row left it down."""
        cluster = self._start()
        if not cluster.nodes[0].alive:
            cluster.restart(0)
        yield ApacheKafka(cluster)

    def close(self) -> None:
        """Stop the node."""
        if self._cluster is not None:
            self._cluster.stop()
        self._cluster = None


def backend(kind: str, workdir: Path) -> Backend:
    """The backend named ``kind`` (one of KINDS)."""
    if kind == "embedded":
        return EmbeddedBackend()
    if kind == "apache":
        return ApacheBackend(workdir)
    raise ValueError(f"unknown broker {kind!r}: use one of {', '.join(KINDS)}")
