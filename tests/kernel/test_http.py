"""The ops endpoints over a real socket: /metrics from the service's own registry, probes, port 0."""

from __future__ import annotations

import asyncio
import gzip
import platform
import re
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping

import pytest
from prometheus_client import CollectorRegistry, Counter

from services.kernel.http import OpsServer
from services.kernel.metrics import ServiceMetrics, crx_version

Response = tuple[int, Mapping[str, str], bytes]


_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy


def _get_sync(url: str, headers: Mapping[str, str]) -> Response:
    request = urllib.request.Request(url, headers=dict(headers))  # noqa: S310 - a loopback URL the test built
    try:
        with _DIRECT.open(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


async def _healthz(ops: OpsServer) -> int:
    """Start ``ops``, GET its /healthz, stop it: the status."""
    await ops.start()
    try:
        return (await _get(f"{ops.url}/healthz"))[0]
    finally:
        await ops.stop()


async def _get(url: str, **headers: str) -> Response:
    """GET ``url`` with urllib (no automatic decompression, so the bytes are what went over the wire)."""
    return await asyncio.to_thread(_get_sync, url, {k.replace("_", "-"): v for k, v in headers.items()})


async def test_metrics_serve_the_service_registry_with_build_and_process_metrics() -> None:
    """/metrics is the given registry in the Prometheus text format: the service's metrics, crx_build_info
    (value 1, labelled with the crx and Python versions and the service) and, on Linux, process_* metrics;
    a metric of another registry is not there."""
    registry = CollectorRegistry()
    metrics = ServiceMetrics.create(registry, service="router")
    metrics.records_in.labels("router", "crx.records").inc(3)
    Counter("elsewhere", "in another registry", registry=CollectorRegistry()).inc()
    ops = OpsServer(registry)
    await ops.start()
    try:
        status, headers, body = await _get(f"{ops.url}/metrics")
    finally:
        await ops.stop()
    text = body.decode()
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert 'crx_records_in_total{service="router",topic="crx.records"} 3.0' in text
    python = platform.python_version()
    assert f'crx_build_info{{python="{python}",service="router",version="{crx_version()}"}} 1.0' in text
    assert crx_version() != "unknown"  # the tests run against the installed crx distribution
    assert "python_info{" in text and "elsewhere" not in text
    if sys.platform.startswith("linux"):
        for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
            assert re.search(rf"^{name} \d", text, re.MULTILINE), name


async def test_metrics_negotiate_openmetrics_and_gzip() -> None:
    """A scraper asking for OpenMetrics gets it; one accepting gzip gets a gzip body of the same registry."""
    registry = CollectorRegistry()
    ServiceMetrics.create(registry)
    ops = OpsServer(registry)
    await ops.start()
    try:
        status, headers, body = await _get(f"{ops.url}/metrics", Accept="application/openmetrics-text; version=1.0.0")
        assert status == 200 and headers["Content-Type"].startswith("application/openmetrics-text")
        assert body.endswith(b"# EOF\n") and b"crx_build_info{" in body
        status, headers, body = await _get(f"{ops.url}/metrics", Accept_Encoding="gzip")
        assert status == 200 and headers["Content-Encoding"] == "gzip"
        assert b"crx_build_info{" in gzip.decompress(body)
        _, headers, body = await _get(f"{ops.url}/metrics", Accept_Encoding="identity")
        assert "Content-Encoding" not in headers and b"crx_build_info{" in body
    finally:
        await ops.stop()


async def test_probes_follow_their_callbacks() -> None:
    """/healthz and /readyz answer 200 "ok"/"ready" or 503 "unhealthy"/"not ready" as their callbacks say at
    each request; a callback that raises is a 503, not a 500; any other path is a 404."""
    state = {"healthy": True, "ready": False}

    def ready() -> bool:
        if state.get("broken"):
            raise RuntimeError("no idea")
        return state["ready"]

    ops = OpsServer(CollectorRegistry(), ready=ready, healthy=lambda: state["healthy"])
    await ops.start()
    try:
        assert (await _get(f"{ops.url}/healthz"))[::2] == (200, b"ok\n")
        assert (await _get(f"{ops.url}/readyz"))[::2] == (503, b"not ready\n")
        state.update(healthy=False, ready=True)
        assert (await _get(f"{ops.url}/healthz"))[::2] == (503, b"unhealthy\n")
        status, headers, body = await _get(f"{ops.url}/readyz?verbose=1")
        assert (status, body) == (200, b"ready\n") and headers["Content-Type"] == "text/plain"
        state["broken"] = True
        assert (await _get(f"{ops.url}/readyz"))[::2] == (503, b"not ready\n")
        assert (await _get(f"{ops.url}/nothing-here"))[0] == 404
    finally:
        await ops.stop()


async def test_port_zero_gives_the_bound_port_and_start_stop_are_idempotent() -> None:
    """Constructed with port 0, the server reports the port it bound, in ``port`` and in ``url``; a second
    start changes nothing; stop releases the port (twice is harmless); it can be started again."""
    ops = OpsServer(CollectorRegistry(), host="127.0.0.1", port=0)
    assert ops.port == 0
    await ops.start()
    try:
        port = ops.port
        assert port > 0 and ops.url == f"http://127.0.0.1:{port}"
        await ops.start()
        assert ops.port == port
        assert (await _get(f"{ops.url}/healthz"))[0] == 200
    finally:
        await ops.stop()
        await ops.stop()
    with pytest.raises(urllib.error.URLError):
        await _get(f"http://127.0.0.1:{port}/healthz")
    assert await _healthz(ops) == 200  # started again


async def test_a_port_in_use_fails_start_and_leaves_nothing_running() -> None:
    """Starting on a port another server holds raises OSError; once the port is free, start succeeds."""
    first = OpsServer(CollectorRegistry())
    await first.start()
    second = OpsServer(CollectorRegistry(), port=first.port)
    try:
        with pytest.raises(OSError):
            await second.start()
    finally:
        await first.stop()
    assert await _healthz(second) == 200


async def test_one_registry_behind_several_servers_exports_each_runtime_metric_once() -> None:
    """Creating the service metrics and two ops servers on one registry registers the runtime metrics once:
    no "Duplicated timeseries" error, and one crx_build_info and process_cpu_seconds_total line each."""
    registry = CollectorRegistry()
    ServiceMetrics.create(registry, service="audit")
    servers = [OpsServer(registry), OpsServer(registry)]
    await servers[1].start()
    try:
        _, _, body = await _get(f"{servers[1].url}/metrics")
    finally:
        await servers[1].stop()
    lines = body.decode().splitlines()
    assert len([ln for ln in lines if ln.startswith("crx_build_info{")]) == 1
    assert len([ln for ln in lines if ln.startswith("python_info{")]) == 1
    if sys.platform.startswith("linux"):
        assert len([ln for ln in lines if ln.startswith("process_cpu_seconds_total ")]) == 1
