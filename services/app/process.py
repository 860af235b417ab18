"""One service of the table as its own process: ``crx <name> run``."""

from __future__ import annotations

import asyncio

from services.app.table import SERVICES
from services.kernel.config import Settings
from services.kernel.lifecycle import run_until_stopped
from services.kernel.runtime import Ports, Runtime


def run_service(name: str, settings: Settings, ports: Ports) -> None:
    """Build service ``name`` from the table and run it until SIGTERM/SIGINT; it drains before it returns.

    Raises KeyError for a name not in the table, and whatever the service's build or start raises (a
    ConfigError for unusable settings).
    """
    build = SERVICES[name]
    runtime = Runtime.create(settings)
    asyncio.run(run_until_stopped([build(runtime, ports=ports)]))
