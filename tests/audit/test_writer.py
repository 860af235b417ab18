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

from schemas import AUDIT_EVENT
from services.audit.notekey import key_path, load_note_verifiers, vkey_path
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.store import AppendResult
from services.audit.writer import AuditWriter
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.errors import TransientError
from services.kernel.metrics import ServiceMetrics
from services.keys.lifecycle import rotate
from services.keys.ring import KeyRing
from services.translog.notes import NoteSigner, open_note, parse_checkpoint
from tests.audit.conftest import events


class Clock:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _records(settings: Settings, values: Sequence[bytes]) -> list[ConsumerRecord[bytes, bytes]]:
    topic = settings.topic("audit")
    return [ConsumerRecord(topic, 0, i, 0, 0, None, v, None, 0, len(v), ()) for i, v in enumerate(values)]


def _writer(settings: Settings, keyring: KeyRing, clock: Clock, store: SqliteAuditStore | None = None) -> AuditWriter:
    registry = CollectorRegistry()
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
    assert await writer.handle(_records(settings, leaves[:2])) == []
    assert store.size == 2 and store.latest_checkpoint() is None
    await writer.handle(_records(settings, leaves[2:3]))
    assert [cp.size for cp in store.checkpoints()] == [3]
    await writer.handle(_records(settings, leaves[3:5]))
    clock.now += 59
    writer.tick()
    assert [cp.size for cp in store.checkpoints()] == [3]
    clock.now += 1
    writer.tick()
    assert [cp.size for cp in store.checkpoints()] == [3, 5]
    writer.tick()
    writer.sign_pending()
    await writer.handle(_records(settings, leaves[:5]))  # redelivered
    assert store.size == 5 and [cp.size for cp in store.checkpoints()] == [3, 5]
    clock.now += 120
    await writer.handle(_records(settings, leaves[5:6]))  # a quiet spell does not count: the entry is new
    assert [cp.size for cp in store.checkpoints()] == [3, 5]
    clock.now += 60
    writer.tick()
    assert [cp.size for cp in store.checkpoints()] == [3, 5, 6]
    await writer.handle(_records(settings, leaves[6:8]))
    writer.sign_pending()  # what stopping the service does
    assert [cp.size for cp in store.checkpoints()] == [3, 5, 6, 8]
    verifiers = load_note_verifiers(settings)
    for cp in store.checkpoints():
        signed = parse_checkpoint(open_note(cp.note, verifiers))
        assert signed.origin == settings.audit_log_origin == "crx/audit"
    assert store.verify(verifiers).ok
    assert writer.entries._value.get() == 8 and writer.signed._value.get() == 8


async def test_undecodable_records_are_dead_lettered_and_the_rest_logged(settings: Settings, keyring: KeyRing) -> None:
    """A record that is not an audit event goes to the dead-letter topic; the batch's events are appended."""
    writer = _writer(settings, keyring, Clock())
    out = await writer.handle(_records(settings, [*events(2), b"garbage"]))
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
    await writer.handle(_records(settings, [genuine]))
    await writer.handle(_records(settings, [forged]))  # a later batch
    other = events(1, offset=7)[0]
    other_forged = codec(AUDIT_EVENT).encode({**codec(AUDIT_EVENT).decode(other), "outcome": "refused"})
    await writer.handle(_records(settings, [other, other_forged]))  # the same batch: the first one stands
    assert writer.conflicts._value.get() == 2
    logged = {str(e["event_id"]): e for e in writer.store.events()}
    assert logged[str(decoded["event_id"])]["outcome"] == "ok"
    errors = writer.store.events(event_type="ERROR")
    assert [e["reason"] for e in errors] == ["EVENT_ID_CONFLICT", "EVENT_ID_CONFLICT"]
    assert writer.store.verify(load_note_verifiers(settings)).ok


class FailingStore(SqliteAuditStore):
    """A store whose database is down."""

    def append(self, leaves: Sequence[bytes], *, signers: Sequence[NoteSigner] = ()) -> AppendResult:
        raise TransientError("audit store: OperationalError")


async def test_a_store_failure_fails_the_batch(settings: Settings, keyring: KeyRing) -> None:
    """The handler raises, so the batch loop retries the batch and does not commit its offsets."""
    writer = _writer(settings, keyring, Clock(), FailingStore(":memory:"))
    with pytest.raises(TransientError):
        await writer.handle(_records(settings, events(1)))


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
    keys = len(keyring.registry.entries())
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


async def test_an_act_redone_later_is_a_duplicate_not_a_conflict(settings: Settings, keyring: KeyRing) -> None:
    """A stage that redoes a batch after a crash (at-least-once) emits the same events at a later time: same
    id, other ``occurred_at``. That is the act logged already, skipped without an alarm."""
    writer = _writer(settings, keyring, Clock())
    [first] = events(1)
    decoded = codec(AUDIT_EVENT).decode(first)
    later = codec(AUDIT_EVENT).encode({**decoded, "occurred_at": decoded["occurred_at"] + dt.timedelta(seconds=30)})
    await writer.handle(_records(settings, [first]))
    await writer.handle(_records(settings, [later]))
    assert writer.conflicts._value.get() == 0
    assert writer.store.size == 1 and not writer.store.events(event_type="ERROR")


async def test_a_receipt_signed_again_is_a_duplicate_but_another_outcome_is_not(
    settings: Settings, keyring: KeyRing
) -> None:
    """A partner re-sends the receipt of a message it delivered before: same receipt id, new time and
    signature (so another payload commitment). Skipped. The same id with another outcome is a conflict."""
    writer = _writer(settings, keyring, Clock())
    [first] = events(1)
    decoded = codec(AUDIT_EVENT).decode(first) | {"event_type": "DELIVERY_RECEIPT", "outcome": "accepted"}
    receipt = codec(AUDIT_EVENT).encode(decoded)
    again = codec(AUDIT_EVENT).encode(decoded | {"payload_commitment": b"\x01" * 32})
    other = codec(AUDIT_EVENT).encode(decoded | {"outcome": "rejected"})
    await writer.handle(_records(settings, [receipt]))
    await writer.handle(_records(settings, [again]))
    assert writer.conflicts._value.get() == 0
    await writer.handle(_records(settings, [other]))
    assert writer.conflicts._value.get() == 1
