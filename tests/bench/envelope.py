"""Envelope cost per HPKE suite: crx seal/open of a 2 KiB record next to raw HPKE of the same library.

"raw" is ``cryptography``'s own HPKE single-shot encrypt/decrypt with the same key and info length; "crx"
is the whole envelope: Avro encoding, HPKE, ECDSA P-256 (or Ed25519) signature on seal, and on open
decoding, signature verification, the context checks and HPKE. The difference is what crx adds.
Run alone with ``python -m tests.bench.envelope``; ``make bench`` prints it too.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from services.kernel.envelope import Opener, SealContext, Sealer, info_bytes
from services.kernel.suites import HPKE_SUITES, SIGNATURE_ALGS, hpke_suite
from services.keys.ring import KeyRegistry, PrivateKeyStore, generate_party_keys
from tests.bench.timing import timed_calls

RECORD_BYTES = 2048
SECONDS = 0.6


def _rate(fn: Callable[[], object], seconds: float = SECONDS) -> float:
    """Calls per second of ``fn`` over about ``seconds`` of wall time (after one warm-up call)."""
    count, elapsed = timed_calls(fn, seconds, time.perf_counter)
    return count / elapsed


def _row(folder: Path, suite_name: str, signature: str, payload: bytes, seconds: float) -> dict[str, object]:
    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    registry = KeyRegistry(folder / "registry.json")
    store = PrivateKeyStore(folder, None)
    generate_party_keys(registry, store, "crx", now=now, signature=signature)
    enc, _ = generate_party_keys(registry, store, "FR", now=now, hpke=suite_name)
    ctx = SealContext("out.FR", "m-1", "s-1", "crx", "FR", "avro/crx.v1.CriminalRecord", b"\x00" * 8)
    sealer, opener = Sealer(registry, store, "crx"), Opener(registry, store, "FR")
    sealed = sealer.seal(payload, ctx, now)
    info = info_bytes(opener.parse(sealed))
    suite = hpke_suite(suite_name).suite()
    public, private = enc.load_public(), store.load("FR", enc.key_id)
    raw_ct = suite.encrypt(payload, public, info)
    signers = frozenset({"crx"})
    return {
        "suite": suite_name,
        "signature": signature,
        "raw_seal": _rate(lambda: suite.encrypt(payload, public, info), seconds),
        "crx_seal": _rate(lambda: sealer.seal(payload, ctx, now), seconds),
        "raw_open": _rate(lambda: suite.decrypt(raw_ct, private, info), seconds),
        "crx_open": _rate(lambda: opener.open(sealed, channel="out.FR", now=now, signers=signers), seconds),
        "envelope_bytes": len(sealed),
    }


def suite_rates(keys_dir: Path, seconds: float = SECONDS) -> list[dict[str, object]]:
    """One row per (HPKE suite, signature algorithm): raw and crx seal/open rates for a 2 KiB record."""
    payload = os.urandom(RECORD_BYTES)
    return [
        _row(keys_dir / f"{suite_name}-{signature}", suite_name, signature, payload, seconds)
        for suite_name in HPKE_SUITES
        for signature in SIGNATURE_ALGS
    ]


def report(rows: list[dict[str, object]]) -> None:
    """Print the table."""
    print(f"envelope, {RECORD_BYTES} B record, one core (records/s; crx = Avro + HPKE + signature + checks):")
    print(
        f"  {'HPKE suite':<34} {'signature':<18} {'raw seal':>9} {'crx seal':>9} {'raw open':>9} {'crx open':>9}  size"
    )
    for r in rows:
        print(
            f"  {r['suite']!s:<34} {r['signature']!s:<18} {r['raw_seal']:>9,.0f} {r['crx_seal']:>9,.0f} "
            f"{r['raw_open']:>9,.0f} {r['crx_open']:>9,.0f}  {r['envelope_bytes']} B"
        )


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        report(suite_rates(Path(tmp)))
