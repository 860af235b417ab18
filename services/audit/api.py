"""The audit log over HTTP, for partners and supervisors (read-only).

- ``GET /v1/checkpoint``: the latest signed checkpoint (C2SP signed note, ``text/plain``).
- ``GET /v1/proof/{event_id}``: a ``c2sp.org/tlog-proof@v1`` bundle for one event (``text/plain``); 404 for
  an unknown event, 409 while it is not yet covered by a signed checkpoint (retry after ``Retry-After``).
- ``GET /v1/consistency?old=N[&new=M]``: a consistency proof between two sizes (JSON, base64 hashes).
- ``POST /v1/settlement`` with ``{"submission_ids": [...]}`` (at most ``MAX_SETTLEMENT_IDS``): what became of
  each submission (``accounting.settlement``: delivered, refused, dead_lettered or pending), for the intake's
  reconciler where it cannot read the log's database itself.
- ``GET /v1/submissions/{submission_id}/evidence``: what became of one submission with every event's inclusion
  proof to the latest signed checkpoint (``evidence.submission_evidence``, JSON); 404 when the log holds no
  event about it. For the intake's ``GET /v1/submissions/{id}``, which decides who may read it.

Errors are RFC 9457 problems (``application/problem+json``, ``services.kernel.problem``) with the machine
code in ``error``. The API is described by ``openapi.yaml`` beside this module, served at ``GET /openapi.json``.

Audit events hold only ids, codes and salted commitments, so nothing here is personal data; still, the API
only reads, and it belongs behind the same TLS and access control as the rest of crx.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence

from aiohttp import web

from services.audit import proofs
from services.audit.accounting import settlement_states
from services.audit.evidence import submission_evidence
from services.audit.store import AuditStore
from services.kernel.errors import CrxError
from services.kernel.openapi import api_application
from services.kernel.problem import problem_response
from services.kernel.webapp import AppServer
from services.translog.notes import NoteVerifier

RETRY_AFTER_SECONDS = 5
MAX_SETTLEMENT_IDS = 2000


def _error(status: int, exc: CrxError, **headers: str) -> web.Response:
    return problem_response(status, exc.reason_code, exc.detail, headers=headers)


class AuditApi:
    """Handlers over one store. Store calls run in a worker thread (they are blocking database reads)."""

    def __init__(self, store: AuditStore, *, verifiers: Sequence[NoteVerifier] = ()) -> None:
        self._store = store
        self._verifiers = tuple(verifiers)  # the log's note keys: the evidence names the one that signed

    def app(self) -> web.Application:
        """The aiohttp application with its routes."""
        app = api_application("services.audit")
        app.router.add_get("/v1/checkpoint", self.checkpoint)
        app.router.add_get("/v1/proof/{event_id}", self.proof)
        app.router.add_get("/v1/consistency", self.consistency)
        app.router.add_post("/v1/settlement", self.settlement)
        app.router.add_get("/v1/submissions/{submission_id}/evidence", self.evidence)
        return app

    async def checkpoint(self, _request: web.Request) -> web.Response:
        """The latest signed checkpoint."""
        try:
            note = await asyncio.to_thread(proofs.latest_checkpoint, self._store)
        except proofs.NotFound as exc:
            return _error(404, exc)
        return web.Response(text=note, content_type="text/plain", charset="utf-8")

    async def proof(self, request: web.Request) -> web.Response:
        """The tlog-proof bundle of one event."""
        try:
            bundle = await asyncio.to_thread(proofs.prove, self._store, request.match_info["event_id"])
        except proofs.NotFound as exc:
            return _error(404, exc)
        except proofs.NotYetSigned as exc:
            return _error(409, exc, **{"Retry-After": str(RETRY_AFTER_SECONDS)})
        return web.Response(text=bundle, content_type="text/plain", charset="utf-8")

    async def consistency(self, request: web.Request) -> web.Response:
        """A consistency proof between ``old`` and ``new`` (default: the latest checkpoint)."""
        try:
            old = int(request.query["old"])
            new = int(request.query["new"]) if "new" in request.query else None
        except (KeyError, ValueError):
            return _error(400, CrxError("query needs old=<size> and optionally new=<size>", reason_code="BAD_QUERY"))
        try:
            body = await asyncio.to_thread(proofs.consistency_json, self._store, old, new)
        except proofs.NotFound as exc:
            return _error(404, exc)
        return web.Response(text=body, content_type="application/json")

    async def settlement(self, request: web.Request) -> web.Response:
        """``{"states": {submission id: state}}`` for the submission ids in the JSON body."""
        try:
            body = await request.json()
            ids = body["submission_ids"]
            if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids) or len(ids) > MAX_SETTLEMENT_IDS:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            detail = f'body must be {{"submission_ids": [at most {MAX_SETTLEMENT_IDS} strings]}}'
            return _error(400, CrxError(detail, reason_code="BAD_QUERY"))
        states = await asyncio.to_thread(settlement_states, self._store, ids)
        return web.Response(text=json.dumps({"states": states}), content_type="application/json")

    async def evidence(self, request: web.Request) -> web.Response:
        """The evidence of one submission (``evidence.submission_evidence``); 404 when the log has none."""
        sid = request.match_info["submission_id"]
        body = await asyncio.to_thread(submission_evidence, self._store, sid, self._verifiers)
        if body is None:
            return _error(404, proofs.NotFound("no audit event about this submission"))
        return web.Response(text=json.dumps(body), content_type="application/json")


class AuditHttpServer(AppServer):
    """Serves an ``AuditApi`` on ``host:port`` (port 0 picks a free one)."""

    def __init__(self, api: AuditApi, host: str, port: int) -> None:
        super().__init__(api.app, host, port)
