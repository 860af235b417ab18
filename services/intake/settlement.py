"""Where the reconciler learns what became of a submission: the audit log, read directly or over its API
(``auditlog.py``: where each is used, and why).

- ``LogSettlement`` reads the log's database (``audit_db``, opened on first use, never created).
- ``ApiSettlement`` asks the audit service (``POST /v1/settlement``) at ``audit_api_url``.

``evidence.py`` reads a submission's evidence from the same places.

Both answer ``accounting.settlement`` per submission id and raise TransientError when the log cannot be read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Protocol

from services.audit.accounting import settlement_states
from services.intake.auditlog import AuditApiClient, AuditLogReader
from services.kernel.config import Settings


class SettlementSource(Protocol):
    """What became of submissions, by id."""

    async def states(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """``delivered``, ``refused``, ``dead_lettered`` or ``pending`` per id. Raises TransientError."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...


class LogSettlement(AuditLogReader):
    """Reads the audit log's database (opened on first use)."""

    async def states(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """See ``SettlementSource``."""
        return await asyncio.to_thread(lambda: settlement_states(self._open(), submission_ids))


class ApiSettlement(AuditApiClient):
    """Asks the audit service's ``POST /v1/settlement``, in chunks the API accepts."""

    CHUNK = 2000

    def __init__(self, url: str) -> None:
        super().__init__(url, "settlement")

    async def states(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """See ``SettlementSource``."""
        states: dict[str, str] = {}
        for start in range(0, len(submission_ids), self.CHUNK):
            chunk = list(submission_ids[start : start + self.CHUNK])
            answer = await self._ask("POST", "/v1/settlement", json={"submission_ids": chunk})
            states.update({str(k): str(v) for k, v in answer["states"].items()})
        return states


def settlement_source(settings: Settings) -> SettlementSource:
    """The audit API at ``audit_api_url`` when set, else the log's database."""
    url = settings.audit_api_url
    return ApiSettlement(url) if url else LogSettlement(settings)
