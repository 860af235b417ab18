"""The pipeline puts its audit events on crx.audit in batches, and the log still holds one leaf per event."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from services.audit.accounting import account
from services.audit.notekey import load_note_verifiers
from services.intake.publisher import Submission
from services.kernel.auditbatch import audit_events_of, audit_leaves, is_audit_batch
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, running, sample_json, wait_for

pytestmark = pytest.mark.integration
RECORDS = 30


async def test_a_pipeline_run_puts_batches_on_crx_audit_and_logs_every_event(
    settings: Settings, keyring: KeyRing
) -> None:
    """30 notifications for two recipients, published together: every message on crx.audit is an AuditBatch,
    far fewer messages than events, and each event it carries is a leaf of the log, byte for byte."""
    template = sample_json("DE-notification-fr-pl.json")
    submissions = [
        Submission("DE", "json-v1", json.dumps(template | {"record_id": f"batch-{i}"}).encode()) for i in range(RECORDS)
    ]
    async with running(settings, keyring) as pipeline:
        results = await pipeline.publisher.publish(submissions, dt.datetime.now(dt.UTC))
        ids = [r.submission_id for r in results]
        await wait_for(lambda: account(pipeline.store, ids).complete)
        on_topic = await read_topic(settings, settings.topic("audit"))
        leaves = [leaf for message in on_topic for leaf in audit_leaves(message.value)]
        await wait_for(lambda: all(pipeline.store.index_of(_event_id(leaf)) is not None for leaf in leaves))
        logged = {leaf for _, leaf in pipeline.store.leaves()}
        assert pipeline.store.verify(load_note_verifiers(settings)).ok
    assert all(is_audit_batch(message.value) for message in on_topic)
    print(f"crx.audit: {len(on_topic)} messages, {len(leaves)} events for {RECORDS} records")
    assert len(leaves) >= 4 * RECORDS  # a COLLECTION, a NORMALISATION and two DISCLOSUREs per record
    assert len(on_topic) < len(leaves) / 4
    assert set(leaves) <= logged


def _event_id(leaf: bytes) -> str:
    [event] = audit_events_of(leaf)
    return str(event["event_id"])
