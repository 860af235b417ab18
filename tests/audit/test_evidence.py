"""A submission's evidence from the audit log: what it says, that every proof holds for an outside verifier, that
nothing is proved against an unsigned root, and who is named as the submitter. Also the audit API's route and
``crx submissions show`` on the local log. The real pipeline's answer is in tests/intake/test_status.py."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from services.audit.api import AuditApi, AuditHttpServer
from services.audit.evidence import owner, submission_evidence
from services.audit.notekey import ensure_note_key
from services.audit.sqlite_store import SqliteAuditStore
from services.cli import main
from services.kernel.audit_events import AuditEmitter, AuditEventType
from services.kernel.config import Settings, load_settings
from services.translog.notes import NoteSigner
from tests.audit.outside_verifier import Rejected, decode_event, verified_leaf

WHEN = dt.datetime(2026, 12, 6, 9, 30, tzinfo=dt.UTC)
SID = "0b6a1c2e-5d4f-5a3b-9c8d-7e6f5a4b3c2d"
MID = "m-0001"
E = AuditEventType


def _event(component: str, kind: AuditEventType, minute: int = 0, **fields: Any) -> bytes:
    emitter = AuditEmitter(component, "crx.audit", b"secret")
    fields.setdefault("actor", "crx")
    fields.setdefault("outcome", "ok")
    fields.setdefault("submission_id", SID)
    return emitter.event(kind, occurred_at=WHEN + dt.timedelta(minutes=minute), **fields).value


def _receipt(party: str, outcome: str, receipt_id: str, minute: int) -> bytes:
    return _event(
        "audit", E.DELIVERY_RECEIPT, minute, actor=party, outcome=outcome, message_id=MID, recipients=[party],
        discriminator=receipt_id, reason=None if outcome == "accepted" else "ENVELOPE",
    )  # fmt: skip


SIGNED = [  # a DE notification about an FR+PL national, refused for US, as the services log it
    _event("intake", E.COLLECTION, actor="DE", source_jurisdiction="DE"),
    _event("normaliser", E.NORMALISATION, 1, message_id=MID, source_jurisdiction="FR", message_type="NOTIFICATION"),
    _event("router", E.DISCLOSURE, 2, message_id=MID, recipients=["FR"], rule="ecris-full"),
    _event("router", E.DISCLOSURE, 2, message_id=MID, recipients=["PL"], rule="ecris-minimal"),
    _event("router", E.REFUSAL, 2, message_id=MID, recipients=["US"], outcome="refused", reason="NO_AGREEMENT"),
    _receipt("FR", "accepted", "r-fr", 3),
    _receipt("PL", "rejected", "r-pl-copy", 3),  # a copy of FR's record refused on PL's topic
]
UNSIGNED = [_receipt("PL", "accepted", "r-pl", 4)]  # after the last checkpoint


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(None, {}, data_dir=tmp_path / "data")


@pytest.fixture
def signer(settings: Settings) -> NoteSigner:
    return ensure_note_key(settings)


@pytest.fixture
def store(settings: Settings, signer: NoteSigner) -> SqliteAuditStore:
    """The log of ``settings``: one unrelated event, the submission's signed events, then one unsigned."""
    log = SqliteAuditStore(settings.audit_db_path, origin=settings.audit_log_origin)
    log.append([_event("intake", E.COLLECTION, actor="FR", submission_id="another")])
    log.append(SIGNED, signers=[signer])
    log.append(UNSIGNED)
    return log


def _disclosure(answer: dict[str, Any], recipient: str) -> dict[str, Any]:
    [record] = answer["records"]
    [found] = [d for d in record["disclosures"] if d["recipient"] == recipient]
    assert isinstance(found, dict)
    return found


