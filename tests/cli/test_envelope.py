"""`crx envelope seal | open | inspect` on real keys and files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.devstack.pipeline import ensure_keys
from services.kernel.config import load_settings


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A data dir with keys for the broker, FR and PL, as CRX_ environment."""
    settings = load_settings(None, {}, data_dir=tmp_path / "data")
    ensure_keys(settings, ("crx", "FR", "PL"), dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1))
    return {"CRX_DATA_DIR": str(tmp_path / "data")}


def test_seal_then_open_round_trips_and_prints_only_metadata(env: dict[str, str], tmp_path: Path) -> None:
    """FR opens what was sealed to FR; the plaintext is never on stderr; inspect shows the routing fields."""
    secret = b"Synthetic Person, born 1980-04-12"
    (tmp_path / "plain.bin").write_bytes(secret)
    runner = CliRunner(env=env)
    sealed = runner.invoke(main, ["envelope", "seal", "--to", "FR", "--in", str(tmp_path / "plain.bin"),
                                  "--out", str(tmp_path / "env.bin"), "--message-id", "m-1"])  # fmt: skip
    assert sealed.exit_code == 0, sealed.output
    meta = json.loads(sealed.stderr)
    assert (meta["recipient"], meta["channel"], meta["signer"], meta["message_id"]) == ("FR", "out.FR", "crx", "m-1")
    assert secret not in (tmp_path / "env.bin").read_bytes()
    opened = runner.invoke(main, ["envelope", "open", "--as", "FR", "--in", str(tmp_path / "env.bin"),
                                  "--out", str(tmp_path / "back.bin")])  # fmt: skip
    assert opened.exit_code == 0, opened.output
    assert (tmp_path / "back.bin").read_bytes() == secret
    assert "Synthetic" not in opened.stderr
    inspected = runner.invoke(main, ["envelope", "inspect", "--in", str(tmp_path / "env.bin")])
    assert json.loads(inspected.stdout)["recipient_key_id"] == meta["recipient_key_id"]


@pytest.mark.parametrize(
    ("args", "damage"),
    [(["--as", "PL"], False), (["--as", "FR", "--channel", "out.PL"], False), (["--as", "FR"], True),
     (["--as", "FR", "--from", "PL"], False)],
)  # fmt: skip
def test_open_refuses_with_one_opaque_error(env: dict[str, str], tmp_path: Path, args: list[str], damage: bool) -> None:
    """Another party, another channel, a flipped byte or an unexpected signer: the same refusal, exit 1."""
    (tmp_path / "plain.bin").write_bytes(b"payload")
    runner = CliRunner(env=env)
    runner.invoke(main, ["envelope", "seal", "--to", "FR", "--in", str(tmp_path / "plain.bin"),
                         "--out", str(tmp_path / "env.bin")])  # fmt: skip
    if damage:
        data = bytearray((tmp_path / "env.bin").read_bytes())
        data[len(data) // 2] ^= 0x01
        (tmp_path / "env.bin").write_bytes(bytes(data))
    result = runner.invoke(main, ["envelope", "open", "--in", str(tmp_path / "env.bin"), *args])
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip() == "refused: ENVELOPE: envelope could not be verified or opened"
