"""A submission the intake publishes again (its reconciler, after a broker lost it) is the same act: the same
feed envelope at another offset and time gives the same canonical record, NORMALISATION events that differ
only in ``occurred_at``, and the same dead letter."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from adapters.base import get_adapter
from schemas import AUDIT_EVENT, DEAD_LETTER
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.normaliser.service import Normaliser
from tests.fixtures.keys import consumed, signed


def _twice(settings: Settings, keyring: KeyRing, payload: bytes) -> list[ConsumerRecord[Any, Any]]:
    """One sealed feed envelope, consumed at offset 3 and again, a minute later by the broker's clock, at 90."""
    ctx = SealContext("feed.DE", "sub-1", "sub-1", "DE", "crx", "feed/json-v1")
    sealed = Sealer(keyring.registry, keyring.store, "DE").seal(payload, ctx, dt.datetime.now(dt.UTC))
    produced = OutRecord(settings.topic("feed.DE"), sealed, headers=routing_headers(ctx))
    now_ms = int(dt.datetime.now(dt.UTC).timestamp() * 1000)
    return [
        consumed(signed(settings, keyring, "intake", [produced]), offset=offset, timestamp=at)[0]
        for offset, at in ((3, now_ms), (90, now_ms + 60_000))
    ]


def _normaliser(settings: Settings, keyring: KeyRing) -> Normaliser:
    registry = CollectorRegistry()
    return Normaliser(Runtime(settings, keyring, b"secret"), ServiceMetrics.create(registry), registry)


def _events(outputs: list[OutRecord], settings: Settings) -> list[dict[str, Any]]:
    return [codec(AUDIT_EVENT).decode(o.value) for o in outputs if o.topic == settings.topic("audit")]


async def test_a_republished_submission_is_normalised_into_the_same_act(settings: Settings, keyring: KeyRing) -> None:
    payload = dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"]
    first, again = _twice(settings, keyring, payload)
    normaliser = _normaliser(settings, keyring)
    one, two = _events(await normaliser.handle([first]), settings), _events(await normaliser.handle([again]), settings)
    assert [e["event_id"] for e in one] == [e["event_id"] for e in two]
    assert [e | {"occurred_at": None} for e in one] == [e | {"occurred_at": None} for e in two]


async def test_a_republished_submission_is_the_same_dead_letter(settings: Settings, keyring: KeyRing) -> None:
    first, again = _twice(settings, keyring, b'{"record_id": "truncated')
    normaliser = _normaliser(settings, keyring)
    outputs = [await normaliser.handle([first]), await normaliser.handle([again])]
    letters = [codec(DEAD_LETTER).decode(o.value) for out in outputs for o in out if o.topic == settings.topic("dlq")]
    assert len(letters) == 2 and letters[0]["dead_letter_id"] == letters[1]["dead_letter_id"]
    assert letters[0]["source_offset"] == 3 and letters[1]["source_offset"] == 90  # where each was read, in clear
    events = [e for out in outputs for e in _events(out, settings)]
    assert [e["event_type"] for e in events] == ["DEAD_LETTER", "DEAD_LETTER"]
    assert events[0]["event_id"] == events[1]["event_id"]
