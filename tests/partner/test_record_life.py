"""A record's whole life at the partner: one copy per record at its latest version, never an older version over a
newer one, erased on DELETION and never brought back, receipts that say what was applied, the audit log's
ERASURE, and the purge of records whose retention ended. Each step runs on a new client instance (a restart):
all that carries over is what the sink keeps in its directory or ledger."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from services.audit.api import AuditApi, AuditHttpServer
from services.kernel.audit_events import erasure_event_id, receipt_event_id, stable_id
from services.kernel.config import Settings
from services.kernel.errors import TransientError
from services.kernel.kafka import OutRecord
from services.keys.ring import KeyRing
from services.partner.callback import CallbackSink
from services.partner.directory import LEDGER_FILE, DirectorySink
from services.partner.lifecycle import Operation, record_key
from services.partner.logwatch import LogWatcher
from tests.partner.helpers import (
    audit_writer,
    client,
    consumed,
    deliver,
    held_files,
    log_receipts,
    operations,
    receipt,
    sealed,
    version,
)
from tests.partner.logcheck import check_once_served

ACCEPTED = "ACCEPTED"


def _versions(records: list[dict[str, Any]]) -> list[int]:
    return [r["header"]["source_record_version"] for r in records]


async def test_an_update_replaces_and_a_deletion_erases_across_restarts(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """NOTIFICATION v1 then UPDATE v2: one file, holding v2 (named by the record's key, never its id); v1 again
    (a redelivery) changes nothing and gets its first receipt again; DELETION v3 removes the file; v1 and v2
    redelivered after it bring nothing back. Every step is a new client on the same directory."""
    out = tmp_path / "fr"
    v1, v2, v3 = version(1), version(2, "UPDATE"), version(3, "DELETION")
    key = record_key("DE", "DE-BZR-SYNTH-2024-000202")

    first = await deliver(settings, keyring, DirectorySink(out), v1)
    assert [p.name for p in out.glob("*.json")] == [f"{key}.json"]
    second = await deliver(settings, keyring, DirectorySink(out), v2)
    assert _versions(held_files(out)) == [2] and [p.name for p in out.glob("*.json")] == [f"{key}.json"]
    assert held_files(out)[0]["header"]["message_id"] == v2["header"]["message_id"]
    again = await deliver(settings, keyring, DirectorySink(out), v1)
    assert _versions(held_files(out)) == [2]
    erased = await deliver(settings, keyring, DirectorySink(out), v3)
    assert not list(out.glob("*.json"))
    after = await deliver(settings, keyring, DirectorySink(out), v1, v2)
    assert not list(out.glob("*.json"))

    assert operations(keyring, [*first, *second, *again, *erased, *after]) == [
        (ACCEPTED, "STORED"), (ACCEPTED, "REPLACED"), (ACCEPTED, "STORED"), (ACCEPTED, "ERASED"),
        (ACCEPTED, "STORED"), (ACCEPTED, "REPLACED"),  # what they did when applied: said again, done again never
    ]  # fmt: skip
    assert receipt(keyring, again[0])["receipt_id"] == receipt(keyring, first[0])["receipt_id"]
    assert "DE-BZR" not in " ".join(p.name for p in out.iterdir())


async def test_an_older_version_is_not_applied_but_receipted(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """Versions out of order (v2 before v1, a DELETION before the notification): the older one is receipted
    ACCEPTED with operation STALE and not applied; the erased record stays erased (its tombstone holds)."""
    out = tmp_path / "fr"
    outs = await deliver(settings, keyring, DirectorySink(out), version(2, "UPDATE"))
    outs += await deliver(settings, keyring, DirectorySink(out), version(1))
    assert _versions(held_files(out)) == [2]
    gone = tmp_path / "gone"
    outs += await deliver(settings, keyring, DirectorySink(gone), version(3, "DELETION"))
    outs += await deliver(settings, keyring, DirectorySink(gone), version(1), version(2, "UPDATE"))
    assert not list(gone.glob("*.json"))
    assert operations(keyring, outs) == [
        (ACCEPTED, "STORED"), (ACCEPTED, "STALE"), (ACCEPTED, "ERASED"), (ACCEPTED, "STALE"), (ACCEPTED, "STALE"),
    ]  # fmt: skip
    outs = await deliver(settings, keyring, DirectorySink(gone), version(4, "UPDATE"), version(3, "DELETION"))
    # newer than the erasure: a new record; the erasure redelivered is receipted as before and does not undo v4
    assert operations(keyring, outs) == [(ACCEPTED, "STORED"), (ACCEPTED, "ERASED")]
    assert _versions(held_files(gone)) == [4]
    newer = tmp_path / "newer"
    outs = await deliver(settings, keyring, DirectorySink(newer), version(4, "UPDATE"), version(3, "DELETION"))
    assert operations(keyring, outs) == [(ACCEPTED, "STORED"), (ACCEPTED, "STALE")]  # a deletion of an older version
    assert _versions(held_files(newer)) == [4]


async def test_an_erasure_is_logged_and_proven_to_the_partner(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """The DELETION's receipt (operation ERASED) makes the audit writer log one ERASURE (also when the deletion
    is redelivered), under the id the partner's log watch expects; the watch proves it in the signed log."""
    sink = DirectorySink(tmp_path / "fr")
    writer = audit_writer(settings, keyring, tmp_path / "audit.sqlite3")
    api = AuditHttpServer(AuditApi(writer.store), "127.0.0.1", 0)
    verifiers = [writer.signers[0].verifier()]
    watcher = LogWatcher("FR", lambda: api.url, verifiers, settings.audit_log_origin, tmp_path / "watch.sqlite3")
    partner = client(settings, keyring, sink)
    partner.watcher = watcher
    deletion = version(3, "DELETION")
    value, ctx = sealed(keyring, deletion)
    outs = [
        *await partner.handle([consumed(*sealed(keyring, version(1)))]),
        *await partner.handle([consumed(value, ctx, offset=1)]),
        *await client(settings, keyring, DirectorySink(tmp_path / "fr")).handle([consumed(value, ctx, offset=2)]),
    ]
    await log_receipts(settings, writer, outs)
    writer.sign_pending()
    [erasure] = writer.store.events(event_type="ERASURE")
    message_id = str(deletion["header"]["message_id"])
    receipt_id = stable_id("receipt", "FR", message_id, ACCEPTED)
    assert str(erasure["event_id"]) == erasure_event_id(message_id, ctx.correlation_id, "FR", receipt_id)
    assert (erasure["message_id"], erasure["actor"], erasure["outcome"]) == (message_id, "FR", "erased")
    assert writer.conflicts._value.get() == 0 and not writer.store.events(event_type="ERROR")
    assert len(writer.store.events(event_type="DELIVERY_RECEIPT")) == 2  # v1's and the deletion's, once each

    result = await check_once_served(api, watcher)
    assert result.problems == () and result.waiting == 2  # the two DISCLOSUREs: no router in this test
    assert watcher.verified.labels("FR", "ERASURE")._value.get() == 1
    assert watcher.verified.labels("FR", "DELIVERY_RECEIPT")._value.get() == 2


