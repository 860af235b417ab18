"""A submission's status and evidence for its sender: ``GET /v1/submissions/{submission_id}`` on the intake.

The answer is the audit log's evidence of the submission (``services.audit.evidence``: its settlement state,
each record's disclosures with the partner's receipt and refusals, its dead letters, every event with its
inclusion proof to one signed checkpoint, that checkpoint and the log's verifier key), plus the cases its
requests opened (``CaseSource``; an empty list without one).

Who may read it: only the jurisdiction that submitted, authenticated by its intake bearer token (the tokens
of ``POST /v1/feeds/{jurisdiction}``). Who submitted is what the intake itself logged when it accepted the
submission (the actor of its COLLECTION event, or the jurisdiction of its door DEAD_LETTER): the audit log,
not the outbox, because the log keeps it for good and under signature, while the outbox forgets a settled
submission after ``idempotency_ttl_seconds`` and does not exist where ``crx push`` published. The outbox
only bridges the moment between the 202 and the intake's event reaching the log: a submission it holds and
the log does not know yet is answered ``pending`` with no records.

Answers: 200 with the JSON; 401 without a valid token; 404 for an unknown id *and* for another
jurisdiction's submission (the answer never tells whether an id exists); 503 (``Retry-After``) when the token
file or the audit log cannot be read.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from dataclasses import KW_ONLY, dataclass
from typing import Any, Protocol

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.intake.evidence import EvidenceSource
from services.intake.gate import TokenGate
from services.intake.outbox import Outbox
from services.intake.tokens import TokenBook
from services.kernel.errors import TransientError
from services.kernel.logging import get_logger

ROUTE = "/v1/submissions/{submission_id}"
RETRY_AFTER_SECONDS = 5

Json = dict[str, Any]


class CaseSource(Protocol):
    """The cases a submission's requests opened (``services/cases``), JSON-ready."""

    def for_submission(self, submission_id: str) -> list[dict[str, Any]]:
        """The cases of ``submission_id``'s records, as JSON-ready dicts (ids and codes, no personal data)."""
        ...


def _is_submission_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False


@dataclass(frozen=True)
class SubmissionStatus:
    """Assembles the answer for one submission from the audit log's evidence, the outbox (None: no outbox
    here) and the cases (None: none)."""

    evidence: EvidenceSource
    _: KW_ONLY
    outbox: Outbox | None = None
    cases: CaseSource | None = None

    async def answer(self, submission_id: str, reader: str | None) -> Json | None:
        """The status of ``submission_id`` as ``reader`` (a jurisdiction; None: an operator, who reads any) may
        see it, or None when it is unknown or another jurisdiction submitted it (the two are not told apart).

        Raises TransientError when the audit log (or the outbox, or the case source) cannot be read.
        """
        if not _is_submission_id(submission_id):
            return None
        answer = await self.evidence.evidence(submission_id)
        kept = await asyncio.to_thread(self.outbox.submitted, submission_id) if self.outbox else None
        if answer is None:
            if kept is None:
                return None
            answer = self._not_logged_yet(submission_id, *kept)
        elif answer["jurisdiction"] is None and kept is not None:  # the intake's own event is not logged yet
            answer["jurisdiction"] = kept[0]
        if reader is not None and answer["jurisdiction"] != reader:
            return None
        cases = await asyncio.to_thread(self.cases.for_submission, submission_id) if self.cases else []
        return answer | {"cases": cases}

    @staticmethod
    def _not_logged_yet(submission_id: str, jurisdiction: str, accepted_at: float) -> Json:
        """The answer for a submission the outbox holds and the log does not know yet."""
        return {
            "submission_id": submission_id,
            "jurisdiction": jurisdiction,
            "state": "pending",
            "accepted_at": dt.datetime.fromtimestamp(accepted_at, dt.UTC).isoformat(),
            "collection": None,
            "records": [],
            "dead_letters": [],
            "checkpoint": None,
            "log": None,
        }

    async def close(self) -> None:
        """Close the evidence source. Idempotent."""
        await self.evidence.close()


def _json(status: int, body: Json, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json", headers=headers)


class StatusApi:
    """The ``GET /v1/submissions/{submission_id}`` handler (``IntakeApi`` mounts it beside the feeds)."""

    def __init__(self, status: SubmissionStatus, tokens: TokenBook, registry: CollectorRegistry | None = None) -> None:
        self._status = status
        self._log = get_logger("intake.status")
        self._gate = TokenGate(
            tokens,
            "crx_intake_status_requests",
            "Submission status requests by reading jurisdiction ('-' before authentication) and outcome",
            registry,
            unreadable="the intake's token file cannot be read",
            unauthorized="a valid intake bearer token is required",
        )

    async def show(self, request: web.Request) -> web.Response:
        """Answer one status request (see the module docstring for every answer)."""
        who = self._gate.requester(request)
        if isinstance(who, web.Response):
            return who
        sid = request.match_info["submission_id"]
        try:
            answer = await self._status.answer(sid, reader=who)
        except TransientError as exc:
            self._log.warning("status unavailable", jurisdiction=who, error_class=type(exc).__name__)
            detail = "the audit log (or the case store) does not answer; retry later"
            return self._gate.unavailable(who, "AUDIT_UNAVAILABLE", detail, RETRY_AFTER_SECONDS)
        if answer is None:
            detail = "no submission of this jurisdiction has this id"
            return self._gate.refuse(who, "not_found", 404, "NOT_FOUND", detail)
        self._gate.count(who, "ok")
        self._log.info("status", jurisdiction=who, submission_id=sid, state=answer["state"])
        return _json(200, answer)
