"""The audit writer's handler: one store transaction per batch, checkpoints every N entries or T seconds with the
log's own Ed25519 note key, store failures left to the batch loop (so offsets are not committed)."""

from __future__ import annotations

import datetime as dt
import stat
from collections.abc import Sequence
from pathlib import Path

import pytest
from aiokafka import ConsumerRecord
from prometheus_client import CollectorRegistry

from schemas import AUDIT_EVENT, RECEIPT
from services.audit.notekey import key_path, load_note_verifiers, vkey_path
from services.audit.observed import INDEX_KEY_PURPOSE
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.store import AppendResult
from services.audit.writer import AuditWriter
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.envelope import attach_signature
from services.kernel.errors import TransientError
from services.kernel.kafka import OutRecord
from services.kernel.metrics import ServiceMetrics
from services.kernel.suites import signature_alg
from services.keys.epochs import destroy
from services.keys.lifecycle import rotate
from services.keys.ring import KeyRing
from services.lookup.indexkey import IndexKeyStore
from services.translog.notes import NoteSigner, open_note, parse_checkpoint
from tests.audit.conftest import events
from tests.fixtures.keys import consumed, signed


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _records(settings: Settings, keyring: KeyRing, values: Sequence[bytes]) -> list[ConsumerRecord[bytes, bytes]]:
    """``values`` consumed from crx.audit, produced as one batch signed by the intake (which emits the
    COLLECTION events of ``events``)."""
    return consumed(signed(settings, keyring, "intake", [OutRecord(settings.topic("audit"), v) for v in values]))


def _receipt(
    settings: Settings, keyring: KeyRing, party: str, outcome: str, at: dt.datetime, receipt_id: str = "r1"
) -> bytes:
    """A receipt as ``party``'s client signs it (services/partner/client.py)."""
    entry = keyring.registry.active(party, "signing", at)
    unsigned = codec(RECEIPT).encode(
        {"receipt_id": receipt_id, "message_id": "m1", "correlation_id": "s1", "party": party, "channel": "out.FR",
         "outcome": outcome, "reason": None, "envelope_sha256": bytes(32), "received_at": at,
         "signer_key_id": entry.key_id, "signature": None}
    )  # fmt: skip
    signature = signature_alg(entry.algorithm).sign(keyring.store.load(party, entry.key_id), unsigned)
    return attach_signature(unsigned, signature)


def _receipts(settings: Settings, values: Sequence[bytes]) -> list[ConsumerRecord[bytes, bytes]]:
    """``values`` consumed from crx.receipts (partners sign each receipt, not their batches)."""
    return consumed([OutRecord(settings.topic("receipts"), v) for v in values])


def _refused(registry: CollectorRegistry, settings: Settings, logical: str, reason: str) -> float:
    """How many records of topic ``logical`` the writer counted as refused for ``reason``."""
    labels = {"service": "audit", "topic": settings.topic(logical), "reason": reason}
    return registry.get_sample_value("crx_unauthenticated_messages_total", labels) or 0.0


def _writer(
    settings: Settings,
    keyring: KeyRing,
    clock: Clock,
    store: SqliteAuditStore | None = None,
    registry: CollectorRegistry | None = None,
) -> AuditWriter:
    registry = registry or CollectorRegistry()
    store = store or SqliteAuditStore(":memory:", origin=settings.audit_log_origin)
    return AuditWriter(settings, keyring, store, b"secret", ServiceMetrics.create(registry), registry, clock=clock)


async def test_checkpoints_every_n_entries_or_t_seconds(settings: Settings, keyring: KeyRing) -> None:
    """With N=3 and T=60 s: a checkpoint once 3 entries are unsigned, else when the oldest unsigned entry is 60 s
    old (the timer's tick); redelivered events change nothing; every checkpoint verifies with the vkey file."""
    settings = settings.replace(audit_checkpoint_entries=3, audit_checkpoint_seconds=60)
    clock = Clock()
    writer = _writer(settings, keyring, clock)
    store = writer.store
    leaves = events(8)
    assert await writer.handle(_records(settings, keyring, leaves[:2])) == []
    assert store.size == 2 and store.latest_checkpoint() is None
    await writer.handle(_records(settings, keyring, leaves[2:3]))
    assert [cp.size for cp in store.checkpoints()] == [3]
    await writer.handle(_records(settings, keyring, leaves[3:5]))
    clock.now += 59
    writer.tick()
    assert [cp.size for cp in store.checkpoints()] == [3]
    clock.now += 1
    writer.tick()
    assert [cp.size for cp in store.checkpoints()] == [3, 5]
    writer.tick()
    writer.sign_pending()
    await writer.handle(_records(settings, keyring, leaves[:5]))  # redelivered
    assert store.size == 5 and [cp.size for cp in store.checkpoints()] == [3, 5]
    clock.now += 120
    await writer.handle(_records(settings, keyring, leaves[5:6]))  # a quiet spell does not count: the entry is new
    assert [cp.size for cp in store.checkpoints()] == [3, 5]
    clock.now += 60
    writer.tick()
    assert [cp.size for cp in store.checkpoints()] == [3, 5, 6]
    await writer.handle(_records(settings, keyring, leaves[6:8]))
    writer.sign_pending()  # what stopping the service does
    assert [cp.size for cp in store.checkpoints()] == [3, 5, 6, 8]
    verifiers = load_note_verifiers(settings)
    for cp in store.checkpoints():
        signed = parse_checkpoint(open_note(cp.note, verifiers))
        assert signed.origin == settings.audit_log_origin == "crx/audit"
    assert store.verify(verifiers).ok
    assert writer.entries._value.get() == 8 and writer.signed._value.get() == 8


