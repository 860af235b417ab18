"""Batch authentication cost: microseconds per record to sign a produced batch and to verify its records.

"sign" is what a producer adds to each batch (``BatchSigner.sign``: leaf hashes, the Merkle tree, one
Ed25519 signature, the headers of every record), divided by the batch size. "verify" is what a consumer adds
per record (``BatchVerifier.verify`` with the producer rules of a feed topic) for a whole batch read with a
cold cache, so one signature verification per batch is included, divided by the batch size. Records are
2 KiB (the size of a sealed feed envelope), signed with a component's Ed25519 key. Times are CPU time of
this process, so a busy machine does not inflate them.
Run alone with ``python -m tests.bench.batchauth``; ``make bench`` prints it too.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.kernel.batchauth import BatchSigner, BatchVerifier
from services.kernel.config import Settings
from services.kernel.kafka import OutRecord
from services.kernel.producers import COMPONENT_SIGNATURE, ProducerRules, component_party
from services.keys.ring import KeyRegistry, KeyRing, PrivateKeyStore, generate_key
from tests.bench.timing import timed_calls

RECORD_BYTES = 2048
SIZES = (1, 10, 100)
SECONDS = 0.5


def _us_per_call(fn: Callable[[], object], seconds: float) -> float:
    """CPU microseconds per call of ``fn`` over about ``seconds`` of CPU time (after one warm-up call).

    Process CPU time, not wall time: the cost of the work itself, whatever else the machine runs."""
    count, elapsed = timed_calls(fn, seconds, time.process_time)
    return elapsed / count * 1e6


def rates(keys_dir: Path, sizes: tuple[int, ...] = SIZES, seconds: float = SECONDS) -> list[dict[str, float]]:
    """One row per batch size: µs per record to sign and to verify."""
    settings = Settings()
    now = dt.datetime.now(dt.UTC)
    party = component_party(settings.broker_party, "intake")
    registry = KeyRegistry(keys_dir / "registry.json")
    store = PrivateKeyStore(keys_dir, None)
    generate_key(registry, store, party, "signing", COMPONENT_SIGNATURE, not_before=now - dt.timedelta(minutes=1))
    signer = BatchSigner(party, KeyRing(registry, store))
    topic = settings.topic("feed.DE")
    allowed = ProducerRules(settings).allowed(topic, None)
    rows = []
    for size in sizes:
        records = [OutRecord(topic, os.urandom(RECORD_BYTES), key=os.urandom(16)) for _ in range(size)]
        batch = signer.sign(records, now)

        def sign_batch(records: list[OutRecord] = records) -> None:
            signer.sign(records, now)

        def verify_batch(batch: list[OutRecord] = batch) -> None:
            verifier = BatchVerifier(registry)  # a cold cache: the batch's signature is verified once
            for r in batch:
                verifier.verify(r.topic, r.key, r.value, r.headers, allowed=allowed, now=now)

        rows.append(
            {
                "batch": float(size),
                "sign": _us_per_call(sign_batch, seconds) / size,
                "verify": _us_per_call(verify_batch, seconds) / size,
                "header_bytes": float(sum(len(n) + len(v) for n, v in batch[-1].headers)),
            }
        )
    return rows


def primitives(seconds: float = SECONDS) -> dict[str, float]:
    """CPU µs of one Ed25519 signature and one verification of a signed message (the per-batch part)."""
    key = Ed25519PrivateKey.generate()
    message = b"\x00" * 100
    signature, public = key.sign(message), key.public_key()
    return {
        "sign": _us_per_call(lambda: key.sign(message), seconds),
        "verify": _us_per_call(lambda: public.verify(signature, message), seconds),
    }


def report(rows: list[dict[str, float]], raw: dict[str, float] | None = None) -> None:
    """Print one line per batch size (and the Ed25519 operations alone, when given)."""
    print(f"batch authentication ({COMPONENT_SIGNATURE}, {RECORD_BYTES} B records; CPU µs per record):")
    if raw:
        print(f"  {COMPONENT_SIGNATURE} alone, once per batch: sign {raw['sign']:.1f}  verify {raw['verify']:.1f}")
    for r in rows:
        print(
            f"  batch {int(r['batch']):>4}: sign {r['sign']:7.1f}  verify {r['verify']:7.1f}  "
            f"(headers {int(r['header_bytes'])} B per record)"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        report(rates(Path(tmp)), primitives())
