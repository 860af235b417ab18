"""Lookups through the whole pipeline on the real broker: records reach the index through the lookup
service's own consumer group on crx.records; the API answers hit/no-hit with the strength, refuses what it
must, audits every lookup (DISCLOSURE/LOOKUP with the hit states, no identity); an older version does not
replace a newer one, a deletion and an expiry end the hits; `crx lookup` answers the same from the local index;
and no identity string reaches the service's logs, its metrics or the index database."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from click.testing import CliRunner

import adapters.json_v1
from services.audit.accounting import account
from services.cli.main import main
from services.devstack.pipeline import Pipeline
from services.intake.publisher import PushResult, Submission
from services.kernel.config import Settings
from services.kernel.logging import configure_logging
from services.kernel.recordkey import record_key
from services.keys.ring import KeyRing
from services.lookup.service import LookupService
from tests.integration.helpers import running, sample_json, wait_for

pytestmark = pytest.mark.integration

LIFECYCLE = Path(adapters.json_v1.__file__).parent / "samples" / "lifecycle"
PURPOSE, AUTHORITY = "CRIMINAL_PROCEEDINGS", "Tribunal judiciaire de Lyon"
EXACT = {"names": [{"given": "Jean-Testé", "family": "Lebenslauf-Exemple"}], "birth_date": "1985-03-14"}
VARIANT = {"names": [{"given": "Jean Teste", "family": "Lebenslauf"}]}  # no diacritics, half the name, no date
OTHER: dict[str, Any] = {"names": [{"given": "Paulette", "family": "Fictivement"}], "birth_date": "1985-03-14"}
STALE = {"names": [{"given": "Jean-Testé", "family": "Altfassung"}], "birth_date": "1985-03-14"}
IDENTITY = ("Jean", "Lebenslauf", "lebenslauf", "Paulette", "Fictivement", "fictivement", "Altfassung", "1985-03-14",
            "19850314")  # fmt: skip


def life(name: str, **changes: Any) -> bytes:
    """A lifecycle sample of json-v1 (DE's record DE-BZR-SYNTH-2024-000606 and its versions), edited."""
    data = json.loads((LIFECYCLE / name).read_text(encoding="utf-8"))
    return json.dumps({**data, **changes}).encode()


async def push(pipeline: Pipeline, payload: bytes) -> PushResult:
    [result] = await pipeline.publisher.publish([Submission("DE", "json-v1", payload)], dt.datetime.now(dt.UTC))
    assert result.accepted, result
    return result


async def ask(
    service: LookupService, token: str, query: dict[str, Any] | None = None, *, meant: str | None = None, **body: Any
) -> tuple[int, dict[str, Any], dict[str, str]]:
    """POST /v1/lookups with ``token`` (and ``Crx-Jurisdiction: meant``): (status, JSON body, headers)."""
    document = {"query": query or EXACT, "purpose": PURPOSE, "requesting_authority": AUTHORITY} | body
    document = {k: v for k, v in document.items() if v is not None}
    headers = {"Authorization": f"Bearer {token}"} | ({"Crx-Jurisdiction": meant} if meant else {})
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{service.api.url}/v1/lookups", json=document, headers=headers) as response,
    ):
        return response.status, json.loads(await response.read()), dict(response.headers)


def hits(answer: dict[str, Any]) -> list[tuple[str, str]]:
    assert set(answer) == {"lookup_id", "hits"}
    return [(h["jurisdiction"], h["match"]) for h in answer["hits"]]


def applied(service: LookupService, record_id: str, version: int) -> bool:
    known = service.index.applied(record_key("DE", record_id))
    return known is not None and known.version >= version


async def test_lookups_through_the_pipeline(settings: Settings, keyring: KeyRing) -> None:
    settings = settings.replace(lookup_burst=12, lookup_rate_per_minute=0.01)
    logs = io.StringIO()
    configure_logging("DEBUG", logs)
    try:
        async with running(settings, keyring) as pipeline:
            await _exercise(pipeline, settings)
            metrics = await _metrics(pipeline.components["lookup"])
    finally:
        configure_logging("INFO")
    text = logs.getvalue()
    assert "lookup index updated" in text and "lookup answered" in text  # the service did log
    for found in (text, metrics):
        assert not [s for s in IDENTITY if s in found]
    assert 'crx_lookups_total{jurisdiction="FR",outcome="hit"}' in metrics
    assert 'crx_lookup_feed_records_total{action="stale"} 1.0' in metrics
    database = b"".join(p.read_bytes() for p in settings.data_dir.glob("lookup.sqlite3*"))
    assert database and not [s for s in IDENTITY if s.encode() in database]


async def _metrics(service: Any) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{service.ops.url}/metrics") as response:
        return await response.text()