async def test_undecodable_records_are_dead_lettered_and_the_rest_logged(settings: Settings, keyring: KeyRing) -> None:
    """A record that is not an audit event, signed by a component allowed on crx.audit (its bug, not a
    forgery), goes to the dead-letter topic; the batch's events are appended."""
    writer = _writer(settings, keyring, Clock())
    out = await writer.handle(_records(settings, keyring, [*events(2), b"garbage"]))
    assert writer.store.size == 2
    assert {o.topic for o in out} == {settings.topic("dlq"), settings.topic("audit")}


async def test_an_event_id_logged_again_with_other_bytes_is_refused_and_recorded(
    settings: Settings, keyring: KeyRing
) -> None:
    """A forged event reusing a genuine event id (ids derive from public fields) does not replace the logged
    one, in a later batch or in the same batch; each attempt is counted and logged as an ERROR event."""
    writer = _writer(settings, keyring, Clock())
    [genuine] = events(1)
    decoded = codec(AUDIT_EVENT).decode(genuine)
    forged = codec(AUDIT_EVENT).encode({**decoded, "outcome": "refused", "reason": "FORGED"})
    await writer.handle(_records(settings, keyring, [genuine]))
    await writer.handle(_records(settings, keyring, [forged]))  # a later batch
    other = events(1, offset=7)[0]
    other_forged = codec(AUDIT_EVENT).encode({**codec(AUDIT_EVENT).decode(other), "outcome": "refused"})
    await writer.handle(_records(settings, keyring, [other, other_forged]))  # the same batch: the first one stands
    assert writer.conflicts._value.get() == 2
    logged = {str(e["event_id"]): e for e in writer.store.events()}
    assert logged[str(decoded["event_id"])]["outcome"] == "ok"
    errors = writer.store.events(event_type="ERROR")
    assert [e["reason"] for e in errors] == ["EVENT_ID_CONFLICT", "EVENT_ID_CONFLICT"]
    assert writer.store.verify(load_note_verifiers(settings)).ok


class FailingStore(SqliteAuditStore):
    """A store whose database is down."""

    def append(self, leaves: Sequence[bytes], *, signers: Sequence[NoteSigner] = (), **_: object) -> AppendResult:
        raise TransientError("audit store: OperationalError")


async def test_a_store_failure_fails_the_batch(settings: Settings, keyring: KeyRing) -> None:
    """The handler raises, so the batch loop retries the batch and does not commit its offsets."""
    writer = _writer(settings, keyring, Clock(), FailingStore(":memory:"))
    with pytest.raises(TransientError):
        await writer.handle(_records(settings, keyring, events(1)))


