"""Kafka I/O: client settings, topic set-up, a batching producer and the consume-transform-produce loop.

Plain Kafka only. Outputs of a batch are sent together with ``acks=all`` (an idempotent producer) and
awaited, and only then are the input offsets committed. Where the broker grants transactions (Apache Kafka;
``kafka_transactions`` "auto" or "on"), a service's outputs and its input offsets are committed in one
transaction, so a crash between the two leaves no visible duplicate: consumers read ``read_committed``.
Where it does not (Tansu), delivery is at-least-once and every consumer is idempotent on redelivery, which
it is in any case. aiokafka commits offsets in a transaction without the consumer group's generation
(KIP-447), so the loop makes a revocation wait for the batch in flight (committed or aborted) before the
group rejoins: the new owner, this replica included, then reads from the batch's committed end, and a
rebalance (a group coordinator lost with its broker) repeats nothing. Only a replica cut off for longer than
its session while still committing could repeat a batch; the idempotent consumers cover that.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    IllegalStateError,
    KafkaError,
    MessageSizeTooLargeError,
    TopicAlreadyExistsError,
    TransactionalIdAuthorizationFailed,
    UnknownError,
    UnsupportedVersionError,
)

from services.kernel.auditbatch import AUDIT_BATCH_HEADROOM, batch_audit
from services.kernel.config import Settings
from services.kernel.errors import ConfigError, CrxError, TransientError
from services.kernel.lifecycle import bounded, cancel
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.outrecord import OutRecord as OutRecord  # re-exported: services import it from here
from services.kernel.partitioner import partitioner
from services.kernel.topics import topic_configs


class BatchSigning(Protocol):
    """What signs a produced batch (``services.kernel.batchauth.BatchSigner``): one signature per batch,
    headers added to every record."""

    party: str

    def check(self, now: dt.datetime) -> None:
        """Raise KeyUnavailable unless the signing key is here."""
        ...

    def sign(self, records: Sequence[OutRecord], now: dt.datetime) -> list[OutRecord]:
        """``records`` with their batch-authentication headers. Raises KeyUnavailable without a key."""
        ...


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


async def read_from_start(
    settings: Settings, topic: str, idle_ms: int = 1000, max_records: int = 500
) -> AsyncGenerator[list[ConsumerRecord[Any, Any]]]:
    """Every record of ``topic`` from the earliest retained offset, in batches of at most ``max_records``,
    until no record came for ``idle_ms``: no consumer group, nothing committed (an operator's scan or
    re-read). Records within a partition come in offset order. Close it with ``contextlib.aclosing``: the
    consumer stops when the iteration ends or is abandoned."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=50,
    )
    try:
        await consumer.start()
        while batch := await consumer.getmany(timeout_ms=idle_ms, max_records=max_records):
            for records in batch.values():
                yield records
    finally:
        await consumer.stop()


def standard_topics(settings: Settings) -> list[str]:
    """Every topic crx uses for the configured jurisdictions."""
    logical = ["records", "audit", "receipts", "dlq"]
    logical += [f"feed.{j}" for j in settings.jurisdictions]
    logical += [f"out.{j}" for j in settings.jurisdictions]
    return [settings.topic(name) for name in logical]


def new_topic(settings: Settings, topic: str) -> NewTopic:
    """``topic`` as crx creates it: the configured partitions and replication, its ``retention.ms``
    (``services.kernel.topics``)."""
    return NewTopic(
        topic, settings.topic_partitions, settings.topic_replication, topic_configs=topic_configs(settings, topic)
    )


async def ensure_topics(settings: Settings, topics: Sequence[str]) -> list[str]:
    """Create any of ``topics`` that are missing, then check that all exist; returns those it created.

    Producing to a missing topic is silently dropped by some brokers, so services call this at start (and
    ``TopicWatch`` periodically). New topics get their ``retention.ms`` (``new_topic``). Raises ConfigError if
    a topic still does not exist afterwards, KafkaError when the broker cannot be reached.
    """
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([new_topic(settings, t) for t in missing])
            for _ in range(50):  # new topics reach every broker's metadata a little later on a cluster
                existing = set(await admin.list_topics())
                if existing >= set(topics):
                    break
                await asyncio.sleep(0.2)
        still = sorted(set(topics) - existing)
        if still:
            raise ConfigError(f"topics do not exist and could not be created: {still}")
        return missing
    finally:
        await admin.close()


