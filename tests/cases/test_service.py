"""The case service on a real broker: reminders and overdue notices at the right instants, sealed to the
requested state alone, audited, counted; and nothing sent twice by passes that find nothing new."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from adapters.base import ParseContext, get_adapter
from schemas import CASE_NOTICE, RECEIPT
from services.cases.book import CaseBook
from services.cases.deadlines import DeadlineRules
from services.cases.notices import CONTENT_TYPE
from services.cases.service import CaseService
from services.cases.store import OVERDUE, CaseStore
from services.kernel.audit_events import disclosure_event_id
from services.kernel.auditbatch import audit_events_of
from services.kernel.codec import typed_codec
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.kafka import ensure_topics
from services.kernel.metrics import ServiceMetrics
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from services.partner.client import DirectorySink, PartnerClient
from tests.integration.helpers import read_topic

pytestmark = pytest.mark.integration

_WEEK_AHEAD = dt.datetime.now(dt.UTC).replace(hour=13, minute=0, second=0, microsecond=0) + dt.timedelta(days=7)
# A Friday 13:00 UTC a week or two ahead: the notices are sealed at the case's instants, with keys valid from
# when the fixture makes them (a fixed date would stop working once it is in the past).
RECEIVED = _WEEK_AHEAD + dt.timedelta(days=(4 - _WEEK_AHEAD.weekday()) % 7)
MS = dt.timedelta(milliseconds=1)


def open_case(settings: Settings, secret: bytes) -> CaseStore:
    """PL's urgent request to DE (the ecris-xml sample), opened at RECEIVED."""
    payload = dict(get_adapter("ecris-xml").samples())["PL-request-de.xml"]
    [record] = get_adapter("ecris-xml").parse(payload, ParseContext("PL", RECEIVED))
    store = CaseStore.open(settings)
    CaseBook(store, DeadlineRules.load(None), secret).open(record, "DE", "ecris-PL-DE", "sub-1", RECEIVED)
    return store


async def test_reminder_then_overdue_notice_at_their_instants(settings: Settings, keyring: KeyRing) -> None:
    """Nothing before the reminder time; one REMINDER at it; nothing more until the deadline has passed; then
    one OVERDUE notice and the case overdue, counted by crx_cases_overdue{requesting="PL",requested="DE"}.
    Each notice is a CaseNotice sealed to DE that DE opens, with a DISCLOSURE event in the audit topic."""
    registry = CollectorRegistry()
    runtime = dataclasses.replace(Runtime.create(settings, keyring), new_registry=lambda: registry)
    store = open_case(settings, runtime.audit_secret)
    [case] = store.listed()
    assert case.remind_at is not None and case.remind_at < case.deadline
    await ensure_topics(settings, [settings.topic("out.DE"), settings.topic("audit")])
    service = CaseService(runtime)
    await service.start()
    try:
        sent = [
            await service.run_pass(case.remind_at - MS),
            await service.run_pass(case.remind_at),
            await service.run_pass(case.remind_at + dt.timedelta(hours=1)),
            await service.run_pass(case.deadline),
            await service.run_pass(case.deadline + MS),
            await service.run_pass(case.deadline + dt.timedelta(days=1)),
        ]
    finally:
        await service.stop()
    assert sent == [0, 1, 0, 0, 1, 0]
    assert store.get(case.case_id).status == OVERDUE  # type: ignore[union-attr]
    labels = {"requesting": "PL", "requested": "DE"}
    assert registry.get_sample_value("crx_cases_overdue", labels) == 1.0
    assert registry.get_sample_value("crx_case_notices_total", {"kind": "REMINDER"}) == 1.0

    opener = Opener(keyring.registry, keyring.store, "DE")
    notices = []
    for rec in await read_topic(settings, settings.topic("out.DE")):
        opened = opener.open(rec.value, channel="out.DE", now=dt.datetime.now(dt.UTC), signers=frozenset({"crx"}))
        assert opened.envelope["content_type"] == CONTENT_TYPE
        notices.append(typed_codec(CASE_NOTICE).decode(opened.plaintext))
    assert [(n["kind"], n["case_id"], n["deadline"]) for n in notices] == [
        ("REMINDER", case.case_id, case.deadline),
        ("OVERDUE", case.case_id, case.deadline),
    ]
    assert [n["issued_at"] for n in notices] == [case.remind_at, case.deadline + MS]
    events = [e for r in await read_topic(settings, settings.topic("audit")) for e in audit_events_of(r.value)]
    audited = [(e["event_type"], e["component"], e["message_type"], e["recipients"], e["reply_to"]) for e in events]
    request_id = case.request_message_id
    assert audited == [
        ("DISCLOSURE", "cases", "CASE_NOTICE/REMINDER", ["DE"], request_id),
        ("DISCLOSURE", "cases", "CASE_NOTICE/OVERDUE", ["DE"], request_id),
    ]
    # the ids a partner's log watch looks up for its deliveries (services/partner/logwatch.py)
    ids = [disclosure_event_id(str(n["notice_id"]), case.case_id, "DE", "cases") for n in notices]
    assert [str(e["event_id"]) for e in events] == ids
    store.close()


async def test_the_partner_delivers_a_notice_and_receipts_it(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """DE's partner client opens the reminder, hands it to its sink as ``{"case_notice": ...}`` and answers with
    an ACCEPTED receipt; the same notice again is receipted again and not delivered twice."""
    runtime = Runtime.create(settings, keyring)
    store = open_case(settings, runtime.audit_secret)
    [case] = store.listed()
    assert case.remind_at is not None
    await ensure_topics(settings, [settings.topic("out.DE"), settings.topic("audit")])
    service = CaseService(runtime)
    await service.start()
    try:
        assert await service.run_pass(case.remind_at) == 1
    finally:
        await service.stop()
    store.close()
    [notice] = await read_topic(settings, settings.topic("out.DE"))
    registry = CollectorRegistry()
    sink = DirectorySink(tmp_path / "DE")
    client = PartnerClient(settings, keyring, "DE", sink, ServiceMetrics.create(registry), registry)
    receipts = await client.handle([notice, notice])
    [written] = list((tmp_path / "DE").glob("*.json"))
    delivered = json.loads(written.read_text())["case_notice"]
    assert (delivered["kind"], delivered["case_id"], delivered["requested_state"]) == ("REMINDER", case.case_id, "DE")
    outcomes = {typed_codec(RECEIPT).decode(r.value)["outcome"] for r in receipts}
    assert len(receipts) == 2 and outcomes == {"ACCEPTED"}
