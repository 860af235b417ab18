"""The HTTP intake: ``POST /v1/feeds/{jurisdiction}`` for national systems, and ``GET /v1/submissions/{id}``:
what became of a submission, with the audit log's evidence, for the jurisdiction that submitted it alone
(``status.py``, same bearer tokens; 404 for anyone else's or an unknown id).

- Authentication: ``Authorization: Bearer <token>``; the token names the submitting jurisdiction, which must
  be the one in the path (a jurisdiction submits only as itself): 401 without a valid token, 403 otherwise.
- The adapter is named in the ``Crx-Adapter`` header or the ``adapter`` query parameter (400 without one, with
  a malformed name, or when both are given and differ).
- ``Idempotency-Key`` (optional, 1-255 printable ASCII characters): a retry with the same key and body gets
  the first answer again (header ``Idempotent-Replayed: true``) and publishes nothing; the same key with
  another body is 422; the same key while the first request is still in flight is 409. Once the key's entry
  has expired (7 days) a use of the key is a new submission with a new id.
- The body is read as a stream. Up to the payload limit it is published: ``202`` with the submission id
  when it is on the feed, ``422`` with the reason when it was refused at the door (unknown adapter) and
  dead-lettered. A larger body is hashed and discarded as it arrives (never held whole), dead-lettered with
  its size and digest, and answered ``413``. ``503`` with ``Retry-After`` when the broker did not confirm
  (``BROKER_UNAVAILABLE``: the submission may be taken in all the same, since the intake kept it; retrying
  with the same key, or the same body, is safe and answers with the same id) or the intake's outbox is full
  (``OUTBOX_FULL``: nothing was taken in).

Every error answer is an RFC 9457 problem (``application/problem+json``, ``services.kernel.problem``) whose
``error`` member is the machine code; the 413 and 422 answers of a dead-lettered submission also carry its
``submission_id``, ``jurisdiction`` and ``reason``. The API is described by ``openapi.yaml`` beside this
module, served at ``GET /openapi.json``.

Every answer that carries a submission id is a promise: what was published for it is in the intake's outbox
before the answer, and is published again until the audit log shows it delivered, refused by policy or
dead-lettered (``reconciler.py``). Refusals before a submission id exists (401, 403, 400, 409, 422 for a reused key) are
answered synchronously and counted in ``crx_intake_requests_total``; nothing of the body is logged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry

from services.intake.gate import TokenGate
from services.intake.idempotency import IdempotencyStore
from services.intake.publisher import FeedPublisher, Submission, keyed
from services.intake.status import ROUTE as STATUS_ROUTE
from services.intake.status import StatusApi
from services.intake.tokens import TokenBook
from services.kernel.errors import CrxError
from services.kernel.logging import get_logger
from services.kernel.openapi import api_application
from services.kernel.problem import PROBLEM_JSON, problem
from services.kernel.webapp import AppServer

ADAPTER_HEADER = "Crx-Adapter"
IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
_KEY = re.compile(r"[\x21-\x7e]{1,255}")
_ADAPTER = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
READ_CHUNK = 64 * 1024
RETRY_AFTER_SECONDS = 5
_UNAVAILABLE = {"TRANSIENT": "BROKER_UNAVAILABLE", "OUTBOX_FULL": "OUTBOX_FULL"}  # 503 reasons by error reason
_UNAVAILABLE_DETAIL = {
    "BROKER_UNAVAILABLE": "the broker did not confirm the submission; a retry with the same Idempotency-Key or "
    "body is safe and is answered with the same submission id",
    "OUTBOX_FULL": "the intake's outbox is full: nothing was taken in; retry later",
}


@dataclass(frozen=True)
class IntakeLimits:
    """``max_body``: the largest body published; ``max_refused_body``: how much of a larger one is read."""

    max_body: int
    max_refused_body: int = 256 * 1024 * 1024


def _json(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body, sort_keys=True), content_type="application/json",
                        headers=headers)  # fmt: skip


def _dead_lettered(status: int, submission_id: str, jurisdiction: str, reason: str, detail: str) -> dict[str, Any]:
    """The problem answering a submission taken in and dead-lettered (413: too large; 422: refused at the door):
    ``error`` and ``reason`` are the dead letter's reason code."""
    return problem(status, reason, detail, submission_id=submission_id, jurisdiction=jurisdiction, reason=reason)


def _replayed(status: int, text: str) -> web.Response:
    """An answer remembered for an Idempotency-Key, given again. An error remembered before problem details
    (``{"submission_id", "jurisdiction", "status", "reason"}``) is given as the problem it is now."""
    headers = {REPLAYED_HEADER: "true"}
    if status < 400:
        return web.Response(status=status, text=text, content_type="application/json", headers=headers)
    body = json.loads(text)
    if "type" not in body:
        detail = "the submission was dead-lettered"
        text = json.dumps(_dead_lettered(status, body["submission_id"], body["jurisdiction"], body["reason"], detail))
    return web.Response(status=status, text=text, content_type=PROBLEM_JSON, headers=headers)


