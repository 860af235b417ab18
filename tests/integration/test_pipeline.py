"""End to end on the real broker: a DE notification about an FR+PL national reaches FR and PL only.

One pipeline run per module (the ``run`` fixture) records what happened; each test judges one behaviour of
it, so one failure does not hide the others.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import shutil
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from services.audit.accounting import Accounting, account
from services.audit.notekey import load_note_verifiers
from services.audit.sqlite_store import SqliteAuditStore
from services.audit.tree_verify import VerifyResult
from services.intake.publisher import PushResult, Submission
from services.kernel.config import Settings
from services.kernel.envelope import Opener
from services.kernel.errors import EnvelopeError
from services.keys.ring import KeyRing
from tests.fixtures.broker import make_settings
from tests.fixtures.keys import make_keyring
from tests.integration.helpers import PARTNERS, eventually, read_topic, running, sample
from tests.integration.raw_producer import produce_raw

pytestmark = pytest.mark.integration

SAMPLE = "DE-notification-fr-pl.json"
BROKER = frozenset({"crx"})


@dataclass(frozen=True)
class PipelineRun:
    """What the pipeline did with SAMPLE, in the order it was observed while running."""

    settings: Settings
    keyring: KeyRing
    result: PushResult
    settled: bool  # the audit log accounted the submission complete in time
    accounting: Accounting  # once settled (or given up on)
    delivered: dict[str, list[Path]]  # the files each partner's client wrote, once settled
    out_raw: dict[str, list[bytes]]  # the raw records on crx.out.FR and crx.out.PL
    copy_refused: bool  # PL's client sent a rejected receipt for FR's record copied onto PL's topic
    delivered_to_pl_after_copy: list[Path]
    audit: VerifyResult  # the audit log verified by the running pipeline, after all the above

    def record(self, party: str) -> dict[str, Any]:
        """The one record delivered to ``party``, as its client wrote it."""
        files = self.delivered[party]
        assert len(files) == 1, f"{party} got {len(files)} files"
        data: dict[str, Any] = json.loads(files[0].read_text())
        return data


def _files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.json"))


@pytest.fixture(scope="module")
async def run(kafka_bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> PipelineRun:
    """Publish SAMPLE, wait for it to settle, read the outputs, copy FR's record onto PL's topic, verify the
    audit log, then stop the pipeline (stopping signs the last entries). Records; asserts nothing."""
    settings = make_settings(kafka_bootstrap, tmp_path_factory.mktemp("pipeline") / "data")
    keyring = make_keyring(settings)
    async with running(settings, keyring) as pipeline:
        [result] = await pipeline.publisher.publish(
            [Submission("DE", "json-v1", sample(SAMPLE))], dt.datetime.now(dt.UTC)
        )
        settled = result.accepted and await eventually(lambda: account(pipeline.store, [result.submission_id]).complete)
        accounting = account(pipeline.store, [result.submission_id])
        delivered = {party: _files(pipeline.out_dir / party) for party in PARTNERS}
        outputs = await asyncio.gather(*(read_topic(settings, settings.topic(f"out.{p}")) for p in ("FR", "PL")))
        out_raw = {party: [r.value for r in records] for party, records in zip(("FR", "PL"), outputs, strict=True)}

        copy_refused = False
        if out_raw["FR"]:
            await produce_raw(settings, settings.topic("out.PL"), out_raw["FR"][0])
            copy_refused = await eventually(
                lambda: any(
                    e["outcome"] == "rejected" and e["actor"] == "PL"
                    for e in pipeline.store.events(event_type="DELIVERY_RECEIPT")
                )
            )
        delivered_to_pl_after_copy = _files(pipeline.out_dir / "PL")
        audit = pipeline.verify_audit()
    return PipelineRun(
        settings,
        keyring,
        result,
        settled,
        accounting,
        delivered,
        out_raw,
        copy_refused,
        delivered_to_pl_after_copy,
        audit,
    )


def test_the_submission_is_accepted(run: PipelineRun) -> None:
    """The intake accepts DE's json-v1 notification."""
    assert run.result.accepted, run.result.reason


def test_the_submission_settles_in_the_audit_log(run: PipelineRun) -> None:
    """The audit log accounts for the submission completely: delivered, and every disclosure receipted."""
    assert run.settled, run.accounting.as_dict()


def test_each_nationality_state_gets_the_record_once(run: PipelineRun) -> None:
    """The audit log discloses the record once to FR and once to PL, and each client writes one file."""
    assert dict(run.accounting.delivered) == {"FR": 1, "PL": 1}
    assert len(run.delivered["FR"]) == 1 and len(run.delivered["PL"]) == 1