# What a broker without transactions answers InitProducerId with (Tansu: UnknownError).
_NO_TRANSACTIONS = (UnknownError, UnsupportedVersionError)
_REFUSED: set[str] = set()  # bootstrap addresses that refused producer ids to this process: not asked again
_SENDER_LOG = logging.getLogger("aiokafka.producer.sender")


class _ProbeFilter(logging.Filter):
    """Drops aiokafka's error line for a refused InitProducerId while crx asks for one: a refusal is expected
    on some brokers, and crx reports it itself, once."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "InitProducerIdRequest" not in record.getMessage()


def transactional_id(settings: Settings, group_id: str) -> str:
    """The transactional id of one replica of the service reading as ``group_id``: stable across its
    restarts (so the broker fences a crashed predecessor), distinct per replica and per topic prefix, and
    starting with the group id (deploy/kafka grants each principal the ids with its group's prefix)."""
    return f"{group_id}.{settings.topic_prefix}.{settings.instance_name}"


class Producer:
    """An acks=all producer that sends a batch at once and awaits every acknowledgement.

    Unless ``kafka_transactions`` is "off", it is idempotent where the broker allows (the broker drops the
    duplicates of its own retries) and, given a ``transactional_id``, transactional: ``transactional`` then
    says so, and ``send_in_transaction`` commits a batch's outputs with its input offsets. A broker without
    producer ids (Tansu) gets a plain acks=all producer.

    With a ``signer`` (every producer of the broker's components has one), each batch it sends is signed
    once and every record carries the batch-authentication headers (``services.kernel.batchauth``), so the
    consumers know which component produced it. ``signer`` may be set after construction, before ``start``.
    """

    def __init__(
        self, settings: Settings, *, transactional_id: str | None = None, signer: BatchSigning | None = None
    ) -> None:
        self._settings = settings
        self._transactional_id = transactional_id
        self.signer = signer
        self._producer: AIOKafkaProducer | None = None
        self.transactional = False
        self._granted = False  # once transactional, never silently at-least-once after a restart
        self._log = get_logger("kafka")

    def _client(self, *, idempotent: bool, transactional_id: str | None) -> AIOKafkaProducer:
        return AIOKafkaProducer(
            **client_options(self._settings),
            acks="all",
            enable_idempotence=idempotent,
            transactional_id=transactional_id,
            linger_ms=5,
            max_request_size=self._settings.max_request_bytes,
            compression_type=None,  # payloads are HPKE ciphertext: incompressible
            request_timeout_ms=30_000,
            partitioner=partitioner,  # Kafka's default partitioning, without aiokafka's pure-Python murmur2
        )

    async def start(self) -> None:
        """Connect (the client is created here, inside the running loop). Idempotent.

        Raises ConfigError when ``kafka_transactions`` is "on" and the broker refuses producer ids (or this
        principal may not use its transactional id), or when the ``signer``'s key is not here; KafkaError when
        the broker cannot be reached.
        """
        if self._producer is not None:
            return
        await self._connect()
        if self.signer is not None:  # checked once connected: an unreachable Kafka is reported first
            try:
                self.signer.check(dt.datetime.now(dt.UTC))
            except CrxError as exc:
                await self.stop()
                raise ConfigError(exc.detail) from None

    async def _connect(self) -> None:
        """Start the client: transactional or idempotent where the broker allows (see ``start``)."""
        mode, bootstrap = self._settings.kafka_transactions, self._settings.kafka_bootstrap
        if self._granted:  # a replacement after a failed abort: transactional again, or not at all
            await self._restart_transactional()
            return
        if mode == "on" or (mode == "auto" and bootstrap not in _REFUSED):
            producer = self._client(idempotent=True, transactional_id=self._transactional_id)
            probe = _ProbeFilter()
            _SENDER_LOG.addFilter(probe)
            try:
                await producer.start()
            except (*_NO_TRANSACTIONS, TransactionalIdAuthorizationFailed) as exc:
                await producer.stop()
                if mode == "on":
                    raise ConfigError(f"kafka_transactions=on, but the broker refused: {type(exc).__name__}") from None
                if isinstance(exc, TransactionalIdAuthorizationFailed):  # an ACL is missing (deploy/kafka/acls.sh)
                    self._log.warning("transactional id not authorised: at-least-once", id=self._transactional_id)
                elif bootstrap not in _REFUSED:
                    _REFUSED.add(bootstrap)
                    self._log.warning("no producer ids on this broker: at-least-once", error_class=type(exc).__name__)
            except BaseException:
                await producer.stop()  # a client that failed to start still holds its connections
                raise
            else:
                self._producer = producer
                self.transactional = self._granted = self._transactional_id is not None
                self._log.info("idempotent producer", transactional=self.transactional)
                return
            finally:
                _SENDER_LOG.removeFilter(probe)
        producer = self._client(idempotent=False, transactional_id=None)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()  # a client that failed to start still holds its connections
            raise
        self._producer, self.transactional = producer, False

    async def _restart_transactional(self) -> None:
        """Start a new client with the same transactional id (which fences the old one and ends its open
        transaction). Raises KafkaError on any refusal: a broker that granted transactions and now fails
        (a coordinator moving with a killed node) is waited for, never taken for one without them, since
        falling back to at-least-once in the middle of a run could repeat committed outputs."""
        producer = self._client(idempotent=True, transactional_id=self._transactional_id)
        try:
            await producer.start()
        except BaseException:
            await producer.stop()
            raise
        self._producer, self.transactional = producer, True

    async def stop(self) -> None:
        """Flush and close, for at most ``shutdown_seconds`` (records not yet acknowledged then are not
        known to be written: their inputs are uncommitted, so they are produced again after a restart).
        Idempotent; never raises."""
        producer, self._producer = self._producer, None
        if producer is not None:
            seconds = self._settings.shutdown_seconds
            await bounded(producer.stop(), seconds=seconds, what="flush the producer", log=self._log)

    async def send_in_transaction(
        self, records: Sequence[OutRecord], offsets: dict[TopicPartition, int], group_id: str
    ) -> None:
        """Send ``records`` and commit ``offsets`` for ``group_id`` in one transaction, or neither.

        Raises TransientError when any step fails: the transaction is aborted (the client is replaced when
        it cannot abort, which also fences it), nothing of it becomes visible to read_committed consumers,
        and the caller retries the batch from its first offset. Raises KeyUnavailable, before anything is
        sent, when the ``signer`` has no key.
        """
        if self._producer is None:  # replaced after a failed abort and not yet back
            try:
                await self.start()
            except KafkaError as exc:
                raise TransientError(f"producer restart failed: {type(exc).__name__}") from None
        producer = self._producer
        if producer is None or not self.transactional:
            raise TransientError("transactional producer not available")
        records = self._signed(await self._batched(producer, records))
        try:
            await producer.begin_transaction()
            await asyncio.gather(*await self._enqueue(producer, records))
            await producer.send_offsets_to_transaction(offsets, group_id)
            await producer.commit_transaction()
        except KafkaError as exc:
            await self._abort(producer)
            raise TransientError(f"transaction failed: {type(exc).__name__}") from None

    async def _abort(self, producer: AIOKafkaProducer) -> None:
        """Abort the open transaction; a client that cannot abort (fenced, fatal) is replaced by a new one."""
        try:
            await producer.abort_transaction()
        except Exception:  # any failure here means the client is unusable: replace it
            with contextlib.suppress(Exception):
                await producer.stop()
            self._producer = None
            with contextlib.suppress(KafkaError):
                await self.start()

    async def _batched(self, producer: AIOKafkaProducer, records: Sequence[OutRecord]) -> Sequence[OutRecord]:
        """The batch with its audit events collapsed into ``AuditBatch`` messages (``audit_events.batch_audit``:
        one per partition of crx.audit, split below ``max_request_bytes``). Raises TransientError when the
        broker does not tell how many partitions crx.audit has."""
        topic = self._settings.topic("audit")
        if not any(r.topic == topic for r in records):
            return records
        try:
            partitions = len(await producer.partitions_for(topic))
        except KafkaError as exc:
            raise TransientError(f"no metadata for the audit topic: {type(exc).__name__}") from None
        limit = max(self._settings.max_request_bytes - AUDIT_BATCH_HEADROOM, AUDIT_BATCH_HEADROOM)
        return batch_audit(records, topic, partitions, limit)

    async def _enqueue(self, producer: AIOKafkaProducer, records: Sequence[OutRecord]) -> list[asyncio.Future[Any]]:
        """Queue ``records`` in the client as whole record batches, one future per batch (instead of
        ``producer.send`` and a future per record): each record goes to the partition ``partitioner`` gives its
        key (a keyless one to any partition), and records of one partition keep their order. A batch holds up to
        the client's batch size (one record at least), as ``send`` fills them; each is closed when queued, so the
        client sends it at once instead of after ``linger_ms`` (the caller awaits the whole lot anyway). Raises
        KafkaError: no metadata for a topic, a record larger than ``max_request_bytes``
        (MessageSizeTooLargeError; batches of other partitions may be queued already), a full queue
        (KafkaTimeoutError)."""
        grouped: dict[tuple[str, int], list[OutRecord]] = {}
        partitions: dict[str, list[int]] = {}
        for record in records:
            topic = record.topic
            known = partitions.get(topic)
            if known is None:
                known = partitions[topic] = sorted(await producer.partitions_for(topic))
            tp = (topic, partitioner(record.key, known, known))
            part = grouped.get(tp)
            if part is None:
                grouped[tp] = [record]
            else:
                part.append(record)
        futures = []
        limit = self._settings.max_request_bytes
        for (topic, partition), part in grouped.items():
            batch = None
            for record in part:
                if batch is None or batch.append(key=record.key, value=record.value, timestamp=None,
                                                 headers=record.headers) is None:  # fmt: skip
                    if batch is not None:  # full: queued, and a new one started
                        futures.append(await producer.send_batch(batch, topic, partition=partition))
                    batch = producer.create_batch()  # takes its first record whatever its size
                    batch.append(key=record.key, value=record.value, timestamp=None, headers=record.headers)
                    if batch.size() > limit:
                        raise MessageSizeTooLargeError(f"a record of {batch.size()} bytes exceeds max_request_bytes")
            assert batch is not None  # every group holds a record
            batch.close()  # complete: sent at once, not after linger_ms (aiokafka lingers only on an open batch)
            futures.append(await producer.send_batch(batch, topic, partition=partition))
        return futures

    def _signed(self, records: Sequence[OutRecord]) -> Sequence[OutRecord]:
        """The batch as it is sent: signed once when there is a signer."""
        if self.signer is None or not records:
            return records
        return self.signer.sign(records, dt.datetime.now(dt.UTC))

    async def send_all(self, records: Sequence[OutRecord]) -> None:
        """Send ``records`` together and return once every one is acknowledged.

        Raises TransientError when the broker refuses or times out; nothing is then known to be written,
        and the caller retries the whole batch (consumers are idempotent). Raises KeyUnavailable, before
        anything is sent, when the ``signer`` has no key.
        """
        if not records:
            return
        if self._producer is None:
            raise TransientError("producer not started")
        records = self._signed(await self._batched(self._producer, records))
        try:
            await asyncio.gather(*await self._enqueue(self._producer, records))
        except KafkaError as exc:
            raise TransientError(f"produce failed: {type(exc).__name__}") from None


Handler = Callable[[list[ConsumerRecord]], Awaitable[list[OutRecord]]]


class _AfterBatch(ConsumerRebalanceListener):  # type: ignore[misc]
    """Holds a revocation until the batch in flight is committed or sought back, so the group's next
    owner of a partition (this consumer again, after a coordinator failover) starts at its committed end."""

    def __init__(self, in_flight: asyncio.Lock) -> None:
        self._in_flight = in_flight

    async def on_partitions_revoked(self, revoked: Any) -> None:
        async with self._in_flight:
            pass

    async def on_partitions_assigned(self, assigned: Any) -> None:
        return None


REWIND_CHECK_SECONDS = 1.0  # how often a batch loop looks for positions past the end of a lost log
POSITION_WAIT_SECONDS = 0.05  # the longest that check waits for a partition's position


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
        self._in_flight = asyncio.Lock()  # held from a batch's fetch to its commit or seek-back
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = False
        self.batches = 0
        self._out_children: dict[str, Any] = {}  # records_out's child per output topic
        self._record_seconds = metrics.record_seconds.labels(service)
        self._rewind_due = 0.0  # monotonic time of the next check for positions past a log's end
        self.rewound = 0  # partitions read again from their start because the broker lost their log

    async def start(self) -> None:
        """Join the group and start consuming in a task. Idempotent."""
        if self._task is not None:
            return
        settings = self._settings
        self._consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=self._group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",  # never an aborted transaction's outputs
            fetch_max_wait_ms=settings.fetch_max_wait_ms,
            session_timeout_ms=settings.session_timeout_ms,
            heartbeat_interval_ms=settings.heartbeat_interval_ms,
            max_partition_fetch_bytes=settings.max_request_bytes,
            fetch_max_bytes=max(52_428_800, settings.max_request_bytes),
        )
        self._consumer.subscribe(self._topics, listener=_AfterBatch(self._in_flight))
        self._stopping.clear()
        await self._consumer.start()
        self._task = asyncio.create_task(self._run(self._consumer), name=f"{self.service}-loop")

    async def stop(self) -> None:
        """Finish the batch in flight, commit it, leave the group. Idempotent."""
        if self._task is None:
            return
        self._stopping.set()
        task, self._task = self._task, None
        seconds = self._settings.shutdown_seconds
        if not await bounded(asyncio.shield(task), seconds=seconds, what="drain the batch", log=self._log):
            with contextlib.suppress(Exception):  # the batch in flight is not committed: consumed again after a restart
                await cancel(task)
        self.ready = False
        self._metrics.ready.labels(self.service).set(0)
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            await bounded(consumer.stop(), seconds=seconds, what="leave the group", log=self._log)

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
            if time.monotonic() >= self._rewind_due:
                self._rewind_due = time.monotonic() + REWIND_CHECK_SECONDS
                await self._rewind_lost(consumer)
            if not batch:
                continue
            records = [r for part in batch.values() for r in part]
            started = time.perf_counter()
            try:
                async with self._in_flight:
                    try:
                        await self._process(consumer, batch, records)
                    except Exception:  # infrastructure failure: redo the whole batch
                        assigned = consumer.assignment()
                        for tp, part in batch.items():
                            if tp in assigned:  # after a rebalance the owner re-reads from the committed offset
                                consumer.seek(tp, part[0].offset)
                        raise
                backoff = 0.1
            except Exception as exc:
                self._metrics.errors.labels(self.service, type(exc).__name__).inc()
                self._log.warning("batch failed, retrying", error_class=type(exc).__name__, backoff=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self._metrics.batch_seconds.labels(self.service).observe(time.perf_counter() - started)
            self._log.debug("batch done", records=len(records), seconds=round(time.perf_counter() - started, 4))
            self.batches += 1

    async def _rewind_lost(self, consumer: AIOKafkaConsumer) -> None:
        """Read again from its start every assigned partition whose log now ends before this consumer's
        position: the broker lost the log (a restarted in-memory broker, a lost volume) and the records written
        since start again at offset 0. Apache Kafka answers such a fetch with OFFSET_OUT_OF_RANGE (and the
        consumer resets to ``earliest`` by itself); the embedded broker answers nothing and the consumer would
        wait until the new log grows past its old position, leaving every record before that unread. Reading
        again from the start is at-least-once: the handlers are idempotent. Never raises for a partition whose
        position is not known yet (it is checked again later)."""
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is None:  # no fetch answered for it yet
                continue
            try:
                position = await asyncio.wait_for(consumer.position(tp), timeout=POSITION_WAIT_SECONDS)
            except (TimeoutError, IllegalStateError):  # being reset, or revoked meanwhile: next check
                continue
            if position > highwater:
                self._log.warning(
                    "partition log ends before our position (the broker lost it): reading it again from its start",
                    topic=tp.topic, partition=tp.partition, position=position, highwater=highwater,
                )  # fmt: skip
                await consumer.seek_to_beginning(tp)
                self.rewound += 1

    def _bookkeeping(self, outputs: Sequence[OutRecord], records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Count a batch's acknowledged outputs per topic (one increment per topic) and observe each input's
        latency from its Kafka timestamp, through label children made once per service and topic."""
        counts: dict[str, int] = {}
        for out in outputs:
            counts[out.topic] = counts.get(out.topic, 0) + 1
        children = self._out_children
        for topic, count in counts.items():
            child = children.get(topic)
            if child is None:
                child = children[topic] = self._metrics.records_out.labels(self.service, topic)
            child.inc(count)
        observe = self._record_seconds.observe
        now_ms = time.time() * 1000
        for r in records:
            latency_ms = now_ms - r.timestamp
            observe(latency_ms / 1000 if latency_ms > 0 else 0.0)

    async def _process(
        self, consumer: AIOKafkaConsumer, batch: dict[TopicPartition, list[ConsumerRecord]], records: list[Any]
    ) -> None:
        for tp, part in batch.items():
            self._metrics.records_in.labels(self.service, tp.topic).inc(len(part))
        outputs = await self._handler(records)
        offsets = {tp: part[-1].offset + 1 for tp, part in batch.items()}
        if self._producer.transactional:
            await self._producer.send_in_transaction(outputs, offsets, self._group_id)
        else:
            await self._producer.send_all(outputs)
        self._bookkeeping(outputs, records)
        if not self._producer.transactional:
            await consumer.commit(offsets)
