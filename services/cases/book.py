"""The case book: what a request opens and what may follow it, decided and written as the router routes.

The router asks the book about every REQUEST and RESPONSE it is about to disclose, before it produces
anything, so a case exists before its request leaves crx and a response can never overtake the case it
answers (the book is consulted in the same step that decides the disclosure; there is no second consumer
to lag behind). Every verdict is idempotent on the message id: a batch redelivered after a crash gets the
same answers, and a case is never closed twice.

- A REQUEST (no case message) opens one case per requested state the policy lets it reach, with a deadline
  in that state's working days (``deadlines``).
- A RESPONSE must answer an open case of that request at its sender, addressed to the state that asked, for
  the same purpose and the same person (keyed pseudonyms of name and birth year, ``person_refs``); else it is
  refused with NO_OPEN_REQUEST and the rule names the failed check. It closes the case as answered, with its
  typed outcome. A MORE_INFORMATION_REQUEST response suspends the case instead.
- A REQUEST with case message CANCELLATION closes an active case of that request at the addressed state; one
  with MORE_INFORMATION answers a suspended case: the deadline runs again, from its receipt.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import unicodedata
from dataclasses import dataclass
from typing import Any

from schemas.records import CriminalRecord
from services.cases.calendar import calendar_for
from services.cases.deadlines import DeadlineRules, schedule
from services.cases.store import (
    ACTIVE,
    ANSWERED,
    CANCELLED,
    MORE_INFORMATION_ASKED,
    OPEN,
    OVERDUE,
    Case,
    CaseStore,
)
from services.kernel.audit_events import stable_id

NO_OPEN_REQUEST = "NO_OPEN_REQUEST"
CASE_TYPES = frozenset({"REQUEST", "RESPONSE"})
KINDS = {"CRIMINAL_PROCEEDINGS": "criminal-proceedings", "PERSON_CONCERNED_REQUEST": "own-request"}
_PERSON_KEY_LABEL = b"crx/cases/person-reference/v1"


@dataclass(frozen=True)
class Verdict:
    """The book's answer for one recipient: allowed or not, the rule that decided, the case concerned."""

    allowed: bool
    rule: str
    case: Case | None = None


def case_id_of(request_message_id: str, requested: str) -> str:
    """The id of the case of request ``request_message_id`` at ``requested`` (stable, so idempotent)."""
    return stable_id("case", request_message_id, requested)


