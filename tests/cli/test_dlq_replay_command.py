"""`crx dlq list` and `crx dlq replay ID` as an operator runs them: the dead letter goes back to its feed, the
submission is delivered, and an unknown id is refused in one line with exit status 1."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import pytest
from click.testing import CliRunner, Result

from services.audit.accounting import account
from services.cli import main
from services.intake.publisher import Submission
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from tests.integration.helpers import running, sample, wait_for

pytestmark = pytest.mark.integration


async def crx(settings: Settings, *args: str) -> Result:
    """Run ``crx ARGS`` in a thread with the test's settings in the environment."""
    env = {"CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CRX_TOPIC_PREFIX": settings.topic_prefix,
           "CRX_DATA_DIR": str(settings.data_dir), "CRX_AUDIT_SECRET": "test-audit-secret"}  # fmt: skip
    return await asyncio.to_thread(CliRunner(env=env).invoke, main, list(args))


def json_lines(output: str) -> list[dict[str, Any]]:
    """The JSON objects a command printed, one per line. The pipeline runs in this process while the command
    runs in a thread, so a service's log line may land in the captured stdout too: those are left out."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


async def test_replay_by_id_delivers_and_an_unknown_id_is_refused(settings: Settings, keyring: KeyRing) -> None:
    strict = settings.replace(strict_mapping=("DE",))
    body = sample("DE-notification-fr-pl.json")  # one offence code without a common category
    async with running(strict, keyring) as pipeline:
        [result] = await pipeline.publisher.publish([Submission("DE", "json-v1", body)], dt.datetime.now(dt.UTC))
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).dead_lettered == 1)
    listed = await crx(settings, "dlq", "list", "--json")
    assert listed.exit_code == 0, listed.output
    [letter] = json_lines(listed.stdout)
    assert letter["reason"] == "UNMAPPED_CODE" and letter["replayable"]

    async with running(settings, keyring) as pipeline:  # DE no longer strict: the cause is fixed
        unknown = await crx(settings, "dlq", "replay", "no-such-id")
        assert unknown.exit_code == 1 and "refused" in unknown.output and "Traceback" not in unknown.output
        replayed = await crx(settings, "dlq", "replay", letter["dead_letter_id"])
        assert replayed.exit_code == 0, replayed.output
        [answer] = json_lines(replayed.stdout)
        assert answer["topic"] == settings.topic("feed.DE") and answer["submission_id"] == result.submission_id
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).delivered_records == 1, seconds=60)
