"""The intake service's retention task: every ``retention_check_seconds`` (and once at start; 0: never) it purges
the drop directory's done/ and failed/ files and the intake store (``run.purge_intake``, the code ``crx retention
run`` uses), and counts what it purged in ``crx_retention_purged_total{store}``."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter

from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.kernel.config import Settings
from services.kernel.errors import CrxError
from services.kernel.logging import get_logger
from services.kernel.periodic import Periodic
from services.retention.report import DROP_DONE, DROP_FAILED, INTAKE_IDEMPOTENCY, INTAKE_OUTBOX, StoreReport
from services.retention.run import purge_intake


class RetentionTask:
    """Periodic purges of the intake's own copies. ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        settings: Settings,
        registry: CollectorRegistry,
        *,
        outbox: Outbox | None,
        idempotency: IdempotencyStore | None,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._idempotency = idempotency
        self._clock = clock
        self._log = get_logger("retention")
        every = settings.retention_check_seconds
        self._periodic = Periodic("retention", self.run_once, every, errors=(CrxError, OSError), on_error=self._failed)
        self.total_purged = 0  # every item purged since start, all stores
        self.purged = Counter(
            "crx_retention_purged",
            "Items of crx's own copies purged past their retention",
            ["store"],
            registry=registry,
        )
        for store in (DROP_DONE, DROP_FAILED, INTAKE_OUTBOX, INTAKE_IDEMPOTENCY):
            self.purged.labels(store)  # each series exists (at 0) before the first purge

    def start(self) -> None:
        """Purge now and then every ``retention_check_seconds``, in a task (not when it is 0)."""
        if self._settings.retention_check_seconds > 0:
            self._periodic.start()

    async def stop(self) -> None:
        """Stop the task (a purge in flight finishes in its thread; what it deleted stays deleted)."""
        await self._periodic.stop()

    async def run_once(self, now: dt.datetime | None = None) -> list[StoreReport]:
        """One purge at ``now`` (default: the clock); counts what was purged. Raises OSError for a file that
        cannot be read or deleted, TransientError for a database that does not answer."""
        at = now or self._clock()
        reports = await asyncio.to_thread(
            purge_intake, self._settings, at, dry_run=False, outbox=self._outbox, idempotency=self._idempotency
        )
        for report in reports:
            if report.purged:
                self.purged.labels(report.store).inc(report.purged)
                self.total_purged += report.purged
        purged = {r.store: r.purged for r in reports if r.purged}
        held = {r.store: r.held for r in reports if r.held}
        if purged or held:
            self._log.info("retention purge", purged=purged, held=held)
        return reports

    def _failed(self, exc: Exception) -> None:
        """The store or the disk is away: the next round tries again."""
        self._log.warning("retention purge failed", error_class=type(exc).__name__)
