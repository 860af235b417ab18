"""The floor: the CPU cost of the work no pipeline shape can avoid per record, measured in isolation.

The bench workload (``make bench``): json-v1 notifications from DE about persons of nationalities FR, PL and
IT, so 3 recipients each, under agreements that give FR and IT the ``ecris-full`` profile and PL
``ecris-minimal``. Per record the unavoidable work is:

- ``parse``: the adapter parses the submission once (``adapters.json_v1``);
- ``encode``: the canonical record minimised and encoded once per distinct recipient profile (the profiles
  are those of the agreements the policy decides under, counted, not assumed);
- ``seal_sign``: one HPKE seal to the recipient and one signature by the broker per recipient
  (``Sealer.seal`` with a signer);
- ``open_verify``: the recipient's signature verification and HPKE open per recipient (``Opener.open``);
- ``audit``: the audit events the pipeline logs per record, each appended to the real Merkle tree store
  (``SqliteAuditStore.append``, batches of ``AUDIT_BATCH`` as the writer appends a consumed batch: leaf rows,
  RFC 9162 nodes, one transaction; fsync is I/O wait, not CPU, so it is not in the figure). The number of
  events per record is what the e2e run counted in its audit store, or ``DERIVED_AUDIT_EVENTS`` without one.

Under the floor, ``primitives``: the raw cryptographic operations alone (cryptography's HPKE encrypt and
decrypt with the recipient's key and suite, the broker's signature and its verification, nothing of the
envelope around them), and ``crypto_records_per_s``, what those alone allow on every core: the ceiling no
implementation of these guarantees with these suites (DESIGN.md's FIPS default, P-256) can pass here. The
delivery receipts (a partner signature per copy, verified by the audit writer) are evidence the floor leaves
out; ``receipts_us_per_record`` gives their raw cost beside it.

Each step is CPU time of this process (``time.process_time``, so other load on the machine does not inflate
it) per call over many calls, real crx functions on a real record, keys on disk. ``records_per_s`` is
``cores * 1e6 / us_per_record``: it assumes perfect use of every core (no broker, no scheduling, no I/O).
Run alone with ``python -m tests.bench.floor``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import yaml

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from schemas.records import CriminalRecord
from services.audit.sqlite_store import SqliteAuditStore
from services.devstack.pipeline import ensure_keys
from services.kernel.codec import Codec, typed_codec
from services.kernel.config import Settings, load_settings
from services.kernel.envelope import Opener, SealContext, Sealer
from services.kernel.suites import hpke_suite, signature_alg
from services.keys.ring import KeyRing
from services.router.minimise import minimise
from services.router.policy import Agreement, Policy
from services.translog import merkle
from tests.bench.audit import events
from tests.bench.batchauth import _us_per_call

RECIPIENTS = ("FR", "PL", "IT")
PARTIES = ("crx", "DE", *RECIPIENTS)
PROFILE_OF = {"FR": "ecris-full", "PL": "ecris-minimal", "IT": "ecris-full"}
CONTENT_TYPE = "avro/crx.v1.CriminalRecord"
SECONDS = 0.6  # CPU seconds per measured call (each recipient's and profile's own)
AUDIT_BATCH = 500
# Without an e2e run to count them: a COLLECTION and a NORMALISATION per record, a DISCLOSURE and a
# DELIVERY_RECEIPT per recipient (what a run of the pipeline logged when this was written).
DERIVED_AUDIT_EVENTS = 2 + 2 * len(RECIPIENTS)
ASSUMES = "perfect use of every core: cores * 1e6 / us_per_record, no broker, scheduling or I/O"


def template() -> dict[str, Any]:
    """The json-v1 DE notification sample the bench pushes, as a document."""
    return dict(json.loads(dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"]))


def payload(doc: dict[str, Any], i: int) -> bytes:
    """Submission ``i`` of the workload: ``doc`` with record id BENCH-<i> and nationalities FR, PL, IT."""
    out = dict(doc, record_id=f"BENCH-{i:06d}")
    out["person"] = dict(doc["person"], nationalities=list(RECIPIENTS))
    return json.dumps(out).encode()


def write_agreements(path: Path) -> None:
    """The bench's agreements file: DE may notify each recipient, under ``PROFILE_OF``'s profile."""
    profiles = yaml.safe_load((Path(__file__).parents[2] / "services/router/default_agreements.yaml").read_text())[
        "profiles"
    ]
    doc = {
        "version": 1,
        "profiles": profiles,
        "rules": [
            {
                "id": "ecris-notify-nationality-states",
                "message_types": ["NOTIFICATION", "UPDATE", "DELETION"],
                "recipients": "nationality-states",
            }
        ],
        "agreements": [
            {
                "id": f"bench-DE-{r}",
                "sender": "DE",
                "recipient": r,
                "legal_basis": ["EU-FD-2009/315"],
                "purposes": ["CRIMINAL_PROCEEDINGS", "ECRIS_NOTIFICATION"],
                "message_types": ["NOTIFICATION"],
                "profile": PROFILE_OF[r],
                "retention_days": 365,
            }
            for r in RECIPIENTS
        ],
    }
    path.write_text(yaml.safe_dump(doc))


def bench_settings(bootstrap: str, data_dir: Path, agreements: Path, prefix: str, **overrides: Any) -> Settings:
    """Settings of one bench run: the four jurisdictions, the bench's agreements, its own topic prefix."""
    return load_settings(
        None,
        {},
        kafka_bootstrap=bootstrap,
        jurisdictions="DE,FR,PL,IT",
        data_dir=data_dir,
        agreements_file=agreements,
        topic_prefix=prefix,
        **overrides,
    )


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def audit_append_us(tmp: Path, seconds: float) -> dict[str, float]:
    """CPU µs per audit event appended to a SQLite audit store in batches of ``AUDIT_BATCH`` (``store``), and of
    the RFC 9162 hashing alone (``merkle``: leaf hash and new nodes over an in-memory node table)."""
    store = SqliteAuditStore(str(tmp / "floor-audit.sqlite3"))
    batches: list[list[bytes]] = []
    appended = 0
    elapsed = 0.0
    while elapsed < seconds or appended == 0:
        batch = list(events(AUDIT_BATCH))
        batches.append(batch)
        started = time.process_time()
        store.append(batch)
        elapsed += time.process_time() - started
        appended += len(batch)
    store.close()
    nodes: dict[tuple[int, int], bytes] = {}
    started = time.process_time()
    size = 0
    for batch in batches:
        for level, index, digest in merkle.appended_nodes(
            size, [merkle.leaf_hash(leaf) for leaf in batch], lambda lv, ix: nodes[(lv, ix)]
        ):
            nodes[(level, index)] = digest
        size += len(batch)
    hashing = time.process_time() - started
    return {"store": elapsed / appended * 1e6, "merkle": hashing / size * 1e6}


