"""Answer periods of cases, read from the agreements file, and the deadline and reminder they give a request.

The agreements file may carry a top-level ``cases:`` section and, per agreement, a ``cases:`` override::

    cases:
      working_days: {CRIMINAL_PROCEEDINGS: 10, "*": 20}   # by purpose; "*" is every other purpose
      urgent_working_days: 5                              # an URGENT request, never longer than its purpose's
      remind_before_working_days: 2                       # 0: no reminder

Three layers merge key by key, each over the one before: the legal defaults (Framework Decision
2009/315/JHA, Art. 8: 10 working days for criminal proceedings, 20 for any other purpose and a person's own
request; 5 when urgent; a reminder 2 working days before), the top-level section, and the agreement's own
section. ``working_days`` merges purpose by purpose, so an agreement that sets only ``CRIMINAL_PROCEEDINGS``
keeps the other purposes of the layers below it. Periods count in the requested state's working days
(``services.cases.calendar``). Errors name the entry at fault, never a record.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

import yaml

from services.cases.calendar import WorkingCalendar
from services.kernel.errors import PolicyError

OTHER_PURPOSES = "*"
LEGAL_WORKING_DAYS: Mapping[str, int] = MappingProxyType({"CRIMINAL_PROCEEDINGS": 10, OTHER_PURPOSES: 20})
LEGAL_URGENT_WORKING_DAYS = 5
LEGAL_REMIND_BEFORE_WORKING_DAYS = 2
SECTION_KEYS = frozenset({"working_days", "urgent_working_days", "remind_before_working_days"})


@dataclass(frozen=True)
class DeadlineRule:
    """The periods that apply to one request: its purpose's period, the urgent period and the reminder lead."""

    working_days: int
    urgent_working_days: int
    remind_before_working_days: int

    def period(self, urgent: bool) -> int:
        """The answer period in working days: the urgent one when ``urgent``, never longer than the purpose's."""
        return min(self.urgent_working_days, self.working_days) if urgent else self.working_days


@dataclass(frozen=True)
class Schedule:
    """When a case is due (the end of its last working day, UTC) and when to remind (None: no reminder)."""

    deadline: dt.datetime
    remind_at: dt.datetime | None


@dataclass(frozen=True)
class _Layer:
    """One merged layer of the configuration: periods by purpose (always with ``*``), urgent, reminder."""

    working_days: Mapping[str, int]
    urgent_working_days: int
    remind_before_working_days: int

    def merged(self, where: str, section: Any) -> _Layer:
        """This layer with ``section`` (a ``cases:`` mapping, or None) over it. Raises PolicyError."""
        if section is None:
            return self
        if not isinstance(section, Mapping):
            raise PolicyError(f"{where}: must be a mapping")
        unknown = sorted(str(key) for key in section if key not in SECTION_KEYS)
        if unknown:
            raise PolicyError(f"{where}: unknown key(s) {', '.join(unknown)}")
        working_days = dict(self.working_days)
        by_purpose = section.get("working_days")
        if by_purpose is not None:
            if not isinstance(by_purpose, Mapping):
                raise PolicyError(f"{where}.working_days: must be a mapping of purpose to working days")
            for purpose, days in by_purpose.items():
                if not isinstance(purpose, str) or not purpose:
                    raise PolicyError(f"{where}.working_days: purposes must be non-empty strings")
                working_days[purpose] = _whole(f"{where}.working_days.{purpose}", days, minimum=1)
        urgent = section.get("urgent_working_days", self.urgent_working_days)
        remind = section.get("remind_before_working_days", self.remind_before_working_days)
        return _Layer(
            MappingProxyType(working_days),
            _whole(f"{where}.urgent_working_days", urgent, minimum=1),
            _whole(f"{where}.remind_before_working_days", remind, minimum=0),
        )

    def rule(self, purpose: str) -> DeadlineRule:
        """The rule for ``purpose`` (the ``*`` period when the purpose has none of its own)."""
        days = self.working_days.get(purpose, self.working_days[OTHER_PURPOSES])
        return DeadlineRule(days, self.urgent_working_days, self.remind_before_working_days)


