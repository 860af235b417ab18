"""A record whose recipient has no key yet waits for the key: retried with backoff, then delivered, never
dead-lettered (``KeyUnavailable`` is not the record's fault).

FR's keys do not exist when the pipeline starts; a DE notification about an FR national is published; three
seconds later an operator runs ``crx keys generate --party FR`` in its own process, as they would on learning
of the missing key. The running router picks the key up by hot reload and delivers the record it kept.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sys

import aiohttp
import pytest

from services.audit.accounting import account
from services.devstack.pipeline import Pipeline, ensure_keys
from services.intake.publisher import Submission
from services.kernel.config import Settings
from tests.integration.helpers import read_topic, sample, wait_for

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr.json"  # a DE conviction of an FR national: disclosed to FR
KEY_DELAY_SECONDS = 3.0


async def _crx_keys_generate(settings: Settings, party: str) -> None:
    """``crx keys generate --party PARTY`` in its own process, on the test's key store."""
    env = {**os.environ, "CRX_DATA_DIR": str(settings.data_dir)}
    env.pop("CRX_KEY_PASSPHRASE", None)  # the fixture's keys are stored without a passphrase
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "keys", "generate", "--party", party,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    _, err = await process.communicate()
    assert process.returncode == 0, err.decode()


async def _router_key_errors(pipeline: Pipeline) -> float:
    """How many times the router's batch failed for want of a key, from its own /metrics."""
    url = pipeline.ops_urls()["router"] + "/metrics"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        text = await response.text()
    pattern = r'^crx_errors_total\{(?=[^}]*error_class="KeyUnavailable")(?=[^}]*service="router")[^}]*\} (\S+)$'
    return sum(float(m) for m in re.findall(pattern, text, flags=re.MULTILINE))


async def test_a_record_waits_for_its_recipients_key_and_is_delivered_not_dead_lettered(settings: Settings) -> None:
    keyring = ensure_keys(settings, (settings.broker_party, "DE", "PL"), dt.datetime.now(dt.UTC))
    assert not keyring.registry.entries("FR")
    pipeline = Pipeline.build(settings, keyring, partners=("FR",))
    await pipeline.start()
    try:
        [result] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", sample(SAMPLE))], dt.datetime.now(dt.UTC)
        )
        assert result.accepted, result
        await wait_for(lambda: len(pipeline.store.events(event_type="NORMALISATION")) >= 1)
        await asyncio.sleep(KEY_DELAY_SECONDS)

        # Waiting: retried for want of FR's key, not delivered, not dead-lettered.
        assert await _router_key_errors(pipeline) >= 1
        assert not list((pipeline.out_dir / "FR").glob("*.json"))
        assert account(pipeline.store, [result.submission_id]).pending == [result.submission_id]

        await _crx_keys_generate(settings, "FR")
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).complete, seconds=30)

        acc = account(pipeline.store, [result.submission_id])
        assert acc.delivered["FR"] == 1, acc.as_dict()
        assert acc.dead_lettered == 0
        assert len(list((pipeline.out_dir / "FR").glob("*.json"))) == 1
        assert not pipeline.store.events(event_type="DEAD_LETTER")
        assert not await read_topic(settings, settings.topic("dlq"))
    finally:
        await pipeline.stop()
