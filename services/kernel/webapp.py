"""Serving an aiohttp application on one port, with the lifecycle of every crx component.

Used by the HTTP intake and the audit proof API (the ops endpoints stay on the framework-free OpsServer).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web


class AppServer:
    """Serves the application ``make_app()`` builds on ``host:port`` (port 0 picks a free one).

    ``start``/``stop`` are idempotent; ``stop`` lets requests in flight finish (aiohttp's graceful
    shutdown) and releases the port. No access log: crx logs what it decides, never request lines.
    """

    def __init__(self, make_app: Callable[[], web.Application], host: str, port: int) -> None:
        self._make_app = make_app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None

    @property
    def url(self) -> str:
        """Base URL (the bound port once started)."""
        port = self._port
        server = self._site._server if self._site is not None else None
        sockets = getattr(server, "sockets", None) or []
        if sockets:
            port = int(sockets[0].getsockname()[1])
        return f"http://{self._host}:{port}"

    async def start(self) -> None:
        """Bind and serve."""
        if self._runner is None:
            self._runner = web.AppRunner(self._make_app(), access_log=None, handle_signals=False)
            await self._runner.setup()
            self._site = web.TCPSite(self._runner, self._host, self._port)
            await self._site.start()

    async def stop(self) -> None:
        """Stop accepting, finish requests in flight, release the port."""
        runner, self._runner, self._site = self._runner, None, None
        if runner is not None:
            await runner.cleanup()