def test_the_note_key_is_created_once_encrypted_and_private(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """The first writer creates ``audit-note.key`` (0600, PKCS#8, encrypted under the key passphrase) and the
    public ``audit-note.vkey``; later writers reuse the same key."""
    settings = settings.replace(data_dir=tmp_path / "fresh", key_passphrase="a high-entropy test passphrase")
    assert not key_path(settings).exists()
    first = _writer(settings, keyring, Clock())
    second = _writer(settings, keyring, Clock())
    assert first.signers[0].verifier_key() == second.signers[0].verifier_key()
    key = Path(key_path(settings))
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert vkey_path(settings).read_text().split() == [first.signers[0].verifier_key()]
    assert first.signers[0].name == "crx/audit"


async def test_key_and_policy_changes_are_logged_once_per_state(settings: Settings, keyring: KeyRing) -> None:
    """Every key's current status and the policy in force become KEY_CHANGE / POLICY_CHANGE events, once;
    a rotation adds exactly the new states (new key active, old key retiring)."""
    writer = _writer(settings, keyring, Clock())
    index_keys = IndexKeyStore(settings.keys_dir, settings.broker_party, None).key_ids()
    keys = len(keyring.registry.entries()) + len(index_keys)
    assert writer.observe_configuration() == keys + 1
    assert writer.observe_configuration() == 0
    kinds = [e["event_type"] for e in writer.store.events()]
    assert kinds.count("KEY_CHANGE") == keys and kinds.count("POLICY_CHANGE") == 1
    rotate(keyring, "FR", "encryption", dt.datetime.now(dt.UTC))
    keyring.registry.save()
    assert writer.observe_configuration() == 2
    changes = [e for e in writer.store.events(event_type="KEY_CHANGE") if e["actor"] == "FR"]
    assert sorted(e["outcome"] for e in changes) == ["active", "active", "active", "retiring"]
    assert writer.store.verify(load_note_verifiers(settings)).ok


async def test_a_destroyed_key_is_logged_as_a_key_change(settings: Settings, keyring: KeyRing) -> None:
    """Crypto-shredding is audited with no code of its own: destroying the broker's retired encryption key
    changes its registry status, and the writer logs exactly one KEY_CHANGE for it, outcome "destroyed"."""
    writer = _writer(settings, keyring, Clock())
    writer.observe_configuration()
    now = dt.datetime.now(dt.UTC)
    old = keyring.registry.active("crx", "encryption", now).key_id
    rotate(keyring, "crx", "encryption", now)
    destroy(keyring, settings, "crx", old, now, force=True)
    keyring.registry.save()
    assert writer.observe_configuration() == 2  # the new key active, the old one destroyed (states, not steps)
    assert writer.observe_configuration() == 0
    changes = [e for e in writer.store.events(event_type="KEY_CHANGE") if e["message_id"] == old]
    assert [e["outcome"] for e in changes] == ["active", "destroyed"]
    assert (changes[-1]["actor"], changes[-1]["reason"]) == ("crx", "encryption P256-SHA256-AES256GCM")
    assert writer.store.verify(load_note_verifiers(settings)).ok


async def test_index_key_changes_are_logged_without_key_material(settings: Settings, keyring: KeyRing) -> None:
    """The lookup index keys are observed too: generate, rotate and destroy log one KEY_CHANGE per (key,
    status) (active; active + retiring; destroyed), by the broker, naming the key id and never its secret."""
    store = IndexKeyStore(settings.keys_dir, settings.broker_party, None)
    now = dt.datetime.now(dt.UTC)
    for made in store.key_ids():  # the test's key store comes with one (ensure_keys): start from none live
        store.destroy(made, now - dt.timedelta(seconds=1))
    writer = _writer(settings, keyring, Clock())
    writer.observe_configuration()
    first = store.create(now)
    assert writer.observe_configuration() == 1
    second = store.create(now + dt.timedelta(seconds=1))
    assert writer.observe_configuration() == 2  # the new key active, the first retiring
    store.destroy(first.key_id, now + dt.timedelta(seconds=2))
    assert writer.observe_configuration() == 1
    assert writer.observe_configuration() == 0
    changes = [e for e in writer.store.events(event_type="KEY_CHANGE") if e["reason"] == INDEX_KEY_PURPOSE]
    assert [(e["message_id"], e["outcome"]) for e in changes if e["message_id"] == first.key_id] == [
        (first.key_id, "active"), (first.key_id, "retiring"), (first.key_id, "destroyed")
    ]  # fmt: skip
    assert [e["outcome"] for e in changes if e["message_id"] == second.key_id] == ["active"]
    assert {e["actor"] for e in changes} == {settings.broker_party}
    leaves = b"".join(writer.store.leaf(i) for i in range(writer.store.size))
    assert first.secret not in leaves and second.secret not in leaves
    assert writer.store.verify(load_note_verifiers(settings)).ok


async def test_an_act_redone_later_is_a_duplicate_not_a_conflict(settings: Settings, keyring: KeyRing) -> None:
    """A stage that redoes a batch after a crash (at-least-once) emits the same events at a later time: same
    id, other ``occurred_at``. That is the act logged already, skipped without an alarm."""
    writer = _writer(settings, keyring, Clock())
    [first] = events(1)
    decoded = codec(AUDIT_EVENT).decode(first)
    later = codec(AUDIT_EVENT).encode({**decoded, "occurred_at": decoded["occurred_at"] + dt.timedelta(seconds=30)})
    await writer.handle(_records(settings, keyring, [first]))
    await writer.handle(_records(settings, keyring, [later]))
    assert writer.conflicts._value.get() == 0
    assert writer.store.size == 1 and not writer.store.events(event_type="ERROR")


async def test_a_receipt_signed_again_is_a_duplicate_but_another_outcome_is_not(
    settings: Settings, keyring: KeyRing
) -> None:
    """A partner re-sends the receipt of a message it delivered before: same receipt id, new time and
    signature (so another payload commitment). Skipped. The same id with another outcome is a conflict."""
    writer = _writer(settings, keyring, Clock())
    at = dt.datetime.now(dt.UTC)
    receipt = _receipt(settings, keyring, "FR", "ACCEPTED", at)
    again = _receipt(settings, keyring, "FR", "ACCEPTED", at + dt.timedelta(seconds=30))
    other = _receipt(settings, keyring, "FR", "REJECTED", at + dt.timedelta(seconds=60))
    await writer.handle(_receipts(settings, [receipt]))
    await writer.handle(_receipts(settings, [again]))
    assert writer.conflicts._value.get() == 0
    assert [e["outcome"] for e in writer.store.events(event_type="DELIVERY_RECEIPT")] == ["accepted"]
    await writer.handle(_receipts(settings, [other]))
    assert writer.conflicts._value.get() == 1


async def test_events_on_crx_audit_from_a_producer_not_allowed_are_refused_and_recorded(
    settings: Settings, keyring: KeyRing
) -> None:
    """Anyone who can write crx.audit used to append any event, a DELIVERY_RECEIPT that skipped the receipt
    check included. Now an event is logged only when signed by a component allowed to emit its type: an
    unsigned one, a NORMALISATION signed by the intake, a DELIVERY_RECEIPT or KEY_CHANGE signed by the audit
    component itself are each refused, counted by reason, never dead-lettered, and logged as an ERROR event
    committing to their bytes in their place; the genuine event of the same batch is logged."""
    registry = CollectorRegistry()
    writer = _writer(settings, keyring, Clock(), registry=registry)
    genuine, unsigned, normalisation, receipt, key_change = events(5)

    def retyped(value: bytes, kind: str) -> bytes:
        return codec(AUDIT_EVENT).encode(codec(AUDIT_EVENT).decode(value) | {"event_type": kind})

    def on_audit(*values: bytes) -> list[OutRecord]:
        return [OutRecord(settings.topic("audit"), v) for v in values]

    produced = [
        *signed(settings, keyring, "intake", on_audit(genuine)),
        *on_audit(unsigned),
        *signed(settings, keyring, "intake", on_audit(retyped(normalisation, "NORMALISATION"))),
        *signed(settings, keyring, "audit", on_audit(retyped(receipt, "DELIVERY_RECEIPT"))),
        *signed(settings, keyring, "audit", on_audit(retyped(key_change, "KEY_CHANGE"))),
    ]
    out = await writer.handle(consumed(produced))
    assert out == []  # nothing dead-lettered
    logged = writer.store.events()
    assert [e["event_type"] for e in logged] == ["COLLECTION", "ERROR", "ERROR", "ERROR", "ERROR"]
    reasons = [e["reason"] for e in logged[1:]]
    assert reasons == ["UNAUTHENTICATED_UNSIGNED"] + ["UNAUTHENTICATED_NOT_ALLOWED"] * 3
    assert all(e["payload_commitment"] is not None for e in logged[1:])
    assert _refused(registry, settings, "audit", "unsigned") == 1
    assert _refused(registry, settings, "audit", "not_allowed") == 3
    assert writer.store.verify(load_note_verifiers(settings)).ok


async def test_an_unverifiable_receipt_is_refused_counted_by_reason_and_recorded(
    settings: Settings, keyring: KeyRing
) -> None:
    """A receipt on crx.receipts that is unsigned (or not a receipt at all), signed with a key not registered
    for the party it names, or altered after signing becomes an ERROR event UNVERIFIABLE_RECEIPT, counted by
    reason; never a DELIVERY_RECEIPT, never a dead letter. A genuine receipt of the same batch is logged."""
    registry = CollectorRegistry()
    writer = _writer(settings, keyring, Clock(), registry=registry)
    at = dt.datetime.now(dt.UTC)
    genuine = _receipt(settings, keyring, "FR", "ACCEPTED", at)
    unsigned = codec(RECEIPT).encode(codec(RECEIPT).decode(genuine) | {"signature": None, "receipt_id": "r2"})
    as_pl = _receipt(settings, keyring, "FR", "ACCEPTED", at, receipt_id="r3").replace(b"\x04FR", b"\x04PL", 1)
    altered = genuine.replace(b"r1", b"r4", 1)
    out = await writer.handle(_receipts(settings, [genuine, unsigned, b"not a receipt", as_pl, altered]))
    assert out == []
    assert [e["event_type"] for e in writer.store.events()] == ["DELIVERY_RECEIPT", *["ERROR"] * 4]
    assert {e["reason"] for e in writer.store.events(event_type="ERROR")} == {"UNVERIFIABLE_RECEIPT"}
    assert _refused(registry, settings, "receipts", "unsigned") == 2
    assert _refused(registry, settings, "receipts", "unknown_key") == 1
    assert _refused(registry, settings, "receipts", "bad_signature") == 1
