"""Audit event ids are a contract (partners look them up): the fast ``stable_id`` is uuid5, exactly."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from services.kernel.audit_events import AUDIT_NAMESPACE, disclosure_event_id, stable_id

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)  # any Unicode but lone surrogates


@given(st.lists(TEXT, min_size=1, max_size=7))
def test_stable_id_is_uuid5_of_the_joined_parts(parts: list[str]) -> None:
    assert stable_id(*parts) == str(uuid.uuid5(AUDIT_NAMESPACE, "\x1f".join(parts)))


def test_a_known_id_does_not_move() -> None:
    """Pinned: an id computed by an earlier version (uuid.uuid5) for a fixed disclosure."""
    assert disclosure_event_id("m-1", "s-1", "FR") == "d7fda1fb-5d26-5aa0-a2b7-5b7c58b24cb7"
