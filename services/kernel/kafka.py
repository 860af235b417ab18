"""Kafka I/O: client settings, topic set-up, a batching producer and the consume-transform-produce loop.

Plain Kafka only. Delivery is at-least-once: outputs of a batch are sent together with ``acks=all`` and
awaited, and only then are the input offsets committed. Consumers must be idempotent on redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from services.kernel.config import Settings
from services.kernel.errors import ConfigError, TransientError
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics


@dataclass(frozen=True)
class OutRecord:
    """One record to produce."""

    topic: str
    value: bytes
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)


def client_options(settings: Settings) -> dict[str, Any]:
    """Connection options shared by producer, consumer and admin (SASL/TLS for Apache Kafka)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_sasl_mechanism:
        options["sasl_mechanism"] = settings.kafka_sasl_mechanism
        options["sasl_plain_username"] = settings.kafka_sasl_username
        if settings.kafka_sasl_password is not None:
            options["sasl_plain_password"] = settings.kafka_sasl_password.reveal()
    if "SSL" in settings.kafka_security_protocol.upper() or settings.kafka_ssl_cafile:
        from aiokafka.helpers import create_ssl_context

        # Without a CA file the system's trusted certificates verify the brokers; never unverified.
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    return options


def standard_topics(settings: Settings) -> list[str]:
    """Every topic crx uses for the configured jurisdictions."""
    logical = ["records", "audit", "receipts", "dlq"]
    logical += [f"feed.{j}" for j in settings.jurisdictions]
    logical += [f"out.{j}" for j in settings.jurisdictions]
    return [settings.topic(name) for name in logical]


async def ensure_topics(settings: Settings, topics: Sequence[str]) -> None:
    """Create any of ``topics`` that are missing, then check that all exist.

    Producing to a missing topic is silently dropped by some brokers, so services call this at start.
    Raises ConfigError if a topic still does not exist afterwards.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(t, settings.topic_partitions, settings.topic_replication) for t in missing]
                )
            existing = set(await admin.list_topics())
        still = sorted(set(topics) - existing)
        if still:
            raise ConfigError(f"topics do not exist and could not be created: {still}")
    finally:
        await admin.close()


class Producer:
    """An acks=all producer that sends a batch at once and awaits every acknowledgement."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        """Connect (the client is created here, inside the running loop). Idempotent."""
        if self._producer is None:
            producer = AIOKafkaProducer(
                **client_options(self._settings),
                acks="all",
                linger_ms=5,
                max_request_size=self._settings.max_request_bytes,
                compression_type=None,  # payloads are HPKE ciphertext: incompressible
                request_timeout_ms=30_000,
            )
            await producer.start()
            self._producer = producer

    async def stop(self) -> None:
        """Flush and close. Idempotent."""
        producer, self._producer = self._producer, None
        if producer is not None:
            await producer.stop()

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        """Send ``records`` together and return once every one is acknowledged.

        Raises TransientError when the broker refuses or times out; nothing is then known to be written,
        and the caller retries the whole batch (consumers are idempotent).
        """
        if not records:
            return
        if self._producer is None:
            raise TransientError("producer not started")
        try:
            futures = [
                await self._producer.send(r.topic, r.value, key=r.key, headers=r.headers or None) for r in records
            ]
            await asyncio.gather(*futures)
        except KafkaError as exc:
            raise TransientError(f"produce failed: {type(exc).__name__}") from None


Handler = Callable[[list[ConsumerRecord]], Awaitable[list[OutRecord]]]


class BatchLoop:
    """consume (getmany) -> handler -> produce all -> commit, one batch at a time.

    The handler turns bad records into dead-letter outputs itself; the loop only retries infrastructure
    failures (it seeks back to the batch start and tries again, with backoff). ``stop()`` lets the batch in
    flight finish, commits, and leaves the group.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        service: str,
        group_id: str,
        topics: Sequence[str],
        handler: Handler,
        producer: Producer,
        metrics: ServiceMetrics,
    ) -> None:
        self.service = service
        self._settings = settings
        self._topics = list(topics)
        self._handler = handler
        self._producer = producer
        self._metrics = metrics
        self._log = get_logger(service)
        self._group_id = group_id
        self._consumer: AIOKafkaConsumer | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = False
        self.batches = 0

    async def start(self) -> None:
        """Join the group and start consuming in a task. Idempotent."""
        if self._task is not None:
            return
        settings = self._settings
        self._consumer = AIOKafkaConsumer(
            *self._topics,
            **client_options(settings),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_partition_fetch_bytes=settings.max_request_bytes,
            fetch_max_bytes=max(52_428_800, settings.max_request_bytes),
        )
        self._stopping.clear()
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(self._consumer), name=f"{self.service}-loop")

    async def stop(self) -> None:
        """Finish the batch in flight, commit it, leave the group. Idempotent."""
        if self._task is None:
            return
        self._stopping.set()
        task, self._task = self._task, None
        with contextlib.suppress(asyncio.CancelledError):
            await task
        self.ready = False
        self._metrics.ready.labels(self.service).set(0)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await consumer.stop()

    @property
    def alive(self) -> bool:
        """True while the loop task runs (or has not been started)."""
        return self._task is None or not self._task.done()

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            batch = await consumer.getmany(timeout_ms=200, max_records=self._settings.batch_max_records)
            if not self.ready:
                self.ready = True
                self._metrics.ready.labels(self.service).set(1)
            if not batch:
                continue
            records = [r for part in batch.values() for r in part]
            started = time.perf_counter()
            try:
                await self._process(consumer, batch, records)
                backoff = 0.1
            except Exception as exc:  # infrastructure failure: redo the whole batch
                self._metrics.errors.labels(self.service, type(exc).__name__).inc()
                self._log.warning("batch failed, retrying", error_class=type(exc).__name__, backoff=backoff)
                assigned = consumer.assignment()
                for tp, part in batch.items():
                    if tp in assigned:  # after a rebalance the new owner re-reads from the committed offset
                        consumer.seek(tp, part[0].offset)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._metrics.batch_seconds.labels(self.service).observe(time.perf_counter() - started)
            self._log.debug("batch done", records=len(records), seconds=round(time.perf_counter() - started, 4))
            self.batches += 1

    async def _process(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord]], records: list[Any]
    ) -> None:
        for tp, part in batch.items():
            self._metrics.records_in.labels(self.service, tp.topic).inc(len(part))
        outputs = await self._handler(records)
        await self._producer.send_all(outputs)
        for out in outputs:
            self._metrics.records_out.labels(self.service, out.topic).inc()
        now_ms = time.time() * 1000
        for r in records:
            self._metrics.record_seconds.labels(self.service).observe(max(0.0, (now_ms - r.timestamp) / 1000))
        await consumer.commit({tp: part[-1].offset + 1 for tp, part in batch.items()})
