"""The router reads both internal formats on ``crx.records``: what the normaliser writes in either format, a
format-2 record sent back by ``crx dlq replay``; a format-2 record naming a producer that does not seal
``records`` is dead-lettered. What it sends (``out.<J>``) stays format 1 whatever ``internal_format`` says.

Real keys, real crypto, real batch signatures; no broker.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from schemas import CANONICAL_RECORD, DEAD_LETTER
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.hop import HopContext, HopSealer, is_hop
from services.kernel.internal import InternalReader
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.normaliser.service import RECORD_CONTENT_TYPE
from services.router.policy import Policy
from services.router.service import Router
from tests.fixtures.keys import consumed, signed
from tests.normaliser.test_formats import feed_value, on_feed
from tests.normaliser.test_normaliser import _by_topic as by_topic
from tests.normaliser.test_normaliser import _normaliser as normaliser


async def records_of(settings: Settings, keyring: KeyRing, fmt: int) -> list[OutRecord]:
    """What the normaliser writes on crx.records for the sample (DE about an FR+PL national) in format ``fmt``."""
    config = settings.replace(internal_format=fmt)
    outputs = await normaliser(config, keyring).handle([on_feed(config, keyring, feed_value(keyring, fmt=2), "intake")])
    return by_topic(outputs)[settings.topic("records")]


def router(settings: Settings, keyring: KeyRing) -> Router:
    registry = CollectorRegistry()
    return Router(
        Runtime(settings, keyring, b"secret"), Policy.load(None), ServiceMetrics.create(registry), None, registry
    )


def delivered(settings: Settings, keyring: KeyRing, outputs: list[OutRecord]) -> dict[str, list[str]]:
    """Per recipient, the message ids of what it got, each opened as that partner opens it (format 1)."""
    got: dict[str, list[str]] = {}
    now = dt.datetime.now(dt.UTC)
    for party in ("FR", "PL"):
        for out in by_topic(outputs).get(settings.topic(f"out.{party}"), []):
            assert not is_hop(out.value)
            opened = Opener(keyring.registry, keyring.store, party).open(
                out.value, channel=f"out.{party}", now=now, signers=frozenset({"crx"})
            )
            got.setdefault(party, []).append(
                str(codec(CANONICAL_RECORD).decode(opened.plaintext)["header"]["message_id"])
            )
    return got


@pytest.mark.parametrize(("fmt", "batch_signer"), [(1, "normaliser"), (2, "normaliser"), (2, "dlq"), (1, "dlq")])
async def test_the_router_routes_either_format(
    settings: Settings, keyring: KeyRing, fmt: int, batch_signer: str
) -> None:
    """A record the normaliser wrote in either format, under its own batch signature or sent back by `crx dlq
    replay` (``crx.dlq`` signs the batch, the record still names the normaliser), is delivered to FR and PL
    in format 1, sealed to each."""
    records = await records_of(settings, keyring, fmt)
    assert all(is_hop(r.value) == (fmt == 2) for r in records)

    outputs = await router(settings, keyring).handle(consumed(signed(settings, keyring, batch_signer, records)))

    assert settings.topic("dlq") not in by_topic(outputs)
    got = delivered(settings, keyring, outputs)
    assert set(got) == {"FR", "PL"} and len(got["FR"]) == len(records)


def _records_by(settings: Settings, keyring: KeyRing, producer: str, plaintext: bytes) -> ConsumerRecord[Any, Any]:
    """``plaintext`` as a format-2 record on crx.records naming ``producer``, in a batch the normaliser signed."""
    ctx = HopContext("records", "m-1", "s-1", RECORD_CONTENT_TYPE, codec(CANONICAL_RECORD).fingerprint)
    value = HopSealer(keyring.registry, "crx", producer).seal(plaintext, ctx, dt.datetime.now(dt.UTC))
    [rec] = consumed(signed(settings, keyring, "normaliser", [OutRecord(settings.topic("records"), value)]))
    return rec


async def test_a_format2_record_naming_another_producer_is_dead_lettered(settings: Settings, keyring: KeyRing) -> None:
    """Under the normaliser's batch signature, a format-2 record naming the intake (which does not seal
    crx.records) is not opened: a dead letter, reason ENVELOPE; the same record naming the normaliser is routed."""
    [first, *_] = await records_of(settings, keyring, 2)
    [rec] = consumed(signed(settings, keyring, "normaliser", [first]))
    reader = InternalReader(settings, keyring)
    plaintext = reader.open(rec, channel="records", signers=frozenset({"crx"}), now=dt.datetime.now(dt.UTC)).plaintext

    outputs = await router(settings, keyring).handle([_records_by(settings, keyring, "crx.intake", plaintext)])
    [letter] = [codec(DEAD_LETTER).decode(o.value) for o in by_topic(outputs)[settings.topic("dlq")]]
    assert (letter["stage"], letter["reason_code"]) == ("router", "ENVELOPE")
    assert not delivered(settings, keyring, outputs)

    outputs = await router(settings, keyring).handle([_records_by(settings, keyring, "crx.normaliser", plaintext)])
    assert settings.topic("dlq") not in by_topic(outputs) and delivered(settings, keyring, outputs)
