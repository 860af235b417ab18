"""The built wheel carries everything crx needs at run time (schemas, tables, samples, agreements)."""

from __future__ import annotations

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
    """Schemas, previous versions, reference tables, adapter samples and mappings, default agreements."""
    names = set(zipfile.ZipFile(wheel).namelist())
    for required in (
        "schemas/canonical_record.avsc",
        "schemas/previous/canonical_record.v1.avsc",
        "schemas/reference/countries.txt",
        "schemas/reference/offence_categories.csv",
        "adapters/json_v1/samples/DE-notification-fr-pl.json",
        "adapters/json_v1/mappings/DE.csv",
        "services/router/default_agreements.yaml",
    ):
        assert required in names, required
    assert not any(n.startswith("tests/") for n in names)


def test_installed_wheel_imports_and_runs(wheel: Path, tmp_path: Path) -> None:
    """Installed (not from the source tree), crx lists its adapters and parses a bundled sample."""
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
        "a = get_adapter('json-v1'); name, data = a.samples()[0];"
        "print(available(), len(a.parse(data, ParseContext(name[:2], dt.datetime.now(dt.UTC)))))"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    proc = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert "json-v1" in proc.stdout and proc.stdout.strip().endswith("1")
