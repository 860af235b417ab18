"""``GET /v1/submissions/{id}`` on a real pipeline run: a DE notification about an FR+PL national, submitted over
HTTP, delivered, and its sender's evidence checked by an outside verifier with the log key pinned out of band.

One run per module (the ``run`` fixture) records the answers; each test judges one behaviour of them.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

from services.cli import main
from services.kernel.config import Settings
from tests.audit.outside_verifier import decode_event, verified_leaf
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring
from tests.integration.helpers import running, sample

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr-pl.json"
UNKNOWN = "5e0bd7f2-7c1d-5b0e-8a3f-000000000000"
REPO = Path(__file__).parents[2]

Answer = tuple[int, dict[str, Any]]


@dataclass(frozen=True)
class StatusRun:
    """What the intake answered about the delivered submission, to each caller, once every event was signed."""

    settings: Settings
    submission_id: str
    pinned_vkey: str  # the log's verifier key as the operator publishes it (audit-note.vkey), not the answer's
    own: Answer  # DE, the submitter
    other: Answer  # FR's token (FR even received the record)
    anonymous: Answer
    unknown: Answer  # DE's token, an id nobody submitted
    malformed: Answer  # DE's token, not a submission id at all
    cli_remote: dict[str, Any]  # `crx submissions show --json` against the running intake with DE's token


def _settled(answer: dict[str, Any]) -> bool:
    """Delivered, and every event of it under a signed checkpoint."""
    return answer.get("state") == "delivered" and '"pending_checkpoint": true' not in json.dumps(answer)


async def _get(http: aiohttp.ClientSession, url: str, token: str | None) -> Answer:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with http.get(url, headers=headers) as response:
        return response.status, await response.json()


async def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``crx`` as a national system runs it: its own process (its output is its own)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", *args,
        env={**os.environ, "PYTHONPATH": str(REPO), **env}, stdout=asyncio.subprocess.PIPE, cwd=REPO,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode()


@pytest.fixture(scope="module")
async def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> StatusRun:
    """Submit SAMPLE as DE over HTTP, wait until DE's status answer shows it delivered with every proof, ask as
    everyone else, ask with the CLI; then stop the pipeline (which signs a last checkpoint). Asserts nothing."""
    settings = make_settings(kafka_bootstrap, tmp_path_factory.mktemp("status") / "data")
    settings = settings.replace(audit_checkpoint_seconds=0.5)
    keyring = make_keyring(settings)
    async with running(settings, keyring) as pipeline, aiohttp.ClientSession() as http:
        tokens = {j: pipeline.intake.tokens.issue(j) for j in ("DE", "FR")}
        base = pipeline.intake.http.url
        headers = {"Authorization": f"Bearer {tokens['DE']}", "Crx-Adapter": "json-v1"}
        async with http.post(f"{base}/v1/feeds/DE", data=sample(SAMPLE), headers=headers) as response:
            assert response.status == 202, await response.text()
            sid = (await response.json())["submission_id"]
        url = f"{base}/v1/submissions/{sid}"
        own = await _get(http, url, tokens["DE"])
        for _ in range(600):
            if own[0] == 200 and _settled(own[1]):
                break
            await asyncio.sleep(0.1)
            own = await _get(http, url, tokens["DE"])
        other = await _get(http, url, tokens["FR"])
        anonymous = await _get(http, url, None)
        unknown = await _get(http, f"{base}/v1/submissions/{UNKNOWN}", tokens["DE"])
        malformed = await _get(http, f"{base}/v1/submissions/not-an-id", tokens["DE"])
        code, out = await _cli(
            {"CRX_INTAKE_URL": base, "CRX_INTAKE_TOKEN": tokens["DE"], "CRX_DATA_DIR": str(settings.data_dir / "none")},
            "submissions", "show", sid, "--json",
        )  # fmt: skip
        cli_remote = json.loads(out) if code == 0 else {"exit_code": code}
    pinned = (settings.keys_dir / "audit-note.vkey").read_text().split()[0]
    return StatusRun(settings, sid, pinned, own, other, anonymous, unknown, malformed, cli_remote)


def _verified(run: StatusRun, answer: dict[str, Any], evidence: dict[str, Any]) -> dict[str, Any]:
    """The audit event ``evidence`` proves, once the outside verifier accepts it with the pinned key."""
    return decode_event(verified_leaf(evidence, answer["checkpoint"], run.pinned_vkey, answer["log"]["origin"]))


def test_the_submitter_sees_its_submission_delivered(run: StatusRun) -> None:
    """DE's token: 200; delivered; one record, disclosed to FR and PL, each with an ACCEPTED receipt; no cases."""
    status, answer = run.own
    assert status == 200, answer
    assert (answer["submission_id"], answer["jurisdiction"], answer["state"]) == (run.submission_id, "DE", "delivered")
    assert answer["accepted_at"] and answer["cases"] == [] and answer["dead_letters"] == []
    [record] = answer["records"]
    assert record["message_type"] == "NOTIFICATION" and record["normalised_at"]
    assert sorted(d["recipient"] for d in record["disclosures"]) == ["FR", "PL"]
    assert all(d["receipt"]["outcome"] == "accepted" for d in record["disclosures"])
    assert answer["log"]["verifier_key"] == run.pinned_vkey


