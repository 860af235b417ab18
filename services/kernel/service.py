"""One consume-transform-produce service: topics checked, producer, batch loop and ops endpoints together.

Each concrete service (normaliser, router, audit, partner) supplies only its handler.
"""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client import CollectorRegistry

from services.kernel.config import Settings
from services.kernel.http import OpsServer
from services.kernel.kafka import BatchLoop, Handler, Producer, ensure_topics, transactional_id
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.topicwatch import TopicWatch


class StreamService:
    """Composes the kernel parts of one service. ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        settings: Settings,
        *,
        name: str,
        group_id: str,
        topics: Sequence[str],
        output_topics: Sequence[str],
        handler: Handler,
        metrics: ServiceMetrics,
        registry: CollectorRegistry,
        producer: Producer | None = None,
        metrics_port: int = 0,
    ) -> None:
        self.name = name
        self._settings = settings
        self._topics = list(topics)
        self._output_topics = list(output_topics)
        self.producer = producer or Producer(settings, transactional_id=transactional_id(settings, group_id))
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
            registry,
            host=settings.metrics_host,
            port=metrics_port,
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
