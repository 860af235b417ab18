"""One consume-transform-produce service: topics checked, producer, batch loop and ops endpoints together.

Each concrete service (normaliser, router, audit, partner) supplies only its handler, and the broker's
components their batch signer (``Runtime.signer``), so that every batch they produce is authenticated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from prometheus_client import CollectorRegistry

from services.kernel.config import Settings
from services.kernel.http import OpsServer
from services.kernel.kafka import BatchLoop, BatchSigning, Handler, Producer, ensure_topics, transactional_id
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Ports, Runtime
from services.kernel.topicwatch import TopicWatch


@dataclass(frozen=True)
class Wiring:
    """What the stream service of component ``name`` is wired with: its settings, its own metrics registry and
    the service metrics on it, its batch signer (None: batches unsigned, for tests of the kernel alone), the
    port of its ops endpoints and its consumer group (empty: ``settings.group(name)``)."""

    settings: Settings
    name: str
    registry: CollectorRegistry
    metrics: ServiceMetrics
    signer: BatchSigning | None = None
    metrics_port: int = 0
    group_id: str = ""

    @classmethod
    def of(cls, runtime: Runtime, name: str, ports: Ports) -> Wiring:
        """The wiring of broker component ``name`` (one of ``producers.COMPONENTS``): a fresh registry from the
        runtime, the component's batch signer, the ops port of ``ports``. Raises ConfigError for an unknown
        component."""
        registry = runtime.new_registry()
        metrics = ServiceMetrics.create(registry, service=name)
        return cls(runtime.settings, name, registry, metrics, runtime.signer(name), ports.metrics)


class StreamService:
    """Composes the kernel parts of one service. ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        wiring: Wiring,
        *,
        topics: Sequence[str],
        output_topics: Sequence[str],
        handler: Handler,
        producer: Producer | None = None,
    ) -> None:
        settings, name, metrics = wiring.settings, wiring.name, wiring.metrics
        group_id = wiring.group_id or settings.group(name)
        self.name = name
        self._settings = settings
        self._topics = list(topics)
        self._output_topics = list(output_topics)
        self.producer = producer or Producer(
            settings, transactional_id=transactional_id(settings, group_id), signer=wiring.signer
        )
        self.loop = BatchLoop(
            settings,
            service=name,
            group_id=group_id,
            topics=topics,
            handler=handler,
            producer=self.producer,
            metrics=metrics,
        )
        self.ops = OpsServer(
            wiring.registry,
            host=settings.metrics_host,
            port=wiring.metrics_port,
            ready=lambda: self.loop.ready,
            healthy=lambda: self.loop.alive,
        )
        self.topics = TopicWatch(settings, name, [*self._topics, *self._output_topics])
        self._started = False
        self._log = get_logger(name)

    async def start(self) -> None:
        """Check/create topics, then start the ops server, the producer and the loop."""
        if self._started:
            return
        self._started = True
        await ensure_topics(self._settings, sorted(set(self._topics + self._output_topics)))
        await self.ops.start()
        await self.producer.start()
        await self.loop.start()
        self.topics.start()
        self._log.info("started", topics=self._topics, ops=self.ops.url)

    async def stop(self) -> None:
        """Drain the loop (finish the batch, commit, leave), flush the producer, stop the ops server."""
        if not self._started:
            return
        self._started = False
        await self.topics.stop()
        await self.loop.stop()
        await self.producer.stop()
        await self.ops.stop()
        self._log.info("stopped")
