"""The case book on a real SQLite store: what a request opens, what may follow it, and that every verdict is
idempotent. Records are the ecris-xml samples (PL asks DE; DE answers), edited where a test needs it."""

from __future__ import annotations

import copy
import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ParseContext, get_adapter
from schemas.records import CriminalRecord
from services.cases.book import CaseBook, case_id_of
from services.cases.calendar import calendar_for
from services.cases.deadlines import DeadlineRules, schedule
from services.cases.store import ANSWERED, CANCELLED, MORE_INFORMATION_ASKED, OPEN, CaseStore
from tests.fixtures.postgres import drop, postgres_dsn  # noqa: F401 - the fixture

RECEIVED = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)  # a Monday
SECRET = b"audit-secret-for-tests"


def sample(name: str, jurisdiction: str) -> CriminalRecord:
    """An ecris-xml sample parsed as its feed would be."""
    payload = dict(get_adapter("ecris-xml").samples())[name]
    [record] = get_adapter("ecris-xml").parse(payload, ParseContext(jurisdiction, RECEIVED))
    return record


def edit(part: Any, **changes: Any) -> None:
    """Change fields of a part of a record (a TypedDict, edited as the dict it is)."""
    part.update(changes)


@pytest.fixture(params=["sqlite", "postgresql"])
def book(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseBook]:
    """A book on a SQLite file, or on a PostgreSQL schema of its own (dropped after)."""
    if request.param == "sqlite":
        yield CaseBook(CaseStore(str(tmp_path / "cases.sqlite3")), DeadlineRules.load(None), SECRET)
        return
    dsn: str = request.getfixturevalue("postgres_dsn")
    schema = f"crx_t_{uuid.uuid4().hex[:12]}"
    store = CaseStore(dsn, schema)
    try:
        yield CaseBook(store, DeadlineRules.load(None), SECRET)
    finally:
        store.close()
        drop(dsn, schema)


@pytest.fixture
def request_() -> CriminalRecord:
    return sample("PL-request-de.xml", "PL")


@pytest.fixture
def response() -> CriminalRecord:
    return sample("DE-response-pl.xml", "DE")


def test_a_request_opens_one_case_per_requested_state_with_its_deadline(
    book: CaseBook, request_: CriminalRecord
) -> None:
    """The case names who asked whom, for what and on whose behalf, with the deadline of the requested state's
    calendar under the agreement's rules (URGENT: the shorter period); opening it again changes nothing."""
    case = book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    rule = DeadlineRules.load(None).rule("ecris-PL-DE", "CRIMINAL_PROCEEDINGS")
    plan = schedule(rule, calendar_for("DE"), RECEIVED, urgent=True)
    assert (case.requesting, case.requested, case.purpose, case.status) == ("PL", "DE", "CRIMINAL_PROCEEDINGS", OPEN)
    assert case.requesting_authority == request_["header"]["requesting_authority"]
    assert case.requesting_authority  # the sample names its court
    assert (case.deadline, case.remind_at, case.kind, case.urgency) == (
        plan.deadline, plan.remind_at, "criminal-proceedings", "URGENT",
    )  # fmt: skip
    assert case.case_id == case_id_of(str(request_["header"]["message_id"]), "DE")
    later = book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED + dt.timedelta(days=3))
    assert later == case


def test_the_response_closes_its_case_once(book: CaseBook, request_: CriminalRecord, response: CriminalRecord) -> None:
    """The answer of the requested state to the requester closes the case with its typed outcome; the same
    response again (a redelivery) is allowed without a second change; another response is refused."""
    book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    at = RECEIVED + dt.timedelta(days=2)
    verdict = book.follow(response, "PL", "sub-2", at)
    assert verdict.allowed and verdict.case is not None, verdict
    assert (verdict.case.status, verdict.case.outcome, verdict.case.closed_at) == (ANSWERED, "CONVICTIONS_FOUND", at)
    assert verdict.case.response_submission_id == "sub-2"
    again = book.follow(response, "PL", "sub-2", at + dt.timedelta(hours=1))
    assert again.allowed and again.case is not None and again.case.closed_at == at
    other = copy.deepcopy(response)
    other["header"]["message_id"] = "another-response"
    refused = book.follow(other, "PL", "sub-3", at)
    assert (refused.allowed, refused.rule) == (False, "cases/closed")


def test_an_orphan_response_is_refused(book: CaseBook, response: CriminalRecord) -> None:
    """A response to a request crx never carried answers no case."""
    verdict = book.follow(response, "PL", "sub-2", RECEIVED)
    assert (verdict.allowed, verdict.rule, verdict.case) == (False, "cases/no-such-request", None)


