"""The whole crx pipeline in one process: what ``crx demo`` and the integration tests run.

In production each service runs as its own process (``crx intake run``, ``crx normaliser run`` ...); here
they share an event loop but nothing else: each has its own consumer group, producer, metrics registry and
ops port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from prometheus_client import CollectorRegistry

from services.audit import writer as audit_writer
from services.audit.notekey import ensure_note_key, load_note_verifiers
from services.audit.store import AuditStore, VerifyResult, open_store
from services.intake.publisher import FeedPublisher
from services.intake.service import IntakeService
from services.kernel.audit_events import load_audit_secret
from services.kernel.config import Settings
from services.kernel.kafka import Producer, ensure_topics, standard_topics
from services.kernel.service import StreamService
from services.keys.ring import KeyRing, generate_party_keys
from services.normaliser import service as normaliser
from services.partner import client as partner
from services.partner.logwatch import LogWatcher
from services.router import service as router
from services.router.policy import Policy


def ensure_keys(settings: Settings, parties: Sequence[str], now: dt.datetime) -> KeyRing:
    """Open the key ring, generating encryption and signing keys for any party that has none (demo use).

    For the broker party, also the audit log's checkpoint (note) key (see ``services.audit.notekey``).
    """
    passphrase = settings.key_passphrase.reveal().encode() if settings.key_passphrase else None
    ring = KeyRing.open(settings.keys_dir, passphrase)
    changed = False
    for party in parties:
        if not ring.registry.entries(party):
            generate_party_keys(ring.registry, ring.store, party, now=now)
            changed = True
    if changed:
        ring.registry.save()
    if settings.broker_party in parties:
        ensure_note_key(settings)
    return ring


@dataclass
class Pipeline:
    """Intake (HTTP, drop directory, publisher), normaliser, router, audit writer and partner clients."""

    settings: Settings
    keyring: KeyRing
    store: AuditStore
    intake: IntakeService
    services: list[StreamService]
    audit: audit_writer.AuditWriter
    out_dir: Path
    audit_service: audit_writer.AuditService
    _started: bool = field(default=False)

    @classmethod
    def build(
        cls,
        settings: Settings,
        keyring: KeyRing,
        *,
        partners: Sequence[str],
        base_port: int = 0,
        sinks: Mapping[str, partner.Sink] | None = None,
        intake_port: int | None = 0,
        audit_api_port: int | None = 0,
    ) -> Pipeline:
        """Compose every service. ``base_port`` 0 gives each ops server a free port; else consecutive ports.

        Partner clients write JSON files under ``data_dir/out/<party>`` unless ``sinks`` names another sink.
        The intake's HTTP API listens on ``intake_port``, the audit proof API on ``audit_api_port`` (0: a free
        port; None: the configured one).
        """
        secret = load_audit_secret(settings.audit_secret.reveal() if settings.audit_secret else None, settings.data_dir)
        policy = Policy.load(settings.agreements_file)
        store = open_store(settings)
        port = (lambda i: base_port + i) if base_port else (lambda i: 0)
        audit_service, writer = audit_writer.build(
            settings, keyring, store, secret, CollectorRegistry(), port(2), api_port=audit_api_port
        )
        services = [
            normaliser.build(settings, keyring, secret, CollectorRegistry(), port(0)),
            router.build(settings, keyring, secret, CollectorRegistry(), policy, port(1)),
            audit_service,
        ]
        out_dir = settings.data_dir / "out"
        verifiers = load_note_verifiers(settings)
        api = audit_service.api
        for i, party in enumerate(partners):
            out = (sinks or {}).get(party) or out_dir / party
            registry = CollectorRegistry()
            state = settings.data_dir / "logwatch" / f"{party}.sqlite3"  # each partner proves its own events
            watcher = LogWatcher(party, lambda: api.url, verifiers, settings.audit_log_origin, state, registry)
            services.append(partner.build(settings, keyring, party, out, registry, port(3 + i), watcher))
        intake = IntakeService(
            settings, keyring, secret, CollectorRegistry(), http_port=intake_port, metrics_port=port(3 + len(partners))
        )
        return cls(settings, keyring, store, intake, services, writer, out_dir, audit_service)

    @property
    def publisher(self) -> FeedPublisher:
        """The intake's publisher: what ``crx push`` does, in process."""
        return self.intake.publisher

    @property
    def producer(self) -> Producer:
        """The intake's producer (started with the pipeline)."""
        return self.intake.producer

    async def start(self) -> None:
        """Create the topics, then start every service and the publisher's producer."""
        if self._started:
            return
        self._started = True
        await ensure_topics(self.settings, standard_topics(self.settings))
        await self.intake.start()
        # Concurrently: each consumer-group join takes about session_timeout / 2 on its own.
        await asyncio.gather(*(service.start() for service in self.services))

    async def stop(self) -> None:
        """Stop taking submissions, then stop services in reverse order (each drains its batch and commits)."""
        if not self._started:
            return
        self._started = False
        await self.intake.stop()
        for service in reversed(self.services):
            await service.stop()
        self.store.close()

    def verify_audit(self) -> VerifyResult:
        """Verify the audit store against the log's checkpoint key(s) (``audit-note.vkey``)."""
        return self.store.verify(load_note_verifiers(self.settings))

    @property
    def audit_api_url(self) -> str:
        """Base URL of the audit service's proof API."""
        return self.audit_service.api.url

    def ops_urls(self) -> dict[str, str]:
        """Base URL of every service's /metrics, /healthz, /readyz."""
        urls = {self.intake.name: self.intake.ops.url}
        urls.update((s.name, s.ops.url) for s in self.services)
        return urls
