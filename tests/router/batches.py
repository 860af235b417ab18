"""The router's handler without a broker: canonical records as the normaliser puts them on crx.records
(sealed to the broker, one batch signed by the normaliser) and a router over a given disclosure ledger."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.ledger.lifecycle import key_of
from services.ledger.store import DisclosureLedger
from services.normaliser.service import RECORD_CONTENT_TYPE
from services.router.policy import Policy
from services.router.service import Router
from tests.fixtures.keys import consumed, signed


def on_records(
    settings: Settings, keyring: KeyRing, records: Sequence[CriminalRecord]
) -> list[ConsumerRecord[Any, Any]]:
    """``records`` as the router consumes them: each sealed to the broker with its record key as Kafka key,
    the whole signed as one batch by the normaliser."""
    rec_codec = typed_codec(CANONICAL_RECORD)
    sealer = Sealer(keyring.registry, keyring.store, settings.broker_party)
    now = dt.datetime.now(dt.UTC)
    produced = []
    for i, record in enumerate(records):
        ctx = SealContext(
            channel="records", message_id=str(record["header"]["message_id"]), correlation_id=f"submission-{i}",
            sender=settings.broker_party, recipient=settings.broker_party, content_type=RECORD_CONTENT_TYPE,
            schema_fingerprint=rec_codec.fingerprint,
        )  # fmt: skip
        sealed = sealer.seal(rec_codec.encode(record), ctx, now)
        key = bytes.fromhex(key_of(record))
        produced.append(OutRecord(settings.topic("records"), sealed, key=key, headers=routing_headers(ctx)))
    return consumed(signed(settings, keyring, "normaliser", produced))


def router(settings: Settings, keyring: KeyRing, ledger: DisclosureLedger) -> Router:
    """The router under the packaged agreements, with ``ledger`` and no case book."""
    registry = CollectorRegistry()
    metrics = ServiceMetrics.create(registry)
    return Router(Runtime(settings, keyring, b"secret"), Policy.load(None), metrics, None, registry, ledger)
