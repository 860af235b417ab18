"""The router's handler on one batch of json-v1 notifications from DE (a new record each, 2 recipients: FR
and PL), without a broker: µs per record, and how much of it is the disclosure ledger's transactions.

    python -m tests.bench.router [records]     # default 200; CRX_BENCH_LEDGER_DB=postgresql://... for PostgreSQL

Each run uses fresh record ids (so the ledger decides notifications, not repeats); the best of 5 batches.
"""

from __future__ import annotations

import asyncio
import os
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


async def main(n: int) -> None:
    configure_logging("WARNING")
    with tempfile.TemporaryDirectory() as tmp:
        settings = make_settings("127.0.0.1:9", Path(tmp) / "data")
        keyring = make_keyring(settings)
        location = os.environ.get("CRX_BENCH_LEDGER_DB") or str(Path(tmp) / "ledger.sqlite3")
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        ledger = DisclosureLedger(location, schema)
        handler = router(settings, keyring, ledger)
        best = float("inf")
        for _ in range(ROUNDS):
            run = uuid.uuid4().hex[:8]
            batch = on_records(settings, keyring, [record(1, record_id=f"DE-{run}-{i:06d}") for i in range(n)])
            started = time.perf_counter()
            outputs = await handler.handle(batch)
            best = min(best, time.perf_counter() - started)
            assert len(outputs) == 4 * n, len(outputs)  # per record 2 envelopes and 2 DISCLOSURE events
        ledger.close()
        if is_postgres(location):
            import psycopg

            with psycopg.connect(location, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    print(f"router handler, batch of {n} notifications x 2 recipients: {best / n * 1e6:.0f} µs/record")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 200))
