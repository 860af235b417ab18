"""Reading a whole topic back from Apache Kafka, as committed or as written."""

from __future__ import annotations

from services.kernel.config import Settings
from tests.integration.helpers import read_topic


async def read_all(settings: Settings, topic: str, *, committed: bool = True) -> list[bytes]:
    """Every value of ``topic`` up to its current end: only committed transactions' records (and plain
    ones) with ``committed``, else everything written, aborted transactions included."""
    return [r.value for r in await read_topic(settings, topic, committed=committed) if r.value is not None]
