"""How a format words the errors of a field, and the check that a payload's sender is the feed's jurisdiction.

Every format reports an absent field as ``<where>: <its missing wording>`` (MISSING_FIELD) and a value it
does not allow as ``<where>: <its invalid wording> <expected>`` (INVALID_VALUE). ``where`` is the field's
location in the format's own notation (a JSON path, an element path and line, a line and columns); it is
formatted only when an error is raised, and a message never quotes the value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from adapters.base import INVALID_VALUE, MISSING_FIELD, SENDER_MISMATCH, AdapterError


class Invalid(Protocol):
    """Makes the INVALID_VALUE error for the value at ``where`` that is not ``expected``."""

    def __call__(self, where: object, expected: str, /) -> AdapterError:
        """The error to raise; never raises it itself."""
        ...


@dataclass(frozen=True)
class FieldErrors:
    """The two field errors of one format, in its wording.

    ``missing_wording`` follows ``<where>: ``; ``invalid_wording`` is followed by what was expected.
    """

    missing_wording: str
    invalid_wording: str = "invalid value, expected"

    def missing(self, where: object) -> AdapterError:
        """The MISSING_FIELD error for a required field that is absent at ``where``."""
        return AdapterError(f"{where}: {self.missing_wording}", reason_code=MISSING_FIELD)

    def invalid(self, where: object, expected: str) -> AdapterError:
        """The INVALID_VALUE error for the value at ``where``, which is not ``expected`` (never quoted)."""
        return AdapterError(f"{where}: {self.invalid_wording} {expected}", reason_code=INVALID_VALUE)


def check_sender(sender: str, feed: str, where: object) -> str:
    """Return ``sender`` when it is ``feed``, the jurisdiction of the feed the payload came on.

    Raises AdapterError(SENDER_MISMATCH) naming ``where`` otherwise: a payload may not speak for another state.
    """
    if sender != feed:
        raise AdapterError(f"{where}: differs from the jurisdiction of the feed", reason_code=SENDER_MISMATCH)
    return sender
