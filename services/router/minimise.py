"""Per-recipient minimisation: the recipient's view of a record keeps only what its profile allows.

Dropped fields are set to their schema defaults (empty list, null, UNKNOWN), so the minimised view is
still a valid canonical record; birth dates are cut to the profile's precision; convictions whose every
offence falls in an excluded category are removed, and excluded offences are removed from the others.
Non-conviction information (``other_charges``) goes only where the agreement allows it, and never a charge
of an excluded category.

The views are built field by field as ``schemas.records`` TypedDicts, so a field added to the schema fails
type checking here until this module decides whether a recipient sees it.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any, cast, overload

from schemas.records import Conviction, CriminalRecord, OtherCharge, PartialDate, Person
from services.router.policy import Agreement, Profile


@overload
def minimise(record: CriminalRecord, agreement: Agreement) -> CriminalRecord: ...
@overload
def minimise(record: dict[str, Any], agreement: Agreement) -> dict[str, Any]: ...  # untyped callers, for now
def minimise(record: CriminalRecord | dict[str, Any], agreement: Agreement) -> CriminalRecord | dict[str, Any]:
    """Return a new record holding only what ``agreement``'s profile lets its recipient see.

    ``record`` must be a complete canonical record (every field present, as ``Codec.decode`` returns it);
    a plain dict is taken to be one. The input is not modified (the view shares unchanged sub-objects with
    it, read-only). Guarantees: every person/conviction field outside the profile is at its default; the
    birth date is no more precise than the profile allows; no offence or charge of an excluded category
    remains; no non-conviction charge remains unless the agreement allows non-conviction information.
    Raises KeyError for a record missing a field this needs.
    """
    record = cast(CriminalRecord, record)  # a plain dict from codec() has the same shape
    excluded = agreement.exclude_offence_categories
    convictions = [_conviction(c, agreement.profile, excluded) for c in record["convictions"]]
    charges: list[OtherCharge] = []
    if agreement.non_conviction_information:
        charges = [c for c in record["other_charges"] if c["category"] not in excluded]
    view: CriminalRecord = {
        "header": record["header"],
        "person": _person(record["person"], agreement.profile),
        "convictions": [c for c in convictions if c["offences"]],
        "other_charges": charges,
    }
    return view


def minimisation(agreement: Agreement) -> Hashable:
    """What of ``agreement`` decides a view: two agreements with equal minimisations give every record the same
    ``minimise`` view (the router encodes it once for both). Everything ``minimise`` reads of an agreement is in
    it, and nothing else (not the agreement's id, recipient, profile name or retention)."""
    profile = agreement.profile
    return (
        profile.person,
        profile.conviction,
        profile.birth_date_precision,
        agreement.exclude_offence_categories,
        agreement.non_conviction_information,
    )


def _person(person: Person, profile: Profile) -> Person:
    """The person as ``profile`` shows it: names and nationalities always, the rest only where it lists them."""
    keep = profile.person
    return {
        "names": person["names"],
        "sex": person["sex"] if "sex" in keep else "UNKNOWN",
        "birth_date": _birth_date(person["birth_date"], profile if "birth_date" in keep else None),
        "birth_place": person["birth_place"] if "birth_place" in keep else None,
        "nationalities": person["nationalities"],
        "national_identifiers": person["national_identifiers"] if "national_identifiers" in keep else [],
        "parent_names": person["parent_names"] if "parent_names" in keep else [],
        "fingerprint_reference": person["fingerprint_reference"] if "fingerprint_reference" in keep else None,
    }


def _birth_date(date: PartialDate, profile: Profile | None) -> PartialDate:
    """``date`` cut to the profile's precision (a new dict); all unknown without a profile that shows it."""
    if profile is None:
        return {"year": None, "month": None, "day": None}
    precision = profile.birth_date_precision
    return {
        "year": date["year"],
        "month": None if precision == "year" else date["month"],
        "day": None if precision in ("year", "month") else date["day"],
    }


def _conviction(conviction: Conviction, profile: Profile, excluded: frozenset[str]) -> Conviction:
    """The conviction as ``profile`` shows it, without offences of an ``excluded`` category (maybe none left)."""
    keep = profile.conviction
    offences = conviction["offences"]
    return {
        "conviction_id": conviction["conviction_id"],
        "court": conviction["court"],
        "decision_date": conviction["decision_date"],
        "date_final": conviction["date_final"] if "date_final" in keep else None,
        "file_number": conviction["file_number"] if "file_number" in keep else None,
        "offences": [o for o in offences if o["category"] not in excluded] if excluded else offences,
        "sanctions": conviction["sanctions"] if "sanctions" in keep else [],
        "later_decisions": conviction["later_decisions"] if "later_decisions" in keep else [],
        "retention_end": conviction["retention_end"] if "retention_end" in keep else None,
    }
