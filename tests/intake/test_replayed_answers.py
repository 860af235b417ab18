"""Answers replayed for an Idempotency-Key keep their form, and answers remembered before problem details
(an upgrade within an entry's 7 days) are given as problems."""

from __future__ import annotations

import json

from services.intake.http import _replayed
from services.kernel.problem import PROBLEM_JSON


def test_an_error_remembered_before_problem_details_is_replayed_as_a_problem() -> None:
    """The old dead-letter answer becomes the problem it is now: type from the reason, numeric status, the
    submission id, jurisdiction and reason kept; the replay is marked."""
    old = {"submission_id": "s-1", "jurisdiction": "DE", "status": "dead_lettered", "reason": "UNKNOWN_ADAPTER"}
    answer = _replayed(422, json.dumps(old))
    body = json.loads(answer.text or "")
    assert (answer.status, answer.content_type, answer.headers["Idempotent-Replayed"]) == (422, PROBLEM_JSON, "true")
    assert body["type"] == "urn:crx:problem:unknown-adapter" and body["status"] == 422
    assert {k: body[k] for k in ("submission_id", "jurisdiction", "reason", "error")} == {
        "submission_id": "s-1",
        "jurisdiction": "DE",
        "reason": "UNKNOWN_ADAPTER",
        "error": "UNKNOWN_ADAPTER",
    }


def test_receipts_and_problems_are_replayed_as_they_were() -> None:
    """A 202 receipt stays JSON; a problem stays the same problem."""
    receipt = json.dumps({"submission_id": "s-2", "jurisdiction": "DE", "status": "accepted", "reason": None})
    assert (_replayed(202, receipt).text, _replayed(202, receipt).content_type) == (receipt, "application/json")
    problem = json.dumps({"type": "urn:crx:problem:payload-too-large", "status": 413, "error": "PAYLOAD_TOO_LARGE"})
    assert (_replayed(413, problem).text, _replayed(413, problem).content_type) == (problem, PROBLEM_JSON)
