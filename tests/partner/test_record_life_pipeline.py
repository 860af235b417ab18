"""A record's whole life through the running pipeline on the real broker: DE notifies a conviction of a French
national, updates it, deletes it. FR's client (restarted half-way, on the same directory) holds one file, at
version 2 after the update, none after the deletion; the audit log holds FR's ERASURE, and FR's log watch
proves it; the first version copied onto FR's topic again after the deletion brings nothing back."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from adapters.base import record_message_id
from services.audit.accounting import account
from services.audit.writer import verify_receipt
from services.devstack.pipeline import Pipeline
from services.intake.publisher import Submission
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.runtime import Ports, Runtime
from services.keys.ring import KeyRing
from services.partner import client as partner
from tests.integration.helpers import read_topic, running, sample_json, wait_for
from tests.integration.raw_producer import produce_raw

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr.json"  # DE-BZR-SYNTH-2024-000202, FR national only


def _submission(version: int, message_type: str) -> Submission:
    document = sample_json(SAMPLE) | {"version": version, "type": message_type}
    if message_type == "DELETION":
        document["convictions"] = []
    return Submission("DE", "json-v1", json.dumps(document).encode())


def _held(directory: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text("utf-8")) for p in directory.glob("*.json")]


def _fr(pipeline: Pipeline) -> partner.PartnerService:
    [fr] = [p for p in pipeline.partners if p.name == "partner-FR"]
    return fr


async def _publish(pipeline: Pipeline, version: int, message_type: str) -> str:
    [result] = await pipeline.publisher.publish([_submission(version, message_type)], dt.datetime.now(dt.UTC))
    assert result.accepted, result.reason
    await wait_for(lambda: account(pipeline.store, [result.submission_id]).complete, seconds=30)
    return result.submission_id


async def _restart_fr(pipeline: Pipeline) -> None:
    """Stop FR's client and start a new one on the same directory (a restart of the partner's process)."""
    old = _fr(pipeline)
    await old.stop()
    new = partner.build(
        pipeline.runtime, ports=Ports(), party="FR", sink=pipeline.out_dir / "FR",
        audit_url=lambda: pipeline.audit_api_url,
    )  # fmt: skip
    pipeline.partners[pipeline.partners.index(old)] = new
    await new.start()


async def test_a_record_is_replaced_then_erased_and_stays_erased(settings: Settings, keyring: KeyRing) -> None:
    fast = settings.replace(audit_checkpoint_seconds=0.3, partner_log_check_seconds=0.3)
    async with running(fast, keyring) as pipeline:
        out = pipeline.out_dir / "FR"
        await _publish(pipeline, 1, "NOTIFICATION")
        await wait_for(lambda: [r["header"]["source_record_version"] for r in _held(out)] == [1])
        await _publish(pipeline, 2, "UPDATE")
        await wait_for(lambda: [r["header"]["source_record_version"] for r in _held(out)] == [2])
        assert len(list(out.glob("*.json"))) == 1

        await _restart_fr(pipeline)
        await _publish(pipeline, 3, "DELETION")
        await wait_for(lambda: not list(out.glob("*.json")))

        def erasures() -> list[dict[str, Any]]:
            return [e for e in pipeline.store.events(event_type="ERASURE") if e["actor"] == "FR"]

        await wait_for(lambda: len(erasures()) == 1)
        [erasure] = erasures()
        assert (erasure["component"], erasure["recipients"], erasure["outcome"]) == ("audit", ["FR"], "erased")

        # v1's envelope on FR's topic again, after the deletion (a replay, a redelivery): nothing comes back.
        opener = Opener(keyring.registry, keyring.store, "FR")
        raw = await read_topic(fast, fast.topic("out.FR"))
        envelopes = {str(opener.parse(r.value)["message_id"]): r.value for r in raw}
        assert len(envelopes) == 3 and erasure["message_id"] in envelopes
        first = envelopes[record_message_id("DE", sample_json(SAMPLE)["record_id"], 1)]
        fr = _fr(pipeline)
        assert fr.client is not None
        before = fr.client.accepted.labels("FR")._value.get()
        await produce_raw(fast, fast.topic("out.FR"), first)
        await wait_for(lambda: fr.client is not None and fr.client.accepted.labels("FR")._value.get() > before)
        assert not list(out.glob("*.json"))

        def erasure_proven() -> bool:
            return fr.watcher is not None and fr.watcher.verified.labels("FR", "ERASURE")._value.get() >= 1

        await wait_for(erasure_proven, seconds=30)
        assert fr.last_check is not None and not fr.last_check.problems
        assert len(erasures()) == 1 and not pipeline.store.events(event_type="ERROR")


async def test_the_service_sends_the_erasure_receipts_of_a_purge(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """``PartnerService.purge_once`` on the real broker: a record whose retention ended is removed and its
    erasure receipt (ACCEPTED, ERASED) is on crx.receipts; a second round owes and sends nothing."""
    from services.partner.directory import DirectorySink
    from tests.partner.helpers import deliver, version

    out = tmp_path / "fr"
    await deliver(settings, keyring, DirectorySink(out), version(1, retention_end="2020-01-01"))
    service = partner.build(Runtime.create(settings, keyring), ports=Ports(), party="FR", sink=out, purge_seconds=None)
    await service.start()
    try:
        assert await service.purge_once() == 1
        assert await service.purge_once() == 0
    finally:
        await service.stop()
    assert not list(out.glob("*.json"))
    [value] = [r.value for r in await read_topic(settings, settings.topic("receipts"))]
    receipt = verify_receipt(keyring, value, dt.datetime.now(dt.UTC))
    assert (receipt["outcome"], receipt["operation"], receipt["party"]) == ("ACCEPTED", "ERASED", "FR")
