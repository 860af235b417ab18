"""A record's life at its recipients: who gets a notification, an update or a deletion, decided with the
disclosure ledger.

- A version older than one already disclosed is refused (``STALE_VERSION``); the same version again (a batch
  done again) is decided as before.
- An UPDATE or DELETION goes to the current candidates of the rules (the person's nationality states) and to
  every earlier recipient still holding the record, each under its own agreement. An earlier recipient that
  may no longer receive the updated content (no agreement, purpose or message type no longer agreed) gets a
  bare deletion instead: ids only, no personal data; a DELETION always reaches every earlier holder, under its
  agreement where there is one, bare where there is none (an erasure is never held back by policy).
- A later decision that ends a conviction's effect (reversal, pardon, expungement, effective by now) takes the
  conviction out of what is sent; a record left with no conviction is erased at every holder and sent to
  nobody else.
"""

from __future__ import annotations

import copy
import datetime as dt
from dataclasses import dataclass
from typing import Protocol

from schemas.records import Conviction, CriminalRecord, Person
from services.kernel.recordkey import record_key
from services.ledger.store import DELETION, DisclosureLedger, Holding
from services.router.policy import Decision, Policy

LIFECYCLE_TYPES = frozenset({"NOTIFICATION", "UPDATE", "DELETION"})
ENDING_DECISIONS = frozenset({"REVERSAL", "PARDON", "EXPUNGEMENT"})
STALE_VERSION = "STALE_VERSION"
CONVICTION_ENDED = "CONVICTION_ENDED"
EARLIER = "ledger-earlier-recipient"  # rules are "<rule>/<agreement>[/...]": no slash in these
ERASE = "ledger-erasure"


class LedgerReads(Protocol):
    """What a decision reads of the ledger: the ledger itself, or a batch's view of it (``LedgerView``)."""

    def latest_version(self, record_key: str) -> int | None: ...

    def holdings(self, record_key: str) -> list[Holding]: ...


@dataclass(frozen=True)
class Step:
    """One recipient's decision and the record to send it (the record itself, minimised later, or a bare
    deletion that is sent as it is)."""

    decision: Decision
    record: CriminalRecord
    bare: bool = False


def key_of(record: CriminalRecord) -> str:
    """The record's opaque key, hex (the ledger's and the audit events' ``record_key``)."""
    header = record["header"]
    return record_key(header["source_jurisdiction"], header["source_record_id"]).hex()


def bare_deletion(record: CriminalRecord) -> CriminalRecord:
    """A DELETION of ``record`` carrying only its ids: what a recipient gets when it must erase the record but may
    not receive its content. It keeps the message id of ``record``: it is that message, minimised to nothing
    for this recipient (each recipient's view of a message differs; the audit log accounts for the message)."""
    header = copy.deepcopy(record["header"])
    header["message_type"] = "DELETION"
    person: Person = {
        "names": [], "sex": "UNKNOWN", "birth_date": {"year": None, "month": None, "day": None},
        "birth_place": None, "nationalities": [], "national_identifiers": [], "parent_names": [],
        "fingerprint_reference": None,
    }  # fmt: skip
    return {"header": header, "person": person, "convictions": [], "other_charges": []}


def conviction_ended(conviction: Conviction, today: dt.date) -> bool:
    """True when a later decision ending the conviction's effect (``ENDING_DECISIONS``) is effective by
    ``today``: the conviction is no longer disclosed (nor indexed for lookups)."""
    return any(
        d["kind"] in ENDING_DECISIONS and (d["effective_from"] is None or d["effective_from"] <= today)
        for d in conviction["later_decisions"]
    )


class Lifecycle:
    """Decides notifications, updates and deletions with the ledger; ``policy`` decides each recipient."""

    def __init__(self, ledger: DisclosureLedger, policy: Policy, configured: frozenset[str]) -> None:
        self.ledger = ledger
        self._policy = policy
        self._configured = configured

    def steps(self, record: CriminalRecord, now: dt.datetime, view: LedgerReads | None = None) -> list[Step]:
        """One step per recipient (or one refusal with recipient None), read from ``view`` (a batch's view of
        the ledger), else from the ledger. Raises TransientError when the ledger does not answer."""
        header = record["header"]
        key = key_of(record)
        reads = view or self.ledger
        latest = reads.latest_version(key)
        if latest is not None and header["source_record_version"] < latest:
            return [Step(Decision(None, False, "ledger-stale-version", STALE_VERSION), record)]
        holders = {h.recipient: h for h in reads.holdings(key) if not h.deleted}
        live = [c for c in record["convictions"] if not conviction_ended(c, now.date())]
        if record["convictions"] and not live and header["message_type"] != "DELETION":
            erase = [self._erase(record, holder) for holder in sorted(holders)]
            return erase or [Step(Decision(None, False, "ledger-conviction-ended", CONVICTION_ENDED), record)]
        if len(live) < len(record["convictions"]):
            record = {**record, "convictions": live}
        decisions = [d for d in self._policy.decide(record) if d.recipient is not None or not holders]
        earlier = sorted(set(holders) - {d.recipient for d in decisions} - {header["source_jurisdiction"]})
        decisions += self._policy.decide_for(record, earlier, EARLIER)
        return [self._step(record, d, holders.get(d.recipient or "")) for d in decisions]

    def _step(self, record: CriminalRecord, decision: Decision, holder: Holding | None) -> Step:
        if decision.allowed or holder is None or decision.recipient not in self._configured:
            return Step(decision, record)
        if record["header"]["message_type"] in ("UPDATE", DELETION):
            return self._erase(record, decision.recipient or holder.recipient, decision)
        return Step(decision, record)

    def _erase(self, record: CriminalRecord, recipient: str, refused: Decision | None = None) -> Step:
        """A bare deletion for a holder that may no longer receive the record's content."""
        rule = f"{refused.rule}/{ERASE}" if refused else ERASE
        decision = Decision(recipient, True, rule, None, refused.agreement if refused else None)
        return Step(decision, bare_deletion(record), bare=True)