@pytest.mark.parametrize(
    ("edit", "recipient", "rule"),
    [
        (lambda r: edit(r["header"], source_jurisdiction="FR"), "PL", "cases/no-such-request"),  # FR was not asked
        (lambda r: None, "FR", "cases/not-the-requester"),  # addressed to a state that did not ask
        (lambda r: edit(r["header"], purpose="EMPLOYMENT"), "PL", "cases/another-purpose"),
        (lambda r: edit(r["person"]["names"][0], family="Andersmann"), "PL", "cases/another-person"),
        (lambda r: edit(r["person"]["birth_date"], year=1989), "PL", "cases/another-person"),
    ],
)
def test_a_response_for_another_state_purpose_or_person_is_refused(
    book: CaseBook, request_: CriminalRecord, response: CriminalRecord, edit: object, recipient: str, rule: str
) -> None:
    """Each check on its own: the case stays open."""
    book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    changed = copy.deepcopy(response)
    edit(changed)  # type: ignore[operator]
    verdict = book.follow(changed, recipient, "sub-2", RECEIVED)
    assert (verdict.allowed, verdict.rule) == (False, rule)
    case = book.store.find(str(request_["header"]["message_id"]), "DE")
    assert case is not None and case.status == OPEN


def test_the_person_matches_without_diacritics_or_case(
    book: CaseBook, request_: CriminalRecord, response: CriminalRecord
) -> None:
    """The requested state may write the name its own way: case and diacritics do not matter."""
    book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    changed = copy.deepcopy(response)
    changed["person"]["names"][0]["family"] = "BEISPIELMÄNN"
    assert book.follow(changed, "PL", "sub-2", RECEIVED).allowed


def test_a_cancelled_request_takes_no_answer(
    book: CaseBook, request_: CriminalRecord, response: CriminalRecord
) -> None:
    """The requester withdraws its request; the answer that comes later is refused."""
    book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    cancel = copy.deepcopy(request_)
    edit(
        cancel["header"], message_id="cancel-1", case_message="CANCELLATION", reply_to=request_["header"]["message_id"]
    )
    verdict = book.follow(cancel, "DE", "sub-3", RECEIVED + dt.timedelta(days=1))
    assert verdict.allowed and verdict.case is not None and verdict.case.status == CANCELLED
    assert book.follow(response, "PL", "sub-2", RECEIVED + dt.timedelta(days=2)).rule == "cases/closed"


def test_more_information_suspends_then_restarts_the_deadline(
    book: CaseBook, request_: CriminalRecord, response: CriminalRecord
) -> None:
    """The requested state asks for more; the requester's answer restarts the period from its receipt; then
    the response closes the case."""
    opened = book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    ask = copy.deepcopy(response)
    edit(ask["header"], message_id="ask-1", case_message="MORE_INFORMATION_REQUEST", outcome=None)
    ask["convictions"] = []
    asked = book.follow(ask, "PL", "sub-2", RECEIVED + dt.timedelta(days=1))
    assert asked.allowed and asked.case is not None and asked.case.status == MORE_INFORMATION_ASKED
    more = copy.deepcopy(request_)
    edit(
        more["header"], message_id="more-1", case_message="MORE_INFORMATION", reply_to=request_["header"]["message_id"]
    )
    resumed_at = RECEIVED + dt.timedelta(days=9)
    resumed = book.follow(more, "DE", "sub-3", resumed_at)
    assert resumed.allowed and resumed.case is not None and resumed.case.status == OPEN
    rule = DeadlineRules.load(None).rule("ecris-PL-DE", "CRIMINAL_PROCEEDINGS")
    assert resumed.case.deadline == schedule(rule, calendar_for("DE"), resumed_at, urgent=True).deadline
    assert resumed.case.deadline > opened.deadline
    assert book.follow(more, "DE", "sub-3", resumed_at).allowed  # its redelivery
    assert book.follow(response, "PL", "sub-4", resumed_at + dt.timedelta(days=1)).allowed


def test_more_information_without_a_question_is_refused(book: CaseBook, request_: CriminalRecord) -> None:
    """MORE_INFORMATION answers a question: on an open case that asked nothing it is refused."""
    book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    more = copy.deepcopy(request_)
    edit(
        more["header"], message_id="more-1", case_message="MORE_INFORMATION", reply_to=request_["header"]["message_id"]
    )
    assert book.follow(more, "DE", "sub-3", RECEIVED).rule == "cases/closed"


def test_the_store_keeps_no_person_data_in_clear(request_: CriminalRecord, tmp_path: Path) -> None:
    """Names, birth date and birth place appear nowhere in the database file, only keyed pseudonyms."""
    book = CaseBook(CaseStore(str(tmp_path / "cases.sqlite3")), DeadlineRules.load(None), SECRET)
    book.open(request_, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    book.store.close()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("cases.sqlite3"))
    person = request_["person"]
    for text in (person["names"][0]["family"], person["names"][0]["given"], "1988-11-30", "Beispielhausen"):
        assert text and text.encode() not in raw
