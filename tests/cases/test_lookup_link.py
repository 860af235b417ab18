"""A REQUEST that follows a lookup hit names it (``lookup_id``): the case it opens carries the id, and a
case store written before the column existed gets it when opened, keeping its cases (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from adapters.base import ParseContext, get_adapter
from services.cases.book import CaseBook
from services.cases.deadlines import DeadlineRules
from services.cases.store import _COLUMNS, _DDL, CaseStore
from services.cli.main import main
from services.kernel.sqlstore import SqlStore
from tests.cases import test_book
from tests.fixtures.postgres import drop, postgres_dsn  # noqa: F401 - the fixture

RECEIVED = test_book.RECEIVED
book = test_book.book  # the fixture: a case book on SQLite and on PostgreSQL


def json_request(lookup_id: str | None) -> bytes:
    """The FR json-v1 request sample to PL, naming the lookup it follows."""
    doc = json.loads(dict(get_adapter("json-v1").samples())["FR-request-pl.json"])
    if lookup_id is not None:
        doc["lookup_id"] = lookup_id
    return json.dumps(doc).encode()


def test_a_request_with_a_lookup_id_opens_a_case_carrying_it(book: CaseBook) -> None:
    """The json-v1 REQUEST's ``lookup_id`` reaches the case; a request without one opens a case without."""
    [record] = get_adapter("json-v1").parse(json_request("lk-5e1f0c"), ParseContext("FR", RECEIVED))
    case = book.open(record, "PL", "ecris-FR-PL", "sub-1", RECEIVED)
    assert case.lookup_id == "lk-5e1f0c" and case.as_dict()["lookup_id"] == "lk-5e1f0c"
    assert book.store.get(case.case_id) == case
    [plain] = get_adapter("json-v1").parse(json_request(None), ParseContext("FR", RECEIVED))
    plain["header"]["source_record_id"] = "other"
    plain["header"]["message_id"] = uuid.uuid4()
    assert book.open(plain, "PL", "ecris-FR-PL", "sub-2", RECEIVED).lookup_id is None


OLD_DDL = _DDL.replace(",\n    lookup_id TEXT", "")
OLD_COLUMNS = _COLUMNS.replace(", lookup_id", "")


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(location, PostgreSQL schema) of an empty case store: a SQLite file or a schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "old-cases.sqlite3"), "unused"
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"crx_t_{uuid.uuid4().hex[:12]}"
    try:
        yield dsn, schema
    finally:
        drop(dsn, schema)


def test_an_older_store_gets_the_column_and_keeps_its_cases(book: CaseBook, location: tuple[str, str]) -> None:
    """A store made by the previous release (no ``lookup_id`` column) with a case in it: opened now, it has
    the column, the case reads back with no lookup, and new cases keep theirs."""
    assert "lookup_id" not in OLD_DDL and "lookup_id" not in OLD_COLUMNS
    [record] = get_adapter("json-v1").parse(json_request("lk-1"), ParseContext("FR", RECEIVED))
    case = book.open(record, "PL", "ecris-FR-PL", "sub-1", RECEIVED)
    old = SqlStore(*location, OLD_DDL, "old case store")
    marks = ", ".join("?" * len(OLD_COLUMNS.split(",")))
    with old.tx() as db:
        db.execute(old.q(f"INSERT INTO {{schema}}cases ({OLD_COLUMNS}) VALUES ({marks})"), case._row()[:-1])  # noqa: S608
    old.close()
    store = CaseStore(*location)
    try:
        kept = store.get(case.case_id)
        assert kept is not None and kept.lookup_id is None and kept.requested == "PL"
        assert store.update(case.case_id, {"status": "answered"})
    finally:
        store.close()
    again = CaseStore(*location)  # opening a migrated store adds nothing
    again.close()


def test_cases_show_prints_the_lookup_id(tmp_path: Path) -> None:
    """`crx cases show` names the lookup the request followed."""
    store = CaseStore(str(tmp_path / "cases.sqlite3"))
    [record] = get_adapter("json-v1").parse(json_request("lk-77"), ParseContext("FR", RECEIVED))
    case = CaseBook(store, DeadlineRules.load(None), test_book.SECRET).open(
        record, "PL", "ecris-FR-PL", "sub-1", RECEIVED
    )
    store.close()
    shown = CliRunner(env={"CRX_DATA_DIR": str(tmp_path)}).invoke(main, ["cases", "show", case.case_id])
    assert shown.exit_code == 0, shown.output
    lines = [line.split() for line in shown.output.splitlines() if line.startswith("lookup_id")]
    assert lines == [["lookup_id", "lk-77"]]
