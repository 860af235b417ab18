"""A hostile producer per Kafka ACL principal (deploy/kafka/acls.sh), against a running pipeline on the real
broker: every forgery it can write is refused and counted, and genuine traffic still flows.

For each principal and each topic its ACLs let it write (of crx.audit, crx.dlq, crx.receipts, the feeds and
crx.records), a plain aiokafka producer writes four forgeries: one unsigned, one signed by a producer not
allowed for it (the principal's own key where that is the point: a normaliser forging a disclosure, DE
dead-lettering another stage's record, FR receipting as PL), a genuine message copied to another topic, and a
genuine message altered. Tansu has no ACLs, so the principal is the set of topics it would reach and the keys
it would hold; tests/kafka checks the ACLs themselves on Apache Kafka. One pipeline run per module (``run``)
records what happened; each test judges one behaviour of it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import urllib.request
from collections import Counter
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD, RECEIPT
from services.audit.accounting import Accounting, account
from services.audit.tree_verify import VerifyResult
from services.dlq.replay import DeadLetterScan, scan_dead_letters
from services.intake.publisher import Submission
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.batchauth import HEADER_SIGNER
from services.kernel.codec import codec, typed_codec
from services.kernel.config import Settings
from services.kernel.deadletter import DeadLetters
from services.kernel.envelope import SealContext, Sealer, attach_signature, routing_headers
from services.kernel.errors import UnmappedCode
from services.kernel.kafka import OutRecord
from services.kernel.suites import signature_alg
from services.keys.ring import KeyRing
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring, signed
from tests.integration.helpers import read_topic, running, sample_json, wait_for

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr-pl.json"

# principal (deploy/kafka/acls.sh) -> the topics of this test it may write, and the signing key it holds
PRINCIPALS: dict[str, tuple[tuple[str, ...], str]] = {
    "normaliser": (("records", "audit", "dlq"), "normaliser"),
    "router": (("audit", "dlq"), "router"),
    "cases": (("audit",), "cases"),
    "audit": (("audit", "dlq"), "audit"),
    "intake": (("feed.DE", "audit", "dlq"), "intake"),
    "intake-DE": (("feed.DE", "audit", "dlq"), "DE"),
    "partner-FR": (("receipts",), "FR"),
}
# the audit event each principal's own key may not put on crx.audit (producers.EVENT_PRODUCERS)
NOT_ITS_EVENT = {
    "normaliser": AuditEventType.DISCLOSURE,
    "router": AuditEventType.COLLECTION,
    "cases": AuditEventType.REFUSAL,
    "audit": AuditEventType.DELIVERY_RECEIPT,
    "intake": AuditEventType.NORMALISATION,
    "intake-DE": AuditEventType.COLLECTION,  # about FR, not DE
}
CONSUMERS = {"feed.DE": ("normaliser",), "feed.FR": ("normaliser",), "records": ("router", "lookup"),
             "audit": ("audit",), "receipts": ("audit",), "dlq": ("crx dlq list",)}  # fmt: skip


@dataclass(frozen=True)
class Forgery:
    """One record a hostile principal writes, where it lands, and the reason it must be refused for."""

    principal: str
    kind: str
    topic: str  # logical
    record: OutRecord
    reason: str
    forged_id: str | None = None  # a submission or message id that must never reach the audit log


@dataclass(frozen=True)
class HostileRun:
    """What the pipeline did with the forgeries and with the genuine traffic around them."""

    forgeries: list[Forgery]
    refused: Counter[tuple[str, str, str]]  # (service, logical topic, reason) from the services' /metrics
    dlq: DeadLetterScan
    events: list[dict[str, Any]]
    genuine: Accounting  # the genuine submissions, before and after the forgeries
    audit: VerifyResult
    out_signers: set[bytes]  # crx-auth-signer of what the partners received on crx.out.FR


class Forger:
    """Builds forgeries as a hostile principal would: fresh envelopes sealed to the broker's public key,
    events and letters of the schemas' shape, receipts signed with the partner key it holds."""

    def __init__(self, settings: Settings, keyring: KeyRing, genuine: dict[str, list[Any]]) -> None:
        self.settings, self.keyring, self.genuine = settings, keyring, genuine
        self.now = dt.datetime.now(dt.UTC)
        self._count = 0

    def _id(self, what: str) -> str:
        self._count += 1
        return f"forged-{what}-{self._count}"

    def topic(self, logical: str) -> str:
        return self.settings.topic(logical)

    def sign(self, producer: str, record: OutRecord) -> OutRecord:
        return signed(self.settings, self.keyring, producer, [record])[0]

    def feed(self) -> tuple[OutRecord, str]:
        sid = self._id("submission")
        document = sample_json(SAMPLE) | {"record_id": sid}
        ctx = SealContext("feed.DE", sid, sid, "DE", "crx", "feed/json-v1")
        sealed = Sealer(self.keyring.registry, self.keyring.store, "DE").seal(
            json.dumps(document).encode(), ctx, self.now
        )
        return OutRecord(self.topic("feed.DE"), sealed, headers=routing_headers(ctx)), sid

    def canonical(self) -> tuple[OutRecord, str]:
        document = sample_json(SAMPLE) | {"record_id": self._id("record")}
        [record] = get_adapter("json-v1").parse(json.dumps(document).encode(), ParseContext("DE", self.now))
        message_id = str(record["header"]["message_id"])
        rec_codec = typed_codec(CANONICAL_RECORD)
        ctx = SealContext("records", message_id, "s", "crx", "crx", "avro/crx.v1.CriminalRecord", rec_codec.fingerprint)
        sealed = Sealer(self.keyring.registry, self.keyring.store, "crx").seal(rec_codec.encode(record), ctx, self.now)
        return OutRecord(self.topic("records"), sealed, headers=routing_headers(ctx)), message_id

    def event(self, kind: AuditEventType, source: str = "DE") -> tuple[OutRecord, str]:
        sid = self._id("event")
        emitter = AuditEmitter("intake", self.topic("audit"), b"attacker")
        out = emitter.event(kind, occurred_at=self.now, actor=source, outcome="ok", submission_id=sid,
                            message_id=sid, source_jurisdiction=source)  # fmt: skip
        return out, sid

    def letter(self, stage: str) -> OutRecord:
        emitter = AuditEmitter(stage, self.topic("audit"), b"attacker")
        dead = DeadLetters(self.settings, stage, Sealer(self.keyring.registry, self.keyring.store, None), emitter)
        feed, _ = self.feed()
        [letter, _] = dead.records(UnmappedCode("x"), value=feed.value, source_topic=self.topic("feed.DE"),
                                   partition=0, offset=99, submission_id=self._id("letter"), jurisdiction="DE",
                                   now=self.now)  # fmt: skip
        return letter

    def receipt(self, *, party: str, signed_by: str | None) -> tuple[OutRecord, str]:
        message_id = self._id("receipt")
        key = self.keyring.registry.active("FR", "signing", self.now)
        unsigned = codec(RECEIPT).encode(
            {"receipt_id": message_id, "message_id": message_id, "correlation_id": "s", "party": party,
             "channel": f"out.{party}", "outcome": "ACCEPTED", "reason": None, "envelope_sha256": bytes(32),
             "received_at": self.now, "signer_key_id": key.key_id, "signature": None}
        )  # fmt: skip
        value = unsigned
        if signed_by is not None:
            private = self.keyring.store.load(signed_by, key.key_id)
            value = attach_signature(unsigned, signature_alg(key.algorithm).sign(private, unsigned))
        return OutRecord(self.topic("receipts"), value), message_id

    def copied(self, source: str, to: str, signer: str | None = None) -> OutRecord:
        """The first genuine record of ``source`` (signed by ``signer``, if given), headers and all, written to
        ``to``."""
        r = next(r for r in self.genuine[source] if signer is None or (HEADER_SIGNER, signer.encode()) in r.headers)
        return OutRecord(self.topic(to), r.value, key=r.key, headers=list(r.headers))

    def altered(self, source: str) -> OutRecord:
        """The first genuine record of ``source``, headers and all, its last byte flipped."""
        r = self.genuine[source][0]
        value = r.value[:-1] + bytes([r.value[-1] ^ 1])
        return OutRecord(r.topic, value, key=r.key, headers=list(r.headers))


