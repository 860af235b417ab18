"""Sharing agreements as data: load the YAML, decide per candidate recipient, name the deciding rule.

``Policy.decide`` is pure: the same record and agreements always give the same decisions. Records are
``schemas.records.CriminalRecord``; the agreements file is configuration, so its YAML stays plain data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml

from schemas.records import Conviction, CriminalRecord, MessageTypeSymbol, Person
from services.kernel.errors import PolicyError

# What a profile may name: every field of the schema's Person and Conviction (a conviction's id always goes).
PERSON_FIELDS = frozenset(Person.__annotations__)
CONVICTION_FIELDS = frozenset(Conviction.__annotations__) - {"conviction_id"}
REQUIRED_PERSON = frozenset({"names", "nationalities"})
REQUIRED_CONVICTION = frozenset({"court", "decision_date", "offences"})
PRECISIONS = ("year", "month", "day")

# Refusal reasons (closed list: they appear in audit events and metrics).
NO_RECIPIENT = "NO_RECIPIENT"
NO_AGREEMENT = "NO_AGREEMENT"
MESSAGE_TYPE_NOT_AGREED = "MESSAGE_TYPE_NOT_AGREED"
PURPOSE_NOT_AGREED = "PURPOSE_NOT_AGREED"
LEGAL_BASIS_NOT_AGREED = "LEGAL_BASIS_NOT_AGREED"
ALL_OFFENCES_EXCLUDED = "ALL_OFFENCES_EXCLUDED"
NOTHING_TO_DISCLOSE = "NOTHING_TO_DISCLOSE"  # only non-conviction information, which the agreement does not allow
NO_RULE = "NO_RULE"

# How a rule finds the candidate recipients of a record (never the sender itself).
RECIPIENT_RULES: dict[str, Callable[[CriminalRecord], Sequence[str]]] = {
    "nationality-states": lambda record: record["person"]["nationalities"],
    "addressed-states": lambda record: record["header"]["addressed_to"],
}
# Message types that must carry something disclosable (a request or a "nothing on file" answer need not).
MUST_DISCLOSE: frozenset[MessageTypeSymbol] = frozenset({"NOTIFICATION", "UPDATE"})


@dataclass(frozen=True)
class Profile:
    """A minimisation profile: which person and conviction fields a recipient gets."""

    name: str
    person: frozenset[str]
    conviction: frozenset[str]
    birth_date_precision: str


@dataclass(frozen=True)
class Agreement:
    """What ``sender`` may send ``recipient``, on which legal basis, for which purposes, minimised how."""

    id: str
    sender: str
    recipient: str
    legal_basis: frozenset[str]
    purposes: frozenset[str]
    message_types: frozenset[str]
    profile: Profile
    exclude_offence_categories: frozenset[str]
    retention_days: int
    non_conviction_information: bool = False


@dataclass(frozen=True)
class Decision:
    """The decision for one candidate recipient (or for none, with recipient None)."""

    recipient: str | None
    allowed: bool
    rule: str
    reason: str | None = None
    agreement: Agreement | None = None


class Policy:
    """The loaded agreements and rules."""

    def __init__(self, agreements: list[Agreement], rules: list[dict[str, Any]], version: int) -> None:
        self.version = version
        self._rules = rules
        self._by_pair = {(a.sender, a.recipient): a for a in agreements}

    @classmethod
    def load(cls, path: Path | None) -> Policy:
        """Load agreements from ``path`` (the packaged ECRIS defaults when None). Raises PolicyError."""
        try:
            if path is None:
                text = resources.files(__package__).joinpath("default_agreements.yaml").read_text("utf-8")
            else:
                text = path.read_text(encoding="utf-8")
            return cls.parse(yaml.safe_load(text))
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read agreements: {type(exc).__name__}") from None

    @classmethod
    def parse(cls, data: Any) -> Policy:
        """Build a Policy from the parsed YAML document. Raises PolicyError naming the bad entry."""
        try:
            profiles = {name: _profile(name, spec) for name, spec in data["profiles"].items()}
            agreements = [_agreement(entry, profiles) for entry in data["agreements"]]
            rules = list(data["rules"])
            for rule in rules:
                if rule.get("recipients") not in RECIPIENT_RULES or not rule.get("id"):
                    known = ", ".join(sorted(RECIPIENT_RULES))
                    raise PolicyError(f"rule {rule.get('id')!r}: recipients must be one of {known}")
            return cls(agreements, rules, int(data.get("version", 1)))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise PolicyError(f"agreements file is invalid ({type(exc).__name__}: {exc})") from None

    def may_request(self, sender: str, purpose: str) -> bool:
        """True when some agreement lets ``sender`` send a REQUEST for ``purpose`` (to any recipient): what a
        lookup, the step before a request, must be made for."""
        return any(
            a.sender == sender and "REQUEST" in a.message_types and purpose in a.purposes
            for a in self._by_pair.values()
        )

    def decide(self, record: CriminalRecord | dict[str, Any]) -> list[Decision]:
        """Decide, for every candidate recipient of ``record``, whether it may receive it and how.

        ``record`` must be a complete canonical record (as ``Codec.decode`` returns it); a plain dict, from
        callers not yet typed, is taken to be one. Always returns at least one decision, sorted by
        recipient: a record nobody may receive gets one refusal with recipient None. Never returns the
        sender as a recipient. Raises KeyError for a record missing a field it needs.
        """
        record = cast(CriminalRecord, record)  # a plain dict from codec() has the same shape
        header = record["header"]
        sender = header["source_jurisdiction"]
        rule = next((r for r in self._rules if header["message_type"] in r["message_types"]), None)
        if rule is None:
            return [Decision(None, False, "none", NO_RULE)]
        candidates = sorted({n for n in RECIPIENT_RULES[rule["recipients"]](record) if n != sender})
        if not candidates:
            return [Decision(None, False, rule["id"], NO_RECIPIENT)]
        return [self._decide_one(record, sender, recipient, rule["id"]) for recipient in candidates]

    def decide_for(self, record: CriminalRecord, recipients: Sequence[str], rule_id: str) -> list[Decision]:
        """Decide for ``recipients`` chosen by the caller (the earlier recipients of a record, from the
        disclosure ledger) rather than by a rule, under each one's agreement; ``rule_id`` names why they are
        candidates. The sender is never a recipient. Raises KeyError for a record missing a field it needs."""
        sender = record["header"]["source_jurisdiction"]
        return [self._decide_one(record, sender, r, rule_id) for r in sorted(set(recipients)) if r != sender]

    def _decide_one(self, record: CriminalRecord, sender: str, recipient: str, rule_id: str) -> Decision:
        header = record["header"]
        agreement = self._by_pair.get((sender, recipient))
        if agreement is None:
            return Decision(recipient, False, rule_id, NO_AGREEMENT)
        rule = f"{rule_id}/{agreement.id}"
        if header["message_type"] not in agreement.message_types:
            return Decision(recipient, False, rule, MESSAGE_TYPE_NOT_AGREED, agreement)
        if header["purpose"] not in agreement.purposes:
            return Decision(recipient, False, rule, PURPOSE_NOT_AGREED, agreement)
        if header["legal_basis"] not in agreement.legal_basis:
            return Decision(recipient, False, rule, LEGAL_BASIS_NOT_AGREED, agreement)
        excluded = agreement.exclude_offence_categories
        convictions = record["convictions"]
        if excluded and convictions and all(all(o["category"] in excluded for o in c["offences"]) for c in convictions):
            return Decision(recipient, False, rule, ALL_OFFENCES_EXCLUDED, agreement)
        if header["message_type"] in MUST_DISCLOSE and not convictions and not _charges_disclosed(record, agreement):
            return Decision(recipient, False, rule, NOTHING_TO_DISCLOSE, agreement)
        return Decision(recipient, True, rule, None, agreement)


def _charges_disclosed(record: CriminalRecord, agreement: Agreement) -> bool:
    """True when ``agreement`` lets some of the record's non-conviction charges through."""
    if not agreement.non_conviction_information:
        return False
    excluded = agreement.exclude_offence_categories
    return any(c["category"] not in excluded for c in record["other_charges"])