def primitives_us(
    keyring: KeyRing, broker: str, recipients: list[str], view: bytes, now: dt.datetime, seconds: float
) -> dict[str, float]:
    """CPU µs of each raw cryptographic operation per call, averaged over ``recipients`` (their own keys and
    suites): ``hpke_seal`` and ``hpke_open`` of ``view``, the broker's ``sign`` and ``verify`` of bytes the
    size of a sealed envelope, and a recipient's ``receipt_sign`` (its own signing key; its verification is
    counted at ``verify``'s cost, the same default algorithm). Raises KeyUnavailable when a key is missing."""
    registry, store = keyring.registry, keyring.store
    signing = registry.active(broker, "signing", now)
    alg, sig_key = signature_alg(signing.algorithm), store.load(broker, signing.key_id)
    signed = bytes(len(view) + 300)
    signature = alg.sign(sig_key, signed)
    per_recipient = dict.fromkeys(("hpke_seal", "hpke_open", "receipt_sign"), 0.0)
    for recipient in recipients:
        entry = registry.active(recipient, "encryption", now)
        suite, private = hpke_suite(entry.algorithm), store.load(recipient, entry.key_id)
        sealed = suite.encrypt(view, entry.load_public(), b"info")
        own = registry.active(recipient, "signing", now)
        receipt_sign = partial(signature_alg(own.algorithm).sign, store.load(recipient, own.key_id), b"r" * 400)
        per_recipient["hpke_seal"] += _us_per_call(partial(suite.encrypt, view, entry.load_public(), b"info"), seconds)
        per_recipient["hpke_open"] += _us_per_call(partial(suite.decrypt, sealed, private, b"info"), seconds)
        per_recipient["receipt_sign"] += _us_per_call(receipt_sign, seconds)
    return {
        "sign": _us_per_call(partial(alg.sign, sig_key, signed), seconds),
        "verify": _us_per_call(partial(alg.verify, signing.load_public(), signature, signed), seconds),
        **{k: v / len(recipients) for k, v in per_recipient.items()},
    }


