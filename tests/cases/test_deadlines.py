"""Case periods from the agreements file, and the deadline and reminder of a request."""

from __future__ import annotations

import copy
import datetime as dt
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from services.cases.calendar import calendar_for
from services.cases.deadlines import DeadlineRule, DeadlineRules, Schedule, schedule
from services.kernel.errors import PolicyError
from services.router.policy import Policy

BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_AFTERNOON = dt.datetime(2026, 12, 18, 14, 0, tzinfo=BERLIN)
LEGAL = DeadlineRule(working_days=10, urgent_working_days=5, remind_before_working_days=2)


def _end(year: int, month: int, day: int, hour: int) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 59, 59, 999000, tzinfo=dt.UTC)


def _default_document() -> dict[str, Any]:
    text = resources.files("services.router").joinpath("default_agreements.yaml").read_text("utf-8")
    data: dict[str, Any] = yaml.safe_load(text)
    return data


def _with_cases(top: Any = None, **per_agreement: Any) -> dict[str, Any]:
    """The default agreements with ``top`` as the ``cases:`` section and overrides by agreement id."""
    data = copy.deepcopy(_default_document())
    data.pop("cases")
    if top is not None:
        data["cases"] = top
    for entry in data["agreements"]:
        if entry["id"] in per_agreement:
            entry["cases"] = per_agreement[entry["id"]]
    return data


def test_the_default_agreements_state_the_legal_periods() -> None:
    """Art. 8: 10 working days for criminal proceedings, 20 otherwise; urgent 5; reminder 2 days before."""
    rules = DeadlineRules.load(None)
    assert rules.rule(None, "CRIMINAL_PROCEEDINGS") == LEGAL
    assert rules.rule("ecris-PL-DE", "CRIMINAL_PROCEEDINGS") == LEGAL
    assert rules.rule(None, "OWN_REQUEST").working_days == 20
    assert rules.rule("no-such-agreement", "EMPLOYMENT").working_days == 20


def test_without_a_cases_section_the_legal_defaults_apply() -> None:
    """A file written before cases existed keeps working, with the Decision's periods."""
    rules = DeadlineRules.parse(_with_cases())
    assert rules.rule(None, "CRIMINAL_PROCEEDINGS") == LEGAL
    assert rules.rule(None, "OTHER") == DeadlineRule(20, 5, 2)
    assert DeadlineRules.parse({}).rule("ecris-DE-FR", "OTHER") == DeadlineRule(20, 5, 2)


def test_the_policy_still_reads_the_file_with_cases() -> None:
    """The router's Policy ignores the new top-level section and the per-agreement overrides."""
    Policy.load(None)
    Policy.parse(_with_cases({"urgent_working_days": 3}, **{"ecris-PL-DE": {"urgent_working_days": 2}}))


def test_layers_merge_key_by_key_and_purpose_by_purpose() -> None:
    """Legal defaults < top-level section < agreement override; a purpose an override leaves out keeps the
    period of the layer below; another agreement keeps the top level."""
    top = {"working_days": {"CRIMINAL_PROCEEDINGS": 8, "EMPLOYMENT": 15}, "remind_before_working_days": 3}
    override = {"working_days": {"CRIMINAL_PROCEEDINGS": 5, "VISA": 12}, "urgent_working_days": 2}
    rules = DeadlineRules.parse(_with_cases(top, **{"ecris-PL-DE": override}))
    assert rules.rule("ecris-PL-DE", "CRIMINAL_PROCEEDINGS") == DeadlineRule(5, 2, 3)
    assert rules.rule("ecris-PL-DE", "VISA") == DeadlineRule(12, 2, 3)
    assert rules.rule("ecris-PL-DE", "EMPLOYMENT") == DeadlineRule(15, 2, 3)
    assert rules.rule("ecris-PL-DE", "OWN_REQUEST") == DeadlineRule(20, 2, 3)
    assert rules.rule("ecris-DE-PL", "CRIMINAL_PROCEEDINGS") == DeadlineRule(8, 5, 3)
    assert rules.rule(None, "VISA") == DeadlineRule(20, 5, 3)


@pytest.mark.parametrize(
    ("top", "override", "names"),
    [
        ({"working_days": {"CRIMINAL_PROCEEDINGS": -1}}, None, "cases.working_days.CRIMINAL_PROCEEDINGS"),
        ({"working_days": {"*": 0}}, None, "cases.working_days.*"),
        ({"working_days": {"*": "20"}}, None, "cases.working_days.*"),
        ({"working_days": {"*": 2.5}}, None, "cases.working_days.*"),
        ({"working_days": {"*": True}}, None, "cases.working_days.*"),
        ({"working_days": [10, 20]}, None, "cases.working_days"),
        ({"working_days": {"": 10}}, None, "cases.working_days"),
        ({"urgent_working_days": 0}, None, "cases.urgent_working_days"),
        ({"remind_before_working_days": -1}, None, "cases.remind_before_working_days"),
        ({"reminder": 2}, None, "cases: unknown key(s) reminder"),
        ([10, 20], None, "cases: must be a mapping"),
        (None, {"urgent_working_days": -2}, "agreement 'ecris-PL-DE' cases.urgent_working_days"),
        (None, {"working_days": {"CRIMINAL_PROCEEDINGS": 0}}, "'ecris-PL-DE' cases.working_days.CRIMINAL"),
        (None, {"deadline": 3}, "agreement 'ecris-PL-DE' cases: unknown key(s) deadline"),
        (None, "ten", "agreement 'ecris-PL-DE' cases: must be a mapping"),
    ],
)
def test_invalid_periods_are_refused_naming_the_entry(top: Any, override: Any, names: str) -> None:
    """Negative, zero, non-integer periods and unknown keys raise PolicyError that says where."""
    overrides = {"ecris-PL-DE": override} if override is not None else {}
    with pytest.raises(PolicyError) as raised:
        DeadlineRules.parse(_with_cases(top, **overrides))
    assert names in raised.value.detail


