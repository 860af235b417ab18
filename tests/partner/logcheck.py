"""A partner's log watch run once against an audit log the test serves."""

from __future__ import annotations

import aiohttp

from services.audit.api import AuditHttpServer
from services.partner.logwatch import CheckResult, LogWatcher


async def check_once_served(server: AuditHttpServer, watcher: LogWatcher) -> CheckResult:
    """Serve ``server``, run one round of ``watcher``'s checks against it, then stop the server and close the
    watcher's state file (its metrics stay readable)."""
    await server.start()
    try:
        async with aiohttp.ClientSession() as session:
            return await watcher.check_once(session)
    finally:
        await server.stop()
        watcher.close()