def _view(rec_codec: Codec[CriminalRecord], record: CriminalRecord, agreement: Agreement) -> bytes:
    """What the router encodes for a recipient under ``agreement``: the record minimised to its profile."""
    return rec_codec.encode(minimise(record, agreement))


def measure(
    tmp: Path, *, audit_events_per_record: float | None = None, seconds: float = SECONDS, workers: int | None = None
) -> dict[str, Any]:
    """The floor of the bench workload (module docstring), keys and stores made under ``tmp``.

    Returns ``us_per_record`` (the sum of ``steps``, each µs per record: the per-call cost times its count),
    ``per_call`` (µs of one call of each step), ``counts`` (calls per record), ``records_per_s`` for ``workers``
    cores (default: this machine's), ``cores`` and ``assumes``. Raises ConfigError for a bad agreements file.
    """
    now = dt.datetime.now(dt.UTC)
    tmp.mkdir(parents=True, exist_ok=True)
    agreements = tmp / "agreements.yaml"
    write_agreements(agreements)
    settings = bench_settings("127.0.0.1:1", tmp / "data", agreements, "benchfloor")
    keyring = ensure_keys(settings, PARTIES, now - dt.timedelta(minutes=1))
    adapter = get_adapter("json-v1")
    submission = payload(template(), 0)
    ctx = ParseContext("DE", now)
    [record] = adapter.parse(submission, ctx)
    rec_codec = typed_codec(CANONICAL_RECORD)
    decisions = [d for d in Policy.load(agreements).decide(record) if d.allowed and d.agreement is not None]
    by_profile = {d.agreement.profile.name: d.agreement for d in decisions if d.agreement is not None}
    views = {name: _view(rec_codec, record, agreement) for name, agreement in by_profile.items()}
    sealer = Sealer(keyring.registry, keyring.store, settings.broker_party)
    broker = frozenset({settings.broker_party})
    encode_us = sum(
        _us_per_call(partial(_view, rec_codec, record, agreement), seconds) for agreement in by_profile.values()
    )
    seal_us = open_us = 0.0
    for d in decisions:
        assert d.recipient is not None and d.agreement is not None  # allowed decisions name both
        view = views[d.agreement.profile.name]
        seal_ctx = SealContext(
            f"out.{d.recipient}", "m-1", "s-1", settings.broker_party, d.recipient, CONTENT_TYPE, rec_codec.fingerprint
        )
        sealed = sealer.seal(view, seal_ctx, now)
        opener = Opener(keyring.registry, keyring.store, d.recipient)
        seal_us += _us_per_call(partial(sealer.seal, view, seal_ctx, now), seconds)
        open_us += _us_per_call(
            partial(opener.open, sealed, channel=seal_ctx.channel, now=now, signers=broker), seconds
        )
    audit = audit_append_us(tmp, seconds)
    to = [d.recipient for d in decisions if d.recipient]
    raw = primitives_us(keyring, settings.broker_party, to, next(iter(views.values())), now, seconds / 4)
    per_event = audit_events_per_record if audit_events_per_record is not None else float(DERIVED_AUDIT_EVENTS)
    recipients = len(decisions)
    counts = {"parse": 1.0, "encode": float(len(by_profile)), "seal_sign": float(recipients),
              "open_verify": float(recipients), "audit": per_event}  # fmt: skip
    steps = {
        "parse": _us_per_call(lambda: adapter.parse(submission, ctx), seconds),
        "encode": encode_us,
        "seal_sign": seal_us,
        "open_verify": open_us,
        "audit": audit["store"] * per_event,
    }
    total = sum(steps.values())
    n = workers or cores()
    crypto = recipients * (raw["hpke_seal"] + raw["sign"] + raw["hpke_open"] + raw["verify"])
    receipts = recipients * (raw["receipt_sign"] + raw["verify"])
    return {
        "us_per_record": round(total, 1),
        "steps": {k: round(v, 1) for k, v in steps.items()},
        "per_call": {k: round(v / counts[k], 1) if counts[k] else 0.0 for k, v in steps.items()},
        "counts": counts,
        "profiles": sorted(by_profile),
        "recipients": recipients,
        "audit_events_per_record": per_event,
        "audit_events_counted": audit_events_per_record is not None,
        "audit_merkle_only_us_per_event": round(audit["merkle"], 2),
        "cores": n,
        "records_per_s": round(n * 1e6 / total, 1) if total > 0 else math.inf,
        "assumes": ASSUMES,
        "primitives": {k: round(v, 1) for k, v in raw.items()},
        "crypto_us_per_record": round(crypto, 1),
        "crypto_records_per_s": round(n * 1e6 / crypto, 1) if crypto > 0 else math.inf,
        "receipts_us_per_record": round(receipts, 1),
        "crypto_with_receipts_records_per_s": round(n * 1e6 / (crypto + receipts), 1) if crypto > 0 else math.inf,
    }


