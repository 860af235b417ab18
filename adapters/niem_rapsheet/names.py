"""Namespaces of the rap sheet model and the substitution table.

Elements are identified by their local name. A local name counts when the element is in one of the
``STANDARD`` namespaces (Rap Sheet 1.0, NIEM Core 2.0, Justice 4.1), whichever of the three it is in. An
element in any other namespace (an IEPD's extension namespace, or none) counts only when its local name is in
``SUBSTITUTES``, a NIEM substitution of the standard element named by the value (``ext:Person`` stands for
``rap:RapSheetPerson``). Everything else is an unknown element and is ignored, with all its content.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from adapters.kit.xmlsafe import split_tag

RAP = "http://nlets.org/niem2/rapsheet/1.0"
NC = "http://niem.gov/niem/niem-core/2.0"
J = "http://niem.gov/niem/domains/jxdm/4.1"
STRUCTURES = "http://niem.gov/niem/structures/2.0"
STANDARD = frozenset({RAP, NC, J})

S_ID = f"{{{STRUCTURES}}}id"
S_REF = f"{{{STRUCTURES}}}ref"
S_METADATA = f"{{{STRUCTURES}}}metadata"

# Local name in an extension namespace -> the standard element it substitutes for.
SUBSTITUTES: Mapping[str, str] = MappingProxyType(
    {
        "RapSheet": "RapSheet",
        "RapSheetPerson": "RapSheetPerson",
        "Person": "RapSheetPerson",
        "PersonAugmentation": "PersonAugmentation",
        "RapSheetCycle": "RapSheetCycle",
        "Arrest": "Arrest",
        "ArrestCharge": "ArrestCharge",
        "Prosecution": "Prosecution",
        "ProsecutionCharge": "ProsecutionCharge",
        "CourtAction": "CourtAction",
        "CourtCharge": "CourtCharge",
        "Sentencing": "Sentencing",
        "Sentence": "Sentence",
        "SentenceCharge": "SentenceCharge",
        "Agency": "Agency",
        "Court": "Court",
        "ArrestAgencyAssociation": "ArrestAgencyAssociation",
        "ProsecutionAgencyAssociation": "ProsecutionAgencyAssociation",
        "CourtActionCourtAssociation": "CourtActionCourtAssociation",
    }
)


def role(tag: object) -> str | None:
    """The standard local name an element with ``tag`` stands for, or None for an unknown element."""
    if not isinstance(tag, str):  # comments, processing instructions (parse_xml drops them anyway)
        return None
    namespace, local = split_tag(tag)
    if namespace in STANDARD:
        return local
    return SUBSTITUTES.get(local)
