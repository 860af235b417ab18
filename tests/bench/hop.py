"""Internal hops: today's format 1 (HPKE seal + envelope signature per record) against format 2 (a data key
wrapped once, AES-256-GCM per record), and where the normaliser and the router spend their time.

``rates``: CPU µs per record, one core, on a real canonical record (the json-v1 DE notification sample, encoded
once), sealed by the broker to itself on ``records``: format 1 ``Sealer.seal`` (HPKE P-256 + ECDSA P-256) and
``Opener.open`` (signature verification + HPKE), format 2 ``HopSealer.seal`` and ``HopOpener.open`` with the
data key already unwrapped (the steady state), and the one HPKE unwrap a consumer pays per data key. Batch
authentication is the same in both (``tests.bench.batchauth``), so it is left out here.

``profile``: cProfile of ``Normaliser.handle`` and ``Router.handle`` (with its case book and disclosure ledger
on SQLite, as ``router.build`` makes it) driven directly on a batch of records sealed and batch-signed as on
the topics (no broker), the top functions by own time.
Run alone with ``python -m tests.bench.hop`` (``--profile`` adds the profiles).
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import json
import pstats
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from adapters.base import ParseContext, get_adapter
from schemas import CANONICAL_RECORD
from services.cases.book import CaseBook
from services.cases.deadlines import DeadlineRules
from services.cases.store import CaseStore
from services.devstack.pipeline import ensure_keys
from services.kernel.codec import typed_codec
from services.kernel.config import Settings, load_settings
from services.kernel.envelope import Opener, SealContext, Sealer, routing_headers
from services.kernel.hop import HopContext, HopOpener, HopSealer
from services.kernel.kafka import OutRecord
from services.kernel.logging import configure_logging
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.ledger.store import DisclosureLedger
from services.normaliser.service import Normaliser
from services.router.policy import Policy
from services.router.service import Router
from tests.bench.batchauth import _us_per_call
from tests.bench.e2e import PARTIES, _agreements, _payload
from tests.fixtures.keys import consumed, signed

SECONDS = 0.6
BATCH = 200
TOP = 18
CONTENT_TYPE = "avro/crx.v1.CriminalRecord"


def _settings(tmp: Path) -> Settings:
    tmp.mkdir(parents=True, exist_ok=True)
    agreements = tmp / "agreements.yaml"
    _agreements(agreements)
    return load_settings(
        None, {}, kafka_bootstrap="127.0.0.1:1", jurisdictions="DE,FR,PL,IT", data_dir=tmp / "data",
        agreements_file=agreements, topic_prefix="benchhop",
    )  # fmt: skip


def _template() -> dict[str, Any]:
    return dict(json.loads(dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"]))


def rates(tmp: Path, seconds: float = SECONDS) -> dict[str, float]:
    """CPU µs per record of each operation (module docstring), and the sizes in bytes."""
    settings = _settings(tmp)
    now = dt.datetime.now(dt.UTC)
    keyring = ensure_keys(settings, ("crx",), now - dt.timedelta(minutes=1))
    [record] = get_adapter("json-v1").parse(_payload(_template(), 0), ParseContext("DE", now))
    rec_codec = typed_codec(CANONICAL_RECORD)
    plaintext = rec_codec.encode(record)
    ctx1 = SealContext("records", "m-1", "s-1", "crx", "crx", CONTENT_TYPE, rec_codec.fingerprint)
    ctx2 = HopContext("records", "m-1", "s-1", CONTENT_TYPE, rec_codec.fingerprint)
    sealer, opener = Sealer(keyring.registry, keyring.store, "crx"), Opener(keyring.registry, keyring.store, "crx")
    hop_sealer = HopSealer(keyring.registry, "crx", "crx.normaliser")
    hop_opener = HopOpener(keyring.registry, keyring.store, "crx")
    sealed1, sealed2 = sealer.seal(plaintext, ctx1, now), hop_sealer.seal(plaintext, ctx2, now)
    broker, producers = frozenset({"crx"}), frozenset({"crx.normaliser"})

    def cold_open() -> None:
        HopOpener(keyring.registry, keyring.store, "crx").open(sealed2, channel="records", now=now)

    return {
        "v1_seal_sign": _us_per_call(lambda: sealer.seal(plaintext, ctx1, now), seconds),
        "v1_verify_open": _us_per_call(
            lambda: opener.open(sealed1, channel="records", now=now, signers=broker), seconds
        ),
        "v2_seal": _us_per_call(lambda: hop_sealer.seal(plaintext, ctx2, now), seconds),
        "v2_open": _us_per_call(
            lambda: hop_opener.open(sealed2, channel="records", now=now, producers=producers), seconds
        ),
        "v2_unwrap_once": _us_per_call(cold_open, seconds),
        "plaintext_bytes": float(len(plaintext)),
        "v1_bytes": float(len(sealed1)),
        "v2_bytes": float(len(sealed2)),
    }  # fmt: skip


def report(r: dict[str, float]) -> None:
    """Print the comparison."""
    print(f"internal hop, one canonical record ({int(r['plaintext_bytes'])} B), CPU µs per record, one core:")
    print(f"  format 1 (HPKE P-256 + ECDSA P-256 per record): seal+sign {r['v1_seal_sign']:6.1f}  "
          f"verify+open {r['v1_verify_open']:6.1f}  ({int(r['v1_bytes'])} B)")  # fmt: skip
    print(f"  format 2 (AES-256-GCM, data key cached):       seal      {r['v2_seal']:6.1f}  "
          f"open        {r['v2_open']:6.1f}  ({int(r['v2_bytes'])} B)")  # fmt: skip
    print(f"  format 2, a consumer's first record of a data key (HPKE unwrap + open): {r['v2_unwrap_once']:.1f}")


def _feed_batch(settings: Settings, keyring: KeyRing, n: int) -> list[Any]:
    """``n`` json-v1 submissions as the intake puts them on crx.feed.DE, batch-signed by the intake."""
    template, now = _template(), dt.datetime.now(dt.UTC)
    sealer = Sealer(keyring.registry, keyring.store, "crx")
    out = []
    for i in range(n):
        ctx = SealContext("feed.DE", f"sub-{i}", f"sub-{i}", "crx", "crx", "feed/json-v1")
        sealed = sealer.seal(_payload(template, i), ctx, now)
        out.append(OutRecord(settings.topic("feed.DE"), sealed, key=f"{i}".encode(), headers=routing_headers(ctx)))
    return consumed(signed(settings, keyring, "intake", out))


def _top(profile: cProfile.Profile, n: int) -> list[tuple[str, float, float, int]]:
    """The ``n`` functions with the most own time: (name, own s, cumulative s, calls)."""
    stats = pstats.Stats(profile)
    rows = []
    for (path, line, name), (_, calls, own, cumulative, _) in stats.stats.items():  # type: ignore[attr-defined]
        short = "/".join(Path(path).parts[-2:]) if path != "~" else ""
        rows.append((f"{short}:{line}({name})", own, cumulative, calls))
    return sorted(rows, key=lambda row: row[1], reverse=True)[:n]


def profile(tmp: Path, n: int = BATCH) -> dict[str, Any]:
    """cProfile of the normaliser on ``n`` feed records and of the router on what it produced."""
    settings = _settings(tmp)
    keyring = ensure_keys(settings, PARTIES, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1))
    registry = CollectorRegistry()
    runtime = Runtime(settings, keyring, b"secret")
    normaliser = Normaliser(runtime, ServiceMetrics.create(registry), registry)
    router_registry = CollectorRegistry()
    policy = Policy.load(settings.agreements_file)
    cases = CaseBook(CaseStore.open(settings), DeadlineRules.load(settings.agreements_file), b"secret")
    router = Router(
        runtime,
        policy,
        ServiceMetrics.create(router_registry),
        cases,
        router_registry,
        DisclosureLedger.open(settings),
    )  # fmt: skip  (as router.build makes it)
    feed = _feed_batch(settings, keyring, 2 * n)  # the first half timed bare, the second profiled
    results: dict[str, Any] = {}
    plain, outputs = _timed(lambda: normaliser.handle(feed[:n]), None)
    prof = cProfile.Profile()
    _, profiled = _timed(lambda: normaliser.handle(feed[n:]), prof)
    results["normaliser"] = {"records": n, "cpu_s": plain, "seconds": _total(prof), "top": _top(prof, TOP)}
    batches = [
        consumed(signed(settings, keyring, "normaliser", [o for o in out if o.topic == settings.topic("records")]))
        for out in (outputs, profiled)
    ]
    plain, routed = _timed(lambda: router.handle(batches[0]), None)
    prof = cProfile.Profile()
    _timed(lambda: router.handle(batches[1]), prof)
    outs = sum(o.topic.startswith(settings.topic("out.")) for o in routed)
    results["router"] = {"records": len(batches[0]), "outputs": outs, "cpu_s": plain, "seconds": _total(prof),
                         "top": _top(prof, TOP)}  # fmt: skip
    return results


def _timed(
    handle: Callable[[], Coroutine[Any, Any, list[OutRecord]]], prof: cProfile.Profile | None
) -> tuple[float, list[OutRecord]]:
    """CPU seconds of one handled batch and its outputs; under ``prof`` when given."""
    started = time.process_time()
    if prof is not None:
        prof.enable()
    outputs = asyncio.run(handle())
    if prof is not None:
        prof.disable()
    return time.process_time() - started, outputs


def _total(prof: cProfile.Profile) -> float:
    return float(pstats.Stats(prof).total_tt)  # type: ignore[attr-defined]


def report_profile(results: dict[str, Any]) -> None:
    """Print each stage's top functions by own time (µs per consumed record)."""
    for stage, r in results.items():
        bare, per = r["cpu_s"] / r["records"] * 1e6, r["seconds"] / r["records"] * 1e6
        print(f"{stage}: {r['records']} records in one batch, {bare:.0f} CPU µs/record ({per:.0f} under cProfile); "
              "top own time under cProfile (µs/record):")  # fmt: skip
        for name, own, cumulative, calls in r["top"]:
            print(f"  {own / r['records'] * 1e6:8.1f} own {cumulative / r['records'] * 1e6:8.1f} cum "
                  f"{calls:>7} calls  {name}")  # fmt: skip


if __name__ == "__main__":
    configure_logging("WARNING")  # as make bench runs the services
    with tempfile.TemporaryDirectory() as tmp_name:
        report(rates(Path(tmp_name) / "rates"))
        if "--profile" in sys.argv:
            report_profile(profile(Path(tmp_name) / "profile"))
