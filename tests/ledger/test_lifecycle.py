"""The router's lifecycle decisions with a real disclosure ledger (SQLite) and the packaged agreements: an
update and a deletion reach every earlier recipient, a stale version is refused, a conviction whose effect
ended is erased, a recipient no longer allowed the content gets a bare deletion."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import ParseContext, get_adapter
from schemas.records import CriminalRecord
from services.ledger.lifecycle import ERASE, STALE_VERSION, Lifecycle, Step, key_of
from services.ledger.retention import retention_end
from services.ledger.store import Disclosure, DisclosureLedger
from services.router.policy import Policy

NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
CONFIGURED = frozenset({"DE", "FR", "PL", "US"})


def record(
    version: int, kind: str = "NOTIFICATION", nationalities: tuple[str, ...] = ("FR", "PL"), **edit: Any
) -> CriminalRecord:
    """DE's notification about an FR+PL national (json-v1 sample), as version ``version`` of type ``kind``."""
    doc = json.loads(dict(get_adapter("json-v1").samples())["DE-notification-fr-pl.json"])
    doc.update(version=version, type=kind, **edit)
    doc["person"]["nationalities"] = list(nationalities)
    [parsed] = get_adapter("json-v1").parse(json.dumps(doc).encode(), ParseContext("DE", NOW))
    return parsed


@pytest.fixture
def lifecycle(tmp_path: Path) -> Lifecycle:
    return Lifecycle(DisclosureLedger(str(tmp_path / "ledger.sqlite3")), Policy.load(None), CONFIGURED)


def disclose(lifecycle: Lifecycle, rec: CriminalRecord) -> list[Step]:
    """Decide ``rec`` and record its allowed disclosures, as the router does."""
    steps = lifecycle.steps(rec, NOW)
    rows = [
        Disclosure(key_of(s.record), s.decision.recipient or "", s.record["header"]["source_record_version"],
                   str(s.record["header"]["message_id"]), s.record["header"]["message_type"],
                   s.decision.agreement.id if s.decision.agreement else None, NOW, None)
        for s in steps if s.decision.allowed
    ]  # fmt: skip
    lifecycle.ledger.add(rows)
    return steps


def allowed(steps: list[Step]) -> dict[str, str]:
    return {s.decision.recipient or "": s.record["header"]["message_type"] for s in steps if s.decision.allowed}


def test_an_update_and_a_deletion_reach_every_earlier_recipient(lifecycle: Lifecycle) -> None:
    """Notified to FR and PL; the person is now an FR national only; the update still reaches PL, which holds
    the record, and so does the deletion."""
    assert allowed(disclose(lifecycle, record(1))) == {"FR": "NOTIFICATION", "PL": "NOTIFICATION"}
    update = disclose(lifecycle, record(2, "UPDATE", ("FR",)))
    assert allowed(update) == {"FR": "UPDATE", "PL": "UPDATE"}
    assert next(s.decision.rule for s in update if s.decision.recipient == "PL").startswith("ledger-earlier-recipient")
    deletion = disclose(lifecycle, record(3, "DELETION", ("FR",)))
    assert allowed(deletion) == {"FR": "DELETION", "PL": "DELETION"}
    holdings = lifecycle.ledger.holdings(key_of(record(1)))
    assert [(h.recipient, h.version, h.deleted) for h in holdings] == [("FR", 3, True), ("PL", 3, True)]


def test_an_older_version_after_a_newer_one_is_refused_and_a_repeat_is_not(lifecycle: Lifecycle) -> None:
    disclose(lifecycle, record(1))
    disclose(lifecycle, record(2, "UPDATE"))
    [stale] = lifecycle.steps(record(1), NOW)
    assert (stale.decision.allowed, stale.decision.reason, stale.decision.recipient) == (False, STALE_VERSION, None)
    assert allowed(lifecycle.steps(record(2, "UPDATE"), NOW)) == {"FR": "UPDATE", "PL": "UPDATE"}  # done again


def test_a_recipient_no_longer_agreed_gets_a_bare_deletion(lifecycle: Lifecycle) -> None:
    """FR and PL held version 1; the update's purpose is agreed with neither: each gets a deletion that carries
    ids only, never the updated content. A state that never held the record gets nothing."""
    disclose(lifecycle, record(1, nationalities=("FR",)))
    steps = disclose(lifecycle, record(2, "UPDATE", ("FR", "PL"), purpose="EMPLOYMENT_VETTING"))
    by = {s.decision.recipient: s for s in steps}
    assert by["FR"].bare and by["FR"].decision.allowed
    assert not by["PL"].decision.allowed and by["PL"].decision.reason == "PURPOSE_NOT_AGREED"  # never held it
    pl = by["FR"]
    assert pl.decision.allowed and pl.bare and pl.decision.rule.endswith(ERASE)
    sent = pl.record
    assert sent["header"]["message_type"] == "DELETION" and sent["convictions"] == []
    assert sent["person"]["names"] == [] and sent["person"]["birth_date"]["year"] is None
    update = record(2, "UPDATE", purpose="EMPLOYMENT_VETTING")
    assert sent["header"]["message_id"] == update["header"]["message_id"]  # the same message, nothing of it


def test_a_reversed_conviction_is_erased_at_every_holder(lifecycle: Lifecycle) -> None:
    """A later decision that ends the conviction's effect (here an appeal's reversal, effective yesterday) turns
    the update into an erasure at FR and PL; sent to nobody else."""
    disclose(lifecycle, record(1))
    reversed_ = record(2, "UPDATE")
    reversed_["convictions"][0]["later_decisions"].append(
        {"kind": "REVERSAL", "decision_date": dt.date(2026, 12, 1), "effective_from": dt.date(2026, 12, 6)}
    )
    steps = disclose(lifecycle, reversed_)
    assert allowed(steps) == {"FR": "DELETION", "PL": "DELETION"} and all(s.bare for s in steps)
    fresh = copy.deepcopy(reversed_)
    fresh["header"]["source_record_id"] = "never-sent"
    [nobody] = lifecycle.steps(fresh, NOW)
    assert (nobody.decision.allowed, nobody.decision.reason) == (False, "CONVICTION_ENDED")


def test_a_reversal_effective_later_changes_nothing_yet(lifecycle: Lifecycle) -> None:
    disclose(lifecycle, record(1))
    pending = record(2, "UPDATE")
    pending["convictions"][0]["later_decisions"].append(
        {"kind": "REVERSAL", "decision_date": dt.date(2026, 12, 1), "effective_from": dt.date(2027, 1, 1)}
    )
    assert allowed(disclose(lifecycle, pending)) == {"FR": "UPDATE", "PL": "UPDATE"}


def test_retention_end_is_the_records_bounded_by_the_agreement() -> None:
    """The sample's conviction may be kept until 2039-03-05; FR's agreement allows 3650 days, PL's 1825."""
    policy, rec = Policy.load(None), record(1)
    by = {d.recipient: d.agreement for d in policy.decide(rec)}
    assert retention_end(rec, by["FR"], NOW) == dt.date(2036, 12, 4)  # 3650 days from 2026-12-07, before 2039
    assert retention_end(rec, by["PL"], NOW) == NOW.date() + dt.timedelta(days=1825)
    rec["convictions"][0]["retention_end"] = dt.date(2027, 6, 30)
    assert retention_end(rec, by["FR"], NOW) == dt.date(2027, 6, 30)
    assert retention_end(rec, None, NOW) == dt.date(2027, 6, 30)
