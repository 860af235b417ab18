"""The intake service: the HTTP API and the drop directory, publishing through one producer, every accepted
submission kept in the outbox until the reconciler finds it settled in the audit log; the HTTP API also
answers each sender the status and evidence of its own submissions (``status.py``), from the same log. Its
retention task purges the drop directory's done/ and failed/ files and the intake store (services/retention).

``crx intake run`` runs it on its own; the demo pipeline runs it beside the other services.
"""

from __future__ import annotations

import contextlib
import datetime as dt

from adapters.base import available
from services.cases.status import StoreCases
from services.cases.store import CaseStore
from services.intake.dropdir import DropDirectory
from services.intake.evidence import evidence_source
from services.intake.http import IntakeApi, IntakeHttpServer, IntakeLimits
from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.intake.publisher import FeedPublisher
from services.intake.reconciler import Reconciler
from services.intake.status import StatusApi, SubmissionStatus
from services.intake.tokens import TokenBook
from services.kernel.deadletter import RECONCILER_STAGE
from services.kernel.http import OpsServer
from services.kernel.kafka import Producer, ensure_topics
from services.kernel.logging import get_logger
from services.kernel.metrics import register_runtime_metrics
from services.kernel.runtime import Ports, Runtime
from services.kernel.topicwatch import TopicWatch
from services.retention.task import RetentionTask

NAME = "intake"


def build(runtime: Runtime, *, ports: Ports) -> IntakeService:
    """The intake as a runnable service: its HTTP API on ``ports.api`` (None: the configured ``intake_port``;
    0: a free port) and the drop directory, publishing through one producer."""
    return IntakeService(runtime, http_port=ports.api, metrics_port=ports.metrics)


class IntakeService:
    """Producer, publisher, HTTP server, drop directory and ops server. ``start``/``stop`` are idempotent."""

    def __init__(self, runtime: Runtime, *, http_port: int | None = None, metrics_port: int = 0) -> None:
        self.name = NAME
        settings, registry = runtime.settings, runtime.new_registry()
        self._settings = settings
        self.producer = Producer(settings, signer=runtime.signer(NAME))
        self.outbox = Outbox(settings)
        self.publisher = FeedPublisher(
            settings, runtime.keyring, producer=self.producer, audit_secret=runtime.audit_secret, outbox=self.outbox
        )
        self.reconciler = Reconciler(
            settings, self.outbox, self.producer, self.publisher.dead_letters.as_stage(RECONCILER_STAGE), registry
        )
        self.tokens = TokenBook.open(settings.intake_tokens_path)
        self.idempotency = IdempotencyStore(
            settings.data_dir / "intake-idempotency.sqlite3", dt.timedelta(seconds=settings.idempotency_ttl_seconds)
        )
        self.cases = CaseStore.open(settings)
        self.status = SubmissionStatus(
            evidence_source(settings), outbox=self.outbox, cases=StoreCases(self.cases, runtime.clock)
        )
        self.api = IntakeApi(
            self.publisher,
            self.tokens,
            self.idempotency,
            IntakeLimits(settings.max_payload_bytes),
            registry,
            status=StatusApi(self.status, self.tokens, registry),
        )
        port = settings.intake_port if http_port is None else http_port
        self.http = IntakeHttpServer(self.api, settings.intake_host, port)
        self.drop = DropDirectory(
            settings.drop_dir,
            self.publisher,
            settings.jurisdictions,
            available(),
            interval=settings.drop_poll_ms / 1000,
            max_bytes=settings.max_payload_bytes,
        )
        self.retention = RetentionTask(
            settings, registry, outbox=self.outbox, idempotency=self.idempotency, clock=runtime.clock
        )
        self._ready = False
        self.topics = TopicWatch(settings, NAME, self.output_topics)
        register_runtime_metrics(registry, service=NAME)
        self.ops = OpsServer(registry, host=settings.metrics_host, port=metrics_port, ready=lambda: self._ready)
        self._started = False
        self._running = contextlib.AsyncExitStack()
        self._log = get_logger(NAME)

    @property
    def output_topics(self) -> list[str]:
        """Every topic the intake writes: each jurisdiction's feed, the audit and dead-letter topics."""
        feeds = [self._settings.topic(f"feed.{j}") for j in self._settings.jurisdictions]
        return [*feeds, self._settings.topic("audit"), self._settings.topic("dlq")]

    async def start(self) -> None:
        """Check topics, start the producer, then serve HTTP and watch the drop directory. When a part fails
        to start, the parts already started are stopped again (in reverse order) and the error propagates."""
        if self._started:
            return
        self._settings.data_dir.mkdir(parents=True, exist_ok=True)
        await ensure_topics(self._settings, self.output_topics)
        async with contextlib.AsyncExitStack() as parts:
            for server in (self.ops, self.producer):
                await server.start()
                parts.push_async_callback(server.stop)
            parts.push_async_callback(self.status.close)  # after HTTP has stopped asking for statuses
            for source in (self.http, self.drop):
                await source.start()
                parts.push_async_callback(source.stop)
            for task in (self.reconciler, self.retention, self.topics):
                task.start()
                parts.push_async_callback(task.stop)
            self._running = parts.pop_all()
        self._started = self._ready = True
        self._log.info("started", http=self.http.url, drop=str(self._settings.drop_dir), ops=self.ops.url)

    async def stop(self) -> None:
        """Stop taking submissions (HTTP, drop directory), finish those in flight, flush, close."""
        if not self._started:
            return
        self._started = self._ready = False
        await self._running.aclose()  # the started parts in reverse order: tasks, drop directory, HTTP, ...
        self.idempotency.close()
        self.outbox.close()
        self.cases.close()
        self._log.info("stopped")
