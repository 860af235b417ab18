"""Prometheus metrics for one service, created against an injected registry (tests use a fresh one).

Labels carry only service names, topic names, error class names and reason codes: never record content.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ServiceMetrics:
        """Register the metric families in ``registry``."""
        return cls(
            records_in=Counter("crx_records_in", "Records consumed", ["service", "topic"], registry=registry),
            records_out=Counter(
                "crx_records_out",
                "Records produced and acknowledged",
                ["service", "topic"],
                registry=registry,
            ),
            errors=Counter("crx_errors", "Errors by class", ["service", "error_class"], registry=registry),
            dead_letters=Counter(
                "crx_dead_letters",
                "Records sent to the dead-letter topic",
                ["service", "reason"],
                registry=registry,
            ),
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
        )