def test_each_delivery_is_proved_to_the_signed_checkpoint(run: StatusRun) -> None:
    """For FR and PL: the DISCLOSURE and the partner's DELIVERY_RECEIPT verify with the outside verifier (RFC 9162
    path folding, the checkpoint's Ed25519 signature by the pinned key) and decode, with fastavro, to the
    disclosure of this submission's record to that partner and that partner's ACCEPTED receipt of it."""
    _, answer = run.own
    [record] = answer["records"]
    for disclosure in record["disclosures"]:
        recipient = disclosure["recipient"]
        event = _verified(run, answer, disclosure["evidence"])
        assert event["event_type"] == "DISCLOSURE" and event["recipients"] == [recipient]
        assert (event["submission_id"], event["message_id"]) == (run.submission_id, record["message_id"])
        receipt = _verified(run, answer, disclosure["receipt"]["evidence"])
        assert (receipt["event_type"], receipt["actor"], receipt["outcome"]) == (
            "DELIVERY_RECEIPT",
            recipient,
            "accepted",
        )
        assert (receipt["submission_id"], receipt["message_id"]) == (run.submission_id, record["message_id"])
    assert _verified(run, answer, answer["collection"]["evidence"])["actor"] == "DE"


def test_the_answer_holds_no_personal_data(run: StatusRun) -> None:
    """Neither the answer nor the leaves it carries hold the person's names, identifiers or birth date."""
    text = json.dumps(run.own[1])
    leaves = b"".join(
        bytes(verified_leaf(d["evidence"], run.own[1]["checkpoint"], run.pinned_vkey, run.own[1]["log"]["origin"]))
        for d in run.own[1]["records"][0]["disclosures"]
    )
    for personal in ("Musterkowski", "Jean-Test", "SYNTH-NIR", "1985-03-14", "Exempleville"):
        assert personal not in text and personal.encode() not in leaves


def test_another_jurisdiction_unknown_ids_and_no_token(run: StatusRun) -> None:
    """FR's token gets 404 (as for an id nobody submitted: existence is not revealed); no token 401; an unknown
    or malformed id 404."""
    assert (run.other[0], run.other[1]["error"], run.other[1]["type"]) == (
        404,
        "NOT_FOUND",
        "urn:crx:problem:not-found",
    )
    assert run.unknown == run.other and run.malformed == run.other
    assert (run.anonymous[0], run.anonymous[1]["error"]) == (401, "UNAUTHORIZED")


def test_the_cli_asks_the_intake_with_the_jurisdictions_token(run: StatusRun) -> None:
    """``crx submissions show --json`` with CRX_INTAKE_URL and CRX_INTAKE_TOKEN prints the intake's answer."""
    assert run.cli_remote.get("submission_id") == run.submission_id, run.cli_remote
    assert run.cli_remote["state"] == "delivered" and run.cli_remote["jurisdiction"] == "DE"


def test_the_cli_reads_the_stopped_pipelines_log(run: StatusRun) -> None:
    """``crx submissions show --json --as DE`` on the data directory (the pipeline stopped): the same records,
    every proof to the last checkpoint verified by the outside verifier; ``--as FR`` exits 1."""
    env = {"CRX_DATA_DIR": str(run.settings.data_dir)}
    shown = CliRunner().invoke(main, ["submissions", "show", run.submission_id, "--json", "--as", "DE"], env=env)
    assert shown.exit_code == 0, shown.output
    answer = json.loads(shown.output)
    assert answer["state"] == "delivered" and answer["log"]["tree_size"] >= run.own[1]["log"]["tree_size"]
    assert [r["message_id"] for r in answer["records"]] == [r["message_id"] for r in run.own[1]["records"]]
    for disclosure in answer["records"][0]["disclosures"]:
        assert _verified(run, answer, disclosure["receipt"]["evidence"])["actor"] == disclosure["recipient"]
    refused = CliRunner().invoke(main, ["submissions", "show", run.submission_id, "--as", "FR"], env=env)
    assert refused.exit_code == 1
