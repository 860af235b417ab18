"""Proofs for partners and supervisors: CLI and HTTP answers that verify with the RFC 9162 algorithms alone."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from pathlib import Path

import aiohttp
import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas import AUDIT_EVENT
from services.audit import proofs
from services.audit.api import AuditApi, AuditHttpServer
from services.audit.sqlite_store import SqliteAuditStore
from services.cli import main
from services.kernel.codec import codec
from services.translog import merkle
from services.translog.notes import NoteSigner, open_note, parse_checkpoint, parse_tlog_proof_with_extra

ORIGIN = "crx/audit"


def _event(event_type: str = "DISCLOSURE", recipients: tuple[str, ...] = ("FR",)) -> bytes:
    return codec(AUDIT_EVENT).encode(
        {
            "event_id": str(uuid.uuid4()),
            "event_type": event_type,
            "occurred_at": dt.datetime.now(dt.UTC),
            "component": "router",
            "actor": "crx",
            "recipients": list(recipients),
            "purpose": "CRIMINAL_PROCEEDINGS",
            "outcome": "ok",
        }
    )


def _event_id(leaf: bytes) -> str:
    return str(codec(AUDIT_EVENT).decode(leaf)["event_id"])


@pytest.fixture
def signer() -> NoteSigner:
    return NoteSigner(ORIGIN, Ed25519PrivateKey.generate())


@pytest.fixture
def store(tmp_path: Path, signer: NoteSigner) -> SqliteAuditStore:
    """A log of 37 events signed at size 20 and 30, with 7 more after the last checkpoint."""
    log = SqliteAuditStore(str(tmp_path / "audit.sqlite3"), origin=ORIGIN)
    log.append([_event() for _ in range(20)], signers=[signer])
    log.append([_event("REFUSAL", ("US",)) for _ in range(10)], signers=[signer])
    log.append([_event() for _ in range(7)])
    return log


def test_prove_gives_a_bundle_that_verifies_against_the_signed_checkpoint(
    store: SqliteAuditStore, signer: NoteSigner
) -> None:
    """The bundle's leaf, path and signed checkpoint check out with merkle and notes alone."""
    leaf = store.leaf(13)
    bundle, extra = parse_tlog_proof_with_extra(proofs.prove(store, _event_id(leaf)))
    assert extra == leaf and bundle.leaf_index == 13
    checkpoint = parse_checkpoint(open_note(bundle.signed_checkpoint, [signer.verifier()]))
    assert checkpoint.size == 30
    merkle.verify_inclusion(merkle.leaf_hash(leaf), 13, checkpoint.size, bundle.proof, checkpoint.root)


def test_unsigned_and_unknown_events_are_refused(store: SqliteAuditStore) -> None:
    """An event after the latest checkpoint is not yet provable; an unknown id is not found."""
    with pytest.raises(proofs.NotYetSigned):
        proofs.prove(store, _event_id(store.leaf(33)))
    with pytest.raises(proofs.NotFound):
        proofs.prove(store, str(uuid.uuid4()))


def test_consistency_between_checkpoints_verifies(store: SqliteAuditStore) -> None:
    """From 20 to the latest (30): both roots, both signed notes, a proof that verifies."""
    answer = proofs.consistency(store, 20)
    assert (answer["old_size"], answer["new_size"]) == (20, 30)
    assert answer["old_checkpoint"] and answer["new_checkpoint"]
    roots = [base64.b64decode(answer[k]) for k in ("old_root", "new_root")]
    path = [base64.b64decode(h) for h in answer["proof"]]
    merkle.verify_consistency(20, 30, roots[0], roots[1], path)
    with pytest.raises(proofs.NotFound):
        proofs.consistency(store, 31, 99)


async def test_http_routes(store: SqliteAuditStore, signer: NoteSigner) -> None:
    """GET /v1/checkpoint, /v1/proof/{id} (404, 409 + Retry-After), /v1/consistency (400 without old)."""
    server = AuditHttpServer(AuditApi(store), "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            async with http.get("/v1/checkpoint") as r:
                assert r.status == 200 and parse_checkpoint(open_note(await r.text(), [signer.verifier()])).size == 30
            async with http.get(f"/v1/proof/{_event_id(store.leaf(5))}") as r:
                assert r.status == 200 and (await r.text()).startswith("c2sp.org/tlog-proof@v1")
            async with http.get(f"/v1/proof/{_event_id(store.leaf(35))}") as r:
                assert r.status == 409 and r.headers["Retry-After"]
            async with http.get(f"/v1/proof/{uuid.uuid4()}") as r:
                assert r.status == 404
            async with http.get("/v1/consistency", params={"old": "20"}) as r:
                assert r.status == 200 and json.loads(await r.text())["new_size"] == 30
            async with http.get("/v1/consistency") as r:
                assert r.status == 400
    finally:
        await server.stop()


def test_cli_checkpoint_prove_consistency_and_report(store: SqliteAuditStore, tmp_path: Path) -> None:
    """The same answers on the command line, from the configured store; report counts from the leaves."""
    runner = CliRunner(env={"CRX_DATA_DIR": str(tmp_path)})
    assert runner.invoke(main, ["audit", "checkpoint"]).stdout.startswith(f"{ORIGIN}\n30\n")
    proved = runner.invoke(main, ["audit", "prove", _event_id(store.leaf(3))])
    assert proved.exit_code == 0 and "c2sp.org/tlog-proof@v1" in proved.stdout
    missing = runner.invoke(main, ["audit", "prove", str(uuid.uuid4())])
    assert missing.exit_code == 1 and missing.stderr.startswith("NOT_FOUND")
    assert json.loads(runner.invoke(main, ["audit", "consistency", "20", "30"]).stdout)["proof"]
    today = dt.datetime.now(dt.UTC).date()
    report = runner.invoke(main, ["audit", "report", "--from", str(today), "--to", str(today + dt.timedelta(days=1)),
                                  "--format", "csv"])  # fmt: skip
    assert report.exit_code == 0
    assert "FR,CRIMINAL_PROCEEDINGS,DISCLOSURE,ok,27" in report.stdout
    assert "US,CRIMINAL_PROCEEDINGS,REFUSAL,ok,10" in report.stdout
    assert runner.invoke(main, ["audit", "vkey"]).exit_code == 1  # no note key in this data dir: a typed error
