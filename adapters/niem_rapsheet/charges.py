"""One charge of a rap sheet (``rap:ArrestCharge``, ``rap:ProsecutionCharge``, ``rap:CourtCharge``) read into
a ``Charge``, and its disposition classified as a conviction or not.

Codes: ``j:ChargeNCICCode`` is the national offence code; without one, the statute citation
(``rap:ChargeStatute/j:StatuteCodeIdentification``), then the state offence code
(``rap:ChargeStatute/j:StatuteOffenseIdentification``) stands in, and a charge with a description but no code
at all gets ``UNCODED``. A charge element with neither code nor description is empty and skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from adapters.kit.codes import CodeTable
from adapters.niem_rapsheet import values
from adapters.niem_rapsheet.tree import Node, missing
from schemas.records import ChargeStageSymbol, CompletionSymbol, Offence, OtherCharge, PartialDate, ParticipationSymbol

UNCODED = "UNCODED"
TITLE_LANGUAGE = "en"
# A disposition is a conviction when its text says so and nothing in it takes that back.
_CONVICTED = re.compile(r"\b(?:GUILTY|CONVICTED|CONVICTION)\b")
_NOT_CONVICTED = re.compile(
    r"\b(?:NOT GUILTY|ACQUIT\w*|DISMISS\w*|NOLLE\w*|VACATED|REVERSED|OVERTURNED|SET ASIDE|DEFERRED|WITHHELD|"
    r"WITHDRAWN|PENDING|EXPUNGED)\b"
)
_COMPLETION: dict[str, CompletionSymbol] = {"ATTEMPT": "ATTEMPTED", "ATTEMPTED": "ATTEMPTED"}
_PARTICIPATION: dict[str, ParticipationSymbol] = {
    "ACCESSORY": "ACCESSORY",
    "AIDING": "ACCESSORY",
    "AIDING AND ABETTING": "ACCESSORY",
    "ACCOMPLICE": "ACCESSORY",
    "SOLICITATION": "INSTIGATOR",
}


@dataclass(frozen=True)
class Charge:
    """What the adapter keeps of one charge."""

    node: Node
    key: str
    ncic: str | None
    national_code: str
    title: str
    legal_reference: str | None
    category: str
    completion: CompletionSymbol
    participation: ParticipationSymbol
    disposition: str | None
    disposition_date: values.DateValue | None
    convicted: bool


def is_conviction(texts: list[str]) -> bool:
    """True when a disposition text says guilty/convicted and none says not guilty, dismissed, vacated..."""
    upper = " ".join(texts).upper()
    return bool(_CONVICTED.search(upper)) and not _NOT_CONVICTED.search(upper)


def _disposition(node: Node) -> tuple[str | None, values.DateValue | None, bool]:
    disposition = node.first("ChargeDisposition")
    if disposition is None:
        return None, None, False
    texts: list[str] = []
    for name in ("DispositionDescriptionText", "ChargeDispositionOtherText"):
        text = disposition.text_of(name)
        if text is not None and text not in texts:
            texts.append(text)
    date = values.read_date(disposition.first("DispositionDate"))
    return (" - ".join(texts) or None), date, is_conviction(texts)


def _code_and_title(node: Node) -> tuple[str | None, str | None, str | None, str | None]:
    """(NCIC code, code standing in as national code, statute citation, description), each possibly None."""
    ncic = node.text_of("ChargeNCICCode")
    statute = node.text_of("ChargeStatute", "StatuteCodeIdentification", "IdentificationID")
    state_code = node.text_of("ChargeStatute", "StatuteOffenseIdentification", "IdentificationID")
    title = (
        node.text_of("ChargeDescriptionText")
        or node.text_of("ChargeNCICText")
        or node.text_of("ChargeStatute", "StatuteText")
        or node.text_of("ChargeText")
    )
    return ncic, ncic or statute or state_code, statute, title


def _key(tracking: str | None, national_code: str, title: str) -> str:
    return f"T\x1f{tracking}" if tracking else f"C\x1f{national_code}\x1f{title.upper()}"


def read_charge(node: Node, table: CodeTable) -> Charge | None:
    """The charge in ``node``; None for an empty charge element. Raises MISSING_FIELD for a coded charge
    without any description, and INVALID_VALUE for bad text or dates."""
    ncic, code, statute, title = _code_and_title(node)
    if code is None and title is None:
        return None
    if title is None:
        raise missing(node.at("ChargeDescriptionText"))
    national_code = code or UNCODED
    applicability = (node.text_of("ChargeApplicabilityText") or "").upper()
    disposition, date, convicted = _disposition(node)
    return Charge(
        node=node,
        key=_key(node.text_of("ChargeTrackingIdentification", "IdentificationID"), national_code, title),
        ncic=ncic,
        national_code=national_code,
        title=title,
        legal_reference=statute,
        category=table.offence_category(national_code),
        completion=_COMPLETION.get(applicability, "UNKNOWN"),
        participation=_PARTICIPATION.get(applicability, "UNKNOWN"),
        disposition=disposition,
        disposition_date=date,
        convicted=convicted,
    )


def charge_key(node: Node) -> str | None:
    """The linking key of a sentence's charge reference (its tracking id, else its code and description), or
    None when it names neither."""
    tracking = node.text_of("ChargeTrackingIdentification", "IdentificationID")
    _ncic, code, _statute, title = _code_and_title(node)
    if tracking is None and title is None:
        return None
    return _key(tracking, code or UNCODED, title or "")


def completed_from(charge: Charge, earlier: Charge | None) -> Charge:
    """``charge`` with the NCIC code and statute of the same charge at an earlier stage filled in where the
    later stage leaves them out (stages often repeat only the description and the tracking number)."""
    if earlier is None or (charge.ncic is not None and charge.legal_reference is not None):
        return charge
    if charge.ncic is None and earlier.ncic is not None:
        charge = replace(charge, ncic=earlier.ncic, national_code=earlier.national_code, category=earlier.category)
    if charge.legal_reference is None:
        charge = replace(charge, legal_reference=earlier.legal_reference)
    return charge


def other_charge(charge: Charge, stage: ChargeStageSymbol, agency: str | None) -> OtherCharge:
    """The canonical OtherCharge for a charge that did not end in a conviction."""
    return {
        "stage": stage,
        "national_code": charge.national_code,
        "national_title": charge.title,
        "title_language": TITLE_LANGUAGE,
        "legal_reference": charge.legal_reference,
        "category": charge.category,
        "disposition": charge.disposition,
        "disposition_date": None if charge.disposition_date is None else charge.disposition_date.partial,
        "agency": agency,
    }


def offence(charge: Charge, committed_on: PartialDate | None) -> Offence:
    """The canonical Offence for a convicted charge."""
    return {
        "national_code": charge.national_code,
        "national_title": charge.title,
        "legal_reference": charge.legal_reference,
        "title_language": TITLE_LANGUAGE,
        "category": charge.category,
        "completion": charge.completion,
        "participation": charge.participation,
        "committed_on": committed_on,
        "place": None,
    }
