"""Key rotation under load on the real broker: nothing lost, nothing unreadable, no restart.

Records flow continuously (a json-v1 DE notification about an FR national every ~50 ms through the intake
publisher) while ``crx keys rotate`` runs in its own process against the registry file, as an operator would
run it: first FR's encryption key (to the post-quantum hybrid suite), then the broker's signing key. The
running services pick the changes up by hot reload. Afterwards every submission is accounted as delivered,
FR's sink holds every record disclosed to FR, FR refused none, both generations of both keys were used, and
every envelope on ``crx.out.FR`` still verifies and opens (the old keys are retiring, not gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
from typing import Any

import pytest

from services.audit.accounting import account
from services.devstack.pipeline import Pipeline
from services.intake.publisher import Submission
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, running, sample_json, wait_for

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr.json"
HYBRID = "MLKEM768-X25519-SHA256-AES256GCM"
PHASE_SECONDS = 2.5  # more than the registry's 1 s reload interval, so records flow under each key generation


async def _publish_continuously(pipeline: Pipeline, stop: asyncio.Event, submitted: list[str]) -> None:
    """One distinct record (its own record id, hence its own message id) every ~50 ms until ``stop``."""
    template = sample_json(SAMPLE)
    i = 0
    while not stop.is_set():
        document = dict(template, record_id=f"{template['record_id']}-ROT{i:05d}")
        [result] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", json.dumps(document).encode())], dt.datetime.now(dt.UTC)
        )
        assert result.accepted, result
        submitted.append(result.submission_id)
        i += 1
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def _crx_keys(settings: Settings, *args: str) -> dict[str, Any]:
    """Run ``crx keys ARGS`` as a separate process on the test's data dir; its JSON output."""
    env = {**os.environ, "CRX_DATA_DIR": str(settings.data_dir)}
    env.pop("CRX_KEY_PASSPHRASE", None)  # the fixture's keys are stored without a passphrase
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "keys", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


def _fr_files(pipeline: Pipeline) -> set[str]:
    """The message ids of the records FR's client holds (one file per record, named by its key)."""
    return {
        str(json.loads(p.read_text("utf-8"))["header"]["message_id"]) for p in (pipeline.out_dir / "FR").glob("*.json")
    }


async def test_records_keep_flowing_through_encryption_and_signing_key_rotation(
    settings: Settings, keyring: KeyRing
) -> None:
    """Rotating FR's encryption key and the broker's signing key mid-stream loses and breaks no record."""
    now = dt.datetime.now(dt.UTC)
    old_encryption = keyring.registry.active("FR", "encryption", now).key_id
    old_signing = keyring.registry.active(settings.broker_party, "signing", now).key_id
    submitted: list[str] = []
    stop = asyncio.Event()
    async with running(settings, keyring) as pipeline:
        publisher = asyncio.create_task(_publish_continuously(pipeline, stop, submitted))
        try:
            await wait_for(lambda: len(_fr_files(pipeline)) >= 5, seconds=20)

            encryption = await _crx_keys(settings, "rotate", "--party", "FR", "--suite", HYBRID)
            assert encryption["retiring"] == [old_encryption]
            await asyncio.sleep(PHASE_SECONDS)

            signing = await _crx_keys(settings, "rotate", "--party", settings.broker_party, "--purpose", "signing")
            assert signing["retiring"] == [old_signing]
            await asyncio.sleep(PHASE_SECONDS)
        finally:
            stop.set()
            await publisher

        await wait_for(lambda: account(pipeline.store, submitted).complete, seconds=30)
        acc = account(pipeline.store, submitted)
        assert acc.pushed == len(submitted) == acc.delivered_records and len(submitted) > 60, acc.as_dict()
        assert acc.dead_lettered == 0 and acc.refused == 0 and dict(acc.delivered) == {"FR": len(submitted)}

        disclosed = {
            e["message_id"]
            for e in pipeline.store.events(event_type="DISCLOSURE")
            if e["recipients"] == ["FR"] and e["submission_id"] in set(submitted)
        }
        assert len(disclosed) == len(submitted) and _fr_files(pipeline) == disclosed
        receipts = pipeline.store.events(event_type="DELIVERY_RECEIPT")
        assert not [r for r in receipts if r["outcome"] != "accepted"]
        assert pipeline.verify_audit().ok  # the note key is the log's own: rotating broker keys leaves it alone

        # Both generations of both keys carried records, and every envelope still verifies and opens.
        records = await read_topic(settings, settings.topic("out.FR"))
        assert len(records) >= len(submitted)
        opener = Opener(keyring.registry, keyring.store, "FR")
        envelopes = [opener.parse(r.value) for r in records]
        assert {e["recipient_key_id"] for e in envelopes} == {old_encryption, encryption["key_id"]}
        assert {e["signer_key_id"] for e in envelopes} == {old_signing, signing["key_id"]}
        assert {e["suite"] for e in envelopes if e["recipient_key_id"] == encryption["key_id"]} == {HYBRID}
        later = dt.datetime.now(dt.UTC)
        for record in records:
            opened = opener.open(record.value, channel="out.FR", now=later, signers=frozenset({settings.broker_party}))
            assert opened.message_id in disclosed
        assert keyring.registry.get("FR", old_encryption).status == "retiring"
        for service in pipeline.services:
            assert service.loop.alive and service.loop.ready, service.name
