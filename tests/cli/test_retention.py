"""``crx retention run`` on a real data directory: drop directory files, the intake store and a partner's outputs
past their retention are purged (counts only in the output), a dry run deletes nothing."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from services.cli.main import main
from services.devstack.pipeline import ensure_keys
from services.intake.idempotency import IdempotencyStore
from services.intake.outbox import Outbox
from services.kernel.config import Settings
from services.keys.ring import KeyRing
from services.partner.directory import DirectorySink
from tests.partner.helpers import deliver, held_files, version
from tests.retention.helpers import NOW, aged_drop_files, aged_intake_store


def _run(settings: Settings, *args: str) -> dict[str, Any]:
    env = {"CRX_DATA_DIR": str(settings.data_dir), "CRX_JURISDICTIONS": ",".join(settings.jurisdictions)}
    result = CliRunner(env=env).invoke(main, ["retention", "run", "--now", NOW.isoformat(), "--json", *args])
    assert result.exit_code == 0, result.output
    answer: dict[str, Any] = json.loads(result.output)
    return answer


def _counts(answer: dict[str, Any]) -> dict[str, tuple[int, int, int]]:
    return {s["store"]: (s["due"], s["purged"], s["held"]) for s in answer["stores"]}


async def test_retention_run_purges_a_data_dir(settings: Settings, keyring: KeyRing) -> None:
    """Past retention at --now: old done/ and failed/ files, old settled submissions, old idempotency answers
    and the partner record whose retention end passed are purged; fresh ones and an unsettled submission stay.
    The output names no file and no record; the partner's erasure receipt is reported owed."""
    files = aged_drop_files(settings)
    aged_intake_store(settings)
    out = settings.data_dir / "out" / "FR"
    ended = version(1, retention_end="2027-05-01")
    kept = version(1, retention_end="2027-09-01", record_id="DE-BZR-SYNTH-2024-000999")
    sink = DirectorySink(out)
    await deliver(settings, keyring, sink, ended, kept)
    sink.close()

    dry = _run(settings, "--dry-run")
    expected = {
        "drop_done": (1, 0, 0), "drop_failed": (1, 0, 0), "intake_outbox": (1, 0, 1),
        "intake_idempotency": (1, 0, 0), "partner_outputs": (1, 0, 0), "dead_letters": (0, 0, 0),
        "broker_keys": (0, 0, 0),
    }  # fmt: skip
    assert dry["dry_run"] and _counts(dry) == expected
    assert all(path.exists() for path in files.values()) and len(held_files(out)) == 2

    done = _run(settings)
    assert _counts(done) == {store: (due, due, held) for store, (due, _, held) in expected.items()}
    assert {name for name, path in files.items() if path.exists()} == {"fresh_done"}
    assert [r["header"]["source_record_id"] for r in held_files(out)] == ["DE-BZR-SYNTH-2024-000999"]
    [partners] = [s for s in done["stores"] if s["store"] == "partner_outputs"]
    assert partners["extra"] == {"partners": 1, "receipts_owed": 1}
    outbox = Outbox(settings)
    assert set(outbox.stored(["settled-old", "open-old"])) == {"open-old"}
    outbox.close()
    keys = IdempotencyStore(settings.data_dir / "intake-idempotency.sqlite3")
    assert keys.forget_older(NOW, 30, forget=False) == 0
    keys.close()
    text = json.dumps(done)
    assert "export-" not in text and "DE-BZR" not in text and "s-old" not in text
    assert _counts(_run(settings))["drop_done"] == (0, 0, 0)


def test_retention_run_on_an_empty_data_dir_creates_nothing(tmp_path: Path, settings: Settings) -> None:
    """A data directory crx never ran in: every count is 0 and no store is created."""
    empty = settings.replace(data_dir=tmp_path / "nothing")
    answer = _run(empty)
    assert all(s["due"] == 0 for s in answer["stores"]) and not (tmp_path / "nothing").exists()


def test_retention_run_with_key_epochs_rotates_then_destroys_the_broker_key(tmp_path: Path) -> None:
    """--key-epochs: once the broker's encryption key is older than an epoch a run rotates it; once the old key
    is past every retention of the copies sealed to it, a run destroys it (its private file is gone). Without
    the flag a run leaves the keys alone and says where epochs are to run."""
    settings = Settings(data_dir=tmp_path / "crx", jurisdictions=("DE", "FR"))
    started = dt.datetime.now(dt.UTC)
    ring = ensure_keys(settings, [settings.broker_party], started)
    [first] = [e for e in ring.registry.entries(settings.broker_party) if e.purpose == "encryption"]

    def run(at: dt.datetime, *args: str) -> dict[str, Any]:
        env = {"CRX_DATA_DIR": str(settings.data_dir), "CRX_JURISDICTIONS": "DE,FR"}
        result = CliRunner(env=env).invoke(main, ["retention", "run", "--now", at.isoformat(), "--json", *args])
        assert result.exit_code == 0, result.output
        [keys] = [s for s in json.loads(result.output)["stores"] if s["store"] == "broker_keys"]
        return dict(keys)

    assert "not run here" in run(started + dt.timedelta(days=8))["note"]
    assert run(started + dt.timedelta(days=1), "--key-epochs")["extra"] == {"rotated": 0, "kept": 1}
    epoch_end = started + dt.timedelta(days=settings.broker_key_epoch_days + 1)
    assert run(epoch_end, "--key-epochs")["extra"] == {"rotated": 1, "kept": 2}
    assert run(epoch_end, "--key-epochs", "--dry-run")["due"] == 0  # the old key is still needed
    later = epoch_end + dt.timedelta(days=settings.topic_retention_days + settings.dlq_retention_days + 2)
    dry = run(later, "--key-epochs", "--dry-run")
    assert (dry["due"], dry["purged"]) == (1, 0) and ring.store.holds(settings.broker_party, first.key_id)
    done = run(later, "--key-epochs")
    assert (done["due"], done["purged"]) == (1, 1)
    assert not ring.store.holds(settings.broker_party, first.key_id)
    reloaded = KeyRing.open(settings.keys_dir, None)
    assert reloaded.registry.get(settings.broker_party, first.key_id).status == "destroyed"
