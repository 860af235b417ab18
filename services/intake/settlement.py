"""Where the reconciler learns what became of a submission: the audit log, read directly or over its API.

- ``LogSettlement`` reads the log's database (``audit_db``: the SQLite file the audit writer keeps, or
  PostgreSQL with a role that may read ``leaves``). A SQLite file that does not exist is an error, never an
  empty log: an intake that cannot see the writer's log must not take every submission for unsettled.
- ``ApiSettlement`` asks the audit service (``POST /v1/settlement``) at ``audit_api_url``: for deployments where
  the intake and the audit writer do not share a volume (compose, Kubernetes).

``evidence.py`` reads a submission's evidence from the same places (``open_audit_log``).

Both answer ``accounting.settlement`` per submission id and raise TransientError when the log cannot be read.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import aiohttp

from services.audit.accounting import settlement_states
from services.audit.store import AuditStore, is_postgres, open_store
from services.kernel.config import Settings
from services.kernel.errors import TransientError

TIMEOUT_SECONDS = 30.0


class SettlementSource(Protocol):
    """What became of submissions, by id."""

    async def states(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """``delivered``, ``refused``, ``dead_lettered`` or ``pending`` per id. Raises TransientError."""
        ...

    async def close(self) -> None:
        """Release connections. Idempotent."""
        ...


def open_audit_log(settings: Settings) -> AuditStore:
    """The audit writer's log, opened for reading (``audit_db``; never created). Raises TransientError when a
    SQLite file is not there (never an empty log in its place), else what ``open_store`` raises."""
    location = settings.audit_db_path
    if not is_postgres(location) and not Path(location).exists():
        raise TransientError(f"no audit log at {location}: set CRX_AUDIT_DB to the writer's log or CRX_AUDIT_API_URL")
    return open_store(settings, create=False)


class LogSettlement:
    """Reads the audit log's database (opened on first use)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: AuditStore | None = None

    def _open(self) -> AuditStore:
        if self._store is None:
            self._store = open_audit_log(self._settings)
        return self._store

    async def states(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """See ``SettlementSource``."""
        return await asyncio.to_thread(lambda: settlement_states(self._open(), submission_ids))

    async def close(self) -> None:
        """See ``SettlementSource``."""
        store, self._store = self._store, None
        if store is not None:
            await asyncio.to_thread(store.close)  # waits for a reader still in its worker thread


class ApiSettlement:
    """Asks the audit service's ``POST /v1/settlement``, in chunks the API accepts."""

    CHUNK = 2000

    def __init__(self, url: str) -> None:
        self._url = url.rstrip("/") + "/v1/settlement"
        self._session: aiohttp.ClientSession | None = None

    async def states(self, submission_ids: Sequence[str]) -> dict[str, str]:
        """See ``SettlementSource``."""
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        states: dict[str, str] = {}
        for start in range(0, len(submission_ids), self.CHUNK):
            chunk = list(submission_ids[start : start + self.CHUNK])
            try:
                async with self._session.post(self._url, json={"submission_ids": chunk}) as response:
                    if response.status != 200:
                        raise TransientError(f"audit settlement API answered {response.status}")
                    answer = await response.json()
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise TransientError(f"audit settlement API: {type(exc).__name__}") from None
            states.update({str(k): str(v) for k, v in answer["states"].items()})
        return states

    async def close(self) -> None:
        """See ``SettlementSource``."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()


def settlement_source(settings: Settings) -> SettlementSource:
    """The audit API at ``audit_api_url`` when set, else the log's database."""
    if settings.audit_api_url:
        return ApiSettlement(settings.audit_api_url)
    return LogSettlement(settings)