async def _exercise(pipeline: Pipeline, settings: Settings) -> None:
    service = pipeline.components["lookup"]
    assert isinstance(service, LookupService)
    fr, de, pl = (pipeline.intake.tokens.issue(j) for j in ("FR", "DE", "PL"))
    other = sample_json("DE-notification-fr-pl.json")  # record ...000101, retention end 2039-03-05
    other["person"]["names"] = [{"kind": "CURRENT", **OTHER["names"][0]}]
    pushed = [
        await push(pipeline, life("1-DE-notification-fr-pl.json")),
        await push(pipeline, json.dumps(other).encode()),
        await push(pipeline, life("1-DE-notification-fr-retention-ended.json")),  # ended: never indexed
    ]
    await wait_for(lambda: all(applied(service, r, 1) for r in ("DE-BZR-SYNTH-2024-000606",
                                                                "DE-BZR-SYNTH-2024-000101",
                                                                "DE-BZR-SYNTH-2010-000707")))  # fmt: skip

    # hits with their strength; the requesting state itself is never a hit
    status, answer, _ = await ask(service, fr, VARIANT)
    assert (status, hits(answer)) == (200, [("DE", "variant")])
    status, answer, _ = await ask(service, fr, EXACT)
    assert (status, hits(answer)) == (200, [("DE", "exact")])
    exact_id = answer["lookup_id"]
    status, answer, _ = await ask(service, de, EXACT)
    assert (status, hits(answer)) == (200, [])

    # refusals: no purpose, no authority, a purpose not agreed, a bad token, a malformed query
    assert (await ask(service, fr, purpose=""))[1]["error"] == "MISSING_PURPOSE"
    status, problem, _ = await ask(service, fr, requesting_authority=" ")
    assert (status, problem["error"]) == (400, "MISSING_AUTHORITY")
    assert (await ask(service, fr, purpose="PERSON_CONCERNED_REQUEST"))[0] == 403
    status, problem, headers = await ask(service, "not-a-token")
    assert (status, problem["error"], headers["WWW-Authenticate"]) == (401, "UNAUTHORIZED", 'Bearer realm="crx"')
    assert (await ask(service, fr, {"names": []}))[1]["error"] == "INVALID_QUERY"
    status, problem, _ = await ask(service, fr, meant="DE")  # FR's token, a client that means DE: refused
    assert (status, problem["error"]) == (403, "NOT_YOUR_JURISDICTION")
    assert (await ask(service, fr, EXACT, meant="FR"))[0] == 200

    # an older version does not replace a newer one
    await push(pipeline, life("3-DE-update-sanction.json"))
    await wait_for(lambda: applied(service, "DE-BZR-SYNTH-2024-000606", 3))
    stale = life("4-DE-stale-resubmission.json")
    await push(pipeline, stale.replace(b"Lebenslauf", b"Altfassung"))
    await wait_for(lambda: service.own_metrics.actions.labels("stale")._value.get() == 1)
    assert hits((await ask(service, fr, STALE))[1]) == []
    assert hits((await ask(service, fr, EXACT))[1]) == [("DE", "exact")]

    # the local index answers the same through `crx lookup` (audited on the broker too)
    person = settings.data_dir / "person.json"
    person.write_text(json.dumps(EXACT), encoding="utf-8")
    env = {"CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CRX_TOPIC_PREFIX": settings.topic_prefix,
           "CRX_DATA_DIR": str(settings.data_dir), "CRX_AUDIT_SECRET": "test-audit-secret"}  # fmt: skip
    args = ["lookup", "--as", "FR", "--json", str(person), "--purpose", PURPOSE, "--authority", AUTHORITY]
    result = await asyncio.to_thread(CliRunner(env=env).invoke, main, args)
    assert result.exit_code == 0, result.output
    # the pipeline runs in this process: a service's log line may land in the captured stdout beside the answer
    printed = result.stdout[result.stdout.index("{\n") :]
    assert hits(json.JSONDecoder().raw_decode(printed)[0]) == [("DE", "exact")]
    result = await asyncio.to_thread(CliRunner(env=env).invoke, main, args[:-4])
    assert result.exit_code != 0 and "mandatory" in result.output

    # a deletion ends the hits; so does the retention end, at the expiry pass
    await push(pipeline, life("5-DE-deletion.json"))
    await wait_for(lambda: applied(service, "DE-BZR-SYNTH-2024-000606", 4))
    assert hits((await ask(service, fr, EXACT))[1]) == []
    assert hits((await ask(service, fr, OTHER))[1]) == [("DE", "exact")]
    assert service.expire(dt.datetime(2039, 3, 4, tzinfo=dt.UTC)) == 0
    assert service.expire(dt.datetime(2039, 3, 5, tzinfo=dt.UTC)) == 1
    assert hits((await ask(service, fr, OTHER))[1]) == []

    # the rate limit (burst 12 here): PL is refused past it, with Retry-After
    answers = [await ask(service, pl, EXACT) for _ in range(13)]
    assert [a[0] for a in answers] == [200] * 12 + [429]
    assert answers[-1][1]["error"] == "RATE_LIMITED" and int(answers[-1][2]["Retry-After"]) >= 1

    # every lookup is audited: DISCLOSURE/LOOKUP, actor and recipient the requester, hit states, no identity
    def lookup_events() -> list[dict[str, Any]]:
        return [e for e in pipeline.store.events() if e["message_type"] == "LOOKUP"]

    await wait_for(lambda: any(e["message_id"] == exact_id for e in lookup_events()))
    [event] = [e for e in lookup_events() if e["message_id"] == exact_id]
    assert (event["event_type"], event["component"], event["actor"], event["recipients"]) == (
        "DISCLOSURE", "lookup", "FR", ["FR"],
    )  # fmt: skip
    assert (event["purpose"], event["requesting_authority"], event["hits"]) == (PURPOSE, AUTHORITY, ["DE"])
    assert event["payload_commitment"] is not None and event["submission_id"] is None
    assert not [s for s in IDENTITY if s in json.dumps(event, default=str)]
    # the books of the pushed submissions count record disclosures only (a lookup belongs to no submission)
    books = [e for r in pushed for e in pipeline.store.events(submission_id=r.submission_id)]
    disclosed = sum(len(e["recipients"]) for e in books if e["event_type"] == "DISCLOSURE")
    assert disclosed >= 4 and account(pipeline.store, [r.submission_id for r in pushed]).disclosures == disclosed
