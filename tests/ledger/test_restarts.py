"""A record's life with every process restarted between its steps, as a deployment runs it: the intake,
normaliser, router, cases service and audit writer each a ``crx <service> run`` process, FR's and PL's partner
clients each a ``crx partner consume`` process, all sharing one data directory (one key store holding every
party's keys, as the demo does). Submissions go to the intake's HTTP API with DE's bearer token.

After each step of the json-v1 lifecycle sample set (notification to FR and PL with, beside it, a record whose
retention has ended; nationality now PL only; update; stale resubmission; deletion), every process is stopped
(SIGTERM: drain, commit) and started again, and the test reads what each recipient actually holds: the
``<key>.json`` files of its output directory and its sink ledger (version held, erased or not).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from adapters.base import ParseContext, get_adapter
from services.audit.accounting import account
from services.audit.store import AuditStore, open_store
from services.devstack.embedded_broker import free_port
from services.devstack.lifecycle import lifecycle_steps
from services.intake.publisher import Submission
from services.intake.tokens import TokenBook
from services.kernel.config import Settings
from services.kernel.kafka import ensure_topics, standard_topics
from services.keys.ring import KeyRing
from services.partner.directory import LEDGER_FILE
from services.partner.ledger import SinkLedger
from services.partner.lifecycle import record_key
from tests.integration.helpers import wait_for
from tools.chaos import processes
from tools.chaos.processes import CrxProcess

pytestmark = pytest.mark.integration

SERVICES = ("intake", "normaliser", "router", "cases", "audit")
RECIPIENTS = ("FR", "PL")


def _environ(settings: Settings, intake_port: int) -> dict[str, str]:
    return {
        **os.environ,
        "CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "CRX_TOPIC_PREFIX": settings.topic_prefix,
        "CRX_TOPIC_PARTITIONS": str(settings.topic_partitions),
        "CRX_DATA_DIR": str(settings.data_dir),
        "CRX_AUDIT_SECRET": "test-audit-secret",
        "CRX_SESSION_TIMEOUT_MS": "3000",
        "CRX_HEARTBEAT_INTERVAL_MS": "1000",
        "CRX_SHUTDOWN_SECONDS": "3",
        "CRX_INTAKE_PORT": str(intake_port),
        "CRX_AUDIT_API_PORT": str(free_port()),
        "CRX_LOG_LEVEL": "WARNING",
    }


async def _restart(procs: list[CrxProcess]) -> None:
    """Stop every process (SIGTERM to all, then wait for each), then start them all and wait until ready."""
    for proc in procs:
        proc.terminate()
    codes = await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in procs))
    assert all(code == 0 for code in codes), dict(zip([p.name for p in procs], codes, strict=True))
    await _start(procs)


async def _start(procs: list[CrxProcess]) -> None:
    for proc in procs:
        proc.start()
    await asyncio.gather(*(proc.wait_ready(60) for proc in procs))


async def _post(url: str, token: str, sub: Submission) -> str:
    headers = {"Authorization": f"Bearer {token}", "Crx-Adapter": sub.adapter}
    async with aiohttp.ClientSession() as session, session.post(url, data=sub.payload, headers=headers) as response:
        answer = await response.json()
    assert answer.get("status") == "accepted", answer
    return str(answer["submission_id"])


def _key(sub: Submission) -> str:
    [record] = get_adapter(sub.adapter).parse(sub.payload, ParseContext(sub.jurisdiction, dt.datetime.now(dt.UTC)))
    return record_key(record["header"]["source_jurisdiction"], record["header"]["source_record_id"])


def _holds(out: Path, key: str) -> tuple[int | None, bool | None, int | None]:
    """What ``out`` holds of the record ``key``: the version in its file (None: no file), and the version and
    erased flag its sink ledger notes (None: never seen)."""
    path = out / f"{key}.json"
    document: dict[str, Any] | None = json.loads(path.read_text("utf-8")) if path.exists() else None
    ledger = SinkLedger(out / LEDGER_FILE)
    try:
        held = ledger.held(key)
    finally:
        ledger.close()
    filed = document["header"]["source_record_version"] if document is not None else None
    return filed, None if held is None else held.erased, None if held is None else held.version


def _settled(store: AuditStore, ids: list[str]) -> bool:
    return account(store, ids).complete


async def test_what_each_recipient_holds_after_each_step_across_restarts(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    del keyring  # made every party's keys in the data directory the processes share
    await ensure_topics(settings, standard_topics(settings))
    intake_port = free_port()
    env = _environ(settings, intake_port)
    logs = tmp_path / "logs"
    out = {party: tmp_path / "out" / party for party in RECIPIENTS}
    procs = [processes.service(name, env, logs) for name in SERVICES]
    procs += [processes.partner(party, out[party], env, logs) for party in RECIPIENTS]
    token = TokenBook.open(settings.intake_tokens_path).issue("DE")
    url = f"http://127.0.0.1:{intake_port}/v1/feeds/DE"
    steps = lifecycle_steps()
    [person] = {_key(s) for s in steps[-1]}
    [expired] = {_key(s) for s in steps[0]} - {person}
    # After each step: (version filed, erased, version noted) of the person's record at FR and at PL.
    expected = [
        (1, False, 1),  # notified to FR and PL
        (2, False, 2),  # nationality now PL only: FR, an earlier recipient, still gets the update
        (3, False, 3),  # update
        (3, False, 3),  # version 2 again: refused STALE_VERSION, nothing changes
        (None, True, 4),  # deletion: the file is gone, the ledger keeps a tombstone at version 4
    ]
    store = open_store(settings)
    await _start(procs)
    try:
        for number, (step, holds) in enumerate(zip(steps, expected, strict=True), start=1):
            ids = [await _post(url, token, sub) for sub in step]
            await wait_for(lambda ids=ids: _settled(store, ids), seconds=30)
            assert {party: _holds(out[party], person) for party in RECIPIENTS} == dict.fromkeys(RECIPIENTS, holds), (
                f"step {number}"
            )
            if number == 1:
                assert _holds(out["FR"], expired) == (1, False, 1)  # kept until the next purge pass
                assert _holds(out["PL"], expired) == (None, None, None)
            if number == 4:
                refusals = [e for sid in ids for e in store.events(submission_id=sid) if e["event_type"] == "REFUSAL"]
                assert [e["reason"] for e in refusals] == ["STALE_VERSION"]
            await _restart(procs)
            # The partner clients purge at start: the record whose retention ended is gone after the first restart.
            await wait_for(lambda: _holds(out["FR"], expired) == (None, True, 1), seconds=20)
        after = {party: _holds(out[party], person) for party in RECIPIENTS}
        assert after == dict.fromkeys(RECIPIENTS, expected[-1])  # the erasure survives the last restart too
        erasures = store.events(event_type="ERASURE")
        deletion = [e for e in store.events(event_type="DISCLOSURE") if e["message_type"] == "DELETION"]
        assert sorted(e["recipients"][0] for e in deletion) == ["FR", "PL"]
        erased = sorted((str(e["message_id"]), e["actor"]) for e in erasures)
        deleted = sorted((str(e["message_id"]), e["recipients"][0]) for e in deletion)
        assert len(erased) == 3 and set(deleted) <= set(erased)  # one per deletion and recipient, one purge
    finally:
        for proc in procs:
            proc.terminate()
        await asyncio.gather(*(asyncio.to_thread(proc.stop) for proc in procs))
        store.close()
