"""The internal hops wired in: CPU per record of the intake's publish, the normaliser and the router's open,
with ``internal_format`` 1 (what crx wrote before) and 2, on the same code, without a broker.

For each format, on ``BATCH`` distinct json-v1 submissions (DE about an FR+PL national, 4 jurisdictions):

- ``intake``: ``FeedPublisher`` accepting each submission (checks, seal, COLLECTION event), its producer signing
  as the intake component, as the intake service's does (not started: nothing is sent);
- ``normaliser``: ``Normaliser.handle`` on those feed records batch-signed by the intake (gate, open, parse,
  validate, seal each canonical record, NORMALISATION events);
- ``router_open``: the router's open (``InternalReader.open``, as ``BrokerStage.open_input`` calls it once the
  gate has verified the batch) on each record the normaliser wrote; the gate's batch check, the routing, the
  ledger and the per-recipient seals do not depend on the format;
- ``router``: ``Router.handle`` on that batch, without case book and ledger (no database), for scale.

CPU seconds by ``time.process_time`` per batch, best of ``ROUNDS`` (one core; the machine is shared).
Run alone with ``python -m tests.bench.internal``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from services.devstack.pipeline import ensure_keys
from services.intake.publisher import FeedPublisher, Submission, submission_id_of
from services.kernel.config import Settings
from services.kernel.internal import InternalReader, batch_signer
from services.kernel.kafka import OutRecord, Producer
from services.kernel.logging import configure_logging
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.normaliser.service import Normaliser
from services.router.policy import Policy
from services.router.service import Router
from tests.bench.e2e import PARTIES, _payload
from tests.bench.hop import _settings, _template
from tests.fixtures.keys import consumed, signed, signer

BATCH = 200
ROUNDS = 3


def _best(run: Callable[[], Any]) -> tuple[float, Any]:
    """The least CPU seconds of ``ROUNDS`` runs of ``run``, and the last run's result."""
    best, result = float("inf"), None
    for _ in range(ROUNDS):
        started = time.process_time()
        result = run()
        best = min(best, time.process_time() - started)
    return best, result


def measure(settings: Settings, keyring: KeyRing, n: int = BATCH) -> dict[str, float]:
    """CPU µs per record of each step (module docstring) under ``settings.internal_format``."""
    now = dt.datetime.now(dt.UTC)
    template = _template()
    subs = [Submission("DE", "json-v1", _payload(template, i)) for i in range(n)]
    producer = Producer(settings, signer=signer(settings, keyring, "intake"))
    publisher = FeedPublisher(settings, keyring, producer, b"secret")
    accept = publisher._accept  # the per-submission work of ``publish``, without the broker round trip

    def publish() -> list[OutRecord]:
        return [r for sub in subs for r in accept(sub, submission_id_of(sub), now)]

    intake, published = _best(publish)
    feed = consumed(signed(settings, keyring, "intake", [r for r in published if r.topic.endswith(".feed.DE")]))
    registry = CollectorRegistry()
    normaliser = Normaliser(Runtime(settings, keyring, b"secret"), ServiceMetrics.create(registry), registry)
    normalised, outputs = _best(lambda: asyncio.run(normaliser.handle(feed)))
    records = consumed(signed(settings, keyring, "normaliser", [o for o in outputs if o.topic.endswith(".records")]))
    router_registry = CollectorRegistry()
    router = Router(Runtime(settings, keyring, b"secret"), Policy.load(settings.agreements_file),
                    ServiceMetrics.create(router_registry), None, router_registry)  # fmt: skip
    broker = frozenset({settings.broker_party})

    reader = InternalReader(settings, keyring)
    producer_of = {id(rec): batch_signer(rec) for rec in records}  # as the gate hands it on (its cost aside)

    def open_all() -> None:
        for rec in records:
            reader.open(rec, channel="records", signers=broker, now=now, authenticated=producer_of[id(rec)])

    opened, _ = _best(open_all)
    routed, _ = _best(lambda: asyncio.run(router.handle(records)))
    per = 1e6 / n
    return {"intake": intake * per, "normaliser": normalised * per, "router_open": opened * 1e6 / len(records),
            "router": routed * 1e6 / len(records), "records": float(len(records))}  # fmt: skip


def main(tmp: Path) -> dict[int, dict[str, float]]:
    """The figures for format 1 and format 2, on one key store."""
    base = _settings(tmp)
    keyring = ensure_keys(base, PARTIES, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    return {fmt: measure(base.replace(internal_format=fmt), keyring) for fmt in (1, 2)}


def report(results: dict[int, dict[str, float]]) -> None:
    """Print CPU µs per record, format 1 against format 2."""
    print(f"CPU µs per record, {BATCH} submissions, best of {ROUNDS}, one core:")
    print(f"  {'step':<12} {'format 1':>9} {'format 2':>9}")
    for step in ("intake", "normaliser", "router_open", "router"):
        print(f"  {step:<12} {results[1][step]:9.1f} {results[2][step]:9.1f}")
    chain = ("intake", "normaliser", "router_open")
    one, two = (sum(results[fmt][s] for s in chain) for fmt in (1, 2))
    print(f"  {'sum of the three':<12} {one:9.1f} {two:9.1f}  (intake + normaliser + router open)")


if __name__ == "__main__":
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp_name:
        report(main(Path(tmp_name)))
