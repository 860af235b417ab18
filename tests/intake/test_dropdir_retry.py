"""The drop directory when the broker does not acknowledge: the file stays claimed (not failed, not done), what
was sealed for it is kept in the outbox already, and the next scan sends those same bytes (never a second
seal of the same submission) and moves the file to done/."""

from __future__ import annotations

from typing import Any

import pytest

from services.intake.service import IntakeService
from services.kernel.config import Settings
from services.kernel.errors import TransientError
from services.kernel.runtime import Runtime
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, sample

pytestmark = pytest.mark.integration


async def test_a_file_the_broker_did_not_acknowledge_is_published_by_the_next_scan(
    settings: Settings, keyring: KeyRing
) -> None:
    service = IntakeService(Runtime.create(settings, keyring), http_port=0)
    await service.start()
    await service.drop.stop()  # the test scans itself, one scan at a time
    try:
        real_send = service.producer.send_all
        calls = 0

        async def failing_once(records: Any) -> None:
            nonlocal calls
            calls += 1
            if calls == 1:
                raise TransientError("produce failed: RequestTimedOutError")
            await real_send(records)

        service.producer.send_all = failing_once  # type: ignore[method-assign]
        service.drop.prepare()
        (service.drop.folder("DE", "json-v1") / "export.json").write_bytes(sample("DE-notification-fr-pl.json"))
        with pytest.raises(TransientError):
            await service.drop.scan_once()
        drop = settings.drop_dir
        assert [p.name for p in (drop / ".claimed" / "DE" / "json-v1").iterdir()] == ["export.json"]
        assert not list((drop / "failed").rglob("*.json*")) and not list((drop / "done").rglob("*.json*"))
        [kept] = service.outbox.due(float("inf"), 10)  # kept before it was sent: the reconciler would send it
        [result] = await service.drop.scan_once()
        assert result.accepted and result.submission_id == kept.submission_id and service.outbox.size() == 1
        assert [p.name for p in (drop / "done" / "DE" / "json-v1").iterdir()] == [f"export.json.{result.submission_id}"]
    finally:
        await service.stop()
    [feed] = await read_topic(settings, settings.topic("feed.DE"))
    assert feed.value == kept.records[0].value  # the bytes kept at the first attempt
