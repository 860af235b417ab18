"""Crypto-shredding on the real broker: the copies Kafka keeps of records sealed to an epoch key cannot be
opened once that key is destroyed, while the pipeline goes on with the next key."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from schemas import ENVELOPE
from services.audit.accounting import account
from services.intake.publisher import Submission
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.errors import KeyDestroyed
from services.kernel.hop import HopRecord, is_hop
from services.kernel.internal import InternalReader
from services.kernel.runtime import passphrase_of
from services.keys.epochs import destroy
from services.keys.lifecycle import rotate
from services.keys.ring import KeyRing, editing
from tests.integration.helpers import read_topic, running, sample, wait_for

pytestmark = pytest.mark.integration


def _key_id(value: bytes) -> str:
    """The broker key a copy is sealed to (format 2: the one its data key is wrapped to)."""
    return (
        HopRecord.parse(value).recipient_key_id
        if is_hop(value)
        else str(codec(ENVELOPE).decode(value)["recipient_key_id"])
    )


@pytest.mark.parametrize("internal_format", [1, 2])
async def test_copies_on_the_broker_are_unreadable_once_their_epoch_key_is_destroyed(
    settings: Settings, keyring: KeyRing, internal_format: int
) -> None:
    """A notification goes through while key K is the broker's; the epoch moves on (K retiring, then destroyed
    from the operator's side, with the services running) and a second one goes through under the new key.
    Every copy still on crx.feed.DE and crx.records that is sealed to K now raises KeyDestroyed, for the
    services and for an operator holding the passphrase; every copy sealed to the new key opens. In either
    internal format (format 2: its data keys are wrapped to K)."""
    settings = settings.replace(internal_format=internal_format)
    async with running(settings, keyring) as pipeline:
        now = dt.datetime.now(dt.UTC)
        old = keyring.registry.active(settings.broker_party, "encryption", now).key_id
        [first] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", sample("DE-notification-fr.json"))], now
        )
        await wait_for(lambda: account(pipeline.store, [first.submission_id]).complete)

        with editing(settings.keys_dir / "registry.json") as registry:  # what `crx keys epoch` does, forced
            operator = KeyRing(registry, KeyRing.open(settings.keys_dir, passphrase_of(settings)).store)
            rotate(operator, settings.broker_party, "encryption", now)
            destroy(operator, settings, settings.broker_party, old, now, force=True)
        keyring.registry.refresh(force=True)
        new = keyring.registry.active(settings.broker_party, "encryption", dt.datetime.now(dt.UTC)).key_id

        later = dt.datetime.now(dt.UTC)
        [second] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", sample("DE-notification-de.json"))], later
        )
        await wait_for(lambda: account(pipeline.store, [second.submission_id]).complete)

    for logical in ("feed.DE", "records"):
        copies = await read_topic(settings, settings.topic(logical))
        assert all(is_hop(r.value) == (internal_format == 2) for r in copies)
        for reader in (keyring, KeyRing.open(settings.keys_dir, passphrase_of(settings))):
            opener = InternalReader(settings, reader)
            outcomes: Counter[str] = Counter()
            for rec in copies:
                key_id = _key_id(rec.value)
                try:
                    opener.open(rec, channel=logical, signers=frozenset({"DE", "crx"}), now=dt.datetime.now(dt.UTC))
                    outcomes[f"opened {key_id}"] += 1
                except KeyDestroyed:
                    outcomes[f"destroyed {key_id}"] += 1
            assert set(outcomes) == {f"destroyed {old}", f"opened {new}"}, (logical, outcomes)
