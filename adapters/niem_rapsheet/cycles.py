"""The rap sheet's cycles -> canonical convictions and other charges.

Within one cycle a charge is followed through the stages arrest -> prosecution -> court by its key (its
``j:ChargeTrackingIdentification``, else its code and description): a charge that reappears at a later stage
is reported only at the latest one. A court charge whose disposition is a conviction becomes an offence of a
conviction (one conviction per court action and disposition date); every other charge, at the stage it
reached, becomes an ``other_charges`` entry. Agencies and courts are found through the rap sheet's
association elements (``s:ref`` to the activity's and the organisation's ``s:id``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field

from adapters.kit.codes import CodeTable
from adapters.niem_rapsheet import values
from adapters.niem_rapsheet.charges import Charge, charge_key, completed_from, offence, other_charge, read_charge
from adapters.niem_rapsheet.names import S_ID, S_REF
from adapters.niem_rapsheet.sentences import sanctions_of
from adapters.niem_rapsheet.tree import Node, missing
from schemas.records import ChargeStageSymbol, Conviction, OtherCharge, Sanction

COURT_NOT_STATED = "NOT STATED"
# association element -> (child referring to the activity, child referring to the organisation)
_ASSOCIATIONS = {
    "ArrestAgencyAssociation": ("ActivityReference", "OrganizationReference"),
    "ProsecutionAgencyAssociation": ("ProsecutionReference", "OrganizationReference"),
    "CourtActionCourtAssociation": ("ActivityReference", "CourtReference"),
}


def _label(node: Node) -> str | None:
    name = node.text_of("OrganizationName")
    ori = node.text_of("OrganizationAugmentation", "OrganizationORIIdentification", "IdentificationID")
    if name and ori:
        return f"{name} ({ori})"
    return name or ori


@dataclass(frozen=True)
class Organisations:
    """Which agency or court each activity (arrest, prosecution, court action) names, by its ``s:id``."""

    by_activity: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, sheet: Node) -> Organisations:
        """Index the ``rap:Agency``/``rap:Court`` elements and the associations of ``sheet``; dangling
        references are ignored and the first association of an activity wins."""
        labels: dict[str, str] = {}
        for name in ("Agency", "Court"):
            for organisation in sheet.all(name):
                ident, label = organisation.attribute(S_ID), _label(organisation)
                if ident is not None and label is not None:
                    labels.setdefault(ident, label)
        by_activity: dict[str, str] = {}
        for name, (activity_ref, organisation_ref) in _ASSOCIATIONS.items():
            for association in sheet.all(name):
                activity = association.first(activity_ref)
                reference = association.first(organisation_ref)
                if activity is None or reference is None:
                    continue
                activity_id, organisation_id = activity.attribute(S_REF), reference.attribute(S_REF)
                if activity_id is not None and organisation_id in labels:
                    by_activity.setdefault(activity_id, labels[organisation_id])
        return cls(by_activity)

    def of_activity(self, activity: Node) -> str | None:
        """The agency or court label of ``activity`` (``NAME (ORI)``, the name or the ORI), or None."""
        ident = activity.attribute(S_ID)
        return None if ident is None else self.by_activity.get(ident)


@dataclass
class _Conviction:
    key: tuple[int, dt.date]
    court: str
    file_number: str | None
    charges: list[Charge]
    sanctions: list[Sanction] = field(default_factory=list)


@dataclass
class Events:
    """The canonical convictions and other charges of a rap sheet, built cycle by cycle."""

    convictions: list[Conviction] = field(default_factory=list)
    other_charges: list[OtherCharge] = field(default_factory=list)


def _charges(activity: Node, name: str, table: CodeTable) -> list[Charge]:
    return [c for node in activity.all(name) if (c := read_charge(node, table)) is not None]


def _decision_date(charge: Charge, action: Node) -> dt.date:
    if charge.disposition_date is not None and charge.disposition_date.full is not None:
        return charge.disposition_date.full
    held = values.read_date(action.first("ActivityDate"))
    if held is not None and held.full is not None:
        return held.full
    raise missing(f"{charge.node.path}/ChargeDisposition/DispositionDate")


class _Cycle:
    """One ``rap:RapSheetCycle`` being turned into convictions and other charges."""

    def __init__(self, node: Node, number: int, organisations: Organisations, table: CodeTable) -> None:
        self.node, self.number, self.organisations, self.table = node, number, organisations, table
        incident = values.read_date(node.find("Incident", "ActivityDate"))
        self.committed_on = None if incident is None else incident.partial

    def _stage(self, activity: str, charge: str, known: dict[str, Charge]) -> list[tuple[Node, list[Charge]]]:
        """The charges of every ``activity`` of the cycle, completed from the same charges met at an earlier
        stage (``known``, which then learns them)."""
        out = []
        for node in self.node.all(activity):
            charges = [completed_from(c, known.get(c.key)) for c in _charges(node, charge, self.table)]
            known.update((c.key, c) for c in charges)
            out.append((node, charges))
        return out

    def build(self, events: Events) -> None:
        known: dict[str, Charge] = {}
        arrests = self._stage("Arrest", "ArrestCharge", known)
        prosecutions = self._stage("Prosecution", "ProsecutionCharge", known)
        court_actions = self._stage("CourtAction", "CourtCharge", known)
        court_keys = {c.key for _, charges in court_actions for c in charges}
        later_keys = court_keys | {c.key for _, charges in prosecutions for c in charges}
        self._not_carried_on(events, "ARREST", arrests, later_keys)
        self._not_carried_on(events, "PROSECUTION", prosecutions, court_keys)
        convictions: list[_Conviction] = []
        for index, (action, charges) in enumerate(court_actions, 1):
            court = self.organisations.of_activity(action)
            for charge in charges:
                if charge.convicted:
                    self._add(convictions, (index, _decision_date(charge, action)), action, court, charge)
                else:
                    events.other_charges.append(other_charge(charge, "COURT", court))
        self._sentence(convictions)
        events.convictions.extend(self._canonical(c, n) for n, c in enumerate(convictions, 1))

    def _not_carried_on(
        self,
        events: Events,
        stage: ChargeStageSymbol,
        activities: list[tuple[Node, list[Charge]]],
        superseded: set[str],
    ) -> None:
        """The charges of ``activities`` (of ``stage``) that no later stage takes up (``superseded`` keys), as
        other charges naming the activity's agency."""
        for activity, charges in activities:
            agency = self.organisations.of_activity(activity)
            events.other_charges.extend(other_charge(c, stage, agency) for c in charges if c.key not in superseded)

    @staticmethod
    def _add(
        convictions: list[_Conviction], key: tuple[int, dt.date], action: Node, court: str | None, charge: Charge
    ) -> None:
        for conviction in convictions:
            if conviction.key == key:
                conviction.charges.append(charge)
                return
        file_number = action.text_of("CourtRecordIdentification", "IdentificationID")
        convictions.append(_Conviction(key, court or COURT_NOT_STATED, file_number, [charge]))

    def _sentence(self, convictions: list[_Conviction]) -> None:
        """Give each sentence to the conviction of the charge it names, else to the latest conviction."""
        if not convictions:
            return
        latest = max(convictions, key=lambda c: c.key[1])
        for sentencing in self.node.all("Sentencing"):
            for sentence in sentencing.all("Sentence"):
                keys = {k for ref in sentence.all("SentenceCharge") if (k := charge_key(ref)) is not None}
                target = next((c for c in convictions if keys & {ch.key for ch in c.charges}), latest)
                target.sanctions.extend(sanctions_of(sentence, self.table))

    def _canonical(self, conviction: _Conviction, group: int) -> Conviction:
        return {
            "conviction_id": f"{self.number}.{conviction.key[0]}.{group}",
            "court": {"name": conviction.court, "place": None},
            "decision_date": conviction.key[1],
            "date_final": None,
            "file_number": conviction.file_number,
            "offences": [offence(c, self.committed_on) for c in conviction.charges],
            "sanctions": conviction.sanctions,
            "later_decisions": [],
            "retention_end": None,
        }


def build_events(sheet: Node, table: CodeTable) -> Events:
    """The convictions and other charges of every ``rap:RapSheetCycle`` of ``sheet``, in document order."""
    organisations = Organisations.of(sheet)
    events = Events()
    for number, cycle in enumerate(sheet.all("RapSheetCycle"), 1):
        _Cycle(cycle, number, organisations, table).build(events)
    return events
