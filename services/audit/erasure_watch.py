"""The audit service's watch on erasure receipts: every ``retention_check_seconds`` (and once at start; 0: never)
it computes the overdue erasure receipts from its own store (``erasures.py``) and publishes them as the gauge
``crx_erasure_receipts_overdue{recipient}`` (the CrxErasureReceiptsOverdue alert).

Why the audit service, from the audit log: the log holds every disclosure ledger row (the router's DISCLOSURE
events) and every erasure receipt (ERASURE events), and the audit service already has it. The ledger's own
database belongs to the router (its data volume in deploy/, or a PostgreSQL role of its own): reading the log
needs no grant to another service's store, and counts exactly what the Merkle tree commits to.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Gauge

from services.audit.erasures import ErasureReport, erasure_report
from services.audit.store import AuditStore
from services.kernel.config import Settings
from services.kernel.errors import CrxError
from services.kernel.logging import get_logger
from services.kernel.periodic import Periodic
from services.kernel.runtime import utc_now


class ErasureWatch:
    """Publishes the overdue erasure receipts per recipient. ``start``/``stop`` are idempotent."""

    def __init__(
        self,
        settings: Settings,
        store: AuditStore,
        registry: CollectorRegistry,
        clock: Callable[[], dt.datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._store = store
        self._clock = clock
        self._log = get_logger("audit")
        every = settings.retention_check_seconds
        self._periodic = Periodic("audit-erasure-watch", self._round, every, errors=(CrxError,), on_error=self._failed)
        self.overdue = Gauge(
            "crx_erasure_receipts_overdue",
            "Records past their retention end (or deleted) plus the grace, without an ERASURE from the recipient",
            ["recipient"],
            registry=registry,
        )

    def start(self) -> None:
        """Compute now and then every ``retention_check_seconds``, in a task (not when it is 0)."""
        if self._settings.retention_check_seconds > 0:
            self._periodic.start()

    async def stop(self) -> None:
        """Stop the task. Idempotent."""
        await self._periodic.stop()

    async def run_once(self, now: dt.datetime | None = None) -> ErasureReport:
        """The report at ``now`` (default: the clock), published on the gauge (0 for a recipient owing none).
        Raises TransientError when the store does not answer, CodecError for a leaf that is not an event."""
        at = now or self._clock()
        grace = self._settings.erasure_grace_days
        report = await asyncio.to_thread(lambda: erasure_report(self._store.leaves(), at, grace))
        for recipient, count in report.overdue().items():
            self.overdue.labels(recipient).set(count)
        return report

    async def _round(self) -> None:
        report = await self.run_once()
        if any(report.overdue().values()):
            self._log.warning("erasure receipts overdue", overdue=report.overdue())

    def _failed(self, exc: CrxError) -> None:
        """The store does not answer: the gauge keeps its last values until the next round."""
        self._log.warning("erasure receipts not checked", error_class=type(exc).__name__)
