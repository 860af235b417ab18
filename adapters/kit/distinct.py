"""``Distinct``: values a record may hold once each (nationalities, addressed states, conviction ids)."""

from __future__ import annotations

from adapters.kit.errors import Invalid


class Distinct:
    """The values seen so far; each may come once, and ``excluded`` (the sender, say) never.

    Values are checked as they are added, so errors come in document order.
    """

    __slots__ = ("_excluded", "_expected", "_invalid", "_seen")

    def __init__(self, invalid: Invalid, expected: str, excluded: str | None = None) -> None:
        self._invalid = invalid
        self._expected = expected
        self._excluded = excluded
        self._seen: set[str] = set()

    def add(self, where: object, value: str) -> str:
        """Return ``value``, now seen. Raises ``invalid(where, expected)`` when it was seen before or is the
        excluded value."""
        if value in self._seen or value == self._excluded:
            raise self._invalid(where, self._expected)
        self._seen.add(value)
        return value
