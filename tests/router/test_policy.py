"""The ECRIS nationality rule, agreements as data, and per-recipient minimisation."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import pytest

from adapters.kit.canonical import header
from schemas import CANONICAL_RECORD
from schemas.records import Conviction, CriminalRecord, OtherCharge, Person
from services.kernel.codec import typed_codec
from services.kernel.errors import PolicyError
from services.router.minimise import minimise
from services.router.policy import (
    ALL_OFFENCES_EXCLUDED,
    CONVICTION_FIELDS,
    NO_AGREEMENT,
    NO_RECIPIENT,
    NOTHING_TO_DISCLOSE,
    PERSON_FIELDS,
    PURPOSE_NOT_AGREED,
    Agreement,
    Policy,
)

NOW = dt.datetime.now(dt.UTC)


def _record(nationalities: list[str], sender: str = "DE", category: str = "THEFT") -> CriminalRecord:
    return {
        "header": header(
            sender, "r", 1, "NOTIFICATION", NOW, legal_basis="EU-FD-2009/315", purpose="ECRIS_NOTIFICATION"
        ),
        "person": {
            "names": [{"kind": "CURRENT", "given": "A", "family": "B", "script": "Latn", "transliteration": None}],
            "sex": "FEMALE",
            "birth_date": {"year": 1980, "month": 4, "day": 12},
            "birth_place": {"town": "T", "country": "DE"},
            "nationalities": nationalities,
            "national_identifiers": [{"scheme": "X", "value": "1", "issuer": "DE"}],
            "parent_names": ["P"],
            "fingerprint_reference": "fp",
        },
        "convictions": [
            {
                "conviction_id": "c",
                "court": {"name": "C", "place": None},
                "decision_date": dt.date(2026, 1, 1),
                "date_final": None,
                "file_number": "F",
                "offences": [
                    {
                        "national_code": "x",
                        "national_title": "y",
                        "legal_reference": None,
                        "title_language": "de",
                        "category": category,
                        "completion": "COMPLETED",
                        "participation": "PERPETRATOR",
                        "committed_on": None,
                        "place": None,
                    }
                ],
                "sanctions": [],
                "later_decisions": [],
                "retention_end": None,
            }
        ],
        "other_charges": [],
    }


def _charge(category: str = "THEFT") -> OtherCharge:
    return {
        "stage": "ARREST",
        "national_code": "2399",
        "national_title": "THEFT",
        "title_language": "en",
        "legal_reference": None,
        "category": category,
        "disposition": "DISMISSED",
        "disposition_date": None,
        "agency": None,
    }


@pytest.fixture(scope="module")
def policy() -> Policy:
    return Policy.load(None)


def test_notification_goes_to_every_other_nationality_state(policy: Policy) -> None:
    """DE's notification about an FR+PL+DE national goes to FR and PL, each under its own agreement."""
    decisions = policy.decide(_record(["PL", "FR", "DE"]))
    assert [(d.recipient, d.allowed) for d in decisions] == [("FR", True), ("PL", True)]
    assert decisions[0].rule == "ecris-notify-nationality-states/ecris-DE-FR"


def test_own_national_and_missing_agreement_are_refused_with_reasons(policy: Policy) -> None:
    """A DE national convicted in DE goes nowhere; a state without an agreement is refused, named."""
    [own] = policy.decide(_record(["DE"]))
    assert (own.recipient, own.allowed, own.reason) == (None, False, NO_RECIPIENT)
    [us] = policy.decide(_record(["US"]))
    assert (us.recipient, us.allowed, us.reason) == ("US", False, NO_AGREEMENT)


def test_purpose_and_excluded_categories_are_enforced(policy: Policy) -> None:
    """A purpose outside the agreement is refused; DE->PL excludes road-traffic-only convictions."""
    record = _record(["FR"])
    record["header"]["purpose"] = "EMPLOYMENT_VETTING"
    assert policy.decide(record)[0].reason == PURPOSE_NOT_AGREED
    [pl] = policy.decide(_record(["PL"], category="ROAD_TRAFFIC"))
    assert (pl.allowed, pl.reason) == (False, ALL_OFFENCES_EXCLUDED)


def test_minimal_profile_drops_identifiers_and_cuts_birth_date(policy: Policy) -> None:
    """PL's ecris-minimal view has no identifiers, birth place, parents, file number; birth year only."""
    record = _record(["FR", "PL"])
    original = copy.deepcopy(record)
    pl = next(d for d in policy.decide(record) if d.recipient == "PL")
    assert pl.agreement is not None
    view = minimise(record, pl.agreement)
    assert record == original  # the input is untouched
    person = view["person"]
    assert person["national_identifiers"] == [] and person["birth_place"] is None
    assert person["parent_names"] == [] and person["fingerprint_reference"] is None
    assert person["birth_date"] == {"year": 1980, "month": None, "day": None}
    assert view["convictions"][0]["file_number"] is None
    fr = next(d for d in policy.decide(record) if d.recipient == "FR")
    assert fr.agreement is not None and minimise(record, fr.agreement)["person"] == record["person"]


