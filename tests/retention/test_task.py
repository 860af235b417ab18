"""The intake service's retention task: at start and every retention_check_seconds it purges the drop
directory's done/ and failed/ files and the intake store past their period (the injected clock says when),
counting what it purged in crx_retention_purged_total{store}; 0 turns it off."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from prometheus_client import CollectorRegistry, Counter

from services.intake.outbox import Outbox
from services.intake.service import IntakeService
from services.kernel.config import Settings
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.retention.task import RetentionTask
from tests.integration.helpers import wait_for
from tests.retention.helpers import NOW, aged_drop_files, aged_intake_store


def purged(counter: Counter, store: str) -> float:
    """The counter's value for ``store``."""
    samples = [s for m in counter.collect() for s in m.samples if s.name.endswith("_total")]
    return sum(s.value for s in samples if s.labels["store"] == store)


@pytest.mark.integration
async def test_the_intake_service_purges_at_start_and_counts(settings: Settings, keyring: KeyRing) -> None:
    """A started intake service whose clock is past retention deletes the old done/ and failed/ files and
    the old settled submission at once, keeps the fresh file and the unsettled submissions, and counts them."""
    files = aged_drop_files(settings)
    aged_intake_store(settings)
    runtime = dataclasses.replace(Runtime.create(settings, keyring), clock=lambda: NOW)
    service = IntakeService(runtime, http_port=0)
    await service.start()
    try:
        await wait_for(lambda: not files["old_done"].exists() and not files["old_failed"].exists(), 10)
        await wait_for(lambda: purged(service.retention.purged, "intake_outbox") == 1, 10)
        assert files["fresh_done"].exists()
        assert purged(service.retention.purged, "drop_done") == 1
        assert purged(service.retention.purged, "drop_failed") == 1
        assert purged(service.retention.purged, "intake_idempotency") == 1
        assert set(service.outbox.stored(["settled-old", "open-old", "open-fresh"])) == {"open-old", "open-fresh"}
    finally:
        await service.stop()


async def test_zero_seconds_never_purges(settings: Settings) -> None:
    """retention_check_seconds 0: the task does not run; run_once still purges on demand."""
    files = aged_drop_files(settings)
    off = settings.replace(retention_check_seconds=0)
    outbox = Outbox(off)
    task = RetentionTask(off, CollectorRegistry(), outbox=outbox, idempotency=None, clock=lambda: NOW)
    try:
        task.start()
        await asyncio.sleep(0.2)  # a started task would have purged by now
        await task.stop()
        assert files["old_done"].exists()
        [done, failed, box] = await task.run_once()
        assert (done.purged, failed.purged, box.purged) == (1, 1, 0)
        assert purged(task.purged, "drop_done") == 1 and purged(task.purged, "intake_outbox") == 0
    finally:
        outbox.close()
