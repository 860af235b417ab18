"""``crx retention run`` on a real data directory: drop directory files, the intake store and a partner's outputs
past their retention are purged (counts only in the output), a dry run deletes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from services.cli.main import main
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