async def test_requests_and_case_notices_stay_per_message(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """A message without record lifecycle (a REQUEST) is kept as ``<message id>.json``, receipted STORED, and
    deduplicated across restarts by the ledger."""
    from adapters.base import ParseContext, get_adapter

    adapter = get_adapter("json-v1")
    [request] = adapter.parse(
        dict(adapter.samples())["FR-request-pl.json"], ParseContext("FR", dt.datetime.now(dt.UTC))
    )
    value, ctx = sealed(keyring, request, recipient="PL")
    out = tmp_path / "pl"
    first = await client(settings, keyring, DirectorySink(out), "PL").handle([consumed(value, ctx)])
    (out / f"{ctx.message_id}.json").write_text("{}")  # if it were delivered again, this would be overwritten
    again = await client(settings, keyring, DirectorySink(out), "PL").handle([consumed(value, ctx, 1)])
    assert [p.name for p in out.glob("*.json")] == [f"{ctx.message_id}.json"]
    assert (out / f"{ctx.message_id}.json").read_text() == "{}"
    assert operations(keyring, [*first, *again]) == [(ACCEPTED, "STORED"), (ACCEPTED, "STORED")]


class Store:
    """A partner system's store behind ``SinkCallbacks``: records by key, messages by id, and every call."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, dict[str, Any]] = {}
        self.calls: list[tuple[str, str, int]] = []

    def upsert(self, key: str, record: dict[str, Any]) -> None:
        self.records[key] = record
        self.calls.append(("upsert", key, record["header"]["source_record_version"]))

    def delete(self, key: str, version: int) -> None:
        self.records.pop(key, None)
        self.calls.append(("delete", key, version))

    def message(self, message_id: str, record: dict[str, Any]) -> None:
        self.messages[message_id] = record
        self.calls.append(("message", message_id, 0))


async def test_a_callback_sink_gets_upserts_and_deletes(settings: Settings, keyring: KeyRing, tmp_path: Path) -> None:
    """``CallbackSink`` with ``SinkCallbacks``: upsert per newer version, delete on DELETION, nothing for a stale
    or redelivered version, also after a restart on the same ledger."""
    store, ledger = Store(), tmp_path / "ledger.sqlite3"
    key = record_key("DE", "DE-BZR-SYNTH-2024-000202")
    outs = await deliver(settings, keyring, CallbackSink(store, ledger), version(2, "UPDATE"), version(1))
    outs += await deliver(settings, keyring, CallbackSink(store, ledger), version(3, "DELETION"), version(2, "UPDATE"))
    assert store.calls == [("upsert", key, 2), ("delete", key, 3)]
    assert store.records == {}
    assert operations(keyring, outs) == [
        (ACCEPTED, "STORED"), (ACCEPTED, "STALE"), (ACCEPTED, "ERASED"), (ACCEPTED, "STORED"),
    ]  # fmt: skip


async def test_records_whose_retention_ended_are_purged_with_erasure_receipts(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """``purge``: a record whose every conviction's retention end has come is removed and an erasure receipt
    (ACCEPTED, ERASED, the id of its delivery's receipt) sent for the delivery that brought it; a record with a
    later retention end stays. A failed send leaves the receipts owed for the next round; once sent, nothing is
    owed. The audit writer logs one ERASURE and no second DELIVERY_RECEIPT; a redelivery brings nothing back."""
    out = tmp_path / "fr"
    today = dt.date(2027, 3, 1)
    ended = version(1, retention_end="2027-03-01")
    kept = version(1, retention_end="2027-03-02", record_id="DE-BZR-SYNTH-2024-000999")
    delivered = await deliver(settings, keyring, DirectorySink(out), ended, kept)
    assert len(list(out.glob("*.json"))) == 2

    async def fail(_: list[OutRecord]) -> None:
        raise TransientError("broker away")

    sent: list[OutRecord] = []

    async def send(receipts: list[OutRecord]) -> None:
        sent.extend(receipts)

    now = dt.datetime.combine(today, dt.time(1), dt.UTC)
    with pytest.raises(TransientError):
        await client(settings, keyring, DirectorySink(out)).purge(now, fail)
    assert _versions(held_files(out)) == [1] and held_files(out)[0]["header"]["source_record_id"].endswith("999")
    assert await client(settings, keyring, DirectorySink(out)).purge(now, send) == 1  # owed from the failed round
    assert await client(settings, keyring, DirectorySink(out)).purge(now, send) == 0
    [erasure] = sent
    message_id = str(ended["header"]["message_id"])
    assert (receipt(keyring, erasure)["message_id"], operations(keyring, sent)) == (message_id, [(ACCEPTED, "ERASED")])
    assert receipt(keyring, erasure)["receipt_id"] == receipt(keyring, delivered[0])["receipt_id"]

    writer = audit_writer(settings, keyring, tmp_path / "audit.sqlite3")
    await log_receipts(settings, writer, delivered)
    await log_receipts(settings, writer, sent)
    [event] = writer.store.events(event_type="ERASURE")
    correlation = receipt(keyring, erasure)["correlation_id"]
    assert str(event["event_id"]) == erasure_event_id(
        message_id, correlation, "FR", receipt(keyring, erasure)["receipt_id"]
    )
    receipts = writer.store.events(event_type="DELIVERY_RECEIPT")
    assert len(receipts) == 2 and writer.conflicts._value.get() == 0
    assert str(receipts[0]["event_id"]) == receipt_event_id(
        message_id, correlation, "FR", receipt(keyring, erasure)["receipt_id"]
    )

    again = await deliver(settings, keyring, DirectorySink(out), ended)
    assert operations(keyring, again) == [(ACCEPTED, "STORED")] and len(list(out.glob("*.json"))) == 1


def test_the_ledger_lives_beside_the_records_and_is_no_record(tmp_path: Path) -> None:
    """The sink's ledger is a hidden file in its directory: a partner reading ``*.json`` never sees it."""
    sink = DirectorySink(tmp_path / "fr")
    assert (tmp_path / "fr" / LEDGER_FILE).exists() and not list((tmp_path / "fr").glob("*.json"))
    assert sink.applied("never-seen") is None
    assert Operation.ERASED.symbol == "ERASED"


async def test_records_filed_per_message_by_an_older_client_are_refiled_by_key(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """A directory written before records had a life (``<message id>.json`` per message): opening it re-files
    each record under its key at its latest version (a record deleted there is removed), keeps requests as they
    are, and notes every message id, so a redelivery changes nothing and a later DELETION erases the record."""
    from adapters.base import ParseContext, get_adapter
    from services.partner.jsonout import to_json

    out = tmp_path / "fr"
    out.mkdir()
    adapter = get_adapter("json-v1")
    [request] = adapter.parse(
        dict(adapter.samples())["FR-request-pl.json"], ParseContext("FR", dt.datetime.now(dt.UTC))
    )
    v1, v2 = version(1), version(2, "UPDATE")
    gone = [version(1, record_id="R-GONE"), version(2, "DELETION", record_id="R-GONE")]
    for record in (v1, v2, request, *gone):
        (out / f"{record['header']['message_id']}.json").write_text(to_json(dict(record)))

    sink = DirectorySink(out)
    key = record_key("DE", "DE-BZR-SYNTH-2024-000202")
    assert sorted(p.stem for p in out.glob("*.json")) == sorted([key, str(request["header"]["message_id"])])
    assert _versions([json.loads((out / f"{key}.json").read_text())]) == [2]
    assert sink.ledger.held(record_key("DE", "R-GONE")) is not None  # tombstoned
    assert DirectorySink(out).applied(str(v1["header"]["message_id"])) is Operation.STORED  # idempotent reopen
    outs = await deliver(settings, keyring, DirectorySink(out), v1, version(3, "DELETION"))
    assert operations(keyring, outs) == [(ACCEPTED, "STORED"), (ACCEPTED, "ERASED")]
    assert [p.stem for p in out.glob("*.json")] == [str(request["header"]["message_id"])]