def test_the_sending_state_gets_nothing(run: PipelineRun) -> None:
    """DE, the sender and not a nationality state, is delivered nothing."""
    assert not run.delivered["DE"]


def test_each_delivery_is_receipted(run: PipelineRun) -> None:
    """FR's and PL's clients each log an accepted delivery receipt."""
    assert run.accounting.receipts == 2


def test_the_full_agreement_keeps_identifiers(run: PipelineRun) -> None:
    """FR's agreement (ecris-full) keeps identifiers, birth place, the full birth date and file numbers."""
    fr = run.record("FR")
    assert fr["person"]["national_identifiers"] and fr["person"]["birth_place"]
    assert fr["person"]["birth_date"]["day"] is not None
    assert fr["convictions"][0]["file_number"]


def test_the_minimal_agreement_minimises(run: PipelineRun) -> None:
    """PL's agreement (ecris-minimal) drops identifiers, birth place, parents, fingerprints, the birth day and
    month, and file numbers; the birth year stays."""
    fr, pl = run.record("FR"), run.record("PL")
    assert pl["person"]["national_identifiers"] == [] and pl["person"]["birth_place"] is None
    assert pl["person"]["parent_names"] == [] and pl["person"]["fingerprint_reference"] is None
    assert pl["person"]["birth_date"]["month"] is None and pl["person"]["birth_date"]["day"] is None
    assert pl["person"]["birth_date"]["year"] == fr["person"]["birth_date"]["year"]
    assert pl["convictions"][0]["file_number"] is None


def test_each_envelope_opens_for_its_recipient_on_its_channel(run: PipelineRun) -> None:
    """FR's record opens with FR's key on out.FR, PL's with PL's key on out.PL, both signed by the broker."""
    now = dt.datetime.now(dt.UTC)
    for party in ("FR", "PL"):
        opener = Opener(run.keyring.registry, run.keyring.store, party)
        opener.open(run.out_raw[party][0], channel=f"out.{party}", now=now, signers=BROKER)


@pytest.mark.parametrize(
    ("opener_party", "record_of", "channel"),
    [
        pytest.param("FR", "PL", "out.PL", id="FR-key-on-PL-record"),
        pytest.param("PL", "FR", "out.PL", id="FR-record-copied-to-PL-topic"),
        pytest.param("FR", "FR", "out.PL", id="FR-record-on-another-channel-even-with-FR-key"),
    ],
)
def test_an_envelope_opens_only_for_its_recipient_on_its_channel(
    run: PipelineRun, opener_party: str, record_of: str, channel: str
) -> None:
    """Another party's key, or the right key on another channel, is refused with an EnvelopeError."""
    opener = Opener(run.keyring.registry, run.keyring.store, opener_party)
    raw = run.out_raw[record_of][0]
    with pytest.raises(EnvelopeError):
        opener.open(raw, channel=channel, now=dt.datetime.now(dt.UTC), signers=BROKER)


def test_a_record_copied_onto_another_partners_topic_is_refused(run: PipelineRun) -> None:
    """PL's client answers FR's record on PL's topic with a negative receipt, and writes no file for it."""
    assert run.copy_refused
    assert len(run.delivered_to_pl_after_copy) == 1


def test_the_running_audit_log_verifies(run: PipelineRun) -> None:
    """After everything above (the negative receipt included), the running pipeline's audit log verifies."""
    assert run.audit.ok, run.audit


def _verify_stopped_log(settings: Settings) -> tuple[VerifyResult, int]:
    """The stopped pipeline's audit log verified against its note key(s), and its size."""
    store = SqliteAuditStore(settings.audit_db_path)
    try:
        return store.verify(load_note_verifiers(settings)), store.size
    finally:
        store.close()


def test_stopping_signs_every_entry(run: PipelineRun) -> None:
    """After the pipeline stopped, the log verifies and its latest checkpoint signs every entry."""
    result, size = _verify_stopped_log(run.settings)
    assert result.ok and result.signed == result.entries == size  # stopping signed the last entries


def test_any_byte_change_breaks_verification(run: PipelineRun, tmp_path: Path) -> None:
    """Flip one byte of every stored value (each leaf and its query column, each node, each checkpoint's root
    and note) in turn, as an attacker who drops the triggers would: verify must fail, naming the leaf."""
    settings = run.settings
    verifiers = load_note_verifiers(settings)
    original = Path(settings.audit_db_path)
    assert _verify_stopped_log(settings)[0].ok, "the untouched log must verify for this test to mean anything"
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
