"""The lookup service: the feed that keeps the index (``feed.py``, its own consumer group on ``crx.records``),
the lookup API (``api.py``, ``POST /v1/lookups`` on ``lookup_host:lookup_port``) and the expiry pass that
removes records whose retention end has come (at start, then every ``retention_check_seconds``; 0: at start
only).

The index (``lookup_db``: by default ``lookup.sqlite3`` in the data directory, or PostgreSQL) holds no
identity; the index keys stay in the key store (``indexkey.check_apart`` refuses an index inside it). Several
instances may share a PostgreSQL index (the feed's consumer group splits the partitions); each applies the
rate limit on its own.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge

from services.intake.tokens import TokenBook
from services.kernel.audit_events import AuditEmitter
from services.kernel.errors import CrxError
from services.kernel.kafka import Producer, ensure_topics
from services.kernel.periodic import Periodic
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService, Wiring
from services.lookup.api import LookupApi, LookupHttpServer
from services.lookup.feed import NAME, LookupFeed
from services.lookup.index import LookupIndex
from services.lookup.keyadmin import key_store, open_index
from services.lookup.lookups import Lookups
from services.lookup.ratelimit import RateLimiter
from services.router.policy import Policy


class LookupMetrics:
    """The lookup service's own metric families (none carries an identity: actions and counts only)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.actions = Counter(
            "crx_lookup_feed_records", "Records of crx.records applied to the lookup index, by action", ["action"],
            registry=registry,
        )  # fmt: skip
        self.records = Gauge("crx_lookup_index_records", "Records in the lookup index", registry=registry)
        self.failed_passes = Counter(
            "crx_lookup_expiry_passes_failed", "Expiry passes of the lookup index that could not finish",
            registry=registry,
        )  # fmt: skip


def build(runtime: Runtime, *, ports: Ports) -> LookupService:
    """The lookup service as a runnable component: its API on ``ports.api`` (None: the configured
    ``lookup_port``; 0: a free port), its /metrics, /healthz, /readyz on ``ports.metrics``.

    Raises ConfigError (an index inside the keys directory), PolicyError (the agreements file), TransientError
    (the index database does not answer).
    """
    settings, wiring = runtime.settings, Wiring.of(runtime, NAME, ports)
    registry = wiring.registry
    index = open_index(settings)
    keys = key_store(settings)
    own = LookupMetrics(registry)
    feed = LookupFeed(runtime, wiring.metrics, index=index, keys=keys, actions=own.actions)
    audit_producer = Producer(settings, signer=runtime.signer(NAME))
    emitter = AuditEmitter(NAME, settings.topic("audit"), runtime.audit_secret)
    lookups = Lookups(
        index, keys, emitter, audit_producer.send_all, Policy.load(settings.agreements_file), runtime.clock
    )
    api = LookupApi(
        lookups,
        TokenBook.open(settings.intake_tokens_path),
        RateLimiter(settings.lookup_rate_per_minute, settings.lookup_burst),
        require_birth_date=settings.lookup_require_birth_date,
        registry=registry,
    )
    port = settings.lookup_port if ports.api is None else ports.api
    return LookupService(
        wiring,
        index=index,
        api=LookupHttpServer(api, settings.lookup_host, port),
        audit_producer=audit_producer,
        own=own,
        clock=runtime.clock,
        topics=[settings.topic("records")],
        output_topics=[settings.topic("audit"), settings.topic("dlq")],
        handler=feed.handle,
    )


class LookupService(StreamService):
    """The feed's stream service plus the API, its audit producer and the expiry pass."""

    def __init__(
        self,
        wiring: Wiring,
        *,
        index: LookupIndex,
        api: LookupHttpServer,
        audit_producer: Producer,
        own: LookupMetrics,
        clock: Callable[[], dt.datetime],
        **kwargs: Any,
    ) -> None:
        super().__init__(wiring, **kwargs)
        settings = wiring.settings
        self.index = index
        self.api = api
        self.audit_producer = audit_producer
        self.own_metrics = own
        self._clock = clock
        period = settings.retention_check_seconds
        self._expiry = Periodic(
            "crx-lookup-expiry",
            lambda: asyncio.to_thread(self.expire),
            period if period > 0 else None,  # 0: at start only
            errors=(CrxError,),
            on_error=self._expiry_failed,
        )
        own.records.set_function(self._record_count)

    def _record_count(self) -> float:
        """The index's record count for the gauge (NaN while the index does not answer: the scrape still works)."""
        try:
            return float(self.index.record_count())
        except CrxError:
            return float("nan")

    async def start(self) -> None:
        """Start the feed, the audit producer, the API, then the expiry pass (its first run at once)."""
        if self._started:
            return
        await ensure_topics(self._settings, [self._settings.topic("audit")])
        await self.audit_producer.start()
        await super().start()
        await self.api.start()
        self._expiry.start()
        self._log.info("lookup api started", api=self.api.url)

    async def stop(self) -> None:
        """Stop answering (requests in flight finish), the expiry pass, the feed (drains), then the producer."""
        if not self._started:
            return
        await self.api.stop()
        await self._expiry.stop()
        await super().stop()
        await self.audit_producer.stop()
        self.index.close()

    def expire(self, now: dt.datetime | None = None) -> int:
        """Remove the records whose retention end is ``now``'s day or earlier (default: the runtime's clock);
        returns how many were removed. Raises TransientError when the index does not
        answer."""
        today = (now or self._clock()).date()
        removed = self.index.expire(today)
        if removed:
            self.own_metrics.actions.labels("expired").inc(removed)
            self._log.info("expired records removed from the lookup index", removed=removed)
        return removed

    def _expiry_failed(self, exc: CrxError) -> None:
        """The index does not answer: counted, logged, and the next pass tries again."""
        self.own_metrics.failed_passes.inc()
        self._log.warning("lookup expiry pass failed; trying again", error_class=type(exc).__name__)
