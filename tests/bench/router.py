"""The router's handler on one batch of json-v1 notifications from DE (a new record each, 2 recipients: FR
and PL), without a broker: CPU µs per record (``time.process_time``, less disturbed by other processes than
wall time), and how much of it is the disclosure ledger's transactions.

    python -m tests.bench.router [records]     # default 200; CRX_BENCH_LEDGER_DB=postgresql://... for PostgreSQL
    python -m tests.bench.router 200 profile   # and the cProfile of one batch, by own time

Each run uses fresh record ids (so the ledger decides notifications, not repeats); the best of 5 batches.
"""

from __future__ import annotations

import asyncio
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

from services.kernel.logging import configure_logging
from services.kernel.sqlstore import is_postgres
from services.ledger.store import DisclosureLedger
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring
from tests.ledger.test_lifecycle import record
from tests.router.batches import on_records, router

ROUNDS = 5


async def main(n: int, profile: bool = False) -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings("127.0.0.1:9", Path(tmp) / "data")
        keyring = make_keyring(settings)
        location = os.environ.get("CRX_BENCH_LEDGER_DB") or str(Path(tmp) / "ledger.sqlite3")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        ledger = DisclosureLedger(location, schema)
        handler = router(settings, keyring, ledger)
        best = best_cpu = float("inf")
        profiler = cProfile.Profile() if profile else None
        for i in range(ROUNDS):
            run = uuid.uuid4().hex[:8]
            batch = on_records(settings, keyring, [record(1, record_id=f"DE-{run}-{i:06d}") for i in range(n)])
            started, cpu = time.perf_counter(), time.process_time()
            if profiler is not None and i == ROUNDS - 1:
                profiler.enable()
            outputs = await handler.handle(batch)
            best_cpu = min(best_cpu, time.process_time() - cpu)
            best = min(best, time.perf_counter() - started)
            assert len(outputs) == 4 * n, len(outputs)  # per record 2 envelopes and 2 DISCLOSURE events
        ledger.close()
        if is_postgres(location):
            import psycopg

            with psycopg.connect(location, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(
        f"router handler, batch of {n} notifications x 2 recipients: {best_cpu / n * 1e6:.0f} µs CPU/record "
        f"({best / n * 1e6:.0f} µs wall)"
    )
    if profiler is not None:
        profiler.disable()
        pstats.Stats(profiler).sort_stats(sys.argv[3] if len(sys.argv) > 3 else "tottime").print_stats(45)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200, "profile" in sys.argv[2:]))
