"""``crx ledger rebuild [--dry-run]`` and ``crx ledger show`` as an operator runs them: the ledger database
deleted after a record's life on the real broker, a dry run says what is missing and writes nothing, the
rebuild brings back the very rows the router wrote, a second rebuild adds nothing; ``show`` lists the versions
per recipient by opaque key only."""

from __future__ import annotations

import asyncio
import json

import pytest
from click.testing import CliRunner, Result

from services.cli import main
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from services.ledger.store import DisclosureLedger
from tests.integration.helpers import running, sample_json
from tests.ledger.test_pipeline import ms, push, version

pytestmark = pytest.mark.integration


async def crx(settings: Settings, *args: str) -> Result:
    """Run ``crx ARGS`` in a thread with the test's data directory in the environment."""
    env = {"CRX_DATA_DIR": str(settings.data_dir), "CRX_AUDIT_SECRET": "test-audit-secret"}
    return await asyncio.to_thread(CliRunner(env=env).invoke, main, list(args))


async def test_rebuild_after_the_ledger_is_lost_gives_the_same_rows(settings: Settings, keyring: KeyRing) -> None:
    async with running(settings, keyring) as pipeline:
        await push(pipeline, version(1, "NOTIFICATION", ["FR", "PL"]))
        await push(pipeline, version(2, "UPDATE", ["PL"]))
        await push(pipeline, version(3, "DELETION", ["PL"]))
    ledger = DisclosureLedger.open(settings)
    before = ledger.rows()
    ledger.close()
    assert len(before) == 6
    for path in await asyncio.to_thread(lambda: list(settings.data_dir.glob("ledger.sqlite3*"))):
        await asyncio.to_thread(path.unlink)

    dry = await crx(settings, "ledger", "rebuild", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    assert json.loads(dry.stdout) == {"dry_run": True, "logged": 6, "missing": 6, "added": 0, "unlogged": 0}
    empty = DisclosureLedger.open(settings)
    assert empty.size() == 0
    empty.close()

    done = await crx(settings, "ledger", "rebuild")
    assert done.exit_code == 0 and "added them" in done.stdout, done.output
    rebuilt = DisclosureLedger.open(settings)
    after = rebuilt.rows()
    rebuilt.close()
    assert after == [r.__class__(**{**r.__dict__, "disclosed_at": ms(r.disclosed_at)}) for r in before]
    again = await crx(settings, "ledger", "rebuild", "--json")
    assert json.loads(again.stdout)["missing"] == 0

    shown = await crx(settings, "ledger", "show", "--json")
    assert shown.exit_code == 0, shown.output
    [record] = json.loads(shown.stdout)
    versions = {r: [(s["version"], s["message_type"]) for s in sent] for r, sent in record["recipients"].items()}
    steps = [(1, "NOTIFICATION"), (2, "UPDATE"), (3, "DELETION")]
    assert versions == {"FR": steps, "PL": steps} and record["record_key"] == before[0].record_key
    table = await crx(settings, "ledger", "show")
    person = sample_json("DE-notification-fr-pl.json")
    assert "1N 2U 3D" in table.stdout and "erased" in table.stdout
    assert person["record_id"] not in table.stdout + shown.stdout
    assert person["person"]["names"][0]["family"] not in table.stdout + shown.stdout
