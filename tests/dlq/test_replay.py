"""Dead letters are replayed once their cause is fixed; the books follow, nothing is duplicated."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner

from schemas import DEAD_LETTER
from services.audit.accounting import account
from services.audit.notekey import load_note_verifiers
from services.cli import main
from services.dlq.replay import ReplayError, read_dead_letters, replay, summary
from services.intake.publisher import Submission
from services.intake.reconciler import Undelivered
from services.kernel.audit_events import AuditEmitter, load_audit_secret
from services.kernel.auditbatch import audit_events_of
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.deadletter import RECONCILER_STAGE, DeadLetters
from services.kernel.envelope import SealContext, Sealer
from services.kernel.errors import UnmappedCode
from services.kernel.hop import HopRecord
from services.kernel.internal import batch_signer
from services.kernel.kafka import Producer, ensure_topics, standard_topics
from services.keys.epochs import destroy
from services.keys.lifecycle import rotate
from services.keys.ring import KeyRing
from tests.fixtures.keys import signer
from tests.integration.helpers import read_topic, running, sample, wait_for
from tests.integration.raw_producer import produce_raw

pytestmark = pytest.mark.integration


async def test_a_fixed_cause_then_replay_delivers_the_dead_letter(settings: Settings, keyring: KeyRing) -> None:
    """DE is strict about unmapped codes: its notification is dead-lettered (UNMAPPED_CODE). Once DE is no
    longer strict, replaying the dead letter delivers the same submission; a payload refused at the door
    for an unknown adapter is resubmitted with the right one as a new submission."""
    strict = settings.replace(strict_mapping=("DE",))
    secret = load_audit_secret(None, settings.data_dir)
    good = sample("DE-notification-fr-pl.json")  # it carries one offence code without a common category
    async with running(strict, keyring) as pipeline:
        now = dt.datetime.now(dt.UTC)
        [unmapped, wrong_adapter] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", good), Submission("DE", "jsonv1", good, idempotency_key="typo")], now
        )
        ids = [unmapped.submission_id, wrong_adapter.submission_id]
        await wait_for(lambda: account(pipeline.store, ids).dead_lettered == 2)
        assert set(account(pipeline.store, ids).dead_letter_reasons) == {"UNMAPPED_CODE", "UNKNOWN_ADAPTER"}
    letters = {x["reason_code"]: x for x in await read_dead_letters(settings, keyring.registry)}
    replayer = Producer(settings, signer=signer(settings, keyring, "dlq"))  # as `crx dlq replay` signs
    async with running(settings, keyring) as pipeline:  # the cause fixed: DE is no longer strict
        await replayer.start()
        done = await replay(settings, keyring, replayer, secret, letters["UNMAPPED_CODE"])
        assert done.topic == settings.topic("feed.DE") and done.submission is None
        with pytest.raises(ReplayError):
            await replay(settings, keyring, replayer, secret, letters["UNKNOWN_ADAPTER"])  # no adapter
        resubmitted = await replay(settings, keyring, replayer, secret, letters["UNKNOWN_ADAPTER"], adapter="json-v1")
        assert resubmitted.submission is not None and resubmitted.submission.accepted
        new_id = resubmitted.submission.submission_id
        await wait_for(lambda: account(pipeline.store, [unmapped.submission_id, new_id]).complete)
        acc = account(pipeline.store, [unmapped.submission_id, new_id])
        assert acc.delivered_records == 2 and dict(acc.delivered) == {"FR": 2, "PL": 2}
        # Replaying again changes nothing downstream: same ids, the partners already have the record.
        await replay(settings, keyring, replayer, secret, letters["UNMAPPED_CODE"])
        # Count only once the writer has every event now on crx.audit (the second replay's included).
        on_audit = await read_topic(settings, settings.topic("audit"))
        on_topic = {str(e["event_id"]) for r in on_audit for e in audit_events_of(r.value)}
        await wait_for(lambda: all(pipeline.store.index_of(event_id) is not None for event_id in on_topic))
        replays = [e for e in pipeline.store.events(event_type="COLLECTION") if e["reason"] == "REPLAYED_FROM_DLQ"]
        assert len(replays) == 2  # the second replay of the same dead letter is the same audit event
        assert pipeline.store.verify(load_note_verifiers(settings)).ok
        await replayer.stop()
    # Format 2 (the default) on crx.feed.DE: the intake's record, sent back as it was under the dlq component's
    # batch signature (still naming the intake), and the resubmission sealed by the dlq component itself.
    producers: dict[str, set[str]] = {}
    for rec in await read_topic(settings, settings.topic("feed.DE")):
        producers.setdefault(batch_signer(rec), set()).add(HopRecord.parse(rec.value).producer)
    assert producers == {"crx.intake": {"crx.intake"}, "crx.dlq": {"crx.intake", "crx.dlq"}}


async def test_cli_lists_dead_letters_without_payloads(settings: Settings, keyring: KeyRing) -> None:
    """`crx dlq list --json` shows ids, stages, typed reasons and sources; never the payload."""
    async with running(settings, keyring) as pipeline:
        [result] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", b'{"record_id": "Distinctive-Name-1970"')], dt.datetime.now(dt.UTC)
        )
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).dead_lettered == 1)
    env = {"CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CRX_TOPIC_PREFIX": settings.topic_prefix,
           "CRX_DATA_DIR": str(settings.data_dir), "CRX_AUDIT_SECRET": "test-audit-secret"}  # fmt: skip
    listed = await asyncio.to_thread(CliRunner(env=env).invoke, main, ["dlq", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    [line] = [json.loads(x) for x in listed.stdout.splitlines()]
    assert (line["stage"], line["reason"], line["submission_id"]) == ("normaliser", "MALFORMED", result.submission_id)
    assert line["replayable"] and "Distinctive" not in listed.stdout


def _letter(settings: Settings, keyring: KeyRing, *, signer: str | None, **where: Any) -> dict[str, Any]:
    """A dead letter as the normaliser makes it (sealed by ``signer``: the broker, or nobody for a forgery)."""
    feed_ctx = SealContext("feed.DE", "sub-1", "sub-1", "DE", settings.broker_party, "feed/json-v1")
    now = dt.datetime.now(dt.UTC)
    value = Sealer(keyring.registry, keyring.store, "DE").seal(sample("DE-notification-fr.json"), feed_ctx, now)
    emitter = AuditEmitter("normaliser", settings.topic("audit"), b"secret")
    dead = DeadLetters(settings, "normaliser", Sealer(keyring.registry, keyring.store, signer), emitter)
    options: dict[str, Any] = {"source_topic": settings.topic("feed.DE"), "partition": 0, "offset": 5}
    options.update(where)
    [letter_record, _] = dead.records(
        UnmappedCode("x"), value=value, submission_id="sub-1", jurisdiction="DE", now=now, **options
    )
    letter: dict[str, Any] = codec(DEAD_LETTER).decode(letter_record.value)
    return letter


@pytest.mark.parametrize(
    "forgery", ["unsigned", "other-topic", "other-offset", "other-stage", "reconciler", "other-jurisdiction"]
)
async def test_a_forged_or_altered_dead_letter_is_not_replayed(
    settings: Settings, keyring: KeyRing, forgery: str
) -> None:
    """crx.dlq is written by the national intakes too: a dead letter not sealed and signed by this broker, or
    with its clear fields changed (to send the bytes to a partner's topic, as another jurisdiction ...), is
    refused and nothing is produced; the genuine letter replays to its own feed."""
    await ensure_topics(settings, standard_topics(settings))
    genuine = _letter(settings, keyring, signer=settings.broker_party)
    letter = {
        "unsigned": lambda: _letter(settings, keyring, signer=None),
        "other-topic": lambda: {**genuine, "source_topic": settings.topic("out.FR")},
        "other-offset": lambda: {**genuine, "source_offset": 6},
        "other-stage": lambda: {**genuine, "stage": "router", "source_topic": settings.topic("records")},
        "reconciler": lambda: {**genuine, "stage": RECONCILER_STAGE},  # the stage is under the broker's signature
        "other-jurisdiction": lambda: {**genuine, "jurisdiction": "FR"},
    }[forgery]()
    producer = Producer(settings, signer=signer(settings, keyring, "dlq"))
    await producer.start()
    try:
        with pytest.raises(ReplayError):
            await replay(settings, keyring, producer, b"secret", letter)
        done = await replay(settings, keyring, producer, b"secret", genuine)
    finally:
        await producer.stop()
    assert done.topic == settings.topic("feed.DE")
    assert not await read_topic(settings, settings.topic("out.FR"))
    assert not await read_topic(settings, settings.topic("records"))


async def test_an_undelivered_letter_of_an_older_intake_is_not_resubmitted_as_a_payload(
    settings: Settings, keyring: KeyRing
) -> None:
    """Before the reconciler had a stage of its own its UNDELIVERED letters said ``intake``: they hold a sealed
    feed record, which ``--adapter`` would have submitted as if it were a national payload. Refused."""
    now = dt.datetime.now(dt.UTC)
    feed_ctx = SealContext("feed.DE", "sub-1", "sub-1", "DE", settings.broker_party, "feed/json-v1")
    value = Sealer(keyring.registry, keyring.store, "DE").seal(sample("DE-notification-fr.json"), feed_ctx, now)
    emitter = AuditEmitter("intake", settings.topic("audit"), b"secret")
    sealer = Sealer(keyring.registry, keyring.store, settings.broker_party)
    [record, _] = DeadLetters(settings, "intake", sealer, emitter).records(
        Undelivered("not settled"), value=value, source_topic=settings.topic("feed.DE"), submission_id="sub-1",
        jurisdiction="DE", now=now,
    )  # fmt: skip
    letter = codec(DEAD_LETTER).decode(record.value)
    producer = Producer(settings, signer=signer(settings, keyring, "dlq"))  # never started: nothing is sent
    with pytest.raises(ReplayError, match="sealed feed record"):
        await replay(settings, keyring, producer, b"secret", letter, adapter="json-v1")


async def test_a_letter_sealed_to_a_destroyed_key_or_for_one_is_not_replayed(
    settings: Settings, keyring: KeyRing
) -> None:
    """Crypto-shredding: a letter whose reason is KEY_DESTROYED (its original is sealed to a destroyed key) is
    listed as not replayable and not replayed; a letter whose own sealed payload is sealed to a destroyed key is
    refused saying so (not as a forgery). Nothing is produced."""
    await ensure_topics(settings, standard_topics(settings))
    genuine = _letter(settings, keyring, signer=settings.broker_party)
    shredded = {**genuine, "reason_code": "KEY_DESTROYED"}
    assert summary(genuine)["replayable"] and not summary(shredded)["replayable"]
    now = dt.datetime.now(dt.UTC)
    old = keyring.registry.active(settings.broker_party, "encryption", now).key_id
    rotate(keyring, settings.broker_party, "encryption", now)
    destroy(keyring, settings, settings.broker_party, old, now, force=True)
    producer = Producer(settings, signer=signer(settings, keyring, "dlq"))
    await producer.start()
    try:
        with pytest.raises(ReplayError, match="destroyed: unreadable by design, not replayed"):
            await replay(settings, keyring, producer, b"secret", shredded)
        with pytest.raises(ReplayError, match="sealed to a destroyed key"):
            await replay(settings, keyring, producer, b"secret", genuine)
    finally:
        await producer.stop()
    assert not await read_topic(settings, settings.topic("feed.DE"))


async def test_a_forged_letter_is_not_listed_and_replaying_it_is_refused_and_audited(
    settings: Settings, keyring: KeyRing
) -> None:
    """A letter on crx.dlq that no component signed (anyone with Write on crx.dlq can put one there) is left out
    of `crx dlq list`, which counts it on stderr; `crx dlq replay` of its id exits 1 without replaying it and
    records the refusal as an ERROR event signed by the dlq component; nothing reaches a feed."""
    await ensure_topics(settings, standard_topics(settings))
    forged = _letter(settings, keyring, signer=settings.broker_party)
    value = codec(DEAD_LETTER).encode(forged)
    await produce_raw(settings, settings.topic("dlq"), value)
    env = {"CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CRX_TOPIC_PREFIX": settings.topic_prefix,
           "CRX_DATA_DIR": str(settings.data_dir), "CRX_AUDIT_SECRET": "test-audit-secret"}  # fmt: skip
    listed = await asyncio.to_thread(CliRunner(env=env).invoke, main, ["dlq", "list", "--json"])
    assert listed.exit_code == 0 and listed.stdout == ""
    assert "1 record(s) refused, not authenticated by a crx component: unsigned 1" in listed.stderr
    replayed = await asyncio.to_thread(CliRunner(env=env).invoke, main, ["dlq", "replay", forged["dead_letter_id"]])
    assert replayed.exit_code == 1 and "UNAUTHENTICATED_UNSIGNED" in replayed.stderr
    assert not await read_topic(settings, settings.topic("feed.DE"))
    [event] = await read_topic(settings, settings.topic("audit"))
    [decoded] = audit_events_of(event.value)
    assert (decoded["event_type"], decoded["reason"], decoded["component"]) == (
        "ERROR", "UNAUTHENTICATED_UNSIGNED", "dlq"
    )  # fmt: skip
    assert ("crx-auth-signer", b"crx.dlq") in event.headers
