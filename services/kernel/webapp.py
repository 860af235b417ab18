"""Serving an aiohttp application on one port, with the lifecycle of every crx component.

Used by the HTTP intake, the audit proof API and the ops endpoints (``services.kernel.http.OpsServer``).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web


class AppServer:
    """Serves the application ``make_app()`` builds on ``host:port`` (port 0 picks a free one).

    ``start``/``stop`` are idempotent, and a stopped server can be started again (``make_app`` builds a
    fresh application each time); ``stop`` lets requests in flight finish (aiohttp's graceful shutdown)
    and releases the port. No access log: crx logs what it decides, never request lines.
    """

    def __init__(self, make_app: Callable[[], web.Application], host: str, port: int) -> None:
        self._make_app = make_app
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None

    @property
    def port(self) -> int:
        """The bound port while serving (the real one when constructed with port 0), else the configured one."""
        addresses = self._runner.addresses if self._runner is not None else []
        return int(addresses[0][1]) if addresses else self._port

    @property
    def url(self) -> str:
        """Base URL: ``http://host:port`` with the bound port once started (an IPv6 host in brackets)."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def start(self) -> None:
        """Bind and serve; a no-op while serving.

        Raises ``OSError`` if the address cannot be bound (the port in use, say); nothing is left running
        then, and ``start`` may be called again.
        """
        if self._runner is not None:
            return
        runner = self._runner = web.AppRunner(self._make_app(), access_log=None, handle_signals=False)
        try:
            await runner.setup()
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            self._runner = None
            await runner.cleanup()
            raise

    async def stop(self) -> None:
        """Stop accepting, finish requests in flight, release the port; a no-op when not serving."""
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
