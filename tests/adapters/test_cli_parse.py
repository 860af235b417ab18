"""`crx adapters list` and `crx adapters parse`: what a jurisdiction runs to test its feed offline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.base import available, get_adapter
from services.cli import main


def test_list_names_every_registered_adapter() -> None:
    """The four adapters are registered and listed."""
    result = CliRunner().invoke(main, ["adapters", "list"])
    assert result.exit_code == 0
    assert result.output.split() == available()
    assert {"json-v1", "ecris-xml", "niem-rapsheet", "fixed-width"} <= set(available())


@pytest.mark.parametrize("adapter", available())
def test_parse_prints_a_summary_without_names_and_full_records_with_json(adapter: str, tmp_path: Path) -> None:
    """One summary line per record (no personal names); --json gives the canonical records in full."""
    name, payload = get_adapter(adapter).samples()[0]
    sample = tmp_path / name
    sample.write_bytes(payload)
    summary = CliRunner().invoke(main, ["adapters", "parse", adapter, str(sample)])
    assert summary.exit_code == 0, summary.output
    lines = [json.loads(line) for line in summary.stdout.splitlines()]
    full = CliRunner().invoke(main, ["adapters", "parse", adapter, str(sample), "--json"])
    records = [json.loads(line) for line in full.stdout.splitlines()]
    assert len(lines) == len(records) >= 1
    assert [line["message_id"] for line in lines] == [r["header"]["message_id"] for r in records]
    family_names = {n["family"] for r in records for n in r["person"]["names"]}
    assert not any(family in summary.stdout for family in family_names)


def test_a_refused_file_exits_1_with_the_typed_reason(tmp_path: Path) -> None:
    """Bad input: exit status 1 and 'refused: REASON: detail' on stderr, nothing on stdout."""
    bomb = tmp_path / "DE-bomb.xml"
    bomb.write_bytes(b'<!DOCTYPE r [<!ENTITY x "y">]><r>&x;</r>')
    result = CliRunner().invoke(main, ["adapters", "parse", "ecris-xml", str(bomb)])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("refused: FORBIDDEN_CONSTRUCT:")
    unknown = CliRunner().invoke(main, ["adapters", "parse", "no-such-adapter", str(bomb)])
    assert unknown.exit_code == 1 and "UNKNOWN_ADAPTER" in unknown.stderr
    anonymous = tmp_path / "feed.xml"
    anonymous.write_bytes(b"<r/>")
    assert CliRunner().invoke(main, ["adapters", "parse", "ecris-xml", str(anonymous)]).exit_code == 2