def test_the_answer_accounts_for_the_submission(store: SqliteAuditStore, signer: NoteSigner) -> None:
    """State, submitter, the record, each disclosure with its recipient's receipt (the ACCEPTED one when the
    recipient also rejected a copy), the refusal, the checkpoint and the key that signed it."""
    answer = submission_evidence(store, SID, [signer.verifier()])
    assert answer is not None
    assert (answer["state"], answer["jurisdiction"], answer["accepted_at"]) == ("delivered", "DE", WHEN.isoformat())
    [record] = answer["records"]
    assert (record["message_id"], record["message_type"]) == (MID, "NOTIFICATION")
    assert [(d["recipient"], d["rule"]) for d in record["disclosures"]] == [
        ("FR", "ecris-full"),
        ("PL", "ecris-minimal"),
    ]
    assert _disclosure(answer, "FR")["receipt"]["outcome"] == "accepted"
    assert _disclosure(answer, "PL")["receipt"]["outcome"] == "accepted"
    assert [(r["recipient"], r["reason"]) for r in record["refusals"]] == [("US", "NO_AGREEMENT")]
    assert answer["dead_letters"] == []
    assert answer["checkpoint"] == store.latest_checkpoint().note  # type: ignore[union-attr]
    assert answer["log"] == {"origin": "crx/audit", "tree_size": 8, "verifier_key": signer.verifier_key()}


def test_every_proof_holds_for_an_outside_verifier(store: SqliteAuditStore, signer: NoteSigner) -> None:
    """The FR disclosure and FR's receipt verify with the test's own RFC 9162 and signed-note code against the
    checkpoint in the answer, and their leaves decode (fastavro) to what the answer says they are."""
    answer = submission_evidence(store, SID, [signer.verifier()])
    assert answer is not None
    vkey, origin = answer["log"]["verifier_key"], answer["log"]["origin"]
    fr = _disclosure(answer, "FR")
    disclosure = decode_event(verified_leaf(fr["evidence"], answer["checkpoint"], vkey, origin))
    receipt = decode_event(verified_leaf(fr["receipt"]["evidence"], answer["checkpoint"], vkey, origin))
    assert (disclosure["event_type"], disclosure["recipients"], disclosure["submission_id"]) == (
        "DISCLOSURE",
        ["FR"],
        SID,
    )
    assert (receipt["event_type"], receipt["actor"], receipt["outcome"]) == ("DELIVERY_RECEIPT", "FR", "accepted")
    refusal = answer["records"][0]["refusals"][0]["evidence"]
    assert decode_event(verified_leaf(refusal, answer["checkpoint"], vkey, origin))["event_type"] == "REFUSAL"
    with pytest.raises(Rejected):  # another leaf's path, another key: the outside verifier says no
        verified_leaf(fr["evidence"] | {"leaf": fr["receipt"]["evidence"]["leaf"]}, answer["checkpoint"], vkey, origin)
    with pytest.raises(Rejected):
        verified_leaf(
            fr["evidence"], answer["checkpoint"], NoteSigner("crx/audit", _other_key()).verifier_key(), origin
        )


def _other_key() -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()


def test_nothing_is_proved_against_an_unsigned_root(store: SqliteAuditStore, signer: NoteSigner) -> None:
    """PL's ACCEPTED receipt came after the last checkpoint: no evidence, pending_checkpoint; after the next
    checkpoint it has its proof, to that checkpoint."""
    answer = submission_evidence(store, SID, [signer.verifier()])
    assert answer is not None
    pending = _disclosure(answer, "PL")["receipt"]
    assert (pending["evidence"], pending["pending_checkpoint"]) == (None, True)
    assert _disclosure(answer, "PL")["pending_checkpoint"] is False
    store.checkpoint([signer])
    later = submission_evidence(store, SID, [signer.verifier()])
    assert later is not None
    evidence = _disclosure(later, "PL")["receipt"]["evidence"]
    assert evidence["tree_size"] == 9
    leaf = verified_leaf(evidence, later["checkpoint"], signer.verifier_key(), "crx/audit")
    assert decode_event(leaf)["actor"] == "PL"


