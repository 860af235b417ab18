"""The case service: the clock of the case book. Every ``case_check_seconds`` it sends the reminders and
overdue notices that are due, marks the cases overdue and publishes the case gauges.

The router writes the book as it routes (``book``); this service only reads what is due, sends, then
marks: a crash between sending and marking sends the same notice again (same id), which the partner and the
audit writer absorb. A pass that cannot reach Kafka or the store (TransientError, KafkaError) is logged and
tried again at the next tick; nothing is marked that was not sent. Several instances would send the same
notices (harmless, same ids) but one is enough: it does little work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas.records import CaseNoticeKindSymbol
from services.cases.notices import COMPONENT, NoticeMaker
from services.cases.store import OPEN, OVERDUE, STATUSES, Case, CaseStore
from services.kernel.audit_events import AuditEmitter
from services.kernel.envelope import Sealer
from services.kernel.errors import CrxError
from services.kernel.http import OpsServer
from services.kernel.kafka import Producer, ensure_topics
from services.kernel.logging import get_logger
from services.kernel.metrics import register_runtime_metrics
from services.kernel.periodic import Periodic
from services.kernel.runtime import Ports, Runtime

NAME = COMPONENT
PASS_LIMIT = 500


def build(runtime: Runtime, *, ports: Ports) -> CaseService:
    """The case service as a runnable component (its /metrics, /healthz, /readyz on ``ports.metrics``)."""
    return CaseService(runtime, metrics_port=ports.metrics)


class CaseMetrics:
    """The case gauges and counters of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.overdue = Gauge(
            "crx_cases_overdue", "Requests past their deadline without an answer", ["requesting", "requested"],
            registry=registry,
        )  # fmt: skip
        self.cases = Gauge(
            "crx_cases", "Cases by requesting and requested state and status", ["requesting", "requested", "status"],
            registry=registry,
        )  # fmt: skip
        self.notices = Counter("crx_case_notices", "Case notices sent, by kind", ["kind"], registry=registry)
        self.failed_passes = Counter("crx_case_passes_failed", "Case passes that could not finish", registry=registry)
        self.ready = Gauge("crx_ready", "1 when the service is ready", ["service"], registry=registry)

    def publish(self, counts: dict[tuple[str, str, str], int]) -> None:
        """Set the gauges from ``CaseStore.counts`` (every pair seen keeps a series, 0 when none is left)."""
        pairs = {(a, b) for a, b, _ in counts}
        for requesting, requested in pairs:
            self.overdue.labels(requesting, requested).set(counts.get((requesting, requested, OVERDUE), 0))
            for status in STATUSES:
                self.cases.labels(requesting, requested, status).set(counts.get((requesting, requested, status), 0))


class CaseService:
    """Producer, store, the periodic pass and the ops server. ``start``/``stop`` are idempotent."""

    def __init__(self, runtime: Runtime, *, metrics_port: int = 0) -> None:
        self.name = NAME
        settings, registry = runtime.settings, runtime.new_registry()
        self._settings = settings
        self._clock: Callable[[], dt.datetime] = runtime.clock
        self.store = CaseStore.open(settings)
        self.producer = Producer(settings, signer=runtime.signer(NAME))
        sealer = Sealer(runtime.keyring.registry, runtime.keyring.store, settings.broker_party)
        emitter = AuditEmitter(NAME, settings.topic("audit"), runtime.audit_secret)
        self._notices = NoticeMaker(settings, sealer, emitter)
        self.metrics = CaseMetrics(registry)
        register_runtime_metrics(registry, service=NAME)
        self._ready = False
        self.ops = OpsServer(registry, host=settings.metrics_host, port=metrics_port, ready=lambda: self._ready)
        every = settings.case_check_seconds
        self._passes = Periodic("crx-cases", self.run_pass, every, errors=(CrxError, KafkaError), on_error=self._failed)
        self._started = False
        self._log = get_logger(NAME)

    @property
    def output_topics(self) -> list[str]:
        """Every requested state's out topic and the audit topic."""
        return [
            *(self._settings.topic(f"out.{j}") for j in self._settings.jurisdictions),
            self._settings.topic("audit"),
        ]

    async def start(self) -> None:
        """Check topics, start the ops server and the producer, then the periodic pass."""
        if self._started:
            return
        self._started = True
        await ensure_topics(self._settings, self.output_topics)
        await self.ops.start()
        await self.producer.start()
        self._passes.start()
        self._ready = True
        self.metrics.ready.labels(NAME).set(1)
        self._log.info("started", ops=self.ops.url)

    async def stop(self) -> None:
        """Stop the pass (a pass in flight is cancelled: what it sent but did not mark is sent again later)."""
        if not self._started:
            return
        self._started = False
        self._ready = False
        self.metrics.ready.labels(NAME).set(0)
        await self._passes.stop()
        await self.producer.stop()
        await self.ops.stop()
        self.store.close()
        self._log.info("stopped")

    def _failed(self, exc: Exception) -> None:
        """The store or Kafka is away (CrxError, KafkaError): the next pass tries again."""
        self.metrics.failed_passes.inc()
        self._log.warning("case pass failed; trying again", error_class=type(exc).__name__)

    async def run_pass(self, now: dt.datetime | None = None) -> int:
        """Send what is due at ``now`` (default: the runtime's clock), mark it, refresh the gauges; returns
        how many notices were sent. Raises TransientError or KafkaError when the store or Kafka is away."""
        now = now or self._clock()
        sent = await self._send(self.store.due_reminders(now, PASS_LIMIT), "REMINDER", now)
        sent += await self._send(self.store.due_overdue(now, PASS_LIMIT), "OVERDUE", now)
        self.metrics.publish(self.store.counts(now))
        return sent

    async def _send(self, cases: list[Case], kind: CaseNoticeKindSymbol, now: dt.datetime) -> int:
        if not cases:
            return 0
        outputs = [out for case in cases for out in self._notices.outputs(case, kind, now)]
        await self.producer.send_all(outputs)
        for case in cases:
            if kind == "REMINDER":
                self.store.update(case.case_id, {"reminded": True}, statuses=(OPEN,))
            else:
                changes = {"overdue_noticed": True, "status": OVERDUE, "updated_at": now}
                self.store.update(case.case_id, changes, statuses=(OPEN, OVERDUE))
            self._log.info("case notice sent", kind=kind, case_id=case.case_id, requested=case.requested)
        self.metrics.notices.labels(kind).inc(len(cases))
        return len(cases)
