"""``crx cases list`` and ``crx cases show`` over a real case store in the data directory."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from adapters.base import ParseContext, get_adapter
from services.cases.book import CaseBook
from services.cases.deadlines import DeadlineRules
from services.cases.store import CaseStore
from services.cli.main import main

ASKED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)  # long past: its deadline has passed


def _book(data_dir: Path) -> CaseStore:
    """Two cases: PL's request to DE answered by DE's response, FR's request to PL left open past its deadline."""
    store = CaseStore(str(data_dir / "cases.sqlite3"))
    book = CaseBook(store, DeadlineRules.load(None), b"secret")
    parse = {name: get_adapter(name) for name in ("ecris-xml", "json-v1")}
    [pl_request] = parse["ecris-xml"].parse(
        dict(parse["ecris-xml"].samples())["PL-request-de.xml"], ParseContext("PL", ASKED)
    )
    [de_response] = parse["ecris-xml"].parse(
        dict(parse["ecris-xml"].samples())["DE-response-pl.xml"], ParseContext("DE", ASKED)
    )
    [fr_request] = parse["json-v1"].parse(
        dict(parse["json-v1"].samples())["FR-request-pl.json"], ParseContext("FR", ASKED)
    )
    book.open(pl_request, "DE", "ecris-PL-DE", "sub-pl", ASKED)
    assert book.follow(de_response, "PL", "sub-de", ASKED + dt.timedelta(days=1)).allowed
    book.open(fr_request, "PL", "ecris-FR-PL", "sub-fr", ASKED)
    return store


def test_list_show_and_overdue(tmp_path: Path) -> None:
    """``list --json`` has both cases, the answered one with its outcome; ``--overdue`` only FR's; ``show`` by a
    prefix of the id; an unknown id exits 1."""
    _book(tmp_path).close()
    runner = CliRunner(env={"CRX_DATA_DIR": str(tmp_path)})
    listed = runner.invoke(main, ["cases", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {(r["requesting"], r["requested"]): r for r in json.loads(listed.output)}
    assert (rows[("PL", "DE")]["status"], rows[("PL", "DE")]["outcome"]) == ("answered", "CONVICTIONS_FOUND")
    assert (rows[("FR", "PL")]["status"], rows[("FR", "PL")]["late"]) == ("open", True)
    overdue = runner.invoke(main, ["cases", "list", "--overdue"])
    assert overdue.exit_code == 0 and "1 case(s)" in overdue.output and "FR" in overdue.output
    case_id = rows[("FR", "PL")]["case_id"]
    shown = runner.invoke(main, ["cases", "show", case_id[:8], "--json"])
    assert shown.exit_code == 0 and json.loads(shown.output)["case_id"] == case_id
    missing = runner.invoke(main, ["cases", "show", "no-such-case"])
    assert missing.exit_code == 1 and "no case" in missing.output
