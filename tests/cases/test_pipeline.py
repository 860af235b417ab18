"""Cases through the whole pipeline on the real broker: a request opens its case, an orphan response is
refused (NO_OPEN_REQUEST, audited) and never reaches anyone, and the case survives a restart of every
service, so the answer sent after the restart closes it and reaches the requester."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from schemathesis import Response
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import response_schema_conformance

from adapters.base import get_adapter
from services.audit.accounting import account
from services.cases.store import ANSWERED, OPEN, CaseStore
from services.devstack.pipeline import Pipeline
from services.intake.publisher import PushResult, Submission
from services.kernel import openapi
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from tests.integration.helpers import PARTNERS, running, wait_for

pytestmark = pytest.mark.integration


def ecris(name: str) -> bytes:
    """An ecris-xml sample payload by file name."""
    return dict(get_adapter("ecris-xml").samples())[name]


async def push(pipeline: Pipeline, jurisdiction: str, payload: bytes) -> PushResult:
    [result] = await pipeline.publisher.publish(
        [Submission(jurisdiction, "ecris-xml", payload)], dt.datetime.now(dt.UTC)
    )
    assert result.accepted, result
    return result


async def status_of(pipeline: Pipeline, jurisdiction: str, submission_id: str) -> dict[str, Any]:
    """``GET /v1/submissions/{id}`` as ``jurisdiction``, checked against the intake's OpenAPI document."""
    url = f"{pipeline.intake.http.url}/v1/submissions/{submission_id}"
    headers = {"Authorization": f"Bearer {pipeline.intake.tokens.issue(jurisdiction)}"}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as response:
        body = await response.read()
        assert response.status == 200, body
    operation = schemathesis.openapi.from_dict(openapi.document("services.intake"), config=SchemathesisConfig())
    case = operation["/v1/submissions/{submission_id}"]["GET"].Case(path_parameters={"submission_id": submission_id})
    sent = requests.Request("GET", url).prepare()
    checked = Response(200, {"content-type": ["application/json"]}, body, sent, 0.0, True)
    case.validate_response(checked, checks=[response_schema_conformance])
    answer: dict[str, Any] = json.loads(body)
    return answer


async def settled(pipeline: Pipeline, result: PushResult) -> Any:
    """The submission's accounting once it is complete."""
    await wait_for(lambda: account(pipeline.store, [result.submission_id]).complete, 60)
    return account(pipeline.store, [result.submission_id])


async def test_request_orphan_restart_answer(settings: Settings, keyring: KeyRing) -> None:
    orphan = ecris("DE-response-pl.xml").replace(b"PL-KRK-REQ-SYNTH-000007", b"PL-KRK-REQ-NEVER-SENT")
    async with running(settings, keyring) as pipeline:
        request = await push(pipeline, "PL", ecris("PL-request-de.xml"))
        assert (await settled(pipeline, request)).delivered == {"DE": 1}
        refused = await push(pipeline, "DE", orphan)
        acc = await settled(pipeline, refused)
        assert (acc.refused, acc.refusal_reasons["NO_OPEN_REQUEST"], acc.disclosures) == (1, 1, 0)
        [event] = [
            e for e in pipeline.store.events(submission_id=refused.submission_id) if e["event_type"] == "REFUSAL"
        ]
        assert (event["reason"], event["rule"].rsplit("/", 1)[-1], event["message_type"]) == (
            "NO_OPEN_REQUEST", "no-such-request", "RESPONSE",
        )  # fmt: skip
        [disclosure] = [
            e for e in pipeline.store.events(submission_id=request.submission_id) if e["event_type"] == "DISCLOSURE"
        ]
        assert disclosure["message_type"] == "REQUEST" and disclosure["deadline"] is not None
        assert disclosure["requesting_authority"]  # who asked, in the log

    store = CaseStore.open(settings)
    [case] = store.for_submission(request.submission_id)
    assert (case.status, case.requesting, case.requested) == (OPEN, "PL", "DE")
    assert disclosure["deadline"] == case.deadline
    store.close()

    # Every service (and every partner client) stopped above; new ones start on the same stores and broker.
    restarted = Pipeline.build(settings, keyring, partners=PARTNERS)
    await restarted.start()
    try:
        answer = await push(restarted, "DE", ecris("DE-response-pl.xml"))
        assert (await settled(restarted, answer)).delivered == {"PL": 1}
        status = await status_of(restarted, "PL", request.submission_id)
    finally:
        await restarted.stop()
    [shown] = status["cases"]
    assert (shown["status"], shown["outcome"], shown["requested"], shown["late"]) == (
        "answered",
        "CONVICTIONS_FOUND",
        "DE",
        False,
    )
    store = CaseStore.open(settings)
    [closed] = store.for_submission(request.submission_id)
    assert (closed.status, closed.outcome, closed.response_submission_id) == (
        ANSWERED, "CONVICTIONS_FOUND", answer.submission_id,
    )  # fmt: skip
    store.close()
