"""The built wheel carries everything crx needs at run time (schemas, tables, samples, agreements)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    [built] = out.glob("crx-*.whl")
    return built


def test_wheel_contains_the_data_files(wheel: Path) -> None:
    """Schemas, previous versions, reference tables, adapter samples and mappings, default agreements, the
    HTTP APIs' OpenAPI documents."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "schemas/canonical_record.avsc",
        "schemas/previous/canonical_record.v1.avsc",
        "schemas/reference/countries.txt",
        "schemas/reference/offence_categories.csv",
        "adapters/json_v1/samples/DE-notification-fr-pl.json",
        "adapters/json_v1/samples/lifecycle/5-DE-deletion.json",
        "adapters/json_v1/mappings/DE.csv",
        "adapters/ecris_xml/ecris-message.xsd",
        "adapters/ecris_xml/mappings/ecris-categories.csv",
        "adapters/niem_rapsheet/mappings/US.csv",
        "adapters/fixed_width/samples/FR-batch-cp1252.dat",
        "services/router/default_agreements.yaml",
        "services/intake/openapi.yaml",
        "services/audit/openapi.yaml",
    ):
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_imports_and_runs(wheel: Path, tmp_path: Path) -> None:
    """Installed (not from the source tree), every adapter is registered and parses all its bundled samples, and
    the HTTP APIs find their OpenAPI documents."""
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    script = (
        "import services, adapters, schemas, datetime as dt;"
        f"assert services.__file__.startswith({str(target)!r}), services.__file__;"
        "from adapters.base import available, get_adapter, ParseContext;"
        "now = dt.datetime.now(dt.UTC);"
        "from services.kernel.openapi import document;"
        "assert all(document(p)['openapi'].startswith('3.1') for p in ('services.intake', 'services.audit'));"
        "print({n: [len(get_adapter(n).parse(d, ParseContext(f[:2], now))) for f, d in get_adapter(n).samples()]"
        " for n in available()})"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    parsed = ast.literal_eval(proc.stdout.strip())
    assert set(parsed) >= {"json-v1", "ecris-xml", "niem-rapsheet", "fixed-width"}
    assert all(counts and all(n >= 1 for n in counts) for counts in parsed.values()), parsed
