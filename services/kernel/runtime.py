"""What every service is built from: one frozen ``Runtime`` per process, and the ports a service listens on.

The composition root (``services.app``) makes the runtime once, from settings, and hands it to each
service's ``build(runtime, *, ports)``. Nothing in a runtime changes after it is made: the key ring reloads
its registry by itself (key rotation needs no restart), and every service gets a metrics registry of its
own from ``new_registry`` so that two services in one process never share a time series.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry

from services.kernel.audit_events import load_audit_secret
from services.kernel.batchauth import BatchSigner
from services.kernel.config import Settings
from services.kernel.producers import component_party
from services.keys.ring import KeyRing


def utc_now() -> dt.datetime:
    """The current time, timezone-aware UTC (the runtime's default clock)."""
    return dt.datetime.now(dt.UTC)


def passphrase_of(settings: Settings) -> bytes | None:
    """The private-key passphrase as bytes, or None when keys are stored unencrypted."""
    return settings.key_passphrase.reveal().encode() if settings.key_passphrase else None


@dataclass(frozen=True)
class Ports:
    """Where one service listens. ``metrics``: its /metrics, /healthz, /readyz (0: a free port); ``api``: its
    own HTTP API where it has one (the intake's submissions, the audit log's proofs; None: the configured port,
    0: a free port)."""

    metrics: int = 0
    api: int | None = None


@dataclass(frozen=True)
class Runtime:
    """Settings, this node's key ring, the audit commitment secret, the clock and a metrics registry factory."""

    settings: Settings
    keyring: KeyRing
    audit_secret: bytes = field(repr=False)
    clock: Callable[[], dt.datetime] = utc_now
    new_registry: Callable[[], CollectorRegistry] = CollectorRegistry

    @classmethod
    def create(cls, settings: Settings, keyring: KeyRing | None = None) -> Runtime:
        """The runtime for ``settings``: the key ring under ``keys_dir`` (unless given) and the audit secret
        (the configured one, else ``data_dir/audit.secret``, created on first use).

        Raises KeyUnavailable when the key registry exists but is not valid.
        """
        ring = keyring or KeyRing.open(settings.keys_dir, passphrase_of(settings))
        secret = load_audit_secret(settings.audit_secret.reveal() if settings.audit_secret else None, settings.data_dir)
        return cls(settings, ring, secret)

    def signer(self, component: str) -> BatchSigner:
        """The batch signer of ``component`` (one of ``producers.COMPONENTS``): it signs every batch the
        component produces with the component's own key, party ``<broker party>.<component>``, and loads that
        private key alone. Raises ConfigError for an unknown component."""
        return BatchSigner(component_party(self.settings.broker_party, component), self.keyring)
