"""Where the intake (and ``crx submissions show``) gets a submission's evidence: the audit log, read directly
or over its API, as the reconciler gets settlements (``settlement.py``).

- ``LogEvidence`` reads the log's database (``audit_db``, opened on first use, never created) and names the
  checkpoint's key from the verifier keys in ``<keys_dir>/audit-note.vkey`` where that file is (else the
  answer's ``log.verifier_key`` is None: the proofs and the signed checkpoint are there all the same).
- ``ApiEvidence`` asks the audit service (``GET /v1/submissions/{id}/evidence``) at ``audit_api_url``.

Both answer ``services.audit.evidence.submission_evidence`` (JSON-ready, None for a submission the log does not
know) and raise TransientError when the log cannot be read.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Protocol
from urllib.parse import quote

import aiohttp

from services.audit.evidence import submission_evidence
from services.audit.notekey import load_note_verifiers
from services.audit.store import AuditStore
from services.intake.settlement import TIMEOUT_SECONDS, open_audit_log
from services.kernel.config import Settings
from services.kernel.errors import KeyUnavailable, TransientError
from services.translog.notes import NoteVerifier


class EvidenceSource(Protocol):
    """The audit log's evidence of submissions, by id."""

    async def evidence(self, submission_id: str) -> dict[str, Any] | None:
        """``submission_evidence`` of one submission, None when the log holds nothing about it.
        Raises TransientError when the log cannot be read."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...


class LogEvidence:
    """Reads the audit log's database (opened on first use)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: AuditStore | None = None
        self._verifiers: list[NoteVerifier] = []
        self._lock = threading.Lock()  # worker threads open the store once

    def _open(self) -> AuditStore:
        with self._lock:
            if self._store is None:
                self._store = open_audit_log(self._settings)
                try:
                    self._verifiers = load_note_verifiers(self._settings)
                except KeyUnavailable:  # not on this node: the answer names no key; its proofs hold all the same
                    self._verifiers = []
            return self._store

    def _answer(self, submission_id: str) -> dict[str, Any] | None:
        return submission_evidence(self._open(), submission_id, self._verifiers)

    async def evidence(self, submission_id: str) -> dict[str, Any] | None:
        """See ``EvidenceSource``."""
        return await asyncio.to_thread(self._answer, submission_id)

    async def close(self) -> None:
        """See ``EvidenceSource``."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            await asyncio.to_thread(store.close)  # waits for a reader still in its worker thread


class ApiEvidence:
    """Asks the audit service's ``GET /v1/submissions/{id}/evidence``."""

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/") + "/v1/submissions/{}/evidence"
        self._session: aiohttp.ClientSession | None = None

    async def evidence(self, submission_id: str) -> dict[str, Any] | None:
        """See ``EvidenceSource``."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        try:
            async with self._session.get(self._url.format(quote(submission_id, safe=""))) as response:
                if response.status == 404 and response.content_type != "text/plain":
                    return None  # the API's own answer (JSON); a text 404 is an audit service without the route
                if response.status != 200:
                    raise TransientError(f"audit evidence API answered {response.status}")
                answer: dict[str, Any] = await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientError(f"audit evidence API: {type(exc).__name__}") from None
        return answer

    async def close(self) -> None:
        """See ``EvidenceSource``."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def evidence_source(settings: Settings) -> EvidenceSource:
    """The audit API at ``audit_api_url`` when set, else the log's database."""
    if settings.audit_api_url:
        return ApiEvidence(settings.audit_api_url)
    return LogEvidence(settings)
