"""How the intake reads the audit log, for the reconciler's settlements (``settlement.py``) and the submissions'
evidence (``evidence.py``): the log's database directly, or the audit service's API.

- ``AuditLogReader``: the log's database (``audit_db``: the SQLite file the audit writer keeps, or PostgreSQL
  with a role that may read ``leaves``), opened on first use, never created. A SQLite file that does not exist
  is an error, never an empty log: an intake that cannot see the writer's log must not take every submission
  for unsettled.
- ``AuditApiClient``: the audit service at ``audit_api_url``, over one HTTP session opened on first use: for
  deployments where the intake and the audit writer do not share a volume (compose, Kubernetes).

The intake uses the API when ``audit_api_url`` is set, else the database.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import aiohttp

from services.audit.store import AuditStore, is_postgres, open_store
from services.kernel.config import Settings
from services.kernel.errors import TransientError

TIMEOUT_SECONDS = 30.0
"""How long one request to the audit API may take in all."""


def open_audit_log(settings: Settings) -> AuditStore:
    """The audit writer's log, opened for reading (``audit_db``; never created). Raises TransientError when a
    SQLite file is not there (never an empty log in its place), else what ``open_store`` raises."""
    location = settings.audit_db_path
    if not is_postgres(location) and not Path(location).exists():
        raise TransientError(f"no audit log at {location}: set CRX_AUDIT_DB to the writer's log or CRX_AUDIT_API_URL")
    return open_store(settings, create=False)


class AuditLogReader:
    """The audit log's database, opened on first use by whichever worker thread needs it first."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._store: AuditStore | None = None
        self._lock = threading.Lock()  # worker threads open the store once

    def _opened(self) -> None:
        """Called once the store is opened, before any reader uses it (under the lock): a subclass loads what
        it reads beside the log here. Does nothing by default."""

    def _open(self) -> AuditStore:
        """The log, opened on first use (``open_audit_log``, whose errors it raises). Blocks: call it from a
        worker thread."""
        with self._lock:
            if self._store is None:
                self._store = open_audit_log(self._settings)
                self._opened()
            return self._store

    async def close(self) -> None:
        """Close the log when it is open; waits for a reader still in its worker thread. Idempotent."""
        with self._lock:
            store, self._store = self._store, None
        if store is not None:
            await asyncio.to_thread(store.close)


class AuditApiClient:
    """The audit service's API at ``url``; ``what`` names the API in errors (``audit <what> API ...``)."""

    def __init__(self, url: str, what: str) -> None:
        self._base = url.rstrip("/")
        self._what = what
        self._session: aiohttp.ClientSession | None = None

    async def _ask(self, method: str, path: str, *, absent_is_none: bool = False, **options: Any) -> Any:
        """The JSON of the API's 200 answer to ``method path`` (``options`` go to aiohttp: ``json=``).

        With ``absent_is_none``, the API's own 404 (not ``text/plain``) is None: it knows nothing of what was
        asked. A text 404 is an audit service without the route, an error like any other answer. Raises
        TransientError for any answer but those, and when the service cannot be reached, does not answer in
        ``TIMEOUT_SECONDS`` or answers something that is not JSON.
        """
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS))
        try:
            async with self._session.request(method, self._base + path, **options) as response:
                if absent_is_none and response.status == 404 and response.content_type != "text/plain":
                    return None
                if response.status != 200:
                    raise TransientError(f"audit {self._what} API answered {response.status}")
                return await response.json()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise TransientError(f"audit {self._what} API: {type(exc).__name__}") from None

    async def close(self) -> None:
        """Close the HTTP session when it is open. Idempotent."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()
