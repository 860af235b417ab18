"""Audit log figures: appends/s per backend and batch size, and proof generation at 1,000,000 leaves.

Appends go through the real store (one transaction per batch: leaf rows, Merkle nodes), without a
checkpoint per batch (the writer signs one every N entries or T seconds); a signed checkpoint's cost is
printed on its own. PostgreSQL is measured when a server answers at CRX_BENCH_PG (default the local one).
Run alone with ``python -m tests.bench.audit``; ``make bench`` prints it too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import AUDIT_EVENT
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.store import AuditStore
from services.kernel.codec import codec
from services.translog.notes import NoteSigner

PG_DSN = os.environ.get("CRX_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
BATCHES = (1, 100, 1000)
MILLION = int(os.environ.get("CRX_BENCH_AUDIT_LEAVES", "1000000"))


def events(n: int) -> Iterator[bytes]:
    """``n`` realistic audit events (a disclosure each), canonical bytes."""
    encode = codec(AUDIT_EVENT).encode
    now = dt.datetime.now(dt.UTC)
    for _ in range(n):
        yield encode(
            {
                "event_id": str(uuid.uuid4()),
                "event_type": "DISCLOSURE",
                "occurred_at": now,
                "component": "router",
                "actor": "crx",
                "recipients": ["FR"],
                "legal_basis": "EU-FD-2009/315",
                "purpose": "CRIMINAL_PROCEEDINGS",
                "message_id": str(uuid.uuid4()),
                "submission_id": str(uuid.uuid4()),
                "outcome": "ok",
                "rule": "ecris-notify-nationality-states/ecris-DE-FR",
                "payload_commitment": os.urandom(32),
            }
        )


def appends_per_second(store: AuditStore, batch: int, seconds: float = 2.0) -> float:
    """Events appended per second in batches of ``batch`` for about ``seconds``."""
    total = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        store.append(list(events(batch)))
        total += batch
    return total / (time.perf_counter() - started)


@contextlib.contextmanager
def postgres() -> Iterator[Callable[[], AuditStore] | None]:
    """A factory of fresh PostgreSQL stores in a throwaway schema, or None when no server answers."""
    try:
        import psycopg

        from services.audit.postgres_store import PostgresAuditStore

        with psycopg.connect(PG_DSN, connect_timeout=3) as probe:
            probe.execute("SELECT 1")
    except Exception:  # any failure means "no PostgreSQL here"
        yield None
        return
    schemas: list[str] = []

    def make() -> AuditStore:
        schema = f"crx_bench_{uuid.uuid4().hex[:10]}"
        schemas.append(schema)
        return PostgresAuditStore(PG_DSN, schema=schema)

    try:
        yield make
    finally:
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            for schema in schemas:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')  # names made above, not input


def _timings(fn: Callable[[], Any], n: int) -> tuple[float, float]:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    samples.sort()
    return statistics.median(samples) * 1e6, samples[int(len(samples) * 0.99) - 1] * 1e6


def proof_times(store: AuditStore, size: int) -> dict[str, tuple[float, float]]:
    """Median and p99 µs of an inclusion proof, a consistency proof and a root at ``size`` leaves."""
    spread = itertools.count(7, 7919)  # leaf indexes spread over the whole tree
    return {
        "inclusion": _timings(lambda: store.inclusion_proof(next(spread) % size, size), 200),
        "consistency": _timings(lambda: store.consistency_proof(size // 3 + 1, size), 200),
        "root": _timings(lambda: store.root(size), 200),
    }


def main() -> None:
    """Print the figures."""
    signer = NoteSigner("crx/audit", Ed25519PrivateKey.generate())
    with tempfile.TemporaryDirectory() as tmp, postgres() as pg:
        print("audit log appends (events/s, one transaction per batch, no checkpoint per batch):")
        backends: list[tuple[str, Callable[[], AuditStore]]] = [
            ("sqlite", lambda: SqliteAuditStore(str(Path(tmp) / f"{uuid.uuid4().hex}.sqlite3")))
        ]
        if pg is not None:
            backends.append(("postgresql", pg))
        else:
            print("  postgresql: no server at CRX_BENCH_PG; skipped")
        for name, make in backends:
            store = make()
            rates = {b: appends_per_second(store, b) for b in BATCHES}
            started = time.perf_counter()
            store.append(list(events(1)), signers=[signer])
            signed = (time.perf_counter() - started) * 1e3
            print(
                f"  {name:<11} "
                + "  ".join(f"batch {b:>4}: {r:>8,.0f}/s" for b, r in rates.items())
                + f"   (a batch of 1 with a signed checkpoint: {signed:.1f} ms)"
            )
        store = SqliteAuditStore(str(Path(tmp) / "million.sqlite3"))
        started = time.perf_counter()
        while store.size < MILLION:
            store.append(list(events(min(10_000, MILLION - store.size))))
        built = time.perf_counter() - started
        print(f"proofs at {store.size:,} leaves (sqlite, built in {built:.0f} s in batches of 10,000):")
        for kind, (median, p99) in proof_times(store, store.size).items():
            print(f"  {kind:<12} median {median:7.0f} µs   p99 {p99:7.0f} µs")


if __name__ == "__main__":
    main()
