"""The ops endpoints of one process: ``/metrics``, ``/healthz`` and ``/readyz``, served by aiohttp.

Health means the process is alive and its loop is running; readiness means the service is connected and
consuming. ``/metrics`` is prometheus_client's aiohttp handler for the service's own registry: it
negotiates the format (the Prometheus text format, or OpenMetrics when the scraper asks for it), honours
``name[]`` filters and compresses when the scraper accepts it (``Accept-Encoding``).
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from services.kernel.logging import get_logger
from services.kernel.metrics import register_runtime_metrics
from services.kernel.webapp import AppServer


def _probe(name: str, check: Callable[[], bool], up: bytes, down: bytes) -> Handler:
    """A handler answering 200 ``up`` when ``check()`` is true, else 503 ``down``.

    A check that raises counts as false (503), logged with the error class only: a probe never answers 500.
    """

    async def probe(_: web.Request) -> web.Response:
        try:
            ok = bool(check())
        except Exception as exc:  # a failing check is the answer "no", not a server error
            get_logger("ops").warning("probe_failed", probe=name, error_class=type(exc).__name__)
            ok = False
        return web.Response(status=200 if ok else 503, body=up if ok else down, content_type="text/plain")

    return probe


class OpsServer(AppServer):
    """Serves the ops endpoints of one process on ``host:port`` (port 0 picks a free one).

    ``/healthz``: 200 ``ok`` or 503 ``unhealthy`` as ``healthy()`` says at each request; ``/readyz``: 200
    ``ready`` or 503 ``not ready`` as ``ready()`` says (bodies end with a newline, ``text/plain``);
    ``/metrics``: ``registry``.
    Any other path is a 404. Constructing it registers the runtime metrics (process, platform,
    ``crx_build_info``: ``register_runtime_metrics``) in ``registry`` unless they are there already;
    it binds nothing until ``start`` (``AppServer``: ``start``, ``stop``, ``port``, ``url``).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        ready: Callable[[], bool] = lambda: True,
        healthy: Callable[[], bool] = lambda: True,
    ) -> None:
        register_runtime_metrics(registry)
        self._registry = registry
        self._ready = ready
        self._healthy = healthy
        super().__init__(self._ops_app, host, port)

    def _ops_app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/metrics", make_aiohttp_handler(self._registry))
        app.router.add_get("/healthz", _probe("healthz", self._healthy, b"ok\n", b"unhealthy\n"))
        app.router.add_get("/readyz", _probe("readyz", self._ready, b"ready\n", b"not ready\n"))
        return app
