"""POST /v1/settlement: the settlement of each submission id from the log; a malformed body is 400."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import aiohttp

from services.audit.api import MAX_SETTLEMENT_IDS, AuditApi, AuditHttpServer
from services.audit.sqlite_store import SqliteAuditStore
from services.intake.settlement import ApiSettlement
from services.kernel.audit_events import AuditEmitter, AuditEventType

WHEN = dt.datetime(2026, 12, 6, tzinfo=dt.UTC)


def _event(event_type: AuditEventType, submission_id: str, **fields: object) -> bytes:
    emitter = AuditEmitter("test", "crx.audit", b"secret")
    return emitter.event(event_type, occurred_at=WHEN, actor="crx", submission_id=submission_id, **fields).value  # type: ignore[arg-type]


async def test_states_by_submission_id_and_bad_bodies(tmp_path: Path) -> None:
    store = SqliteAuditStore(str(tmp_path / "audit.sqlite3"))
    store.append([
        _event(AuditEventType.COLLECTION, "collected", outcome="ok"),
        _event(AuditEventType.COLLECTION, "refused", outcome="ok"),
        _event(AuditEventType.NORMALISATION, "refused", outcome="ok", message_id="m1"),
        _event(AuditEventType.REFUSAL, "refused", outcome="refused", message_id="m1", reason="NO_AGREEMENT"),
        _event(AuditEventType.DEAD_LETTER, "dead", outcome="dead_lettered", reason="MALFORMED"),
    ])  # fmt: skip
    server = AuditHttpServer(AuditApi(store), "127.0.0.1", 0)
    await server.start()
    source = ApiSettlement(server.url)
    try:
        states = await source.states(["collected", "refused", "dead", "unknown"])
        assert states == {"collected": "pending", "refused": "refused", "dead": "dead_lettered", "unknown": "pending"}
        async with aiohttp.ClientSession(base_url=server.url) as http:
            for body in ({}, {"submission_ids": "x"}, {"submission_ids": [1]},
                         {"submission_ids": ["x"] * (MAX_SETTLEMENT_IDS + 1)}):  # fmt: skip
                async with http.post("/v1/settlement", json=body) as r:
                    assert r.status == 400 and (await r.json())["error"] == "BAD_QUERY"
            async with http.post("/v1/settlement", data=b"not json") as r:
                assert r.status == 400
    finally:
        await source.close()
        await server.stop()
        store.close()