def test_views_are_valid_canonical_records_and_plain_dicts_give_the_same_view(policy: Policy) -> None:
    """Every view encodes with the canonical codec; an untyped dict (as codec() decodes it) is minimised alike."""
    record = _record(["FR", "PL"])
    record["other_charges"] = [_charge()]
    canonical = typed_codec(CANONICAL_RECORD)
    untyped: dict[str, Any] = copy.deepcopy(dict(record))
    for decision in policy.decide(record):
        assert decision.agreement is not None
        view = minimise(record, decision.agreement)
        assert canonical.decode(canonical.encode(view))["person"]["names"] == view["person"]["names"]
        assert minimise(untyped, decision.agreement) == view
    assert policy.decide(untyped) == policy.decide(record)


def test_profiles_name_the_fields_of_the_schema() -> None:
    """A profile may name every Person field and every Conviction field but the id, as the schema has them."""
    assert frozenset(Person.__annotations__) == PERSON_FIELDS
    assert frozenset(Conviction.__annotations__) == CONVICTION_FIELDS | {"conviction_id"}


def test_invalid_agreements_are_refused() -> None:
    """A profile that drops a field every recipient needs, or names an unknown field, is a PolicyError."""
    base = {"profiles": {"p": {"person": ["sex"], "conviction": ["court"]}}, "rules": [], "agreements": []}
    with pytest.raises(PolicyError):
        Policy.parse(base)
    base["profiles"] = {"p": {"person": ["names", "nationalities", "shoe_size"], "conviction": ["court"]}}
    with pytest.raises(PolicyError):
        Policy.parse(base)


def test_request_goes_to_the_addressed_states_and_response_back(policy: Policy) -> None:
    """A REQUEST goes to the states it names (not to the person's nationalities); a RESPONSE to the requester."""
    request = _record(["PL"], sender="FR")
    request["header"].update({"message_type": "REQUEST", "addressed_to": ["DE"], "purpose": "CRIMINAL_PROCEEDINGS"})
    request["convictions"] = []
    [to_de] = policy.decide(request)
    assert (to_de.recipient, to_de.allowed, to_de.rule) == (
        "DE",
        True,
        "ecris-request-response-addressed-states/ecris-FR-DE",
    )
    response = _record(["PL"], sender="DE")
    response["header"].update({"message_type": "RESPONSE", "addressed_to": ["FR"], "purpose": "CRIMINAL_PROCEEDINGS"})
    assert [(d.recipient, d.allowed) for d in policy.decide(response)] == [("FR", True)]
    response["header"]["addressed_to"] = []
    [nobody] = policy.decide(response)
    assert (nobody.recipient, nobody.reason) == (None, NO_RECIPIENT)


def _with_non_conviction(agreement: Agreement, allowed: bool, excluded: frozenset[str] = frozenset()) -> Agreement:
    return Agreement(
        **{**agreement.__dict__, "non_conviction_information": allowed, "exclude_offence_categories": excluded}
    )


def test_non_conviction_information_only_where_the_agreement_allows_it(policy: Policy) -> None:
    """other_charges reach a recipient only under an agreement that allows them, minus excluded categories."""
    record = _record(["FR"])
    record["other_charges"] = [_charge("THEFT"), _charge("ROAD_TRAFFIC")]
    [fr] = policy.decide(record)
    assert fr.agreement is not None and not fr.agreement.non_conviction_information
    assert minimise(record, fr.agreement)["other_charges"] == []
    allowing = _with_non_conviction(fr.agreement, True, frozenset({"ROAD_TRAFFIC"}))
    assert [c["category"] for c in minimise(record, allowing)["other_charges"]] == ["THEFT"]
    assert len(record["other_charges"]) == 2  # the input is untouched


def test_notification_with_only_non_conviction_information(policy: Policy) -> None:
    """A notification holding only charges is refused where they may not go, allowed where they may."""
    record = _record(["FR"])
    record["convictions"] = []
    record["other_charges"] = [_charge()]
    [fr] = policy.decide(record)
    assert (fr.allowed, fr.reason) == (False, NOTHING_TO_DISCLOSE)
    assert fr.agreement is not None
    allowing = Policy(
        [_with_non_conviction(fr.agreement, True)],
        [{"id": "r", "message_types": ["NOTIFICATION"], "recipients": "nationality-states"}],
        1,
    )
    [ok] = allowing.decide(record)
    assert ok.allowed and minimise(record, ok.agreement)["other_charges"] == record["other_charges"]  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rules", "flag"),
    [([{"id": "r", "message_types": ["REQUEST"], "recipients": "everyone"}], False), ([], "yes")],
)
def test_unknown_recipient_rule_or_bad_flag_is_refused(rules: list[dict[str, Any]], flag: object) -> None:
    """Rules name a known recipient rule; non_conviction_information is a real boolean."""
    agreement = {
        "id": "a", "sender": "DE", "recipient": "FR", "legal_basis": ["x"], "purposes": ["p"],
        "message_types": ["NOTIFICATION"], "profile": "p", "retention_days": 1, "non_conviction_information": flag,
    }  # fmt: skip
    profiles = {"p": {"person": ["names", "nationalities"], "conviction": ["court", "decision_date", "offences"]}}
    with pytest.raises(PolicyError):
        Policy.parse({"profiles": profiles, "rules": rules, "agreements": [agreement]})