def _plain(text: str) -> str:
    """Case-folded, diacritics removed, letters and digits only: "Müller-Lüdenscheidt" -> "mullerludenscheidt"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if c.isalnum() and not unicodedata.combining(c))


class CaseBook:
    """Cases over one store, deadlines by ``rules``; ``secret`` keys the person pseudonyms."""

    def __init__(self, store: CaseStore, rules: DeadlineRules, secret: bytes) -> None:
        self.store = store
        self._rules = rules
        self._person_key = hmac.new(secret, _PERSON_KEY_LABEL, hashlib.sha256).digest()

    def person_refs(self, record: CriminalRecord) -> frozenset[str]:
        """Keyed pseudonyms of the person: one per name (and transliteration) with the birth year. A response
        answers for the same person when one of its pseudonyms is one of the request's."""
        person = record["person"]
        year = person["birth_date"]["year"]
        refs = set()
        for name in person["names"]:
            for family, given in ((name["family"], name["given"]), (name["transliteration"], name["given"])):
                if family:
                    text = f"{_plain(family)}|{_plain(given or '')}|{year}"
                    refs.add(hmac.new(self._person_key, text.encode(), hashlib.sha256).hexdigest()[:32])
        return frozenset(refs)

    def open(
        self, record: CriminalRecord, requested: str, agreement: str | None, submission_id: str, now: dt.datetime
    ) -> Case:
        """The case of this REQUEST at ``requested``: opened now with its deadline, or the one opened before.

        Raises TransientError when the store does not answer.
        """
        header = record["header"]
        message_id = str(header["message_id"])
        rule = self._rules.rule(agreement, header["purpose"])
        plan = schedule(rule, calendar_for(requested), now, header["urgency"] == "URGENT")
        case = Case(
            case_id=case_id_of(message_id, requested),
            request_message_id=message_id,
            submission_id=submission_id,
            requesting=header["source_jurisdiction"],
            requested=requested,
            requesting_authority=header["requesting_authority"],
            purpose=header["purpose"],
            kind=KINDS.get(header["purpose"], "other-purpose"),
            urgency=header["urgency"],
            agreement=agreement,
            external_id=header["external_message_id"],
            received_at=now,
            deadline=plan.deadline,
            remind_at=plan.remind_at,
            last_message_id=message_id,
            person_refs=self.person_refs(record),
            updated_at=now,
            legal_basis=header["legal_basis"],
            lookup_id=header["lookup_id"],
        )
        return self.store.add(case)

    def follow(self, record: CriminalRecord, recipient: str, submission_id: str, now: dt.datetime) -> Verdict:
        """Whether this RESPONSE, CANCELLATION or MORE_INFORMATION may go to ``recipient``, applied to its
        case when it may. Raises TransientError when the store does not answer."""
        header = record["header"]
        sender, message_id = header["source_jurisdiction"], str(header["message_id"])
        response = header["message_type"] == "RESPONSE"
        requested, requesting = (sender, recipient) if response else (recipient, sender)
        reply_to = header["reply_to"]
        case = self.store.find(reply_to, requested) if reply_to else None
        if case is None:
            return Verdict(False, "cases/no-such-request")
        if case.last_message_id == message_id and case.request_message_id != message_id:
            return Verdict(True, "cases/applied-before", case)  # a redelivery: answered the same way
        if case.requesting != requesting:
            return Verdict(False, "cases/not-the-requester", case)
        if header["purpose"] != case.purpose:
            return Verdict(False, "cases/another-purpose", case)
        change = self._change(record, case, submission_id, now)
        if isinstance(change, str):
            return Verdict(False, change, case)
        changes, statuses = change
        if not self.store.update(case.case_id, changes, statuses=statuses):
            return Verdict(False, "cases/closed", self.store.get(case.case_id))
        return Verdict(True, "cases/" + str(changes["status"]).replace("_", "-"), self.store.get(case.case_id))

    def _change(
        self, record: CriminalRecord, case: Case, submission_id: str, now: dt.datetime
    ) -> str | tuple[dict[str, Any], frozenset[str]]:
        """The columns to set and the statuses the case must be in, or the rule that refuses."""
        header = record["header"]
        what = header["case_message"]
        base: dict[str, Any] = {"last_message_id": str(header["message_id"]), "updated_at": now}
        if header["message_type"] == "RESPONSE":
            if not (self.person_refs(record) & case.person_refs):
                return "cases/another-person"
            if what == "MORE_INFORMATION_REQUEST":
                return {**base, "status": MORE_INFORMATION_ASKED}, frozenset({OPEN, OVERDUE})
            outcome = header["outcome"] or ("CONVICTIONS_FOUND" if record["convictions"] else "NO_RECORD")
            closing = {
                "status": ANSWERED,
                "outcome": outcome,
                "closed_at": now,
                "response_submission_id": submission_id,
            }
            return {**base, **closing}, ACTIVE
        if what == "CANCELLATION":
            return {**base, "status": CANCELLED, "closed_at": now}, ACTIVE
        if what == "MORE_INFORMATION":
            rule = self._rules.rule(case.agreement, case.purpose)
            plan = schedule(rule, calendar_for(case.requested), now, case.urgency == "URGENT")
            resumed = {"status": OPEN, "deadline": plan.deadline, "remind_at": plan.remind_at}
            return {**base, **resumed, "reminded": False, "overdue_noticed": False}, frozenset({MORE_INFORMATION_ASKED})
        return "cases/not-a-case-message"
