"""``make bench``'s figures keep their shape: the floor measured with tiny counts on the real functions, and
the results file written from it and from run figures, with the keys issue 16 names."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench import e2e, floor

REQUIRED = {
    "e2e_records_per_s",
    "latency_ms",
    "floor_records_per_s",
    "floor_ratio",
    "recipients",
    "cores",
    "records",
}


@pytest.fixture(scope="module")
def floor_figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return floor.measure(tmp_path_factory.mktemp("floor"), audit_events_per_record=7.0, seconds=0.005, workers=2)


def test_floor_counts_the_workload_and_sums_its_steps(floor_figures: dict[str, Any]) -> None:
    f = floor_figures
    assert f["recipients"] == len(floor.RECIPIENTS)
    assert f["profiles"] == sorted(set(floor.PROFILE_OF.values()))  # derived from the agreements: 2 here
    assert f["counts"] == {"parse": 1.0, "encode": 2.0, "seal_sign": 3.0, "open_verify": 3.0, "audit": 7.0}
    steps = f["steps"]
    assert isinstance(steps, dict) and set(steps) == set(f["counts"])
    assert all(us > 0 for us in steps.values())
    assert f["us_per_record"] == pytest.approx(sum(steps.values()), abs=0.5)
    assert f["records_per_s"] == pytest.approx(2 * 1e6 / f["us_per_record"], rel=0.01)
    assert "every core" in str(f["assumes"])
    raw = f["primitives"]
    assert set(raw) == {"hpke_seal", "hpke_open", "sign", "verify", "receipt_sign"} and all(v > 0 for v in raw.values())
    crypto = 3 * (raw["hpke_seal"] + raw["sign"] + raw["hpke_open"] + raw["verify"])
    assert f["crypto_us_per_record"] == pytest.approx(crypto, abs=0.5)
    assert f["crypto_records_per_s"] == pytest.approx(2 * 1e6 / f["crypto_us_per_record"], rel=0.01)
    assert f["crypto_records_per_s"] > f["records_per_s"]  # the primitives are part of the floor
    assert f["crypto_with_receipts_records_per_s"] < f["crypto_records_per_s"]


def test_floor_without_a_count_derives_the_audit_events(tmp_path: Path) -> None:
    f = floor.measure(tmp_path, seconds=0.002)
    assert f["audit_events_per_record"] == floor.DERIVED_AUDIT_EVENTS and f["audit_events_counted"] is False


def _run(records: int, rate: float | None, latency: float) -> dict[str, Any]:
    delivered = {r: records for r in floor.RECIPIENTS}
    copies = [latency + i % 10 for i in range(records * len(floor.RECIPIENTS))]
    figures = e2e.run_figures(records, delivered, records / 400, copies, offered=rate, push_seconds=records / 410)
    figures["procs"] = 1
    return figures


def test_results_file_has_the_keys_and_shapes_the_issue_names(
    floor_figures: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    used = {"router": 2500.0, "broker": 1500.0, "total": 4000.0}
    saturation = _run(1000, None, 50.0) | {"audit_events_per_record": 7.0, "cpu_us_per_record": used}
    runs = {
        "label": "embedded Tansu",
        "procs": 1,
        "saturation": {"1": saturation, "2": _run(1000, None, 80.0)},
        "paced": {str(rate): _run(rate * 2, rate, 10.0) | {"cpu_us_per_record": used} for rate in e2e.RATES},
    }
    path = tmp_path / "var" / "bench" / "results.json"
    e2e.write_results(e2e.results_document(runs, floor_figures), path)
    doc = json.loads(path.read_text())
    assert set(doc) >= REQUIRED
    assert set(doc["latency_ms"]) == {"100", "250", "500"}
    for quantiles in doc["latency_ms"].values():
        assert set(quantiles) == {"p50", "p95", "p99"}
        assert quantiles["p50"] <= quantiles["p95"] <= quantiles["p99"]
    assert doc["e2e_records_per_s"] == 400.0 and doc["records"] == 1000 and doc["recipients"] == 3
    assert doc["floor_records_per_s"] == floor_figures["records_per_s"]
    assert doc["floor_ratio"] == pytest.approx(400.0 / doc["floor_records_per_s"], rel=1e-3)
    assert doc["cores"] == 2 and doc["audit_events_per_record"] == 7.0
    assert doc["saturation_by_procs"] == {"1": 400.0, "2": 400.0}
    assert set(doc["achieved_rates"]) == {"100", "250", "500"}
    assert doc["runs"]["saturation"]["1"]["cpu_us_per_record"] == used
    e2e.report(doc, "processes")  # the summary prints from the same document
    out = capsys.readouterr().out
    assert "router 2,500, broker 1,500; total 4,000 = at most 500 records/s on 2 cores" in out
    assert "p99 19.0 ms, 1.60 cores busy" in out  # 4,000 µs x 200 records over 0.5 s


def test_a_run_without_two_copies_has_no_quantiles() -> None:
    figures = e2e.run_figures(1, {"FR": 0}, 1.0, [], offered=100, push_seconds=0.01)
    assert figures["latency_ms"] == {"p50": None, "p95": None, "p99": None} and figures["complete"] is False
