"""The settlement rule shared by the books and the intake's reconciler: deliveries count by ACCEPTED receipts."""

from __future__ import annotations

from typing import Any

import pytest

from services.audit.accounting import UNDELIVERED, settlement


def ev(event_type: str, message_id: str | None = None, *, recipients: tuple[str, ...] = (), outcome: str = "ok",
       reason: str | None = None) -> dict[str, Any]:  # fmt: skip
    """The fields of an audit event that settlement reads."""
    return {"event_type": event_type, "message_id": message_id, "recipients": list(recipients), "outcome": outcome,
            "reason": reason}  # fmt: skip


COLLECTED = ev("COLLECTION")
NORMALISED = ev("NORMALISATION", "m1")
DISCLOSED = ev("DISCLOSURE", "m1", recipients=("FR", "PL"))


def receipt(party: str, outcome: str = "accepted", message_id: str = "m1") -> dict[str, Any]:
    return ev("DELIVERY_RECEIPT", message_id, recipients=(party,), outcome=outcome)


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        ([COLLECTED], "pending"),
        ([COLLECTED, NORMALISED], "pending"),  # not routed yet
        ([COLLECTED, NORMALISED, DISCLOSED], "pending"),  # disclosed, no receipt: not delivered
        ([COLLECTED, NORMALISED, DISCLOSED, receipt("FR")], "pending"),  # PL has not acknowledged
        ([COLLECTED, NORMALISED, DISCLOSED, receipt("FR"), receipt("PL", "rejected")], "pending"),  # REJECTED
        ([COLLECTED, NORMALISED, DISCLOSED, receipt("FR"), receipt("PL")], "delivered"),
        ([COLLECTED, NORMALISED, DISCLOSED, receipt("FR"), receipt("PL", "rejected"), receipt("PL")], "delivered"),
        ([COLLECTED, NORMALISED, ev("REFUSAL", "m1", outcome="refused")], "refused"),
        ([COLLECTED, ev("DEAD_LETTER", reason="PARSE")], "dead_lettered"),
        # a batch: one record delivered, the other dead-lettered by the router: settled, as delivered
        (
            [
                COLLECTED,
                NORMALISED,
                ev("NORMALISATION", "m2"),
                DISCLOSED,
                receipt("FR"),
                receipt("PL"),
                ev("DEAD_LETTER", "m2", reason="KEY"),
            ],
            "delivered",
        ),
        # the second record not routed yet: pending although the first is delivered
        ([COLLECTED, NORMALISED, ev("NORMALISATION", "m2"), DISCLOSED, receipt("FR"), receipt("PL")], "pending"),
        # the intake gave up re-sending: dead-lettered, unless the receipts came after all
        ([COLLECTED, NORMALISED, DISCLOSED, receipt("FR"), ev("DEAD_LETTER", reason=UNDELIVERED)], "dead_lettered"),
        (
            [COLLECTED, NORMALISED, DISCLOSED, receipt("FR"), receipt("PL"), ev("DEAD_LETTER", reason=UNDELIVERED)],
            "delivered",
        ),
        # a receipt for another message does not count
        ([COLLECTED, NORMALISED, DISCLOSED, receipt("FR"), receipt("PL", message_id="m9")], "pending"),
    ],
)
def test_settlement(events: list[dict[str, Any]], expected: str) -> None:
    assert settlement(events) == expected