def _profile(name: str, spec: dict[str, Any]) -> Profile:
    person = frozenset(spec["person"])
    conviction = frozenset(spec["conviction"])
    precision = spec.get("birth_date_precision", "day")
    if not person <= PERSON_FIELDS or not conviction <= CONVICTION_FIELDS or precision not in PRECISIONS:
        raise PolicyError(f"profile {name!r} names unknown fields or precision")
    if not (person.issuperset(REQUIRED_PERSON) and conviction.issuperset(REQUIRED_CONVICTION)):
        raise PolicyError(f"profile {name!r} drops a field every recipient needs")
    return Profile(name, person, conviction, precision)


def _agreement(entry: dict[str, Any], profiles: dict[str, Profile]) -> Agreement:
    if entry["profile"] not in profiles:
        raise PolicyError(f"agreement {entry.get('id')!r} names unknown profile")
    return Agreement(
        id=str(entry["id"]),
        sender=str(entry["sender"]),
        recipient=str(entry["recipient"]),
        legal_basis=frozenset(entry["legal_basis"]),
        purposes=frozenset(entry["purposes"]),
        message_types=frozenset(entry["message_types"]),
        profile=profiles[entry["profile"]],
        exclude_offence_categories=frozenset(entry.get("exclude_offence_categories") or ()),
        retention_days=int(entry["retention_days"]),
        non_conviction_information=_flag(entry, "non_conviction_information"),
    )


def _flag(entry: dict[str, Any], key: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise PolicyError(f"agreement {entry.get('id')!r}: {key} must be true or false")
    return value
