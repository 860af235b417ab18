"""The partner client's handler on one batch of records sealed to FR as the router seals them, without a broker,
into an in-memory sink: CPU µs per record (``time.process_time``), next to the unavoidable part of it, the
envelope's open (decode, signature verification, HPKE) and the receipt's signature.

    python -m tests.bench.partner [records]              # default 200
    python -m tests.bench.partner 200 profile [sortkey]  # and the cProfile of one batch (by own time)

The best of 5 batches, each of fresh message ids (so every record is delivered, none deduplicated).
"""

from __future__ import annotations

import asyncio
import cProfile
import datetime as dt
import pstats
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from services.kernel.envelope import Opener
from services.kernel.logging import configure_logging
from services.kernel.suites import signature_alg
from services.partner.lifecycle import Delivery, Operation
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring
from tests.partner.helpers import client, consumed, sealed, version

ROUNDS = 5


class MemorySink:
    """A sink that keeps the message ids it was given, in memory."""

    def __init__(self) -> None:
        self.held: dict[str, Operation] = {}

    def applied(self, message_id: str) -> Operation | None:
        return self.held.get(message_id)

    def deliver(self, delivery: Delivery, record: dict[str, Any]) -> Operation:
        self.held[delivery.message_id] = Operation.STORED
        return Operation.STORED

    def purge(self, today: dt.date) -> list[Delivery]:
        return []

    def erasures_sent(self, message_ids: Iterable[str]) -> None:
        pass


def _cpu(fn: Any, rounds: int = ROUNDS) -> float:
    """The least CPU seconds of ``rounds`` calls of ``fn``."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return best


async def main(n: int, profile: bool = False, sort: str = "tottime") -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings("127.0.0.1:9", Path(tmp) / "data")
        keyring = make_keyring(settings)
        partner = client(settings, keyring, MemorySink())
        best = float("inf")
        profiler = cProfile.Profile() if profile else None
        batch: list[Any] = []
        for i in range(ROUNDS):
            batch = [
                consumed(*sealed(keyring, version(1, record_id=f"B-{uuid.uuid4().hex}")), offset=j) for j in range(n)
            ]
            if profiler is not None and i == ROUNDS - 1:
                profiler.enable()
            started = time.process_time()
            receipts = await partner.handle(batch)
            best = min(best, time.process_time() - started)
            if profiler is not None:
                profiler.disable()
            assert len(receipts) == n
        now = dt.datetime.now(dt.UTC)
        opener, broker = Opener(keyring.registry, keyring.store, "FR"), frozenset({settings.broker_party})
        opens = _cpu(lambda: [opener.open(r.value, channel="out.FR", now=now, signers=broker) for r in batch])
        entry = keyring.registry.active("FR", "signing", now)
        key, alg = keyring.store.load("FR", entry.key_id), signature_alg(entry.algorithm)
        signs = _cpu(lambda: [alg.sign(key, r.value[:300]) for r in batch])
    floor = (opens + signs) / n * 1e6
    print(
        f"partner client, batch of {n} records: {best / n * 1e6:.0f} µs CPU/record; of which open + verify + "
        f"decrypt {opens / n * 1e6:.0f} and the receipt's signature {signs / n * 1e6:.0f} "
        f"(the rest: {best / n * 1e6 - floor:.0f} µs)"
    )
    if profiler is not None:
        pstats.Stats(profiler).sort_stats(sort).print_stats(40)


if __name__ == "__main__":
    args = sys.argv[1:]
    asyncio.run(main(int(args[0]) if args else 200, "profile" in args[1:2], args[2] if len(args) > 2 else "tottime"))
