"""The audit writer: the single sequencer that appends ``crx.audit`` events and partner receipts to the log.

Per consumed batch: decode and check every record (a message on ``crx.audit``, an ``AuditBatch`` of events or
a single event as producers before audit batching sent, must be authenticated by a component allowed to emit
the type of every event it carries, ``services/kernel/gate.py``; each event is one leaf; receipts are
verified against the partner's registered signing key and logged as DELIVERY_RECEIPT events, plus an ERASURE
event when the receipt says the partner erased the record; what is refused is logged as an ERROR event in its place; a
component's undecodable output is dead-lettered), then append the batch to the Merkle tree store in one
transaction, with a signed checkpoint in that same transaction when one is due.
The batch loop produces the dead letters and commits the Kafka offsets only after the handler returns, so
after the database commit: a crash in between redelivers the batch, which the store skips by event id.

A checkpoint (C2SP tlog-checkpoint, signed with the log's Ed25519 note key, see ``notekey``) is due when
``audit_checkpoint_entries`` entries are unsigned or the oldest unsigned entry is ``audit_checkpoint_seconds``
old; a timer signs a quiet log's tail, and stopping the service signs whatever is left.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from typing import Any, cast

from aiokafka import ConsumerRecord
from cryptography.exceptions import InvalidSignature
from prometheus_client import CollectorRegistry, Counter, Gauge

from schemas import AUDIT_EVENT, RECEIPT
from services.audit.api import AuditApi, AuditHttpServer
from services.audit.erasure_watch import ErasureWatch
from services.audit.notekey import ensure_note_key, load_note_verifiers
from services.audit.observed import index_key_events, key_events, policy_event
from services.audit.store import AppendResult, AuditStore, InconsistentCheckpoint, open_store
from services.kernel.audit_events import AuditEmitter, AuditEventType, AuditOut
from services.kernel.batchauth import BatchVerifier, Reason
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.deadletter import DeadLetters
from services.kernel.envelope import Sealer, signed_part
from services.kernel.errors import CodecError, CrxError, EnvelopeError, handling
from services.kernel.gate import InputGate, authenticate, refusal_event
from services.kernel.kafka import OutRecord
from services.kernel.logging import get_logger
from services.kernel.metrics import ServiceMetrics
from services.kernel.periodic import Periodic
from services.kernel.producers import ProducerRules
from services.kernel.runtime import Ports, Runtime
from services.kernel.service import StreamService, Wiring
from services.kernel.suites import PublicKey, SignatureAlg, signature_alg
from services.keys.ring import KeyRing
from services.lookup.indexkey import IndexKeyStore

NAME = "audit"


class UnverifiableReceipt(EnvelopeError):
    """A receipt whose partner signature does not hold. The message stays opaque; ``reason`` (one of
    ``batchauth.REASONS``: unsigned, unknown_key, bad_signature) labels the refusal metric only."""

    def __init__(self, reason: Reason) -> None:
        super().__init__()
        self.reason: Reason = reason


SignerKey = tuple[SignatureAlg, PublicKey]


class SignerKeys:
    """The receipt signers' verification keys resolved at one time ``now``: each (party, key id) is looked up in
    the registry, checked usable and its public key parsed once, then reused (the writer makes one per batch, so
    a key revoked or rotated in is seen from the next batch on). A key that is not usable is remembered as
    refused (``unknown_key``) for the same time."""

    def __init__(self, keyring: KeyRing, now: dt.datetime) -> None:
        self._registry = keyring.registry
        self.now = now
        self._keys: dict[tuple[str, str], SignerKey | None] = {}

    def get(self, party: str, key_id: str) -> SignerKey:
        """The algorithm and public key of ``key_id``, registered for ``party`` as a signing key usable at
        ``now``. Raises UnverifiableReceipt("unknown_key") otherwise, and UnverifiableReceipt("bad_signature")
        for a registered key whose algorithm or public key does not load."""
        wanted = (party, key_id)
        if wanted not in self._keys:
            self._keys[wanted] = self._resolve(party, key_id)
        found = self._keys[wanted]
        if found is None:
            raise UnverifiableReceipt("unknown_key")
        return found

    def _resolve(self, party: str, key_id: str) -> SignerKey | None:
        try:
            entry = self._registry.get(party, key_id)
        except CrxError:
            return None
        if entry.purpose != "signing" or not entry.usable_at(self.now):
            return None
        try:
            return signature_alg(entry.algorithm), entry.load_public()
        except (CrxError, TypeError, ValueError):
            raise UnverifiableReceipt("bad_signature") from None


def verify_receipt(
    keyring: KeyRing, data: bytes, now: dt.datetime, *, keys: SignerKeys | None = None
) -> dict[str, Any]:
    """Decode a receipt and check its signature against the party's registered signing key (from ``keys``
    when given, resolved at its time, else looked up in ``keyring`` at ``now``).

    Raises UnverifiableReceipt (an EnvelopeError, opaque) when the receipt does not decode or is unsigned
    (``unsigned``), is signed by a key not registered for its party, not a signing key, revoked or expired
    (``unknown_key``), or is altered (``bad_signature``).
    """
    try:
        receipt = codec(RECEIPT).decode(data)
    except CrxError:
        raise UnverifiableReceipt("unsigned") from None
    if receipt["signature"] is None:
        raise UnverifiableReceipt("unsigned")
    alg, public = (keys or SignerKeys(keyring, now)).get(receipt["party"], receipt["signer_key_id"])
    try:
        alg.verify(public, receipt["signature"], signed_part(data, receipt["signature"]))
    except (CrxError, InvalidSignature, TypeError, ValueError):
        raise UnverifiableReceipt("bad_signature") from None
    return receipt


class AuditWriter:
    """The audit writer's handler."""

    def __init__(
        self,
        settings: Settings,
        keyring: KeyRing,
        store: AuditStore,
        audit_secret: bytes,
        metrics: ServiceMetrics,
        registry: CollectorRegistry,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._keyring = keyring
        self.store = store
        self.signers = [ensure_note_key(settings, store.origin)]
        self._every = max(1, settings.audit_checkpoint_entries)
        self._max_age = settings.audit_checkpoint_seconds
        self._clock = clock
        self._emitter = AuditEmitter(NAME, settings.topic("audit"), audit_secret)
        self._dead = DeadLetters(
            settings, NAME, Sealer(keyring.registry, keyring.store, settings.broker_party), self._emitter, metrics
        )
        self._audit_codec = codec(AUDIT_EVENT)
        self._receipts_topic = settings.topic("receipts")
        self._gate = InputGate(settings, keyring.registry, metrics.unauthenticated, NAME)  # counts refusals
        # crx.audit is authenticated here, with rules that keep each message's events decoded for the append
        self._rules, self._verifier = ProducerRules(settings), BatchVerifier(keyring.registry)
        self._log = get_logger(NAME)
        self.entries = Gauge("crx_audit_entries", "Entries in the audit log", registry=registry)
        self.receipts = Counter("crx_audit_receipts", "Receipts logged", ["outcome"], registry=registry)
        self._receipts_by = {outcome: self.receipts.labels(outcome) for outcome in ("accepted", "rejected")}
        self.signed = Gauge("crx_audit_checkpoint_size", "Size of the latest signed checkpoint", registry=registry)
        self.conflicts = Counter(
            "crx_audit_conflicts", "Events refused: their id was logged with other bytes", registry=registry
        )
        self._size = store.size
        latest = store.latest_checkpoint()
        self._signed = latest.size if latest else 0
        self._unsigned_since: float | None = clock() if self._size > self._signed else None
        self.entries.set(self._size)
        self.signed.set(self._signed)

    async def handle(self, records: list[ConsumerRecord]) -> list[OutRecord]:
        """Append one batch to the store (one transaction); return dead letters for undecodable input.
        Each consumed event is decoded once (when its message is authenticated) and handed to the store
        decoded; the writer's own events go with the records they were encoded from.

        A message on ``crx.audit`` not authenticated by a component allowed to emit the type of each event it
        carries (a batch is refused whole), and a receipt whose partner signature does not hold, are refused:
        counted, logged, and logged as an ERROR event in their place (``gate``), never appended themselves and
        never dead-lettered.
        """
        now = dt.datetime.now(dt.UTC)
        keys = SignerKeys(self._keyring, now)  # each receipt signer's key looked up once per batch
        leaves: list[bytes] = []
        decoded: list[dict[str, Any]] = []
        dead: list[OutRecord] = []
        for rec in records:
            try:
                if rec.topic == self._receipts_topic:
                    for own in self._receipt_events(rec, keys):  # made here, never decoded
                        leaves.append(own.value)
                        decoded.append(cast(dict[str, Any], own.event))
                elif (reason := authenticate(self._verifier, self._rules, rec, now)) is not None:
                    self._gate.refused(rec, reason)
                    actor = self._settings.broker_party
                    refusal = refusal_event(self._emitter, rec, reason, actor=actor, now=now)
                    leaves.append(refusal.value)
                    decoded.append(cast(dict[str, Any], refusal.event))
                else:
                    self._consumed_events(rec.value or b"", leaves, decoded)
            except CrxError as exc:
                if handling(exc) == "retry":
                    raise  # not the input's fault (a key not there yet...): the batch is retried with backoff
                dead.extend(self._dead.for_consumed(exc, rec, submission_id=None, jurisdiction=None, now=now))
        if leaves or self._due(0):
            self._append(leaves, sign=self._due(len(leaves)), decoded=decoded)
        return dead

    def _consumed_events(self, value: bytes, leaves: list[bytes], decoded: list[dict[str, Any]]) -> None:
        """Add the events of one authenticated crx.audit message (an ``AuditBatch`` or a single event) to
        ``leaves`` and their decoded events to ``decoded`` (decoded once, when the message was authenticated).
        Raises CodecError when the batch, or any event in it, does not decode (a component's malformed
        output: the message is dead-lettered whole), after adding the events that do: a replay of the dead
        letter adds only what was missing, the rest being logged ids."""
        failed = False
        for leaf, event in self._rules.audit_events(value):
            if event is None:
                failed = True
                continue
            leaves.append(leaf)
            decoded.append(cast(dict[str, Any], event))  # not copied: neither the store nor the rules change it
        if failed:
            raise CodecError(f"{AUDIT_EVENT}: an event of the message does not decode")

    def _due(self, incoming: int) -> bool:
        """Whether a checkpoint is due once ``incoming`` more entries are appended."""
        unsigned = self._size - self._signed + incoming
        if unsigned <= 0:
            return False
        since = self._clock() if self._unsigned_since is None else self._unsigned_since
        return unsigned >= self._every or self._clock() - since >= self._max_age

    def _append(self, leaves: list[bytes], *, sign: bool, decoded: list[dict[str, Any]] | None = None) -> AppendResult:
        # Synchronous, on the event loop's thread: one short transaction per batch.
        try:
            result = self.store.append(leaves, signers=self.signers if sign else (), decoded=decoded)
        except InconsistentCheckpoint as exc:
            self._log.error("audit log does not extend its last checkpoint: not appending", detail=exc.detail)
            raise
        if result.conflicts:
            self._refuse_conflicts(result.conflicts)
        self._size = result.size
        if sign:
            latest = result.checkpoint or self.store.latest_checkpoint()
            self._signed = latest.size if latest else 0
            self.signed.set(self._signed)
        if self._size <= self._signed:
            self._unsigned_since = None
        elif self._unsigned_since is None:
            self._unsigned_since = self._clock()
        self.entries.set(self._size)
        return result

    def sign_pending(self) -> None:
        """Sign a checkpoint now if any entry is unsigned (the timer when it is due, and on stop)."""
        if self._size > self._signed:
            self._append([], sign=True)

    def tick(self) -> None:
        """Sign the unsigned tail once its oldest entry is ``audit_checkpoint_seconds`` old."""
        if self._due(0):
            self.sign_pending()

    def observe_configuration(self) -> int:
        """Append a KEY_CHANGE / POLICY_CHANGE event for every key state and policy version not yet logged.

        Returns how many were appended (0 when nothing changed). See ``observed``.
        """
        now = dt.datetime.now(dt.UTC)
        events = key_events(self._keyring.registry, self._emitter, now)
        party = self._settings.broker_party
        index_keys = IndexKeyStore(self._settings.keys_dir, party, None).states()  # no secret is read
        events |= index_key_events(index_keys, party, self._emitter, now)
        policy_id, policy = policy_event(self._settings, self._emitter, now)
        events[policy_id] = policy
        new = [leaf for event_id, leaf in events.items() if self.store.index_of(event_id) is None]
        if new:
            self._append(new, sign=self._due(len(new)))
        return len(new)

    def _refuse_conflicts(self, refused: tuple[bytes, ...]) -> None:
        """An event id that came again with other bytes (a forgery, or a component that reuses ids): the logged
        event stands; the other is refused, counted, logged, and itself recorded as an ERROR event (its bytes
        committed to, not kept) so the log shows the attempt."""
        self.conflicts.inc(len(refused))
        for leaf in refused:
            event = self._audit_codec.decode(leaf)
            index = self.store.index_of(str(event["event_id"]))
            logged = self._audit_codec.decode(self.store.leaf(index)) if index is not None else {}
            differ = sorted(k for k in event if logged.get(k) != event[k])  # field names only, never values
            self._log.error(
                "event id logged again with other bytes: refused",
                event_id=str(event["event_id"]),
                event_type=str(event["event_type"]),
                component=str(event["component"]),
                fields=differ,
            )
        now = dt.datetime.now(dt.UTC)
        self.store.append([self._error_event("EVENT_ID_CONFLICT", leaf, now).value for leaf in refused])

    def _error_event(self, reason: str, refused: bytes, now: dt.datetime) -> AuditOut:
        """An ERROR event about input the writer refused: ``reason``, a commitment to the refused bytes."""
        return self._emitter.event(
            AuditEventType.ERROR,
            occurred_at=now,
            actor=self._settings.broker_party,
            outcome="rejected",
            reason=reason,
            payload=refused,
            discriminator=hashlib.sha256(refused).hexdigest(),
        )

    def _receipt_events(self, rec: Any, keys: SignerKeys) -> list[AuditOut]:
        """The events a receipt on ``crx.receipts`` leads to: its DELIVERY_RECEIPT and, when it is ACCEPTED with
        operation ERASED (the partner no longer holds the record: deleted, or its retention ended), an ERASURE;
        an unverifiable receipt leads to one ERROR event instead.

        The ERASURE event's id is ``audit_events.erasure_event_id(message id, correlation id, party, receipt
        id)``, so a re-sent receipt is logged once. It commits to no payload: a re-sent receipt has other bytes
        (its time), and the DELIVERY_RECEIPT beside it already commits to the receipt's.
        """
        value: bytes = rec.value or b""
        try:
            receipt = verify_receipt(self._keyring, value, keys.now, keys=keys)
        except UnverifiableReceipt as exc:
            self.receipts.labels("unverifiable").inc()
            self._gate.refused(rec, exc.reason)
            return [self._error_event("UNVERIFIABLE_RECEIPT", value, keys.now)]
        accepted = receipt["outcome"] == "ACCEPTED"
        outcome = "accepted" if accepted else "rejected"
        self._receipts_by[outcome].inc()
        delivery = self._emitter.event(
            AuditEventType.DELIVERY_RECEIPT,
            occurred_at=receipt["received_at"],
            actor=receipt["party"],
            outcome=outcome,
            message_id=receipt["message_id"],
            submission_id=receipt["correlation_id"],
            recipients=[receipt["party"]],
            reason=receipt["reason"],
            payload=value,
            discriminator=receipt["receipt_id"],
        )
        if not (accepted and receipt.get("operation") == "ERASED"):
            return [delivery]
        erasure = self._emitter.event(
            AuditEventType.ERASURE,
            occurred_at=receipt["received_at"],
            actor=receipt["party"],
            outcome="erased",
            message_id=receipt["message_id"],
            submission_id=receipt["correlation_id"],
            recipients=[receipt["party"]],
            discriminator=receipt["receipt_id"],
        )
        return [delivery, erasure]


def build(runtime: Runtime, *, ports: Ports) -> AuditService:
    """The audit writer as a runnable service, appending to the configured store (opened here, closed on stop).

    The service also serves the read-only proof API (``services/audit/api.py``) on ``ports.api`` (None: the
    configured ``audit_api_port``; 0: a free port). Raises ConfigError when the store cannot be opened.
    """
    settings, wiring = runtime.settings, Wiring.of(runtime, NAME, ports)
    store = open_store(settings)
    writer = AuditWriter(settings, runtime.keyring, store, runtime.audit_secret, wiring.metrics, wiring.registry)
    port = settings.audit_api_port if ports.api is None else ports.api
    return AuditService(
        writer,
        wiring,
        api=AuditHttpServer(AuditApi(store, verifiers=load_note_verifiers(settings)), settings.audit_api_host, port),
        erasures=ErasureWatch(settings, store, wiring.registry, runtime.clock),
        topics=[settings.topic("audit"), settings.topic("receipts")],
        output_topics=[settings.topic("dlq"), settings.topic("audit")],  # dead letters are audited too
        handler=writer.handle,
    )


class AuditService(StreamService):
    """The stream service plus the checkpoint timer, the proof API, the overdue erasure receipts
    (``erasure_watch``), and a last checkpoint once the final batch is in."""

    def __init__(
        self, writer: AuditWriter, wiring: Wiring, *, api: AuditHttpServer, erasures: ErasureWatch, **kwargs: Any
    ) -> None:
        super().__init__(wiring, **kwargs)
        settings = wiring.settings
        self.writer = writer
        self.store = writer.store
        self.api = api
        self.erasures = erasures
        self._timer = Periodic(
            f"{self.name}-checkpoints",
            self._tick,
            max(0.05, settings.audit_checkpoint_seconds / 2),
            wait_first=True,
            errors=(CrxError,),  # retried at the next tick; the batch loop reports store failures too
            on_error=self._not_signed,
        )

    async def start(self) -> None:
        """Start the service and its proof API, then the checkpoint timer."""
        await super().start()
        await self.api.start()
        self.writer.observe_configuration()
        self._timer.start()
        self.erasures.start()

    async def stop(self) -> None:
        """Stop the timer, drain and stop the service, then sign a checkpoint of everything appended."""
        await self._timer.stop()
        await self.erasures.stop()
        if not self._started:
            return
        await self.api.stop()
        await super().stop()
        try:
            self.writer.sign_pending()
        except CrxError as exc:
            self._log.error("final checkpoint not signed", error_class=type(exc).__name__)
        finally:
            self.store.close()

    async def _tick(self) -> None:
        self.writer.observe_configuration()
        self.writer.tick()

    def _not_signed(self, exc: CrxError) -> None:
        self._log.warning("checkpoint not signed", error_class=type(exc).__name__)
