"""End to end on the real broker: a DE notification about an FR+PL national reaches FR and PL only."""

from __future__ import annotations

import datetime as dt
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from services.audit.accounting import account
from services.audit.notekey import load_note_verifiers
from services.audit.sqlite_store import SqliteAuditStore
from services.intake.publisher import Submission
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.errors import EnvelopeError
from services.keys.ring import KeyRing
from tests.integration.helpers import read_topic, running, sample, wait_for

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr-pl.json"


async def test_notification_reaches_each_nationality_state_minimised_and_audited(
    settings: Settings, keyring: KeyRing, tmp_path: Path
) -> None:
    """FR and PL each get the record sealed to their own key, minimised per agreement, receipts logged."""
    async with running(settings, keyring) as pipeline:
        [result] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", sample(SAMPLE))], dt.datetime.now(dt.UTC)
        )
        assert result.accepted
        await wait_for(lambda: account(pipeline.store, [result.submission_id]).complete)
        acc = account(pipeline.store, [result.submission_id])
        assert dict(acc.delivered) == {"FR": 1, "PL": 1}
        assert acc.receipts == 2

        fr_files = list((pipeline.out_dir / "FR").glob("*.json"))
        pl_files = list((pipeline.out_dir / "PL").glob("*.json"))
        assert len(fr_files) == 1 and len(pl_files) == 1
        assert not (pipeline.out_dir / "DE").exists() or not list((pipeline.out_dir / "DE").glob("*.json"))
        fr = json.loads(fr_files[0].read_text())
        pl = json.loads(pl_files[0].read_text())
        # FR's agreement (ecris-full) keeps identifiers and the full birth date; PL's (ecris-minimal) does not.
        assert fr["person"]["national_identifiers"] and fr["person"]["birth_place"]
        assert fr["person"]["birth_date"]["day"] is not None
        assert pl["person"]["national_identifiers"] == [] and pl["person"]["birth_place"] is None
        assert pl["person"]["parent_names"] == [] and pl["person"]["fingerprint_reference"] is None
        assert pl["person"]["birth_date"]["month"] is None and pl["person"]["birth_date"]["day"] is None
        assert pl["person"]["birth_date"]["year"] == fr["person"]["birth_date"]["year"]
        assert pl["convictions"][0]["file_number"] is None and fr["convictions"][0]["file_number"]

        # Each envelope opens only for its recipient, and only on its own channel.
        now = dt.datetime.now(dt.UTC)
        fr_raw = (await read_topic(settings, settings.topic("out.FR")))[0].value
        pl_raw = (await read_topic(settings, settings.topic("out.PL")))[0].value
        fr_opener = Opener(keyring.registry, keyring.store, "FR")
        pl_opener = Opener(keyring.registry, keyring.store, "PL")
        broker = frozenset({"crx"})
        fr_opener.open(fr_raw, channel="out.FR", now=now, signers=broker)
        pl_opener.open(pl_raw, channel="out.PL", now=now, signers=broker)
        for opener, raw, channel in (
            (fr_opener, pl_raw, "out.PL"),  # FR's key on PL's record
            (pl_opener, fr_raw, "out.PL"),  # FR's record copied to PL's topic
            (fr_opener, fr_raw, "out.PL"),  # FR's record on another channel, even with FR's key
        ):
            with pytest.raises(EnvelopeError):
                opener.open(raw, channel=channel, now=now, signers=broker)

        # A record copied onto another partner's topic is refused by that partner's client (negative receipt).
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap, acks="all")
        await producer.start()
        try:
            await producer.send_and_wait(settings.topic("out.PL"), fr_raw)
        finally:
            await producer.stop()
        await wait_for(
            lambda: any(
                e["outcome"] == "rejected" and e["actor"] == "PL"
                for e in pipeline.store.events(event_type="DELIVERY_RECEIPT")
            )
        )
        assert len(list((pipeline.out_dir / "PL").glob("*.json"))) == 1
        assert pipeline.verify_audit().ok

    _assert_any_byte_change_breaks_verification(settings, tmp_path)


def _assert_any_byte_change_breaks_verification(settings: Settings, tmp_path: Path) -> None:
    """Flip one byte of every stored value (each leaf and its query column, each node, each checkpoint's root
    and note) in turn, as an attacker who drops the triggers would: verify must fail, naming the leaf."""
    verifiers = load_note_verifiers(settings)
    original = Path(settings.audit_db_path)
    store = SqliteAuditStore(str(original))
    result = store.verify(verifiers)
    assert result.ok and result.signed == result.entries == store.size  # stopping signed the last entries
    store.close()
    cases: list[tuple[str, str, str, tuple[int, ...], bytes, int | None]] = []
    db = sqlite3.connect(original)
    for idx, leaf, event_type in db.execute("SELECT idx, leaf, event_type FROM leaves"):
        cases += [("leaves", "leaf", "idx = ?", (idx,), bytes(leaf), idx)]
        cases.append(("leaves", "event_type", "idx = ?", (idx,), event_type.encode(), idx))
    for level, idx, digest in db.execute("SELECT level, idx, hash FROM nodes"):
        cases.append(("nodes", "hash", "level = ? AND idx = ?", (level, idx), bytes(digest), idx << level))
    for size, root, note in db.execute("SELECT size, root, note FROM checkpoints"):
        cases += [("checkpoints", "root", "size = ?", (size,), bytes(root), None)]
        cases.append(("checkpoints", "note", "size = ?", (size,), note.encode(), None))
    db.close()
    assert len(cases) > 20
    for table, column, where, key, value, bad_index in cases:
        for position in {0, len(value) // 2, len(value) - 1}:
            copy = tmp_path / "tampered.sqlite3"
            shutil.copy(original, copy)
            tampered = bytearray(value)
            tampered[position] ^= 0x01
            conn = sqlite3.connect(copy)
            conn.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
            new: bytes | str = bytes(tampered) if column in ("leaf", "hash", "root") else tampered.decode("latin-1")
            conn.execute(f"UPDATE {table} SET {column} = ? WHERE {where}", (new, *key))  # noqa: S608
            conn.commit()
            conn.close()
            tampered_store = SqliteAuditStore(str(copy))
            result = tampered_store.verify(verifiers)
            tampered_store.close()
            assert not result.ok, f"undetected change in {table}.{column} of {key} at byte {position}"
            if bad_index is not None:
                assert result.bad_index == bad_index, (table, column, key, result)
            copy.unlink()
            for suffix in ("-wal", "-shm"):
                Path(str(copy) + suffix).unlink(missing_ok=True)
