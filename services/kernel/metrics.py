"""Prometheus metrics for one service, created against an injected registry (tests use a fresh one).

Labels carry only service names, topic names, error class names and reason codes: never record content.
Every service registry also carries the process metrics (``process_*``: CPU, memory, open files, start
time; Linux only), ``python_info`` and ``crx_build_info`` (see ``register_runtime_metrics``).
"""

from __future__ import annotations

import contextlib
import platform
from collections.abc import Iterable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, PlatformCollector, ProcessCollector
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import DuplicateTimeseries

DISTRIBUTION = "crx"


def crx_version() -> str:
    """The installed version of the ``crx`` distribution, or ``"unknown"`` when it is not installed."""
    try:
        return version(DISTRIBUTION)
    except PackageNotFoundError:
        return "unknown"


class _DescribedProcessCollector(ProcessCollector):
    """prometheus_client's process collector, able to describe itself, so a registry refuses a second one."""

    def describe(self) -> Iterable[Metric]:
        return self.collect()


class _DescribedPlatformCollector(PlatformCollector):
    """prometheus_client's platform collector (``python_info``), able to describe itself (see above)."""

    def describe(self) -> Iterable[Metric]:
        return self.collect()


def register_runtime_metrics(registry: CollectorRegistry, *, service: str | None = None) -> None:
    """Register the process collector, the platform collector and ``crx_build_info`` in ``registry``.

    ``crx_build_info`` is 1, labelled with the crx version (``crx_version()``), the Python version and
    ``service`` (empty when not given; PromQL treats an empty label as absent). Idempotent: whatever
    ``registry`` already has under those names (from an earlier call, or the default registry's own
    collectors) is kept, so the first call's ``service`` label wins. Raises nothing for a duplicate.
    Without ``/proc`` (not Linux) the process collector exports nothing.
    """
    build_info = Gauge(
        "crx_build_info",
        "Build of the running crx service (value 1)",
        ["version", "python", "service"],
        registry=None,
    )
    build_info.labels(crx_version(), platform.python_version(), service or "").set(1)
    collectors = (
        _DescribedProcessCollector(registry=None),
        _DescribedPlatformCollector(registry=None),
        build_info,
    )
    for collector in collectors:
        # Already there: a second registration neither fails nor doubles the series.
        with contextlib.suppress(DuplicateTimeseries):
            registry.register(collector)


@dataclass(frozen=True)
class ServiceMetrics:
    """The metrics every consume-transform-produce service exports."""

    records_in: Counter
    records_out: Counter
    errors: Counter
    dead_letters: Counter
    batch_seconds: Histogram
    record_seconds: Histogram
    ready: Gauge
    unauthenticated: Counter

    @classmethod
    def create(cls, registry: CollectorRegistry, *, service: str | None = None) -> ServiceMetrics:
        """Register the metric families in ``registry``, with the runtime metrics (``register_runtime_metrics``,
        ``service`` labelling ``crx_build_info``).

        Raises ``prometheus_client.registry.DuplicateTimeseries`` (a ValueError) if ``registry`` already holds
        a service's metric families: one registry per service.
        """
        register_runtime_metrics(registry, service=service)

        def counter(name: str, documentation: str, *labels: str) -> Counter:
            return Counter(name, documentation, ["service", *labels], registry=registry)

        return cls(
            records_in=counter("crx_records_in", "Records consumed", "topic"),
            records_out=counter("crx_records_out", "Records produced and acknowledged", "topic"),
            errors=counter("crx_errors", "Errors by class", "error_class"),
            dead_letters=counter("crx_dead_letters", "Records sent to the dead-letter topic", "reason"),
            batch_seconds=Histogram(
                "crx_batch_seconds",
                "Wall time of one consume-transform-produce-commit batch",
                ["service"],
                registry=registry,
            ),
            record_seconds=Histogram(
                "crx_record_latency_seconds",
                "Time from the Kafka record timestamp to its acknowledged output",
                ["service"],
                buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                registry=registry,
            ),
            ready=Gauge("crx_ready", "1 when the service is ready", ["service"], registry=registry),
            unauthenticated=counter(
                "crx_unauthenticated_messages",
                "Consumed records refused: not authenticated by a producer allowed on their topic",
                "topic",
                "reason",
            ),
        )