def forgeries(forger: Forger) -> list[Forgery]:
    """Four forgeries per (principal, topic it may write)."""
    out: list[Forgery] = []
    for principal, (topics, key) in PRINCIPALS.items():
        for topic in topics:
            made: list[tuple[str, str, OutRecord, str, str | None]] = []  # kind, topic, record, reason, id
            if topic == "feed.DE":
                (feed, sid), (other, other_sid) = forger.feed(), forger.feed()
                wrong = "router" if key == "intake" else "FR"
                made += [("unsigned", topic, feed, "unsigned", sid),
                         ("wrong signer", topic, forger.sign(wrong, other), "not_allowed", other_sid),
                         ("copied", "feed.FR", forger.copied("feed.DE", "feed.FR"), "bad_signature", None),
                         ("altered", topic, forger.altered("feed.DE"), "bad_signature", None)]  # fmt: skip
            elif topic == "records":
                (record, mid), (other, other_mid) = forger.canonical(), forger.canonical()
                made += [("unsigned", topic, record, "unsigned", mid),
                         ("wrong signer", topic, forger.sign("intake", other), "not_allowed", other_mid),
                         ("copied", topic, forger.copied("audit", "records", "crx.normaliser"), "bad_signature", None),
                         ("altered", topic, forger.altered("records"), "bad_signature", None)]  # fmt: skip
            elif topic == "audit":
                (event, sid) = forger.event(AuditEventType.COLLECTION)
                source = "FR" if principal == "intake-DE" else "DE"
                (not_its, not_its_id) = forger.event(NOT_ITS_EVENT[principal], source)
                made += [("unsigned", topic, event, "unsigned", sid),
                         ("wrong signer", topic, forger.sign(key, not_its), "not_allowed", not_its_id),
                         ("copied", topic, forger.copied("records", "audit"), "bad_signature", None),
                         ("altered", topic, forger.altered("audit"), "bad_signature", None)]  # fmt: skip
            elif topic == "dlq":
                made += [("unsigned", topic, forger.letter("normaliser"), "unsigned", None),
                         ("wrong signer", topic, forger.sign("DE", forger.letter("normaliser")), "not_allowed", None),
                         ("copied", topic, forger.copied("audit", "dlq"), "bad_signature", None),
                         ("altered", topic, forger.altered("dlq"), "bad_signature", None)]  # fmt: skip
            else:  # receipts: the partner's signature is what counts
                (unsigned, mid), (as_pl, pl_mid) = (
                    forger.receipt(party="FR", signed_by=None),
                    forger.receipt(party="PL", signed_by="FR"),
                )
                made += [("unsigned", topic, unsigned, "unsigned", mid),
                         ("wrong signer", topic, as_pl, "unknown_key", pl_mid),
                         ("copied", topic, forger.copied("out.FR", "receipts"), "unsigned", None),
                         ("altered", topic, forger.altered("receipts"), "bad_signature", None)]  # fmt: skip
            out += [Forgery(principal, kind, where, rec, reason, fid) for kind, where, rec, reason, fid in made]
    return out