def test_overrides_need_one_agreement_id_each() -> None:
    """An override must say whose it is, once."""
    data = _with_cases()
    data["agreements"].append({"cases": {"urgent_working_days": 1}})
    with pytest.raises(PolicyError, match=r"agreements\[9\]: an agreement with cases needs an id"):
        DeadlineRules.parse(data)
    data = _with_cases(**{"ecris-PL-DE": {"urgent_working_days": 1}})
    data["agreements"].append({"id": "ecris-PL-DE", "cases": {"urgent_working_days": 2}})
    with pytest.raises(PolicyError, match="'ecris-PL-DE': cases given twice"):
        DeadlineRules.parse(data)
    with pytest.raises(PolicyError):
        DeadlineRules.parse(["not", "a", "mapping"])


def test_load_reads_a_file_and_refuses_unreadable_ones(tmp_path: Path) -> None:
    """A file of one's own is read like Policy.load reads it; a missing or broken file is a PolicyError."""
    path = tmp_path / "agreements.yaml"
    path.write_text(yaml.safe_dump(_with_cases({"working_days": {"*": 15}})), encoding="utf-8")
    assert DeadlineRules.load(path).rule(None, "EMPLOYMENT").working_days == 15
    with pytest.raises(PolicyError, match="cannot read agreements"):
        DeadlineRules.load(tmp_path / "missing.yaml")
    path.write_text("cases: [unclosed", encoding="utf-8")
    with pytest.raises(PolicyError, match="cannot read agreements"):
        DeadlineRules.load(path)


def test_schedule_of_a_de_request_over_christmas() -> None:
    """Received Fri 18 Dec in DE: due at the end of Tue 5 Jan (10 working days); reminded 2 working days
    before, at the end of working day 8 (Thu 31 Dec)."""
    result = schedule(LEGAL, calendar_for("DE"), FRIDAY_AFTERNOON, urgent=False)
    assert result == Schedule(deadline=_end(2027, 1, 5, 22), remind_at=_end(2026, 12, 31, 22))


def test_the_requested_states_calendar_decides() -> None:
    """The same request to PL is due two days later, at the end of Thu 7 Jan (24 Dec and 6 Jan are PL holidays);
    two working days before it (Tue 5 and Thu 7 remain) is the end of Mon 4 Jan."""
    result = schedule(LEGAL, calendar_for("PL"), FRIDAY_AFTERNOON, urgent=False)
    assert result == Schedule(deadline=_end(2027, 1, 7, 22), remind_at=_end(2027, 1, 4, 22))


def test_an_urgent_request_is_due_sooner_and_never_later() -> None:
    """Urgent: 5 working days (end of Mon 28 Dec), reminded at the end of day 3 (Wed 23 Dec); when the purpose's
    own period is shorter than the urgent one, that one applies."""
    de = calendar_for("DE")
    assert schedule(LEGAL, de, FRIDAY_AFTERNOON, urgent=True) == Schedule(
        _end(2026, 12, 28, 22), _end(2026, 12, 23, 22)
    )
    short = DeadlineRule(working_days=3, urgent_working_days=5, remind_before_working_days=1)
    assert schedule(short, de, FRIDAY_AFTERNOON, urgent=True).deadline == _end(2026, 12, 23, 22)


def test_no_reminder_when_the_lead_is_zero_or_not_shorter_than_the_period() -> None:
    """A lead of 0 turns reminders off; a lead as long as the period would remind at receipt: none either."""
    de = calendar_for("DE")
    assert schedule(DeadlineRule(10, 5, 0), de, FRIDAY_AFTERNOON, urgent=False).remind_at is None
    assert schedule(DeadlineRule(10, 2, 2), de, FRIDAY_AFTERNOON, urgent=True).remind_at is None
    assert schedule(DeadlineRule(10, 3, 2), de, FRIDAY_AFTERNOON, urgent=True).remind_at == _end(2026, 12, 21, 22)


def test_a_per_agreement_override_shortens_the_schedule() -> None:
    """ecris-PL-DE with 5 days for criminal proceedings and a 1-day lead: due Mon 28 Dec, reminded Thu 24 Dec."""
    override = {"working_days": {"CRIMINAL_PROCEEDINGS": 5}, "remind_before_working_days": 1}
    rules = DeadlineRules.parse(_with_cases(None, **{"ecris-PL-DE": override}))
    rule = rules.rule("ecris-PL-DE", "CRIMINAL_PROCEEDINGS")
    assert schedule(rule, calendar_for("DE"), FRIDAY_AFTERNOON, urgent=False) == Schedule(
        _end(2026, 12, 28, 22), _end(2026, 12, 24, 22)
    )


def test_a_naive_receipt_time_is_refused() -> None:
    """The receipt must say its zone: it decides the day the period runs from."""
    with pytest.raises(ValueError):
        schedule(LEGAL, calendar_for("DE"), dt.datetime(2026, 12, 18, 14), urgent=False)