def test_a_later_rejected_copy_does_not_hide_the_accepted_receipt(store: SqliteAuditStore) -> None:
    """A recipient's ACCEPTED receipt stands for its disclosure even when it rejects a copy afterwards; a
    recipient that only rejected shows its latest receipt."""
    store.append([_receipt("FR", "rejected", "r-fr-copy", 5), _receipt("PL", "rejected", "r-pl-again", 5)])
    answer = submission_evidence(store, SID)
    assert answer is not None
    assert _disclosure(answer, "FR")["receipt"]["outcome"] == "accepted"
    assert _disclosure(answer, "PL")["receipt"]["outcome"] == "accepted"
    rejected_only = SqliteAuditStore(":memory:")
    rejected_only.append([*SIGNED, _receipt("PL", "rejected", "r-pl-late", 6)])
    answer = submission_evidence(rejected_only, SID)
    assert answer is not None and answer["state"] == "pending"
    receipt = _disclosure(answer, "PL")["receipt"]
    assert (receipt["outcome"], receipt["received_at"]) == ("rejected", (WHEN + dt.timedelta(minutes=6)).isoformat())


def test_the_submitter_is_who_the_intake_logged(store: SqliteAuditStore) -> None:
    """Later stages' source jurisdiction (the payload's say) never names the submitter; the intake's COLLECTION
    does, and without one its door DEAD_LETTER; with neither it is unknown."""
    normalised = [e for e in store.events(submission_id=SID) if e["event_type"] != "COLLECTION"]
    assert owner(normalised) is None
    store.append([
        _event("normaliser", E.DEAD_LETTER, submission_id="door", source_jurisdiction="FR", reason="MALFORMED"),
        _event("intake", E.DEAD_LETTER, submission_id="door", source_jurisdiction="PL", reason="ADAPTER_NOT_FOUND"),
    ])  # fmt: skip
    answer = submission_evidence(store, "door")
    assert answer is not None and answer["jurisdiction"] == "PL" and answer["state"] == "dead_lettered"
    assert [(d["stage"], d["reason"]) for d in answer["dead_letters"]] == [
        ("normaliser", "MALFORMED"), ("intake", "ADAPTER_NOT_FOUND"),
    ]  # fmt: skip
    assert submission_evidence(store, "unknown") is None


async def test_the_audit_api_serves_it(store: SqliteAuditStore, signer: NoteSigner) -> None:
    """``GET /v1/submissions/{id}/evidence``: the same answer as JSON; 404 for an id the log does not know."""
    server = AuditHttpServer(AuditApi(store, verifiers=[signer.verifier()]), "127.0.0.1", 0)
    await server.start()
    try:
        async with aiohttp.ClientSession(base_url=server.url) as http:
            async with http.get(f"/v1/submissions/{SID}/evidence") as r:
                assert r.status == 200
                assert await r.json() == submission_evidence(store, SID, [signer.verifier()])
            async with http.get("/v1/submissions/unknown/evidence") as r:
                assert r.status == 404
    finally:
        await server.stop()


def test_crx_submissions_show_reads_the_local_log(store: SqliteAuditStore, settings: Settings) -> None:
    """``crx submissions show --json`` on the data directory's log: the answer with empty cases, the key from
    ``audit-note.vkey``; ``--as`` another jurisdiction and an unknown id exit 1; the summary names the state."""
    runner, env = CliRunner(), {"CRX_DATA_DIR": str(settings.data_dir)}
    shown = runner.invoke(main, ["submissions", "show", SID, "--json", "--as", "de"], env=env)
    assert shown.exit_code == 0, shown.output
    expected = submission_evidence(store, SID, [ensure_note_key(settings).verifier()])
    assert expected is not None and json.loads(shown.output) == expected | {"cases": []}
    assert runner.invoke(main, ["submissions", "show", SID, "--as", "FR"], env=env).exit_code == 1
    assert runner.invoke(main, ["submissions", "show", SID.replace("0b", "0c"), "--json"], env=env).exit_code == 1
    summary = runner.invoke(main, ["submissions", "show", SID], env=env)
    assert summary.exit_code == 0 and f"submission {SID} from DE: delivered" in summary.output
    assert "disclosed to FR under ecris-full" in summary.output