class IntakeApi:
    """The request handler; ``app()`` builds the aiohttp application around it."""

    def __init__(
        self,
        publisher: FeedPublisher,
        tokens: TokenBook,
        idempotency: IdempotencyStore,
        limits: IntakeLimits,
        registry: CollectorRegistry | None = None,
        status: StatusApi | None = None,
    ) -> None:
        self._publisher = publisher
        self._status = status
        self._idempotency = idempotency
        self._limits = limits
        self._in_flight: set[tuple[str, str]] = set()
        self._log = get_logger("intake")
        self._gate = TokenGate(
            tokens,
            "crx_intake_requests",
            "HTTP intake requests by submitting jurisdiction ('-' before authentication) and outcome",
            registry,
            unreadable="the intake cannot read its tokens",
            unauthorized="a valid bearer token is required",
        )

    def app(self) -> web.Application:
        """The aiohttp application serving the intake route (and the status route, given a ``StatusApi``)."""
        app = api_application("services.intake", client_max_size=self._limits.max_body)
        app.router.add_post("/v1/feeds/{jurisdiction}", self.submit)
        if self._status is not None:
            app.router.add_get(STATUS_ROUTE, self._status.show)
        return app

    async def submit(self, request: web.Request) -> web.StreamResponse:
        """Handle one submission (see the module docstring for every answer)."""
        who = self._gate.requester(request)
        if isinstance(who, web.Response):
            return who
        if request.match_info["jurisdiction"].upper() != who:
            return self._gate.refuse(who, "forbidden", 403, "FORBIDDEN_JURISDICTION", "the token is for another feed")
        given = (request.headers.get(ADAPTER_HEADER), request.query.get("adapter"))
        named = {name for name in given if name is not None}
        adapter = named.pop() if len(named) == 1 else ""  # both given: they must name the same adapter
        if not _ADAPTER.fullmatch(adapter):
            detail = f"name one feed format in the {ADAPTER_HEADER} header or the adapter query parameter"
            return self._gate.refuse(who, "bad_request", 400, "MISSING_ADAPTER", detail)
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key is not None and not _KEY.fullmatch(key):
            detail = f"{IDEMPOTENCY_HEADER} must be 1 to 255 printable ASCII characters without spaces"
            return self._gate.refuse(who, "bad_request", 400, "INVALID_IDEMPOTENCY_KEY", detail)
        if key is not None and (who, key) in self._in_flight:
            detail = f"a request with this {IDEMPOTENCY_HEADER} is still being answered; retry after it"
            return self._gate.refuse(who, "conflict", 409, "IDEMPOTENCY_KEY_IN_FLIGHT", detail)
        if key is not None:
            self._in_flight.add((who, key))
        try:
            return await self._submit(request, who, adapter, key)
        finally:
            if key is not None:
                self._in_flight.discard((who, key))

    async def _submit(self, request: web.Request, who: str, adapter: str, key: str | None) -> web.StreamResponse:
        body, size, digest = await self._read(request)
        now = dt.datetime.now(dt.UTC)
        generation = 0
        if key is not None:
            generation = self._idempotency.generation(who, key, now)
            earlier = self._idempotency.get(who, key, now)
            if earlier is not None and earlier.body_sha256 != digest.hex():
                detail = f"this {IDEMPOTENCY_HEADER} was used with another body"
                return self._gate.refuse(who, "conflict", 422, "IDEMPOTENCY_KEY_REUSED", detail)
            if earlier is not None:
                self._gate.count(who, "replayed")
                return _replayed(earlier.status, earlier.response)
        basis = None if key is None else keyed(key, generation)
        try:
            if body is None:
                result = await self._publisher.refuse_unread(who, basis, size, digest, now)
                status = 413
            else:
                [result] = await self._publisher.publish([Submission(who, adapter, body, basis)], now)
                status = 202 if result.accepted else 422
        except CrxError as exc:  # the publisher dead-letters the payload's faults itself: these are ours
            reason = _UNAVAILABLE.get(exc.reason_code, f"{exc.reason_code}_UNAVAILABLE")
            detail = _UNAVAILABLE_DETAIL.get(reason, "the intake cannot take submissions now; retry later")
            return self._gate.unavailable(who, reason, detail, RETRY_AFTER_SECONDS)
        if result.accepted:
            answer = {"submission_id": result.submission_id, "jurisdiction": who, "status": "accepted", "reason": None}
        elif status == 413:
            detail = f"the body is over {self._limits.max_body} bytes: dead-lettered with its size and digest only"
            answer = _dead_lettered(status, result.submission_id, who, "PAYLOAD_TOO_LARGE", detail)
        else:
            reason = result.reason or "REFUSED"
            detail = f"the submission was refused at the door and dead-lettered ({reason})"
            answer = _dead_lettered(status, result.submission_id, who, reason, detail)
        text = json.dumps(answer, sort_keys=True)
        if key is not None:
            self._idempotency.put(who, key, digest.hex(), status, text, now, generation)
        outcome = "accepted" if result.accepted else "dead_lettered"
        self._gate.count(who, outcome)
        self._log.info("submission", jurisdiction=who, submission_id=result.submission_id, outcome=outcome, size=size)
        media = "application/json" if result.accepted else PROBLEM_JSON
        return web.Response(status=status, text=text, content_type=media)

    async def _read(self, request: web.Request) -> tuple[bytes | None, int, bytes]:
        """(body or None when over the limit, size read, SHA-256 of what was read). Bounded memory."""
        hasher = hashlib.sha256()
        kept = bytearray()
        size = 0
        async for chunk in request.content.iter_chunked(READ_CHUNK):
            size += len(chunk)
            hasher.update(chunk)
            if size <= self._limits.max_body:
                kept += chunk
            elif size > self._limits.max_refused_body:
                break
        return (bytes(kept) if size <= self._limits.max_body else None), size, hasher.digest()


class IntakeHttpServer(AppServer):
    """Serves an ``IntakeApi`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, api: IntakeApi, host: str, port: int) -> None:
        super().__init__(api.app, host, port)
