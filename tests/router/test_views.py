"""Each recipient gets its own view of a record, encoded once per distinct view: recipients whose agreements
minimise alike (and with the same erase-by date) get the same bytes, each exactly what encoding its own view
gives, and each DISCLOSURE commits to the bytes its recipient got."""

from __future__ import annotations

import copy
import datetime as dt
from importlib import resources
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from schemas import AUDIT_EVENT, CANONICAL_RECORD
from services.kernel.audit_events import AuditEmitter
from services.kernel.codec import codec, typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.ledger.retention import retention_end
from services.ledger.store import DisclosureLedger
from services.router.minimise import minimisation, minimise
from services.router.policy import Agreement, Policy
from services.router.service import Router
from tests.ledger.test_lifecycle import record
from tests.router.batches import on_records

SECRET = b"views-secret"


def _policy(fr: dict[str, Any], pl: dict[str, Any]) -> Policy:
    """The packaged agreements with DE->FR and DE->PL both ecris-full without exclusions, then changed by ``fr``
    and ``pl``."""
    data = yaml.safe_load(resources.files("services.router").joinpath("default_agreements.yaml").read_text("utf-8"))
    for entry in data["agreements"]:
        if entry["sender"] == "DE" and entry["recipient"] in ("FR", "PL"):
            entry.update(profile="ecris-full", exclude_offence_categories=[])
            entry.update(fr if entry["recipient"] == "FR" else pl)
    return Policy.parse(data)


class Counting:
    """The canonical codec, counting its encodes."""

    def __init__(self) -> None:
        self.codec = typed_codec(CANONICAL_RECORD)
        self.encodes = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.codec, name)

    def encode(self, record: Any) -> bytes:
        self.encodes += 1
        return self.codec.encode(record)


async def _views(
    settings: Settings, keyring: KeyRing, policy: Policy, tmp: str
) -> tuple[dict[str, tuple[bytes, bytes]], int]:
    """Recipient -> (the plaintext it opens, its DISCLOSURE's payload commitment), for record(1) to FR and PL;
    and how many times the router encoded a view."""
    registry = CollectorRegistry()
    ledger = DisclosureLedger(f"{tmp}/ledger.sqlite3")
    router = Router(Runtime(settings, keyring, SECRET), policy, ServiceMetrics.create(registry), None, registry, ledger)
    counting = router._codec = Counting()  # type: ignore[assignment]
    outputs = await router.handle(on_records(settings, keyring, [record(1)]))
    now = dt.datetime.now(dt.UTC)
    commitments = {
        e["recipients"][0]: e["payload_commitment"]
        for e in (codec(AUDIT_EVENT).decode(o.value) for o in outputs if o.topic == settings.topic("audit"))
    }
    views = {}
    for party in ("FR", "PL"):
        [out] = [o for o in outputs if o.topic == settings.topic(f"out.{party}")]
        opened = Opener(keyring.registry, keyring.store, party).open(
            out.value, channel=f"out.{party}", now=now, signers=frozenset({settings.broker_party})
        )
        views[party] = (opened.plaintext, commitments[party])
    return views, counting.encodes


def _expected(policy: Policy, party: str) -> bytes:
    """What encoding ``party``'s own view of record(1) gives (retention as of today)."""
    rec = typed_codec(CANONICAL_RECORD).decode(typed_codec(CANONICAL_RECORD).encode(record(1)))
    [decision] = [d for d in policy.decide(rec) if d.recipient == party]
    assert decision.agreement is not None
    shown = minimise(rec, decision.agreement)
    end = retention_end(rec, decision.agreement, dt.datetime.now(dt.UTC))
    shown = {**shown, "convictions": [{**c, "retention_end": end} for c in shown["convictions"]]}
    return typed_codec(CANONICAL_RECORD).encode(shown)


@pytest.mark.parametrize(
    ("fr", "pl", "same"),
    [
        ({"retention_days": 3650}, {"retention_days": 3650}, True),
        ({"retention_days": 3650}, {"retention_days": 1825}, False),
        ({"retention_days": 3650}, {"profile": "ecris-minimal", "retention_days": 3650}, False),
        ({"retention_days": 3650}, {"retention_days": 3650, "exclude_offence_categories": ["THEFT"]}, False),
    ],
)
async def test_each_recipient_gets_its_own_view_shared_only_when_equal(
    settings: Settings, keyring: KeyRing, tmp_path: Any, fr: dict[str, Any], pl: dict[str, Any], same: bool
) -> None:
    policy = _policy(fr, pl)
    views, encodes = await _views(settings, keyring, policy, str(tmp_path))
    emitter = AuditEmitter("router", "audit", SECRET)
    message_id = str(record(1)["header"]["message_id"])
    for party, (plaintext, commitment) in views.items():
        assert plaintext == _expected(policy, party)
        assert commitment == emitter.commitment(message_id, plaintext)
    assert (views["FR"][0] == views["PL"][0]) is same
    assert encodes == (1 if same else 2)


def _agreement(**change: Any) -> Agreement:
    [fr] = [d for d in _policy({}, {}).decide(record(1)) if d.recipient == "FR"]
    assert fr.agreement is not None
    base = copy.copy(fr.agreement)
    return Agreement(**{**base.__dict__, **change})


def test_minimisation_names_what_decides_a_view_and_nothing_else() -> None:
    base = _agreement()
    assert minimisation(base) == minimisation(
        _agreement(id="other", sender="FR", recipient="PL", legal_basis=frozenset(), purposes=frozenset(),
                   message_types=frozenset(), retention_days=1)
    )  # fmt: skip
    profile = base.profile
    changed = [
        _agreement(exclude_offence_categories=frozenset({"THEFT"})),
        _agreement(non_conviction_information=not base.non_conviction_information),
        _agreement(profile=type(profile)(profile.name, profile.person - {"sex"}, profile.conviction, "day")),
        _agreement(profile=type(profile)(profile.name, profile.person, profile.conviction - {"sanctions"}, "day")),
        _agreement(profile=type(profile)(profile.name, profile.person, profile.conviction, "year")),
    ]
    for agreement in changed:
        assert minimisation(agreement) != minimisation(base)
