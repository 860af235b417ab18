"""Per-recipient minimisation: the recipient's view of a record keeps only what its profile allows.

Dropped fields are set to their schema defaults (empty list, null, UNKNOWN), so the minimised view is
still a valid canonical record; birth dates are cut to the profile's precision; convictions whose every
offence falls in an excluded category are removed, and excluded offences are removed from the others.
Non-conviction information (``other_charges``) goes only where the agreement allows it, and never a charge
of an excluded category.
"""

from __future__ import annotations

from typing import Any

from services.router.policy import Agreement

_PERSON_DEFAULTS: dict[str, Any] = {
    "sex": "UNKNOWN",
    "birth_place": None,
    "national_identifiers": (),
    "parent_names": (),
    "fingerprint_reference": None,
}
_CONVICTION_DEFAULTS: dict[str, Any] = {
    "date_final": None,
    "file_number": None,
    "sanctions": (),
    "later_decisions": (),
    "retention_end": None,
}


def _default(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def minimise(record: dict[str, Any], agreement: Agreement) -> dict[str, Any]:
    """Return a new record holding only what ``agreement``'s profile lets its recipient see.

    The input is not modified (the view shares unchanged sub-objects with it, read-only). Guarantees:
    every person/conviction field outside the profile is at its default; the birth date is no more
    precise than the profile allows; no offence or charge of an excluded category remains; no
    non-conviction charge remains unless the agreement allows non-conviction information.
    """
    profile = agreement.profile
    person = dict(record["person"])
    for field, default in _PERSON_DEFAULTS.items():
        if field not in profile.person:
            person[field] = _default(default)
    if "birth_date" in profile.person:
        birth = dict(person["birth_date"])
        if profile.birth_date_precision in ("year", "month"):
            birth["day"] = None
        if profile.birth_date_precision == "year":
            birth["month"] = None
    else:
        birth = {"year": None, "month": None, "day": None}
    person["birth_date"] = birth
    excluded = agreement.exclude_offence_categories
    convictions = []
    for original in record["convictions"]:
        conviction = dict(original)
        for field, default in _CONVICTION_DEFAULTS.items():
            if field not in profile.conviction:
                conviction[field] = _default(default)
        if excluded:
            conviction["offences"] = [o for o in conviction["offences"] if o["category"] not in excluded]
        if conviction["offences"]:
            convictions.append(conviction)
    charges: list[dict[str, Any]] = []
    if agreement.non_conviction_information:
        charges = [c for c in record.get("other_charges", ()) if c["category"] not in excluded]
    return {**record, "person": person, "convictions": convictions, "other_charges": charges}
