"""How the intake's status answer is assembled, without a broker: the outbox bridges the moment before the log
knows a submission, cases come from a ``CaseSource``, and the audit API source tells an unknown submission
from an audit service that cannot answer. The answer on a real pipeline is in ``test_status.py``."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from services.audit.api import AuditApi, AuditHttpServer
from services.audit.sqlite_store import SqliteAuditStore
from services.intake.evidence import ApiEvidence
from services.intake.outbox import Outbox
from services.intake.status import SubmissionStatus
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.config import Settings
from services.kernel.errors import TransientError
from services.kernel.kafka import OutRecord
from services.kernel.webapp import AppServer

KEPT = "3f1e2d3c-4b5a-5968-8776-a5b4c3d2e1f0"
LOGGED = "7a6b5c4d-3e2f-5a1b-8c9d-0e1f2a3b4c5d"


class Log:
    """An evidence source over a dict (what the audit log would answer)."""

    def __init__(self, answers: dict[str, dict[str, Any]]) -> None:
        self.answers = answers

    async def evidence(self, submission_id: str) -> dict[str, Any] | None:
        return self.answers.get(submission_id)

    async def close(self) -> None:
        pass


class Cases:
    """A case source with one case per submission id asked for."""

    def for_submission(self, submission_id: str) -> list[dict[str, Any]]:
        return [{"case_id": f"case-of-{submission_id}", "state": "OPEN"}]


@pytest.fixture
def outbox(settings: Settings, tmp_path: Path) -> Any:
    box = Outbox(settings.replace(intake_db=str(tmp_path / "outbox.sqlite3")))
    box.keep([(KEPT, "DE", [OutRecord("crx.feed.DE", b"sealed")], "")], now=time.time(), first_check=60)
    yield box
    box.close()


async def test_a_kept_submission_the_log_does_not_know_yet_is_pending(outbox: Outbox) -> None:
    """Right after the 202 the log may not hold the intake's event yet: the outbox names the submitter, the
    answer is pending with nothing proved; another jurisdiction still gets nothing, nor does an unknown id."""
    status = SubmissionStatus(Log({}), outbox=outbox)
    answer = await status.answer(KEPT, reader="DE")
    assert answer is not None
    assert (answer["jurisdiction"], answer["state"], answer["records"], answer["checkpoint"]) == (
        "DE",
        "pending",
        [],
        None,
    )
    assert answer["accepted_at"] and answer["cases"] == []
    assert await status.answer(KEPT, reader="FR") is None
    assert await status.answer(LOGGED, reader="DE") is None


async def test_the_submitter_comes_from_the_outbox_while_the_intakes_event_is_not_logged(outbox: Outbox) -> None:
    """Later stages' events logged before the intake's COLLECTION: the log names no submitter, the outbox does."""
    status = SubmissionStatus(Log({KEPT: {"jurisdiction": None, "state": "pending"}}), outbox=outbox)
    answer = await status.answer(KEPT, reader="DE")
    assert answer is not None and answer["jurisdiction"] == "DE"
    assert await SubmissionStatus(Log({KEPT: {"jurisdiction": None}})).answer(KEPT, reader="DE") is None


async def test_cases_and_who_reads() -> None:
    """The case source's cases are in the answer; only the submitter reads it; an operator (no reader) reads
    any; a string that is not a submission id is never looked up."""
    log = Log({LOGGED: {"jurisdiction": "PL", "state": "delivered"}, "not-an-id": {"jurisdiction": "PL"}})
    status = SubmissionStatus(log, cases=Cases())
    answer = await status.answer(LOGGED, reader="PL")
    assert answer is not None and answer["cases"] == [{"case_id": f"case-of-{LOGGED}", "state": "OPEN"}]
    assert await status.answer(LOGGED, reader="DE") is None
    assert (await status.answer(LOGGED, reader=None) or {}).get("jurisdiction") == "PL"
    assert await status.answer("not-an-id", reader="PL") is None


async def test_the_api_source_tells_unknown_from_unavailable(tmp_path: Path) -> None:
    """Through the audit API: a logged submission's evidence, None for one the log does not know, and
    TransientError from an audit service that has no such route (a text 404) or is not there."""
    store = SqliteAuditStore(str(tmp_path / "audit.sqlite3"))
    emitter = AuditEmitter("intake", "crx.audit", b"secret")
    now = dt.datetime.now(dt.UTC)
    store.append(
        [
            emitter.event(
                AuditEventType.COLLECTION, occurred_at=now, actor="PL", outcome="ok", submission_id=LOGGED
            ).value
        ]
    )
    server = AuditHttpServer(AuditApi(store), "127.0.0.1", 0)
    bare = AppServer(web.Application, "127.0.0.1", 0)
    await server.start()
    await bare.start()
    try:
        source, old = ApiEvidence(server.url), ApiEvidence(bare.url)
        answer = await source.evidence(LOGGED)
        assert answer is not None and (answer["jurisdiction"], answer["state"]) == ("PL", "pending")
        assert await source.evidence(KEPT) is None
        with pytest.raises(TransientError):
            await old.evidence(LOGGED)
        gone = ApiEvidence(bare.url)
        await bare.stop()
        with pytest.raises(TransientError):
            await gone.evidence(LOGGED)
        for client in (source, old, gone):
            await client.close()
    finally:
        await server.stop()
        await bare.stop()
        store.close()
