"""Partners prove their deliveries and receipts are in the audit log, and notice a rewritten history."""

from __future__ import annotations

import datetime as dt
import socket
import uuid
from pathlib import Path

import aiohttp
import pytest
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import AUDIT_EVENT
from services.audit.accounting import account
from services.audit.api import AuditApi, AuditHttpServer
from services.audit.notekey import ensure_note_key
from services.audit.sqlite_store import SqliteAuditStore
from services.intake.publisher import Submission
from services.kernel.audit_events import disclosure_event_id
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.runtime import Ports, Runtime
from services.keys.ring import KeyRing
from services.partner.client import PartnerService, build
from services.partner.logwatch import LogWatcher
from services.translog.notes import NoteSigner
from tests.integration.helpers import running, sample, wait_for
from tests.partner.logcheck import check_once_served

ORIGIN = "crx/audit"


def _disclosure(message_id: str, submission_id: str, recipient: str, outcome: str = "ok") -> bytes:
    return codec(AUDIT_EVENT).encode(
        {
            "event_id": disclosure_event_id(message_id, submission_id, recipient),
            "event_type": "DISCLOSURE",
            "occurred_at": dt.datetime.now(dt.UTC),
            "component": "router",
            "actor": "crx",
            "recipients": [recipient],
            "message_id": message_id,
            "submission_id": submission_id,
            "outcome": outcome,
        }
    )


@pytest.mark.integration  # runs a broker
async def test_partners_prove_their_deliveries_and_receipts_in_the_running_pipeline(
    settings: Settings, keyring: KeyRing
) -> None:
    """On the real pipeline every partner proves each DISCLOSURE to it and each of its receipts, no problem."""
    fast = settings.replace(audit_checkpoint_seconds=0.3, partner_log_check_seconds=0.3)
    async with running(fast, keyring) as pipeline:
        [result] = await pipeline.publisher.publish([pipeline_submission()], dt.datetime.now(dt.UTC))
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).complete)
        partners = [
            s for s in pipeline.services if isinstance(s, PartnerService) and s.name in ("partner-FR", "partner-PL")
        ]

        def all_proven() -> bool:
            return all(
                s.watcher is not None
                and s.last_check is not None
                and s.last_check.waiting == 0
                and s.last_check.size > 0
                for s in partners
            )

        await wait_for(all_proven, seconds=30)
        for service in partners:
            assert service.watcher is not None and service.last_check is not None
            assert not service.last_check.problems
            for event_type in ("DISCLOSURE", "DELIVERY_RECEIPT"):
                assert service.watcher.verified.labels(service.watcher.party, event_type)._value.get() >= 1


def pipeline_submission() -> Submission:
    """A DE notification for a person of FR and PL nationality."""
    return Submission("DE", "json-v1", sample("DE-notification-fr-pl.json"), idempotency_key=str(uuid.uuid4()))


async def test_a_rewritten_history_is_noticed(tmp_path: Path) -> None:
    """After accepting a checkpoint, a log that rewrote an old leaf (same key, same origin) is INCONSISTENT
    and a log that shrank is a ROLLBACK; the accepted checkpoint stays where it was."""
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    honest = SqliteAuditStore(str(tmp_path / "honest.sqlite3"), origin=ORIGIN)
    events = [_disclosure(str(uuid.uuid4()), "s", "FR") for _ in range(10)]
    honest.append(events, signers=[signer])
    forged = SqliteAuditStore(str(tmp_path / "forged.sqlite3"), origin=ORIGIN)
    forged.append([_disclosure(str(uuid.uuid4()), "s", "FR"), *events[1:], *events[:3]], signers=[signer])
    short = SqliteAuditStore(str(tmp_path / "short.sqlite3"), origin=ORIGIN)
    short.append(events[:5], signers=[signer])
    servers = {name: AuditHttpServer(AuditApi(store), "127.0.0.1", 0) for name, store in
               (("honest", honest), ("forged", forged), ("short", short))}  # fmt: skip
    current = {"url": ""}
    watcher = LogWatcher("FR", lambda: current["url"], [signer.verifier()], ORIGIN, tmp_path / "watch.sqlite3")
    for server in servers.values():
        await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            current["url"] = servers["honest"].url
            first = await watcher.check_once(session)
            assert (first.size, first.problems) == (10, ())
            current["url"] = servers["forged"].url
            forged_check = await watcher.check_once(session)
            assert forged_check.problems and forged_check.problems[0].startswith("INCONSISTENT")
            current["url"] = servers["short"].url
            assert (await watcher.check_once(session)).problems[0].startswith("ROLLBACK")
            assert watcher.accepted() == (10, honest.root(10))  # a bad log never moves what was accepted
    finally:
        for server in servers.values():
            await server.stop()
        watcher.close()


@pytest.mark.parametrize("outcome", ["ok", "refused"])
async def test_an_expected_event_must_have_the_expected_outcome(tmp_path: Path, outcome: str) -> None:
    """The log proves an event with the expected id, type, message and recipient: with another outcome than
    the partner's own (a refusal logged in place of the disclosure it received), that is WRONG_EVENT."""
    signer = NoteSigner(ORIGIN, Ed25519PrivateKey.generate())
    store = SqliteAuditStore(str(tmp_path / "log.sqlite3"), origin=ORIGIN)
    message_id = str(uuid.uuid4())
    store.append([_disclosure(message_id, "s", "FR", outcome)], signers=[signer])
    server = AuditHttpServer(AuditApi(store), "127.0.0.1", 0)
    watcher = LogWatcher("FR", lambda: server.url, [signer.verifier()], ORIGIN, tmp_path / "watch.sqlite3")
    watcher.expect([(disclosure_event_id(message_id, "s", "FR"), "DISCLOSURE", message_id)])
    check = await check_once_served(server, watcher)
    if outcome == "ok":
        assert (check.verified, check.problems) == (1, ())
    else:
        assert check.problems and check.problems[0].startswith("WRONG_EVENT")


@pytest.mark.integration  # runs a broker
async def test_an_unreachable_log_is_a_warning_and_the_checks_go_on_until_stop(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """A log nothing answers at is logged as unreachable at each check, and the checks go on; their one HTTP
    session lives from the service's start to its stop."""
    ensure_note_key(settings)  # the log's verifier key file the watcher is built with
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{free.getsockname()[1]}"  # closed again: nothing answers there
    fast = settings.replace(partner_log_check_seconds=0.05)
    with structlog.testing.capture_logs() as logs:
        service = build(
            Runtime.create(fast, keyring), ports=Ports(), party="FR", sink=tmp_path / "FR",
            audit_url=lambda: url, purge_seconds=None,
        )  # fmt: skip
        await service.start()
        session = service._session
        try:
            await wait_for(lambda: sum(e["event"] == "audit log unreachable" for e in logs) >= 2)
            assert service.last_check is None and session is not None and not session.closed
        finally:
            await service.stop()
    assert session.closed
    unreachable = [e for e in logs if e["event"] == "audit log unreachable"]
    assert {(e["log_level"], e["error_class"]) for e in unreachable} == {("warning", "ClientConnectorError")}
