"""The HTTP intake and the drop directory, on the real broker: authentication, idempotency, limits, files."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import socket
from collections.abc import AsyncIterator

import aiohttp
import pytest

from schemas import DEAD_LETTER
from services.intake.publisher import Submission, submission_id_of
from services.intake.service import IntakeService
from services.kernel.codec import codec
from services.kernel.config import Settings
from services.kernel.runtime import Runtime
from services.keys import lifecycle
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, sample, wait_for

pytestmark = pytest.mark.integration


@contextlib.asynccontextmanager
async def intake(settings: Settings, keyring: KeyRing) -> AsyncIterator[IntakeService]:
    """A started intake service on free ports, with tokens issued for DE and FR."""
    service = IntakeService(Runtime.create(settings, keyring), http_port=0)
    await service.start()
    try:
        yield service
    finally:
        await service.stop()


def _tokens(service: IntakeService) -> dict[str, str]:
    return {j: service.tokens.issue(j) for j in ("DE", "FR")}


async def _post(
    session: aiohttp.ClientSession, url: str, body: bytes, token: str | None, **headers: str
) -> tuple[int, dict[str, str], dict[str, object]]:
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with session.post(url, data=body, headers=headers) as response:
        text = await response.text()
        return response.status, dict(response.headers), json.loads(text) if text else {}


async def test_submissions_are_authenticated_per_jurisdiction(settings: Settings, keyring: KeyRing) -> None:
    """No token: 401; a valid token for another jurisdiction: 403; no adapter: 400; nothing reaches a feed."""
    body = sample("DE-notification-fr-pl.json")
    async with intake(settings, keyring) as service, aiohttp.ClientSession() as session:
        tokens = _tokens(service)
        url = f"{service.http.url}/v1/feeds/DE"
        status, headers, answer = await _post(session, url, body, None, **{"Crx-Adapter": "json-v1"})
        assert (status, answer["error"]) == (401, "UNAUTHORIZED") and "Bearer" in headers["WWW-Authenticate"]
        assert (await _post(session, url, body, "not-a-token", **{"Crx-Adapter": "json-v1"}))[0] == 401
        status, _, answer = await _post(session, url, body, tokens["FR"], **{"Crx-Adapter": "json-v1"})
        assert (status, answer["error"]) == (403, "FORBIDDEN_JURISDICTION")
        status, _, answer = await _post(session, url, body, tokens["DE"])
        assert (status, answer["error"]) == (400, "MISSING_ADAPTER")
        status, _, answer = await _post(session, url + "?adapter=json-v1", body, tokens["DE"])
        assert status == 202 and answer["status"] == "accepted" and answer["jurisdiction"] == "DE"
    feed = await read_topic(settings, settings.topic("feed.DE"))
    assert len(feed) == 1
    assert not await read_topic(settings, settings.topic("feed.FR"))


async def test_idempotency_key_replays_and_refuses_reuse(settings: Settings, keyring: KeyRing) -> None:
    """A retry with the same key is answered again without publishing; the key with another body is 422."""
    body = sample("DE-notification-fr-pl.json")
    async with intake(settings, keyring) as service, aiohttp.ClientSession() as session:
        token = _tokens(service)["DE"]
        url = f"{service.http.url}/v1/feeds/DE"
        hdrs = {"Crx-Adapter": "json-v1", "Idempotency-Key": "batch-2026-11-23-0001"}
        first = await _post(session, url, body, token, **hdrs)
        again = await _post(session, url, body, token, **hdrs)
        assert first[0] == again[0] == 202 and first[2] == again[2]
        assert again[1].get("Idempotent-Replayed") == "true" and "Idempotent-Replayed" not in first[1]
        status, _, answer = await _post(session, url, body + b" ", token, **hdrs)
        assert (status, answer["error"]) == (422, "IDEMPOTENCY_KEY_REUSED")
        status, _, answer = await _post(session, url, body, token, **{**hdrs, "Idempotency-Key": "bad key"})
        assert status == 400
        other = await _post(session, url, body, token, **{**hdrs, "Idempotency-Key": "another"})
        assert other[0] == 202 and other[2]["submission_id"] != first[2]["submission_id"]
    assert len(await read_topic(settings, settings.topic("feed.DE"))) == 2


async def test_an_idempotency_key_used_again_after_its_time_to_live_is_a_new_submission(
    settings: Settings, keyring: KeyRing
) -> None:
    """Once the key's answer has expired, the same key (even with the same body) is a new submission with a
    new id, published; within the time to live it is replayed. Ids of earlier generations are never reused."""
    body = sample("DE-notification-fr-pl.json")
    async with (
        intake(settings.replace(idempotency_ttl_seconds=1.0), keyring) as service,
        aiohttp.ClientSession() as session,
    ):
        token = _tokens(service)["DE"]
        url = f"{service.http.url}/v1/feeds/DE"
        hdrs = {"Crx-Adapter": "json-v1", "Idempotency-Key": "daily-export"}
        first = await _post(session, url, body, token, **hdrs)
        assert (await _post(session, url, body, token, **hdrs))[1].get("Idempotent-Replayed") == "true"
        ids = [first[2]["submission_id"]]
        for _ in range(2):
            await asyncio.sleep(1.2)
            later = await _post(session, url, body, token, **hdrs)
            assert later[0] == 202 and "Idempotent-Replayed" not in later[1]
            ids.append(later[2]["submission_id"])
    assert len(set(ids)) == 3
    assert len(await read_topic(settings, settings.topic("feed.DE"))) == 3


async def test_oversized_body_is_streamed_refused_and_dead_lettered(settings: Settings, keyring: KeyRing) -> None:
    """A body over the limit is answered 413 and dead-lettered with its size; an unknown adapter 422: both
    problems carrying the submission id."""
    small = settings.replace(max_payload_bytes=64 * 1024)
    async with intake(small, keyring) as service, aiohttp.ClientSession() as session:
        token = _tokens(service)["DE"]
        url = f"{service.http.url}/v1/feeds/DE"
        huge = b"{" + b" " * (3 * 1024 * 1024) + b"}"
        status, _, answer = await _post(session, url, huge, token, **{"Crx-Adapter": "json-v1"})
        assert (status, answer["error"], answer["reason"]) == (413, "PAYLOAD_TOO_LARGE", "PAYLOAD_TOO_LARGE")
        status, _, unknown = await _post(session, url, b"{}", token, **{"Crx-Adapter": "no-such-adapter"})
        assert (status, unknown["reason"]) == (422, "UNKNOWN_ADAPTER")
    letters = [codec(DEAD_LETTER).decode(r.value) for r in await read_topic(small, small.topic("dlq"))]
    by_reason = {letter["reason_code"]: letter for letter in letters}
    assert by_reason["PAYLOAD_TOO_LARGE"]["payload_size"] == len(huge)
    assert by_reason["PAYLOAD_TOO_LARGE"]["sealed_payload"] is None
    assert by_reason["PAYLOAD_TOO_LARGE"]["submission_id"] == answer["submission_id"]
    assert by_reason["UNKNOWN_ADAPTER"]["submission_id"] == unknown["submission_id"]
    assert not await read_topic(small, small.topic("feed.DE"))


async def test_drop_directory_publishes_each_file_once(settings: Settings, keyring: KeyRing) -> None:
    """Files appear in done/ with their submission id; .part files wait; a leftover claim is finished on start."""
    body = sample("DE-notification-fr-pl.json")
    drop = settings.drop_dir
    claimed = drop / ".claimed" / "DE" / "json-v1"
    claimed.mkdir(parents=True)
    (claimed / "left-by-a-crash.json").write_bytes(sample("DE-notification-fr.json"))
    async with intake(settings, keyring) as service:
        incoming = service.drop.folder("DE", "json-v1")
        (incoming / "being-written.json.part").write_bytes(body)
        (incoming / "first.json").write_bytes(body)
        done = drop / "done" / "DE" / "json-v1"
        await wait_for(lambda: len(list(done.iterdir())) == 2, seconds=15)
        names = sorted(p.name for p in done.iterdir())
        assert names[0].startswith("first.json.") and names[1].startswith("left-by-a-crash.json.")
        assert [p.name for p in incoming.iterdir()] == ["being-written.json.part"]
        assert not list(claimed.iterdir())
        os.rename(incoming / "being-written.json.part", incoming / "second.json")
        await wait_for(lambda: len(list(done.iterdir())) == 3, seconds=15)
        assert all(r.accepted for r in service.drop.published)
    feed = await read_topic(settings, settings.topic("feed.DE"))
    assert len(feed) == 3  # first and second are the same bytes, published as two files (same submission id)
    ids = {p.name.rsplit(".", 1)[1] for p in (drop / "done" / "DE" / "json-v1").iterdir()}
    assert len(ids) == 2


async def test_a_file_that_cannot_be_moved_is_quarantined_and_the_others_go_on(
    settings: Settings, keyring: KeyRing
) -> None:
    """One file whose move to done/ fails goes to failed/ (logged, counted) and does not block the files
    after it; a name too long for the submission-id suffix is shortened to fit, not refused."""
    drop = settings.drop_dir
    stuck_body, long_body, last_body = (sample(n) for n in ("DE-notification-fr.json", "DE-notification-fr-pl.json",
                                                           "DE-notification-de.json"))  # fmt: skip
    done = drop / "done" / "DE" / "json-v1"
    stuck_id = submission_id_of(Submission("DE", "json-v1", stuck_body))
    (done / f"a-stuck.json.{stuck_id}").mkdir(parents=True)  # a directory where its done/ name should go
    long_name = "b-" + "x" * 240 + ".json"
    async with intake(settings, keyring) as service:
        incoming = service.drop.folder("DE", "json-v1")
        (incoming / "a-stuck.json").write_bytes(stuck_body)
        (incoming / long_name).write_bytes(long_body)
        (incoming / "c-last.json").write_bytes(last_body)
        failed = drop / "failed" / "DE" / "json-v1"
        await wait_for(lambda: len([p for p in done.iterdir() if p.is_file()]) == 2 and failed.exists(), seconds=15)
        assert [p.name for p in failed.iterdir()] == ["a-stuck.json"]
        assert service.drop.failed == 1
        names = sorted(p.name for p in done.iterdir() if p.is_file())
        assert names[0].startswith("b-xxx") and len(names[0].encode()) <= 255 and names[1].startswith("c-last.json.")
        assert not list(incoming.iterdir())


async def test_no_broker_key_is_answered_503_and_nothing_is_dead_lettered(settings: Settings, keyring: KeyRing) -> None:
    """Without a usable encryption key of the broker, a submission cannot be sealed: not the sender's fault, so
    503 with Retry-After (the sender retries) and no dead letter; once a key is active again, 202."""
    body = sample("DE-notification-fr-pl.json")
    async with intake(settings, keyring) as service, aiohttp.ClientSession() as session:
        token = _tokens(service)["DE"]
        url = f"{service.http.url}/v1/feeds/DE"
        active = keyring.registry.active(settings.broker_party, "encryption", dt.datetime.now(dt.UTC)).key_id
        lifecycle.set_status(keyring, settings.broker_party, active, "revoked")
        status, headers, answer = await _post(session, url, body, token, **{"Crx-Adapter": "json-v1"})
        assert (status, answer["error"]) == (503, "KEY_UNAVAILABLE") and int(headers["Retry-After"]) > 0
        lifecycle.rotate(keyring, settings.broker_party, "encryption", dt.datetime.now(dt.UTC))
        status, _, answer = await _post(session, url, body, token, **{"Crx-Adapter": "json-v1"})
        assert status == 202 and answer["status"] == "accepted"
    assert len(await read_topic(settings, settings.topic("feed.DE"))) == 1
    assert not await read_topic(settings, settings.topic("dlq"))


async def test_a_broken_token_file_refuses_every_submission_with_503(settings: Settings, keyring: KeyRing) -> None:
    body = sample("DE-notification-fr-pl.json")
    async with intake(settings, keyring) as service, aiohttp.ClientSession() as session:
        token = _tokens(service)["DE"]
        settings.intake_tokens_path.write_text("{broken")
        status, _, answer = await _post(
            session, f"{service.http.url}/v1/feeds/DE", body, token, **{"Crx-Adapter": "json-v1"}
        )
        assert (status, answer["error"]) == (503, "TOKENS_UNAVAILABLE")
    assert not await read_topic(settings, settings.topic("feed.DE"))


async def test_a_part_that_cannot_start_stops_the_parts_already_started(settings: Settings, keyring: KeyRing) -> None:
    """The HTTP port is taken: start raises, and the ops server and the producer it had started are stopped
    again (the ops port answers no more, the producer's client is closed); a later stop is a no-op."""
    with socket.socket() as free:
        free.bind((settings.metrics_host, 0))
        ops_port = free.getsockname()[1]
    with socket.socket() as taken:
        taken.bind((settings.intake_host, 0))
        taken.listen()
        runtime = Runtime.create(settings, keyring)
        service = IntakeService(runtime, http_port=taken.getsockname()[1], metrics_port=ops_port)
        with pytest.raises(OSError):
            await service.start()
    assert service.producer._producer is None  # closed again
    with pytest.raises(OSError):  # nothing listens on the ops port any more
        await asyncio.open_connection(settings.metrics_host, ops_port)
    await service.stop()
