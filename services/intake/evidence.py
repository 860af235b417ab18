"""Where the intake (and ``crx submissions show``) gets a submission's evidence: the audit log, read directly
or over its API (``auditlog.py``), as the reconciler gets settlements (``settlement.py``).

- ``LogEvidence`` reads the log's database (``audit_db``, opened on first use, never created) and names the
  checkpoint's key from the verifier keys in ``<keys_dir>/audit-note.vkey`` where that file is (else the
  answer's ``log.verifier_key`` is None: the proofs and the signed checkpoint are there all the same).
- ``ApiEvidence`` asks the audit service (``GET /v1/submissions/{id}/evidence``) at ``audit_api_url``.

Both answer ``services.audit.evidence.submission_evidence`` (JSON-ready, None for a submission the log does not
know) and raise TransientError when the log cannot be read.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol
from urllib.parse import quote

from services.audit.evidence import submission_evidence
from services.audit.notekey import load_note_verifiers
from services.intake.auditlog import AuditApiClient, AuditLogReader
from services.kernel.config import Settings
from services.kernel.errors import KeyUnavailable
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


class LogEvidence(AuditLogReader):
    """Reads the audit log's database (opened on first use), with the log's verifier keys where they are."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._verifiers: list[NoteVerifier] = []

    def _opened(self) -> None:
        try:
            self._verifiers = load_note_verifiers(self._settings)
        except KeyUnavailable:  # not on this node: the answer names no key; its proofs hold all the same
            self._verifiers = []

    def _answer(self, submission_id: str) -> dict[str, Any] | None:
        return submission_evidence(self._open(), submission_id, self._verifiers)

    async def evidence(self, submission_id: str) -> dict[str, Any] | None:
        """See ``EvidenceSource``."""
        return await asyncio.to_thread(self._answer, submission_id)


class ApiEvidence(AuditApiClient):
    """Asks the audit service's ``GET /v1/submissions/{id}/evidence``."""

    def __init__(self, url: str) -> None:
        super().__init__(url, "evidence")

    async def evidence(self, submission_id: str) -> dict[str, Any] | None:
        """See ``EvidenceSource``."""
        answer: dict[str, Any] | None = await self._ask(
            "GET", f"/v1/submissions/{quote(submission_id, safe='')}/evidence", absent_is_none=True
        )
        return answer


def evidence_source(settings: Settings) -> EvidenceSource:
    """The audit API at ``audit_api_url`` when set, else the log's database."""
    url = settings.audit_api_url
    return ApiEvidence(url) if url else LogEvidence(settings)
