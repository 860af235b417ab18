"""The whole crx pipeline in one process: what ``crx demo``, the integration tests and the bench run.

In production each service runs as its own process (``crx intake run``, ``crx normaliser run`` ...), built
from the same table (``services.app.table``); here they share an event loop but nothing else: each has its
own consumer group, producer, metrics registry and ops port.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from services.app.table import SERVICES
from services.audit import writer as audit_writer
from services.audit.notekey import ensure_note_key, load_note_verifiers
from services.audit.store import AuditStore, VerifyResult
from services.intake.publisher import FeedPublisher
from services.intake.service import IntakeService
from services.kernel.config import Settings
from services.kernel.kafka import Producer, ensure_topics, standard_topics
from services.kernel.lifecycle import Component
from services.kernel.runtime import Ports, Runtime, passphrase_of
from services.kernel.service import StreamService
from services.keys.lifecycle import generate_components
from services.keys.ring import KeyRing, generate_party_keys
from services.lookup.keyadmin import key_store
from services.lookup.service import LookupService
from services.partner import client as partner


def ensure_keys(settings: Settings, parties: Sequence[str], now: dt.datetime) -> KeyRing:
    """Open the key ring, generating encryption and signing keys for any party that has none (demo use).

    For the broker party, also a signing key for each of its components that has none (what authenticates
    the batches each produces, ``services.kernel.batchauth``), the audit log's checkpoint (note) key (see
    ``services.audit.notekey``) and a lookup index key when there is none (``services.lookup.indexkey``).
    """
    ring = KeyRing.open(settings.keys_dir, passphrase_of(settings))
    changed = False
    for party in parties:
        if not ring.registry.entries(party):
            generate_party_keys(ring.registry, ring.store, party, now=now)
            changed = True
    if settings.broker_party in parties and generate_components(ring, settings.broker_party, now):
        changed = True
    if changed:
        ring.registry.save()
    if settings.broker_party in parties:
        ensure_note_key(settings)
        keys = key_store(settings)
        if not keys.key_ids():
            keys.create(now)
    return ring


@dataclass
class Pipeline:
    """Every service of the table (``services.app.table``) plus partner clients, in one event loop."""

    runtime: Runtime
    components: dict[str, Component]
    partners: list[partner.PartnerService]
    out_dir: Path
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
        lookup_port: int | None = 0,
    ) -> Pipeline:
        """Build every service of the table, then a partner client per party in ``partners``.

        ``base_port`` 0 gives each ops server a free port; else consecutive ports in table order, then the
        partners'. Partner clients write JSON files under ``data_dir/out/<party>`` unless ``sinks`` names
        another sink, and prove their events against this pipeline's audit log. The intake's HTTP API listens
        on ``intake_port``, the audit proof API on ``audit_api_port``, the lookup API on ``lookup_port`` (0: a free
        port; None: the configured one).
        """
        runtime = Runtime.create(settings, keyring)
        port = (lambda i: base_port + i) if base_port else (lambda i: 0)
        api_ports = {"intake": intake_port, "audit": audit_api_port, "lookup": lookup_port}
        components = {
            name: build(runtime, ports=Ports(port(i), api_ports.get(name)))
            for i, (name, build) in enumerate(SERVICES.items())
        }
        audit = components["audit"]
        assert isinstance(audit, audit_writer.AuditService)
        out_dir = settings.data_dir / "out"
        clients = [
            partner.build(
                runtime,
                ports=Ports(port(len(SERVICES) + i)),
                party=party,
                sink=(sinks or {}).get(party) or out_dir / party,
                audit_url=lambda: audit.api.url,
            )
            for i, party in enumerate(partners)
        ]
        return cls(runtime, components, clients, out_dir)

    @property
    def settings(self) -> Settings:
        """The pipeline's settings."""
        return self.runtime.settings

    @property
    def intake(self) -> IntakeService:
        """The intake service (HTTP API, drop directory, publisher)."""
        intake = self.components["intake"]
        assert isinstance(intake, IntakeService)
        return intake

    @property
    def audit_service(self) -> audit_writer.AuditService:
        """The audit writer's service (its store, its proof API)."""
        audit = self.components["audit"]
        assert isinstance(audit, audit_writer.AuditService)
        return audit

    @property
    def store(self) -> AuditStore:
        """The audit store the audit service appends to."""
        return self.audit_service.store

    @property
    def services(self) -> list[StreamService]:
        """Every consume-transform-produce service: the table's stream services, then the partner clients."""
        streams = [c for c in self.components.values() if isinstance(c, StreamService)]
        return [*streams, *self.partners]

    @property
    def publisher(self) -> FeedPublisher:
        """The intake's publisher: what ``crx push`` does, in process."""
        return self.intake.publisher

    @property
    def producer(self) -> Producer:
        """The intake's producer (started with the pipeline)."""
        return self.intake.producer

    async def start(self) -> None:
        """Create the topics, start the intake, then every other service and the partner clients together."""
        if self._started:
            return
        self._started = True
        await ensure_topics(self.settings, standard_topics(self.settings))
        await self.intake.start()
        # Concurrently: each consumer-group join takes about session_timeout / 2 on its own.
        rest = [c for name, c in self.components.items() if name != "intake"]
        await asyncio.gather(*(c.start() for c in [*rest, *self.partners]))

    async def stop(self) -> None:
        """Stop taking submissions, then stop the others in reverse order (each drains its batch and commits)."""
        if not self._started:
            return
        self._started = False
        for component in reversed([*self.components.values(), *self.partners]):
            await component.stop()

    def verify_audit(self) -> VerifyResult:
        """Verify the audit store against the log's checkpoint key(s) (``audit-note.vkey``)."""
        return self.store.verify(load_note_verifiers(self.settings))

    @property
    def audit_api_url(self) -> str:
        """Base URL of the audit service's proof API."""
        return self.audit_service.api.url

    @property
    def lookup_api_url(self) -> str:
        """Base URL of the lookup service's API (``POST /v1/lookups``)."""
        service = self.components["lookup"]
        assert isinstance(service, LookupService)
        return service.api.url

    def ops_urls(self) -> dict[str, str]:
        """Base URL of every service's /metrics, /healthz, /readyz."""
        urls = {self.intake.name: self.intake.ops.url}
        urls.update((s.name, s.ops.url) for s in self.services)
        return urls
