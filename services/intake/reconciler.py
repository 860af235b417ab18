"""The reconciler: what the intake promised with a 202 is delivered, refused or dead-lettered, whatever Kafka
loses.

Every ``reconcile_interval_seconds`` it takes the kept submissions that are due (``outbox.Outbox.due``) and
asks the audit log what became of each (``accounting.settlement``, the rule of the books):

- settled (delivered with every ACCEPTED receipt, refused, dead-lettered): forgotten;
- younger than ``reconcile_after_seconds``: checked again at the next interval;
- older and still unsettled: published again, the same bytes (so the same submission, message and audit
  event ids: every consumer downstream is idempotent, and a record lost anywhere on the way is redone,
  re-sealed by the router for each recipient's current key: a REJECTED receipt is not final), then checked
  again after twice as long (capped at an hour);
- after ``reconcile_attempts`` publications: dead-lettered, reason ``UNDELIVERED`` (the sealed feed envelope
  kept whole, replayable with ``crx dlq replay``), counted, and kept until that dead letter is logged.

The audit log is read where the audit writer keeps it (``settlement.py``: its database through ``audit_db``,
or the audit service's API at ``audit_api_url``); while it cannot be read, nothing is re-published and the
failure is logged once per pass. Metrics: ``crx_intake_unsettled`` (kept submissions),
``crx_intake_unsettled_oldest_seconds``, ``crx_intake_republished_total``, ``crx_intake_undelivered_total``,
``crx_intake_settled_total{outcome}``, ``crx_intake_outbox_limit``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.audit.accounting import SETTLED, UNDELIVERED
from services.intake.outbox import GIVEN_UP, Kept, Outbox
from services.intake.settlement import SettlementSource, settlement_source
from services.kernel.config import Settings
from services.kernel.deadletter import DeadLetters
from services.kernel.errors import CrxError
from services.kernel.kafka import OutRecord, Producer
from services.kernel.logging import get_logger
from services.kernel.periodic import Periodic

MAX_BACKOFF_SECONDS = 3600.0
PASS_LIMIT = 2000  # kept submissions looked at per pass


class Undelivered(CrxError, reason_code=UNDELIVERED):
    """An accepted submission the intake published ``reconcile_attempts`` times without the audit log
    showing it settled (a recipient that keeps rejecting or never answers, a stage that keeps failing)."""


class Reconciler:
    """Checks kept submissions against the audit log, re-publishes or dead-letters the unsettled ones."""

    def __init__(
        self,
        settings: Settings,
        outbox: Outbox,
        producer: Producer,
        dead_letters: DeadLetters,
        registry: CollectorRegistry,
        *,
        source: SettlementSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._outbox = outbox
        self._producer = producer
        self._dead = dead_letters
        self._source = source or settlement_source(settings)
        self._clock = clock
        self._log = get_logger("intake")
        every = settings.reconcile_interval_seconds
        self._periodic = Periodic("intake-reconciler", self.run_pass, every, errors=(CrxError,), on_error=self._failed)
        self.unsettled = Gauge("crx_intake_unsettled", "Accepted submissions kept until settled", registry=registry)
        self.oldest = Gauge(
            "crx_intake_unsettled_oldest_seconds", "Age of the oldest unsettled accepted submission", registry=registry
        )
        self.republished = Counter("crx_intake_republished", "Unsettled submissions published again", registry=registry)
        self.undelivered = Counter(
            "crx_intake_undelivered", "Submissions dead-lettered after every re-publication", registry=registry
        )
        self.settled = Counter("crx_intake_settled", "Kept submissions found settled", ["outcome"], registry=registry)
        limit = Gauge("crx_intake_outbox_limit", "Unsettled submissions the outbox keeps at most", registry=registry)
        limit.set(settings.outbox_max_submissions)

    def start(self) -> None:
        """Run passes every ``reconcile_interval_seconds`` in a task (not when ``reconcile_after_seconds`` is 0)."""
        if self._settings.reconcile_after_seconds > 0:
            self._periodic.start()

    async def stop(self) -> None:
        """Stop the task and close the audit log. Idempotent."""
        await self._periodic.stop()
        await self._source.close()

    def _failed(self, exc: CrxError) -> None:
        """The outbox or the audit log does not answer: the next pass tries again."""
        self._log.warning("reconciler pass failed", error_class=type(exc).__name__, detail=exc.detail)

    async def run_pass(self) -> int:
        """One pass over every due submission, in chunks; returns how many were published again or
        dead-lettered.

        Raises TransientError when the outbox or the audit log cannot be read (what was done stands).
        """
        now = self._clock()
        acted = 0
        while True:
            due = self._outbox.due(now, PASS_LIMIT)
            if not due:
                break
            states = await self._source.states([kept.submission_id for kept in due])
            settled: list[str] = []
            for kept in due:
                state = states.get(kept.submission_id, "pending")
                if state in SETTLED:
                    settled.append(kept.submission_id)
                    self.settled.labels(state).inc()
                else:
                    acted += await self._unsettled(kept, now)
                await asyncio.sleep(0)  # the HTTP intake keeps answering during a long pass
            self._outbox.settle(settled, now + self._settings.idempotency_ttl_seconds)
            if len(due) < PASS_LIMIT:
                break
        self._outbox.purge(now)
        self.unsettled.set(self._outbox.size())
        oldest = self._outbox.oldest()
        self.oldest.set(0.0 if oldest is None else max(0.0, now - oldest))
        return acted

    async def _unsettled(self, kept: Kept, now: float) -> int:
        after = self._settings.reconcile_after_seconds
        if now - kept.accepted_at < after:
            next_check = min(now + self._settings.reconcile_interval_seconds, kept.accepted_at + after)
            self._outbox.reschedule(kept.submission_id, next_check, kept.attempts)
            return 0
        if kept.state != GIVEN_UP and kept.attempts >= self._settings.reconcile_attempts:
            letter = self._dead_letter(kept)
            await self._producer.send_all(letter)  # TransientError: the next pass tries again
            self._outbox.give_up(kept.submission_id, letter, now + after)
            self.undelivered.inc()
            self._log.warning("undelivered: dead-lettered", submission_id=kept.submission_id, attempts=kept.attempts)
            return 1
        await self._producer.send_all(kept.records)
        attempts = kept.attempts + 1
        wait = min(after * 2 ** min(attempts, 20), MAX_BACKOFF_SECONDS)
        self._outbox.reschedule(kept.submission_id, now + wait, attempts)
        self.republished.inc()
        self._log.info("unsettled: published again", submission_id=kept.submission_id, attempt=attempts)
        return 1

    def _dead_letter(self, kept: Kept) -> list[OutRecord]:
        """The dead letter (and its DEAD_LETTER event) of a submission given up on: its feed envelope, sealed
        to the broker whole, replayable to its feed topic."""
        feed = self._settings.topic(f"feed.{kept.jurisdiction}")
        value = next((r.value for r in kept.records if r.topic == feed), b"")
        return self._dead.records(
            Undelivered(f"not settled after {kept.attempts} publications"),
            value=value,
            source_topic=feed,
            submission_id=kept.submission_id,
            jurisdiction=kept.jurisdiction,
            now=dt.datetime.now(dt.UTC),
        )