def report(floor: dict[str, Any]) -> None:
    """Print the floor and its breakdown."""
    events_from = "counted in the e2e run's audit store" if floor["audit_events_counted"] else "derived"
    print(
        f"floor: {floor['us_per_record']:.0f} CPU µs per record = {floor['records_per_s']:,.0f} records/s on "
        f"{floor['cores']} cores (assumes {floor['assumes']})"
    )
    for step, us in floor["steps"].items():
        count = floor["counts"][step]
        print(f"  {step:<12} {us:7.1f} µs/record = {count:g} x {floor['per_call'][step]:.1f} µs")
    print(
        f"  ({len(floor['profiles'])} profiles: {', '.join(floor['profiles'])}; {floor['audit_events_per_record']:g} "
        f"audit events per record, {events_from}; of each append, RFC 9162 hashing alone "
        f"{floor['audit_merkle_only_us_per_event']} µs)"
    )
    raw = floor["primitives"]
    print(
        f"  of which the cryptographic primitives alone: {floor['crypto_us_per_record']:.0f} µs/record = "
        f"{floor['recipients']} x (HPKE seal {raw['hpke_seal']:.0f} + sign {raw['sign']:.0f} + HPKE open "
        f"{raw['hpke_open']:.0f} + verify {raw['verify']:.0f}): at most {floor['crypto_records_per_s']:,.0f} "
        f"records/s on {floor['cores']} cores with nothing else; the delivery receipts' signing and "
        f"verification add {floor['receipts_us_per_record']:.0f} µs/record: with them at most "
        f"{floor['crypto_with_receipts_records_per_s']:,.0f} records/s"
    )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp_name:
        report(measure(Path(tmp_name)))
