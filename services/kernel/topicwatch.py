"""Topics that come back: a broker that lost its data (a crash of the embedded broker, a lost volume) has lost
the topics too. Every service checks its topics periodically and recreates the missing ones, so it resumes
by itself once the broker is back instead of looping on ``UnknownTopicOrPartition``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka.errors import KafkaError

from services.kernel.config import Settings
from services.kernel.errors import CrxError
from services.kernel.kafka import ensure_topics
from services.kernel.logging import get_logger
from services.kernel.periodic import Periodic


class TopicWatch:
    """Every ``topic_check_seconds``, ``ensure_topics`` for the topics a service reads and writes."""

    def __init__(self, settings: Settings, service: str, topics: Sequence[str]) -> None:
        self._settings = settings
        self._topics = sorted(set(topics))
        self._log = get_logger(service)
        self._periodic: Periodic[Exception] = Periodic(  # no ``errors``: check_once logs its own
            "topic-watch", self.check_once, settings.topic_check_seconds, wait_first=True
        )
        self.recreated = 0

    def start(self) -> None:
        """Start checking (the caller has created the topics once already). Idempotent."""
        if self._settings.topic_check_seconds > 0:
            self._periodic.start()

    async def stop(self) -> None:
        """Stop checking. Idempotent; never raises."""
        await self._periodic.stop()

    async def check_once(self) -> bool:
        """Recreate any missing topic; True when all exist now. Logs (never raises) a broker out of reach."""
        try:
            async with asyncio.timeout(max(5.0, self._settings.topic_check_seconds)):
                created = await ensure_topics(self._settings, self._topics)
        except (KafkaError, CrxError, OSError, TimeoutError) as exc:
            self._log.warning("topics not checked", error_class=type(exc).__name__)
            return False
        if created:
            self.recreated += len(created)
            self._log.warning("missing topics recreated (the broker lost them)", topics=created)
        return True
