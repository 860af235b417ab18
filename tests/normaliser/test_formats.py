"""The normaliser reads both internal formats on ``feed.<J>`` and writes ``records`` in ``internal_format``; a
format-2 feed record is opened only under a batch signature allowed to carry it (the intake, or ``crx.dlq``
replaying), never J's own; format-2 key lifecycle: a destroyed broker key dead-letters, one not here yet waits.

Real keys, real crypto, real batch signatures; no broker.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from aiokafka import ConsumerRecord

from adapters.base import ParseContext, get_adapter
from schemas import AUDIT_EVENT, CANONICAL_RECORD, DEAD_LETTER
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import SealContext, Sealer, routing_headers
from services.kernel.errors import KeyUnavailable, handling
from services.kernel.hop import HopContext, HopRecord, HopSealer, is_hop
from services.kernel.internal import InternalReader
from services.kernel.kafka import OutRecord
from services.keys import epochs, lifecycle
from services.keys.ring import KeyRing
from tests.fixtures.keys import consumed, make_keyring, signed
from tests.normaliser.test_normaliser import _by_topic as by_topic
from tests.normaliser.test_normaliser import _normaliser as normaliser

SAMPLE = "DE-notification-fr-pl.json"
PAYLOAD = dict(get_adapter("json-v1").samples())[SAMPLE]


def _ctx(offset: int) -> SealContext:
    return SealContext(channel="feed.DE", message_id=f"submission-{offset}", correlation_id=f"submission-{offset}",
                       sender="DE", recipient="crx", content_type="feed/json-v1")  # fmt: skip


def feed_value(keyring: KeyRing, *, fmt: int, producer: str = "crx.intake", offset: int = 0) -> bytes:
    """PAYLOAD sealed for crx.feed.DE: format 1 signed by DE, or format 2 naming ``producer``."""
    ctx, now = _ctx(offset), dt.datetime.now(dt.UTC)
    if fmt == 1:
        return Sealer(keyring.registry, keyring.store, "DE").seal(PAYLOAD, ctx, now)
    hop = HopContext(ctx.channel, ctx.message_id, ctx.correlation_id, ctx.content_type)
    return HopSealer(keyring.registry, "crx", producer).seal(PAYLOAD, hop, now)


def on_feed(
    settings: Settings, keyring: KeyRing, value: bytes, batch_signer: str | None, offset: int = 0
) -> ConsumerRecord[Any, Any]:
    """``value`` consumed from crx.feed.DE in a batch signed by ``batch_signer`` (None: unsigned)."""
    produced = [OutRecord(settings.topic("feed.DE"), value, headers=routing_headers(_ctx(offset)))]
    batch = produced if batch_signer is None else signed(settings, keyring, batch_signer, produced)
    [record] = consumed(batch, offset=offset, timestamp=int(dt.datetime.now(dt.UTC).timestamp() * 1000))
    return record


def letters(settings: Settings, outputs: list[OutRecord]) -> list[dict[str, Any]]:
    return [codec(DEAD_LETTER).decode(o.value) for o in by_topic(outputs).get(settings.topic("dlq"), [])]


@pytest.mark.parametrize("written", [1, 2])
@pytest.mark.parametrize("read", [1, 2])
async def test_either_feed_format_becomes_records_in_the_configured_format(
    settings: Settings, keyring: KeyRing, read: int, written: int
) -> None:
    """A feed record in either format (format 1 signed by DE, format 2 sealed by the intake) is normalised into
    records in ``internal_format``, which the router's reader opens (format 2 under the normaliser's batch
    signature): the same canonical records, the submission id as correlation id."""
    config = settings.replace(internal_format=written)
    feed = on_feed(config, keyring, feed_value(keyring, fmt=read), "intake")

    topics = by_topic(await normaliser(config, keyring).handle([feed]))

    records = topics[config.topic("records")]
    assert records and all(is_hop(r.value) == (written == 2) for r in records)
    reader, now = InternalReader(config, keyring), dt.datetime.now(dt.UTC)
    for rec in consumed(signed(config, keyring, "normaliser", records)):
        opened = reader.open(rec, channel="records", signers=frozenset({"crx"}), now=now)
        assert codec(CANONICAL_RECORD).decode(opened.plaintext)["header"]["source_jurisdiction"] == "DE"
        assert opened.envelope["correlation_id"] == "submission-0"
        if written == 2:
            assert HopRecord.parse(rec.value).producer == "crx.normaliser"
    assert {codec(AUDIT_EVENT).decode(a.value)["event_type"] for a in topics[config.topic("audit")]} == {
        "NORMALISATION"
    }


@pytest.mark.parametrize(
    ("batch_signer", "producer", "accepted"),
    [
        ("intake", "crx.intake", True),
        ("dlq", "crx.intake", True),  # `crx dlq replay` sends the intake's bytes back
        ("dlq", "crx.dlq", True),  # a payload refused at the door, resubmitted by `crx dlq replay`
        ("DE", "crx.intake", False),  # J may write its own feed, in format 1 only
        ("intake", "crx.dlq", False),  # the record names a producer other than its batch signer
        ("intake", "crx.normaliser", False),  # a component that does not seal feeds
    ],
)
async def test_a_format2_feed_record_opens_only_under_a_batch_signature_allowed_to_carry_it(
    settings: Settings, keyring: KeyRing, batch_signer: str, producer: str, accepted: bool
) -> None:
    """Format 2 carries no signature of its own: its batch signer must be one that seals format 2 on the feed
    (the intake) or ``crx.dlq``, and the producer it names must match. Any other (DE's own batch, which the
    gate lets through for DE's format-1 envelopes) is dead-lettered as ENVELOPE, never normalised."""
    feed = on_feed(settings, keyring, feed_value(keyring, fmt=2, producer=producer), batch_signer)

    outputs = await normaliser(settings, keyring).handle([feed])

    if accepted:
        assert settings.topic("records") in by_topic(outputs) and not letters(settings, outputs)
    else:
        assert settings.topic("records") not in by_topic(outputs)
        [letter] = letters(settings, outputs)
        assert (letter["reason_code"], letter["stage"]) == ("ENVELOPE", "normaliser")


async def test_a_format2_feed_record_without_a_batch_proof_is_never_opened(
    settings: Settings, keyring: KeyRing
) -> None:
    """Unsigned, it is refused by the gate (an ERROR event, nothing else); handed to ``one`` directly (no gate)
    it is still not opened: the reader checks the proof itself and dead-letters it; with its proof it opens."""
    value = feed_value(keyring, fmt=2)
    stage = normaliser(settings, keyring)
    outputs = await stage.handle([on_feed(settings, keyring, value, None)])
    [error] = [codec(AUDIT_EVENT).decode(o.value) for o in outputs]
    assert (error["event_type"], error["reason"]) == ("ERROR", "UNAUTHENTICATED_UNSIGNED")
    now = dt.datetime.now(dt.UTC)
    [letter] = letters(settings, stage.one(on_feed(settings, keyring, value, None), now))
    assert letter["reason_code"] == "ENVELOPE"
    assert settings.topic("records") in by_topic(stage.one(on_feed(settings, keyring, value, "intake"), now))


async def test_a_format1_feed_record_still_reads_after_the_switch(settings: Settings, keyring: KeyRing) -> None:
    """A batch mixing a format-1 envelope (an intake before the switch, or DE's own `crx push`) and a format-2
    record is normalised whole."""
    batch = [
        on_feed(settings, keyring, feed_value(keyring, fmt=1, offset=0), "intake", offset=0),
        on_feed(settings, keyring, feed_value(keyring, fmt=1, offset=1), "DE", offset=1),
        on_feed(settings, keyring, feed_value(keyring, fmt=2, offset=2), "intake", offset=2),
    ]
    outputs = await normaliser(settings, keyring).handle(batch)
    assert not letters(settings, outputs)
    expected = get_adapter("json-v1").parse(PAYLOAD, ParseContext("DE", dt.datetime.now(dt.UTC)))
    assert len(by_topic(outputs)[settings.topic("records")]) == 3 * len(expected)


async def test_format2_under_a_destroyed_broker_key_is_dead_lettered(settings: Settings, keyring: KeyRing) -> None:
    """Crypto-shredding: a format-2 feed record whose data key is wrapped to a destroyed epoch key is a dead
    letter KEY_DESTROYED (never retried); one under the new key is normalised."""
    old = on_feed(settings, keyring, feed_value(keyring, fmt=2, offset=0), "intake", offset=0)
    now = dt.datetime.now(dt.UTC)
    old_key = HopRecord.parse(old.value).recipient_key_id
    lifecycle.rotate(keyring, "crx", "encryption", now)
    epochs.destroy(keyring, settings, "crx", old_key, now, force=True)
    new = on_feed(settings, keyring, feed_value(keyring, fmt=2, offset=1), "intake", offset=1)

    outputs = await normaliser(settings, keyring).handle([old, new])

    [letter] = letters(settings, outputs)
    assert (letter["source_offset"], letter["reason_code"], letter["retriable"]) == (0, "KEY_DESTROYED", False)
    assert settings.topic("records") in by_topic(outputs)


async def test_format2_under_a_broker_key_not_here_yet_waits(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """A node whose key store has not caught up with a rotation (the new epoch key is not in its registry yet)
    does not dead-letter a format-2 record sealed to it: the batch raises KeyUnavailable (retried with
    backoff); once the key arrives (hot reload), the same batch is normalised."""
    lagging = settings.replace(data_dir=tmp_path / "lagging")
    shutil.copytree(settings.data_dir, lagging.data_dir)
    lifecycle.rotate(keyring, "crx", "encryption", dt.datetime.now(dt.UTC))
    keyring.registry.save()
    feed = on_feed(settings, keyring, feed_value(keyring, fmt=2), "intake")
    stage = normaliser(lagging, make_keyring(lagging))

    with pytest.raises(KeyUnavailable) as info:
        await stage.handle([feed])
    assert handling(info.value) == "retry"

    shutil.copytree(settings.keys_dir, lagging.keys_dir, dirs_exist_ok=True)  # the rotation reaches this node
    outputs = await stage.handle([feed])
    assert settings.topic("records") in by_topic(outputs) and not letters(settings, outputs)
