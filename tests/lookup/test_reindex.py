"""Index-key rotation on the real broker: records indexed under key 1 from ``crx.records``, a rotation, a
re-index from the topic, key 1 destroyed: every hit is kept, an updated record is not rolled back to its old
version, a deleted record is not resurrected, and the CLI does the same steps."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from contextlib import aclosing
from typing import Any

import pytest
from click.testing import CliRunner, Result

from services.audit.accounting import account
from services.cli.main import main
from services.devstack.pipeline import Pipeline
from services.intake.publisher import Submission
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from services.lookup.index import LookupIndex
from services.lookup.indexing import apply_record
from services.lookup.indexkey import IndexKey
from services.lookup.keyadmin import destroy, key_store, open_index, rotate
from services.lookup.pseudonyms import pseudonyms_of_query
from services.lookup.reindex import RecordsReader, reindex
from tests.integration.helpers import running, sample_json, wait_for

pytestmark = pytest.mark.integration


def person_doc(record_id: str, version: int, kind: str, given: str, family: str, born: str) -> bytes:
    """A DE json-v1 record of one person (the sample, renamed)."""
    doc = sample_json("DE-notification-fr-pl.json")
    doc.update(record_id=record_id, version=version, type=kind)
    doc["person"]["names"] = [{"kind": "CURRENT", "given": given, "family": family}]
    doc["person"]["birth_date"] = born
    for n, conviction in enumerate(doc["convictions"], 1):
        conviction["id"] = f"{record_id}-{n}"
    return json.dumps(doc).encode()


def query(given: str, family: str, born: str) -> dict[str, Any]:
    return {"names": [{"given": given, "family": family}], "birth_date": born}


QUERIES = {
    "sample": query("Jean-Testé", "Musterkowski-Exemple", "1985-03-14"),
    "otto": query("Otto", "Alpha", "1971-05-06"),  # version 1 of R3: replaced by version 2
    "karl": query("Karl", "Omega", "1971-05-06"),  # version 2 of R3
    "greta": query("Greta", "Delta", "1966-07-08"),  # R4: deleted
    "nobody": query("Nemo", "Nullus", "1950-01-01"),
}


async def push(pipeline: Pipeline, payloads: list[bytes]) -> None:
    now = dt.datetime.now(dt.UTC)
    results = await pipeline.publisher.publish([Submission("DE", "json-v1", p) for p in payloads], now)
    assert all(r.accepted for r in results), results
    ids = [r.submission_id for r in results]
    await wait_for(lambda: account(pipeline.store, ids).complete, 60)


async def feed(settings: Settings, keyring: KeyRing, index: LookupIndex, keys: list[IndexKey]) -> None:
    """What the lookup service's feed does: every record of crx.records through ``apply_record``."""
    now = dt.datetime.now(dt.UTC)
    async with aclosing(RecordsReader(settings, keyring).read()) as records:
        async for _rec, opened in records:
            assert not isinstance(opened, str), opened
            apply_record(index, keys, opened, now)


def hits(index: LookupIndex, keys: list[IndexKey]) -> dict[str, list[tuple[str, str]]]:
    return {
        name: [(h.jurisdiction, h.match) for h in index.lookup(pseudonyms_of_query(q, keys))]
        for name, q in QUERIES.items()
    }


async def test_rotation_reindex_destroy_keeps_every_hit(settings: Settings, keyring: KeyRing) -> None:
    """Rotate, re-index from crx.records, destroy the old key: the hits are exactly those before the rotation."""
    async with running(settings, keyring) as pipeline:
        await push(pipeline, [
            person_doc("DE-BZR-SYNTH-2024-000101", 1, "NOTIFICATION", "Jean-Testé", "Musterkowski-Exemple",
                       "1985-03-14"),
            person_doc("DE-R3", 1, "NOTIFICATION", "Otto", "Alpha", "1971-05-06"),
            person_doc("DE-R4", 1, "NOTIFICATION", "Greta", "Delta", "1966-07-08"),
        ])  # fmt: skip
        await push(pipeline, [
            person_doc("DE-R3", 2, "UPDATE", "Karl", "Omega", "1971-05-06"),
            person_doc("DE-R4", 2, "DELETION", "Greta", "Delta", "1966-07-08"),
        ])  # fmt: skip
    store, index = key_store(settings), open_index(settings)
    try:
        [old] = store.live()  # the pipeline's key (ensure_keys): the lookup service indexed under it
        await feed(settings, keyring, index, store.live())
        before = hits(index, [old])
        assert before == {"sample": [("DE", "exact")], "otto": [], "karl": [("DE", "exact")], "greta": [],
                          "nobody": []}  # fmt: skip
        new, _ = rotate(store, dt.datetime.now(dt.UTC))
        assert len(index.records_missing(new.key_id)) == 2
        report = await reindex(settings, keyring, index, store.live())
        assert report.records_missing == {old.key_id: 0, new.key_id: 0}
        assert len(report.rekeyed) == 2
        assert report.outcomes["rekeyed"] == 2 and report.outcomes["not_current"] == 2, report.outcomes
        assert hits(index, store.live()) == before  # both keys live: nothing lost during the rotation
        done = destroy(store, index, old.key_id, dt.datetime.now(dt.UTC), force=False)
        assert done.rows_dropped > 0 and done.records_stranded == 0
        assert [k.key_id for k in store.live()] == [new.key_id]
        assert hits(index, [new]) == before
        assert hits(index, [old]) == {name: [] for name in QUERIES}  # the old key's rows are gone
    finally:
        index.close()


async def crx(settings: Settings, *args: str) -> Result:
    """Run ``crx lookup ARGS`` in a thread with the test's settings."""
    env = {"CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "CRX_TOPIC_PREFIX": settings.topic_prefix,
           "CRX_DATA_DIR": str(settings.data_dir)}  # fmt: skip
    return await asyncio.to_thread(CliRunner(env=env).invoke, main, ["lookup", *args])


async def test_cli_rotation(settings: Settings, keyring: KeyRing) -> None:
    """`crx lookup keys rotate | list | destroy` and `crx lookup reindex`: destroying the old key is refused
    until the re-index, then done; JSON out, never key material."""
    async with running(settings, keyring) as pipeline:
        await push(pipeline, [person_doc("DE-C1", 1, "NOTIFICATION", "Otto", "Alpha", "1971-05-06")])
    store, index = key_store(settings), open_index(settings)
    [old] = store.live()  # the pipeline's key (ensure_keys)
    await feed(settings, keyring, index, store.live())
    index.close()
    rotated = await crx(settings, "keys", "rotate")
    assert rotated.exit_code == 0, rotated.output
    new = json.loads(rotated.stdout)["key_id"]
    refused = await crx(settings, "keys", "destroy", old.key_id, "--yes")
    assert refused.exit_code == 1 and "reindex" in refused.output and "Traceback" not in refused.output
    listed = await crx(settings, "keys", "list")
    assert [(k["key_id"], k["status"], k["records_missing"]) for k in json.loads(listed.stdout)] == [
        (old.key_id, "retiring", 0), (new, "active", 1)
    ]  # fmt: skip
    assert old.secret.hex() not in listed.output
    reindexed = await crx(settings, "reindex")
    assert reindexed.exit_code == 0, reindexed.output
    assert json.loads(reindexed.stdout)["records_missing"] == {old.key_id: 0, new: 0}
    destroyed = await crx(settings, "keys", "destroy", old.key_id, "--yes")
    assert destroyed.exit_code == 0, destroyed.output
    assert json.loads(destroyed.stdout)["records_stranded"] == 0
    assert [k.key_id for k in store.live()] == [new]