def _scrape(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics", timeout=10) as response:  # noqa: S310 - loopback ops URL
        return str(response.read().decode())


async def _refused(urls: list[str], settings: Settings) -> Counter[tuple[str, str, str]]:
    """crx_unauthenticated_messages_total of every service, by (service, logical topic, reason)."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for url in urls:
        for family in text_string_to_metric_families(await asyncio.to_thread(_scrape, url)):
            if family.name != "crx_unauthenticated_messages":
                continue
            for s in family.samples:
                if s.name.endswith("_total"):
                    logical = s.labels["topic"].removeprefix(settings.topic_prefix + ".")
                    counts[(s.labels["service"], logical, s.labels["reason"])] += int(s.value)
    return counts


async def _produce(settings: Settings, records: list[OutRecord]) -> None:
    """Write ``records`` with a plain producer: what any holder of a principal's credentials can do."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        futures = [await producer.send(r.topic, r.value, key=r.key, headers=r.headers or None) for r in records]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()


def expected_refusals(forged: list[Forgery]) -> Counter[tuple[str, str, str]]:
    """What the services must have counted: one per forgery, under each service that consumes its topic."""
    return Counter((service, f.topic, f.reason) for f in forged if f.topic != "dlq" for service in CONSUMERS[f.topic])


@pytest.fixture(scope="module")
async def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> HostileRun:
    """Genuine traffic (one delivered submission, one dead-lettered), then every forgery, then genuine traffic
    again; waits until the forgeries are counted and the genuine submissions settled. Records; asserts
    nothing but that the run completed."""
    settings = make_settings(kafka_bootstrap, tmp_path_factory.mktemp("hostile") / "data")
    keyring = make_keyring(settings)
    async with running(settings, keyring) as pipeline:
        now = dt.datetime.now(dt.UTC)
        first = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", json.dumps(sample_json(SAMPLE)).encode()),
             Submission("DE", "json-v1", b'{"record_id": "broken"')], now
        )  # fmt: skip
        ids = [r.submission_id for r in first]
        await wait_for(lambda: account(pipeline.store, ids).complete)
        logical = ("feed.DE", "records", "audit", "dlq", "receipts", "out.FR")
        genuine = {t: await read_topic(settings, settings.topic(t)) for t in logical}
        forged = forgeries(Forger(settings, keyring, genuine))
        await _produce(settings, [f.record for f in forged])
        later = dict(sample_json(SAMPLE), record_id="after-the-forgeries")
        [second] = await pipeline.publisher.publish([Submission("DE", "json-v1", json.dumps(later).encode())], now)
        ids.append(second.submission_id)
        urls = [url for name, url in pipeline.ops_urls().items() if name in {"normaliser", "router", "lookup", "audit"}]
        expected = expected_refusals(forged)
        for _ in range(300):
            refused = await _refused(urls, settings)
            if all(refused[k] >= n for k, n in expected.items()) and account(pipeline.store, ids).complete:
                break
            await asyncio.sleep(0.2)
        dlq = await scan_dead_letters(settings, keyring.registry)
        events = pipeline.store.events()
        books = account(pipeline.store, ids)
        audit = pipeline.verify_audit()
    out_signers = {dict(r.headers).get(HEADER_SIGNER, b"") for r in genuine["out.FR"]}
    return HostileRun(forged, refused, dlq, events, books, audit, out_signers)


