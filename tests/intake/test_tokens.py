"""The intake's token book: digests only, rotation with overlap, revocation, and a broken file failing closed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from services.cli import main
from services.intake.tokens import TokenBook
from services.kernel.errors import ConfigError


def test_tokens_are_stored_as_digests_only(tmp_path: Path) -> None:
    """The token file holds SHA-256 digests; a new token replaces the old one; another process's change is
    seen at once by the running book."""
    book = TokenBook.open(tmp_path / "t.json")
    old = book.issue("DE")
    new = book.issue("DE")
    assert old not in (tmp_path / "t.json").read_text() and new not in (tmp_path / "t.json").read_text()
    reopened = TokenBook.open(tmp_path / "t.json")
    assert reopened.jurisdiction_of(new) == "DE" and reopened.jurisdiction_of(old) is None
    assert oct((tmp_path / "t.json").stat().st_mode & 0o777) == "0o600"
    newer = TokenBook.open(tmp_path / "t.json").issue("DE")
    fr = TokenBook.open(tmp_path / "t.json").issue("FR")
    assert reopened.jurisdiction_of(newer) == "DE" and reopened.jurisdiction_of(fr) == "FR"
    assert reopened.jurisdiction_of(new) is None
    (tmp_path / "t.json").unlink()
    assert reopened.jurisdiction_of(fr) is None  # a removed file admits nobody


@pytest.mark.parametrize("content", ["not json", '{"DE": 5}', '{"DE": ["abc"]}', '{"DE": []}'])
def test_a_broken_file_fails_closed_until_fixed(tmp_path: Path, content: str) -> None:
    """A malformed edit never keeps old (perhaps revoked) tokens alive: every lookup raises until it is fixed."""
    path = tmp_path / "t.json"
    book = TokenBook.open(path)
    token = book.issue("FR")
    good = path.read_text()
    path.write_text(content)
    with pytest.raises(ConfigError):
        book.jurisdiction_of(token)
    with pytest.raises(ConfigError):
        book.jurisdiction_of(token)  # still, without the file changing
    path.write_text(good)
    assert book.jurisdiction_of(token) == "FR"


def test_rotation_with_overlap_then_revoking_the_old_token(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    book = TokenBook.open(path)
    first = book.issue("DE")
    second = book.issue("DE", keep_old=True)
    assert book.jurisdiction_of(first) == book.jurisdiction_of(second) == "DE"
    third = book.issue("DE", keep_old=True)  # at most two: the oldest goes
    assert book.jurisdiction_of(first) is None and book.jurisdiction_of(second) == "DE"
    assert book.revoke("DE", old_only=True) == 1
    assert book.jurisdiction_of(second) is None and book.jurisdiction_of(third) == "DE"
    assert book.revoke("DE") == 1
    assert book.jurisdiction_of(third) is None and "DE" not in book


def test_the_older_one_digest_file_form_is_read(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    token = TokenBook.open(path).issue("PL")
    digests = json.loads(path.read_text())
    path.write_text(json.dumps({"PL": digests["PL"][0]}))  # {"PL": "<digest>"}, as files were written before
    assert TokenBook.open(path).jurisdiction_of(token) == "PL"


def test_revoke_command_ends_a_jurisdictions_tokens(tmp_path: Path) -> None:
    env = {"CRX_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    issued = runner.invoke(main, ["intake", "token", "--jurisdiction", "de"], env=env)
    assert issued.exit_code == 0, issued.output
    token = issued.output.strip()
    revoked = runner.invoke(main, ["intake", "revoke", "--jurisdiction", "DE"], env=env)
    assert revoked.exit_code == 0, revoked.output
    book = TokenBook.open(next(tmp_path.rglob("intake-tokens.json")))
    assert book.jurisdiction_of(token) is None