LEGAL_DEFAULTS = _Layer(LEGAL_WORKING_DAYS, LEGAL_URGENT_WORKING_DAYS, LEGAL_REMIND_BEFORE_WORKING_DAYS)


class DeadlineRules:
    """The case periods of an agreements file: the top-level rules and each agreement's override."""

    def __init__(self, default: _Layer, by_agreement: Mapping[str, _Layer]) -> None:
        self._default = default
        self._by_agreement = dict(by_agreement)

    @classmethod
    def load(cls, path: Path | None) -> DeadlineRules:
        """The rules of the agreements file at ``path`` (the packaged default agreements when None), as
        ``Policy.load`` reads it. Raises PolicyError if it cannot be read or is invalid."""
        try:
            if path is None:
                text = resources.files("services.router").joinpath("default_agreements.yaml").read_text("utf-8")
            else:
                text = path.read_text(encoding="utf-8")
            data = yaml.safe_load(text)
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read agreements: {type(exc).__name__}") from None
        return cls.parse(data)

    @classmethod
    def parse(cls, data: Any) -> DeadlineRules:
        """The rules of a parsed agreements document (its ``cases:`` sections; the legal defaults without).

        Raises PolicyError naming the entry for a section that is not a mapping, an unknown key, a period that
        is not a whole number >= 1 (a reminder lead >= 0), or an override on an agreement without an id or
        with the id of another override.
        """
        if not isinstance(data, Mapping):
            raise PolicyError("agreements file is invalid: not a mapping")
        default = LEGAL_DEFAULTS.merged("cases", data.get("cases"))
        agreements = data.get("agreements") or []
        if not isinstance(agreements, list):
            raise PolicyError("agreements: must be a list")
        by_agreement: dict[str, _Layer] = {}
        for position, entry in enumerate(agreements):
            if not isinstance(entry, Mapping) or entry.get("cases") is None:
                continue
            agreement_id = entry.get("id")
            if not isinstance(agreement_id, str) or not agreement_id:
                raise PolicyError(f"agreements[{position}]: an agreement with cases needs an id")
            if agreement_id in by_agreement:
                raise PolicyError(f"agreement {agreement_id!r}: cases given twice")
            by_agreement[agreement_id] = default.merged(f"agreement {agreement_id!r} cases", entry["cases"])
        return cls(default, by_agreement)

    def rule(self, agreement_id: str | None, purpose: str) -> DeadlineRule:
        """The rule for a request of ``purpose`` under ``agreement_id``: the agreement's override merged over
        the top-level rules, or the top-level rules for None or an agreement without an override. Never
        raises."""
        layer = self._by_agreement.get(agreement_id, self._default) if agreement_id is not None else self._default
        return layer.rule(purpose)


def schedule(rule: DeadlineRule, calendar: WorkingCalendar, received_at: dt.datetime, urgent: bool) -> Schedule:
    """The deadline and reminder of a request received at ``received_at`` by ``calendar``'s state.

    The deadline is the end of the last working day of the period (``rule.period(urgent)``) after the day of
    receipt; the reminder is the end of working day ``period - remind_before`` after it, or None when the
    lead is 0 or not shorter than the period. Raises ValueError for a naive ``received_at``.
    """
    period = rule.period(urgent)
    deadline = calendar.add_working_days(received_at, period)
    lead = rule.remind_before_working_days
    remind_at = calendar.add_working_days(received_at, period - lead) if 0 < lead < period else None
    return Schedule(deadline, remind_at)


def _whole(where: str, value: Any, *, minimum: int) -> int:
    """``value`` when it is a whole number >= ``minimum`` (a bool is not). Raises PolicyError naming ``where``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise PolicyError(f"{where}: must be a whole number of working days >= {minimum}")
    return value
