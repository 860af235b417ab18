"""Batch authentication on real keys: one signature per produced batch, every record checked against the
producers allowed for its topic (and, on crx.audit and crx.dlq, for its content)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from typing import Any, cast

import pytest

from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.batchauth import (
    HEADER_KEY,
    HEADER_LEAF,
    HEADER_PATH,
    HEADER_SIGNATURE,
    HEADER_SIGNER,
    BatchProof,
    BatchVerifier,
    Unauthenticated,
    leaf_data,
    sign_batch,
)
from services.kernel.config import Settings
from services.kernel.deadletter import DeadLetters
from services.kernel.envelope import Sealer
from services.kernel.errors import AdapterNotFound
from services.kernel.kafka import OutRecord
from services.kernel.producers import ProducerRules, component_of, component_party
from services.kernel.suites import signature_alg
from services.keys.lifecycle import KeyAdminError, generate, rotate, set_status
from services.keys.ring import KeyRing
from services.translog.merkle import appended_nodes, inclusion_proof, leaf_hash, root
from tests.fixtures.keys import signed


def _now() -> dt.datetime:
    """Now (the test's keys are valid from when its fixture made them)."""
    return dt.datetime.now(dt.UTC)


Headers = list[tuple[str, bytes]]


def _verify(settings: Settings, keyring: KeyRing, record: OutRecord, *, topic: str | None = None) -> str:
    """The producer of ``record`` (consumed from ``topic``, its own by default) as a consumer checks it."""
    where = topic or record.topic
    allowed = ProducerRules(settings).allowed(where, record.value)
    verifier = BatchVerifier(keyring.registry)
    return verifier.verify(where, record.key, record.value, record.headers, allowed=allowed, now=_now())


def _feed(settings: Settings, i: int = 0) -> OutRecord:
    return OutRecord(settings.topic("feed.DE"), f"envelope {i}".encode(), key=f"k{i}".encode())


def _replace_header(headers: Headers, name: str, value: bytes) -> Headers:
    return [(n, value if n == name else v) for n, v in headers]


def test_every_record_of_a_batch_verifies_with_one_signature_check(
    settings: Settings, keyring: KeyRing, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For every batch size from 1 to 40 (perfect and ragged trees), each record's audit path leads to the
    signed head; the signature itself is verified once per batch (the head is cached)."""
    checks = 0
    real = signature_alg

    def counting(name: str) -> Any:
        alg = real(name)

        class Counting:
            def verify(self, public: Any, signature: bytes, data: bytes) -> None:
                nonlocal checks
                checks += 1
                alg.verify(public, signature, data)

        return Counting()

    batches = [signed(settings, keyring, "intake", [_feed(settings, i) for i in range(n)]) for n in range(1, 41)]
    monkeypatch.setattr("services.kernel.batchauth.signature_alg", counting)
    verifier = BatchVerifier(keyring.registry)
    rules = ProducerRules(settings)
    for batch in batches:
        for r in batch:
            allowed = rules.allowed(r.topic, r.value)
            assert verifier.verify(r.topic, r.key, r.value, r.headers, allowed=allowed, now=_now()) == "crx.intake"
    assert checks == 40


def test_heads_and_paths_are_those_of_the_transparency_log(settings: Settings) -> None:
    """The tree head and audit paths a producer writes are exactly RFC 9162's as services/translog/merkle.py
    computes them (checked there against the transparency-dev vectors), for every batch size 1 to 70."""
    for size in range(1, 71):
        records = [_feed(settings, i) for i in range(size)]
        batch = sign_batch(records, signer="crx.intake", key_id="0" * 32, sign=lambda m: b"s")
        leaves = [leaf_hash(leaf_data(r.topic, r.key, r.value)) for r in records]
        nodes = {(level, i): h for level, i, h in appended_nodes(0, leaves, lambda level, i: b"")}

        def node(level: int, index: int, nodes: dict[tuple[int, int], bytes] = nodes) -> bytes:
            return nodes[(level, index)]

        for index, record in enumerate(batch):
            proof = BatchProof.parse(record.headers)
            assert proof.head == root(size, node)
            assert list(proof.path) == inclusion_proof(index, size, node)


def test_a_batch_spans_topics_and_each_record_is_bound_to_its_own(settings: Settings, keyring: KeyRing) -> None:
    """The normaliser's batch holds records, audit events and dead letters: each verifies on its own topic,
    and signing again replaces the headers (never two signatures on one record)."""
    emitter = AuditEmitter("normaliser", settings.topic("audit"), b"secret")
    event = emitter.event(AuditEventType.NORMALISATION, occurred_at=_now(), actor="crx", outcome="ok", message_id="m")
    record = OutRecord(settings.topic("records"), b"sealed record", key=b"k", headers=[("crx-channel", b"records")])
    batch = signed(settings, keyring, "normaliser", [record, event])
    again = signed(settings, keyring, "normaliser", batch)
    for r in again:
        assert _verify(settings, keyring, r) == "crx.normaliser"
        names = [name for name, _ in r.headers]
        assert len(names) == len(set(names))
    assert ("crx-channel", b"records") in again[0].headers


Forgery = Callable[[Settings, KeyRing, OutRecord], tuple[OutRecord, str | None]]

FORGERIES: dict[str, tuple[Forgery, str]] = {
    "unsigned": (lambda s, k, r: (dataclasses.replace(r, headers=[]), None), "unsigned"),
    "altered value": (lambda s, k, r: (dataclasses.replace(r, value=r.value + b"!"), None), "bad_signature"),
    "altered key": (lambda s, k, r: (dataclasses.replace(r, key=b"other"), None), "bad_signature"),
    "null key": (lambda s, k, r: (dataclasses.replace(r, key=None), None), "bad_signature"),
    "copied to another topic": (lambda s, k, r: (r, s.topic("feed.FR")), "bad_signature"),
    "signed by another component": (
        lambda s, k, r: (signed(s, k, "router", [dataclasses.replace(r, headers=[])])[0], None),
        "not_allowed",
    ),
    "signed by another jurisdiction": (
        lambda s, k, r: (signed(s, k, "FR", [dataclasses.replace(r, headers=[])])[0], None),
        "not_allowed",
    ),
    "truncated path": (
        lambda s, k, r: (
            dataclasses.replace(r, headers=_replace_header(r.headers, HEADER_PATH, dict(r.headers)[HEADER_PATH][:-32])),
            None,
        ),
        "bad_path",
    ),
    "another index": (
        lambda s, k, r: (
            dataclasses.replace(r, headers=_replace_header(r.headers, HEADER_LEAF, bytes.fromhex("0000000300000004"))),
            None,
        ),
        "bad_signature",
    ),
    "index past the batch": (
        lambda s, k, r: (
            dataclasses.replace(r, headers=_replace_header(r.headers, HEADER_LEAF, bytes.fromhex("0000000400000004"))),
            None,
        ),
        "bad_path",
    ),
    "header repeated": (
        lambda s, k, r: (dataclasses.replace(r, headers=[*r.headers, (HEADER_KEY, b"x")]), None),
        "bad_path",
    ),
    "null header value": (
        lambda s, k, r: (
            dataclasses.replace(r, headers=_replace_header(r.headers, HEADER_PATH, cast(bytes, None))),
            None,
        ),
        "bad_path",
    ),
    "signer name of 70,000 bytes": (
        lambda s, k, r: (
            dataclasses.replace(r, headers=_replace_header(r.headers, HEADER_SIGNER, b"x" * 70_000)),
            None,
        ),
        "not_allowed",
    ),
    "header missing": (
        lambda s, k, r: (dataclasses.replace(r, headers=[h for h in r.headers if h[0] != HEADER_PATH]), None),
        "bad_path",
    ),
    "unknown key id": (
        lambda s, k, r: (dataclasses.replace(r, headers=_replace_header(r.headers, HEADER_KEY, b"0" * 32)), None),
        "unknown_key",
    ),
    "signature of another batch": (
        lambda s, k, r: (
            dataclasses.replace(
                r,
                headers=_replace_header(
                    r.headers,
                    HEADER_SIGNATURE,
                    dict(signed(s, k, "intake", [_feed(s, 9)])[0].headers)[HEADER_SIGNATURE],
                ),
            ),
            None,
        ),
        "bad_signature",
    ),
}


@pytest.mark.parametrize("forgery", list(FORGERIES))
def test_a_forged_or_altered_record_is_refused_with_its_reason(
    settings: Settings, keyring: KeyRing, forgery: str
) -> None:
    """A genuine feed record (the intake's, third of a batch of four) verifies; each forgery of it is refused
    with the reason the metric counts."""
    genuine = signed(settings, keyring, "intake", [_feed(settings, i) for i in range(4)])[2]
    assert _verify(settings, keyring, genuine) == "crx.intake"
    make, reason = FORGERIES[forgery]
    forged, topic = make(settings, keyring, genuine)
    with pytest.raises(Unauthenticated) as refused:
        _verify(settings, keyring, forged, topic=topic)
    assert refused.value.reason == reason


@pytest.mark.parametrize("status", ["revoked", "retiring"])
def test_a_revoked_key_is_refused_at_once_and_a_retiring_one_still_verifies(
    settings: Settings, keyring: KeyRing, status: str
) -> None:
    """Revoking a component's key refuses what it signed, even a batch whose head was verified and cached
    before; after a rotation the retiring key's batches still verify and new batches use the new key."""
    verifier = BatchVerifier(keyring.registry)
    allowed = ProducerRules(settings).allowed(settings.topic("feed.DE"), b"")
    [record] = signed(settings, keyring, "intake", [_feed(settings)])
    assert verifier.verify(record.topic, record.key, record.value, record.headers, allowed=allowed, now=_now())
    old = dict(record.headers)[HEADER_KEY].decode()
    rotate(keyring, "crx.intake", "signing", _now())
    if status == "revoked":
        set_status(keyring, "crx.intake", old, "revoked")
        with pytest.raises(Unauthenticated) as refused:
            verifier.verify(record.topic, record.key, record.value, record.headers, allowed=allowed, now=_now())
        assert refused.value.reason == "unknown_key"
    else:
        assert verifier.verify(record.topic, record.key, record.value, record.headers, allowed=allowed, now=_now())
    [fresh] = signed(settings, keyring, "intake", [_feed(settings)])
    assert dict(fresh.headers)[HEADER_KEY].decode() != old
    assert verifier.verify(fresh.topic, fresh.key, fresh.value, fresh.headers, allowed=allowed, now=_now())


def _event(settings: Settings, kind: AuditEventType, component: str, source: str | None = "DE") -> OutRecord:
    emitter = AuditEmitter(component, settings.topic("audit"), b"secret")
    return emitter.event(
        kind, occurred_at=_now(), actor="crx", outcome="ok", submission_id="s", source_jurisdiction=source
    )


@pytest.mark.parametrize(
    ("kind", "producer", "accepted"),
    [
        (AuditEventType.COLLECTION, "intake", True),
        (AuditEventType.COLLECTION, "dlq", True),
        (AuditEventType.COLLECTION, "DE", True),  # a national intake, about its own jurisdiction
        (AuditEventType.COLLECTION, "FR", False),  # ... never about another
        (AuditEventType.COLLECTION, "router", False),
        (AuditEventType.NORMALISATION, "normaliser", True),
        (AuditEventType.NORMALISATION, "intake", False),
        (AuditEventType.DISCLOSURE, "router", True),
        (AuditEventType.DISCLOSURE, "normaliser", False),
        (AuditEventType.REFUSAL, "router", True),
        (AuditEventType.DEAD_LETTER, "audit", True),
        (AuditEventType.DEAD_LETTER, "DE", True),
        (AuditEventType.ERROR, "normaliser", True),
        (AuditEventType.ERROR, "intake", False),
        (AuditEventType.DELIVERY_RECEIPT, "audit", False),  # the writer makes these from verified receipts
        (AuditEventType.KEY_CHANGE, "audit", False),  # ... and appends its own events directly
        (AuditEventType.POLICY_CHANGE, "router", False),
        (AuditEventType.ERASURE, "router", False),
    ],
)
def test_each_audit_event_type_is_accepted_only_from_its_producers(
    settings: Settings, keyring: KeyRing, kind: AuditEventType, producer: str, accepted: bool
) -> None:
    """crx.audit takes each event type only from the component that emits it (EVENT_PRODUCERS)."""
    [record] = signed(settings, keyring, producer, [_event(settings, kind, "any")])
    if accepted:
        assert _verify(settings, keyring, record)
    else:
        with pytest.raises(Unauthenticated) as refused:
            _verify(settings, keyring, record)
        assert refused.value.reason == "not_allowed"


def test_a_national_intake_may_dead_letter_only_its_own_refusals(settings: Settings, keyring: KeyRing) -> None:
    """DE's own `crx push` writes the dead letters of what it refused at its door, about DE; a letter it signs
    for another stage or jurisdiction is refused, while the broker's components write any."""
    emitter = AuditEmitter("intake", settings.topic("audit"), b"secret")
    sealer = Sealer(keyring.registry, keyring.store, None)

    def letter(stage: str, jurisdiction: str) -> OutRecord:
        dead = DeadLetters(settings, stage, sealer, emitter)
        [record, _] = dead.records(
            AdapterNotFound("x"),
            value=b"x",
            source_topic=settings.topic(f"feed.{jurisdiction}"),
            submission_id="s",
            jurisdiction=jurisdiction,
            now=_now(),
        )
        return record

    assert _verify(settings, keyring, signed(settings, keyring, "DE", [letter("intake", "DE")])[0]) == "DE"
    for forged in (letter("intake", "FR"), letter("normaliser", "DE")):
        with pytest.raises(Unauthenticated):
            _verify(settings, keyring, signed(settings, keyring, "DE", [forged])[0])
        assert _verify(settings, keyring, signed(settings, keyring, "router", [forged])[0]) == "crx.router"


def test_the_receipts_topic_takes_no_batch_signature_and_unknown_topics_none(
    settings: Settings, keyring: KeyRing
) -> None:
    """Receipts carry the partner's own signature (checked by the audit writer); a topic crx does not know
    has no producer at all."""
    rules = ProducerRules(settings)
    assert rules.allowed(settings.topic("receipts"), b"") == frozenset()
    assert rules.allowed("elsewhere", b"") == frozenset()
    assert rules.allowed(settings.topic("out.FR"), b"") == {"crx.router", "crx.cases"}


def test_header_parsing_is_strict_and_the_format_is_as_documented(settings: Settings, keyring: KeyRing) -> None:
    """The headers follow schemas/ENVELOPE.md: a 64-byte Ed25519 signature, index and size as two u32, an
    audit path of 32-byte hashes; no headers at all is "unsigned"."""
    batch = signed(settings, keyring, "intake", [_feed(settings, i) for i in range(5)])
    proof = BatchProof.parse(batch[4].headers)
    assert (proof.signer, proof.index, proof.size, len(proof.signature)) == ("crx.intake", 4, 5, 64)
    assert len(proof.path) == 1  # leaf 4 of 5: its sibling is the head of the first four
    with pytest.raises(Unauthenticated) as none:
        BatchProof.parse(None)
    assert none.value.reason == "unsigned"
    with pytest.raises(ValueError, match="1 to"):
        sign_batch([], signer="crx.intake", key_id="0" * 32, sign=lambda m: b"")


def test_component_keys_are_ed25519_signing_keys_under_their_own_party(settings: Settings, keyring: KeyRing) -> None:
    """Each component has one Ed25519 signing key (and no encryption key) under ``<broker>.<component>``, a
    party id no jurisdiction can have; a component gets no encryption key, by generation or rotation."""
    for component in ("intake", "normaliser", "router", "cases", "audit", "dlq"):
        party = component_party("crx", component)
        assert component_of(party) == component
        [entry] = keyring.registry.entries(party)
        assert (entry.purpose, entry.algorithm, entry.status) == ("signing", "Ed25519", "active")
        assert keyring.store.holds(party, entry.key_id)
    assert component_of("DE") is None and component_of("router") is None
    with pytest.raises(KeyAdminError):
        rotate(keyring, "crx.router", "encryption", _now())
    with pytest.raises(KeyAdminError):
        generate(keyring, "crx.audit", _now(), hpke="P256-SHA256-AES256GCM", signature="Ed25519")
