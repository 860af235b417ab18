"""The cases of a submission as the sender's status answer shows them (``services.intake.status.CaseSource``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from services.cases.store import CaseStore
from services.kernel.runtime import utc_now


class StoreCases:
    """Reads the case store: the cases a submission's request opened, or its response closed."""

    def __init__(self, store: CaseStore, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self._store = store
        self._clock = clock

    def for_submission(self, submission_id: str) -> list[dict[str, Any]]:
        """Each case as JSON-ready data (ids, states, codes, instants; no personal data), with ``late``: past
        its deadline without an answer, or answered after it. Raises TransientError when the store is away."""
        now = self._clock()
        return [{**case.as_dict(), "late": case.late(now)} for case in self._store.for_submission(submission_id)]