def test_every_principal_wrote_four_forgeries_on_each_topic_it_may_write(run: HostileRun) -> None:
    """The forgery set covers every (principal, topic) pair of the ACLs in scope, with each kind once."""
    pairs = Counter((f.principal, f.kind) for f in run.forgeries)
    for principal, (topics, _) in PRINCIPALS.items():
        for kind in ("unsigned", "wrong signer", "copied", "altered"):
            assert pairs[(principal, kind)] == len(topics)
    assert {f.topic for f in run.forgeries} >= {"feed.DE", "records", "audit", "dlq", "receipts"}


def test_each_forgery_consumed_by_a_service_is_refused_and_counted_by_reason(run: HostileRun) -> None:
    """crx_unauthenticated_messages_total{service,topic,reason} counts exactly the forgeries on feed topics
    (normaliser), crx.records (router and lookup service), crx.audit and crx.receipts (audit writer); genuine
    traffic adds nothing."""
    assert run.refused == expected_refusals(run.forgeries)


def test_forged_dead_letters_are_not_listed_and_are_counted(run: HostileRun) -> None:
    """`crx dlq list` (scan_dead_letters) shows the one genuine dead letter and counts each forgery on
    crx.dlq by reason."""
    assert [letter["reason_code"] for letter in run.dlq.letters] == ["MALFORMED"]
    expected = Counter(f.reason for f in run.forgeries if f.topic == "dlq")
    assert Counter(run.dlq.refused_by_reason()) == expected


def test_each_refusal_is_an_error_event_and_no_forgery_reached_the_log(run: HostileRun) -> None:
    """Every refused record is one ERROR event (its reason, a commitment to its bytes); no forged
    submission, record, event or receipt id appears in any other event; nothing forged was dead-lettered."""
    errors = Counter(e["reason"] for e in run.events if e["event_type"] == "ERROR")
    consumed = [f for f in run.forgeries if f.topic not in {"dlq", "receipts"}]
    expected = Counter(f"UNAUTHENTICATED_{f.reason.upper()}" for f in consumed for _ in CONSUMERS[f.topic])
    expected["UNVERIFIABLE_RECEIPT"] = sum(f.topic == "receipts" for f in run.forgeries)
    assert errors == expected
    assert all(e["payload_commitment"] is not None for e in run.events if e["event_type"] == "ERROR")
    forged_ids = {f.forged_id for f in run.forgeries if f.forged_id}
    assert len(forged_ids) >= 10
    for event in run.events:
        if event["event_type"] != "ERROR":
            assert not {event["submission_id"], event["message_id"]} & forged_ids, event["event_type"]
    assert [e["reason"] for e in run.events if e["event_type"] == "DEAD_LETTER"] == ["MALFORMED"]


def test_genuine_traffic_flows_before_and_after_the_forgeries(run: HostileRun) -> None:
    """Both genuine notifications reach FR and PL (whose clients ignore the router's batch headers on their
    topics), the broken one is dead-lettered, the books balance and the audit log verifies."""
    assert run.out_signers == {b"crx.router"}
    assert run.genuine.complete and run.genuine.balanced
    assert run.genuine.delivered_records == 2 and run.genuine.dead_lettered == 1
    assert dict(run.genuine.delivered) == {"FR": 2, "PL": 2}
    assert run.audit.ok
