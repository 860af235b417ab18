"""Text values: free text (names, titles, courts, towns) and values of a fixed syntax, in each format's words.

Free text is at most ``MAX_TEXT`` characters and holds no control character (``CONTROLS``: C0, DEL and C1, which
is also what Latin-1 makes of the bytes 0x80-0x9F); blank text counts as absent or is refused. Formats
differ in what they call blank and in how they word the expectation, so ``FreeText`` carries both.
``fullmatch`` checks a value of a fixed syntax (a code, a date, a number) against its pattern.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from adapters.kit.errors import Invalid

MAX_TEXT = 4096
CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def fullmatch(pattern: re.Pattern[str], value: object, where: object, expected: str, invalid: Invalid) -> re.Match[str]:
    """The match of ``pattern`` against the whole of ``value``.

    Raises ``invalid(where, expected)`` when ``value`` is not a string or does not match in full.
    """
    if not isinstance(value, str):
        raise invalid(where, expected)
    found = pattern.fullmatch(value)
    if found is None:
        raise invalid(where, expected)
    return found


@dataclass(frozen=True)
class FreeText:
    """One format's free-text rules and the words of its INVALID_VALUE errors.

    ``blank`` is the set of characters that make a text blank (None: any white space); ``controls`` the
    characters refused anywhere in it.
    """

    controls: re.Pattern[str] = CONTROLS
    blank: str | None = None
    not_a_string: str = "a string"
    non_blank: str = "non-blank text"
    at_most: str = f"text of at most {MAX_TEXT} characters"

    def check(self, value: object, where: object, invalid: Invalid) -> str:
        """Return ``value`` unchanged when it is acceptable text.

        Raises ``invalid(where, ...)`` for a value that is not a string, is blank, is longer than MAX_TEXT
        characters or holds a control character, checked in that order.
        """
        if not isinstance(value, str):
            raise invalid(where, self.not_a_string)
        if not value.strip(self.blank):
            raise invalid(where, self.non_blank)
        if len(value) > MAX_TEXT:
            raise invalid(where, self.at_most)
        if self.controls.search(value):
            raise invalid(where, "text without control characters")
        return value
