"""Runtime metrics every service registry carries: process, platform and crx_build_info, registered once."""

from __future__ import annotations

import platform
import sys
import time
from importlib.metadata import version
from types import SimpleNamespace

import pytest
from prometheus_client import CollectorRegistry, PlatformCollector, ProcessCollector
from prometheus_client.registry import DuplicateTimeseries

from services.kernel.config import Settings
from services.kernel.kafka import BatchLoop, OutRecord
from services.kernel.metrics import ServiceMetrics, crx_version, register_runtime_metrics


def _samples(registry: CollectorRegistry, name: str) -> list[dict[str, str]]:
    return [dict(s.labels) for family in registry.collect() for s in family.samples if s.name == name]


def test_build_info_names_the_installed_crx_python_and_service() -> None:
    """crx_build_info is 1 with the installed crx version, the Python version and the service name."""
    registry = CollectorRegistry()
    ServiceMetrics.create(registry, service="normaliser")
    assert crx_version() == version("crx")
    labels = {"version": crx_version(), "python": platform.python_version(), "service": "normaliser"}
    assert _samples(registry, "crx_build_info") == [labels]
    assert registry.get_sample_value("crx_build_info", labels) == 1


def test_without_a_service_the_label_is_empty() -> None:
    """Without a service name, the service label is empty (which PromQL treats as absent)."""
    registry = CollectorRegistry()
    register_runtime_metrics(registry)
    assert [s["service"] for s in _samples(registry, "crx_build_info")] == [""]


def test_registering_twice_keeps_one_of_each_and_the_first_service() -> None:
    """A second registration on one registry neither fails nor doubles a series; the first service stays."""
    registry = CollectorRegistry()
    register_runtime_metrics(registry, service="router")
    register_runtime_metrics(registry, service="audit")
    ServiceMetrics.create(registry)
    assert [s["service"] for s in _samples(registry, "crx_build_info")] == ["router"]
    assert len(_samples(registry, "python_info")) == 1
    if sys.platform.startswith("linux"):
        assert len(_samples(registry, "process_cpu_seconds_total")) == 1


def test_collectors_already_in_a_self_describing_registry_are_kept() -> None:
    """A registry that already holds prometheus_client's own process and platform collectors (as the
    default registry does) gets only crx_build_info added, without an error."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    register_runtime_metrics(registry)
    assert len(_samples(registry, "python_info")) == 1 and len(_samples(registry, "crx_build_info")) == 1
    if sys.platform.startswith("linux"):
        assert len(_samples(registry, "process_cpu_seconds_total")) == 1


def test_service_metrics_still_refuse_a_second_service_on_one_registry() -> None:
    """Two services' metric families on one registry remain an error (one registry per service)."""
    registry = CollectorRegistry()
    ServiceMetrics.create(registry)
    with pytest.raises(DuplicateTimeseries):
        ServiceMetrics.create(registry)


def test_the_batch_loop_counts_outputs_per_topic_and_observes_every_input(settings: Settings) -> None:
    """The loop's bookkeeping (label children made once, one increment per topic) counts what a
    per-record increment counted: every output under its topic, every input's latency, none negative."""
    registry = CollectorRegistry()
    metrics = ServiceMetrics.create(registry, service="svc")
    loop = BatchLoop(settings, service="svc", group_id="g", topics=["in"], handler=None, producer=None,  # type: ignore[arg-type]
                     metrics=metrics)  # fmt: skip
    now_ms = time.time() * 1000
    inputs = [SimpleNamespace(timestamp=now_ms - 20), SimpleNamespace(timestamp=now_ms + 60_000)]  # a clock ahead
    for _ in range(2):
        loop._bookkeeping([OutRecord("a", b"1"), OutRecord("b", b"2"), OutRecord("a", b"3")], inputs)
    value = registry.get_sample_value
    assert value("crx_records_out_total", {"service": "svc", "topic": "a"}) == 4
    assert value("crx_records_out_total", {"service": "svc", "topic": "b"}) == 2
    assert value("crx_record_latency_seconds_count", {"service": "svc"}) == 4
    assert value("crx_record_latency_seconds_bucket", {"service": "svc", "le": "0.005"}) == 2  # the future one: 0
    assert value("crx_record_latency_seconds_bucket", {"service": "svc", "le": "0.1"}) == 4
