"""Settings from file and environment; logs that refuse personal data."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from services.kernel.config import Secret, load_settings
from services.kernel.errors import ConfigError
from services.kernel.logging import bind_message_id, configure_logging, get_logger


def test_environment_overrides_file_and_secrets_are_masked(tmp_path: Path) -> None:
    """CRX_ variables win over the file; secrets never print."""
    cfg = tmp_path / "crx.toml"
    cfg.write_text('kafka_bootstrap = "file:9092"\ntopic_partitions = 6\n')
    s = load_settings(cfg, {"CRX_KAFKA_BOOTSTRAP": "env:9092", "CRX_KEY_PASSPHRASE": "hunter2", "OTHER": "x"})
    assert s.kafka_bootstrap == "env:9092" and s.topic_partitions == 6
    assert isinstance(s.key_passphrase, Secret) and s.key_passphrase.reveal() == "hunter2"
    assert "hunter2" not in repr(s) and "hunter2" not in str(s.key_passphrase)


def test_unknown_or_ill_typed_settings_fail(tmp_path: Path) -> None:
    """A typo in the file or a non-integer number is a ConfigError, not a silent default."""
    cfg = tmp_path / "crx.toml"
    cfg.write_text('kafka_bootstrapp = "x"\n')
    with pytest.raises(ConfigError):
        load_settings(cfg, {})
    with pytest.raises(ConfigError):
        load_settings(None, {"CRX_TOPIC_PARTITIONS": "many"})


def test_boolean_settings_are_booleans() -> None:
    """A boolean setting is a bool from the environment's words and through ``replace`` (never the truthy string
    "False"); another word fails."""
    assert load_settings(None, {}).replace(lookup_burst=3).lookup_require_birth_date is False
    for word, value in (("true", True), ("Yes", True), ("1", True), ("off", False), ("0", False)):
        assert load_settings(None, {"CRX_LOOKUP_REQUIRE_BIRTH_DATE": word}).lookup_require_birth_date is value
    with pytest.raises(ConfigError):
        load_settings(None, {"CRX_LOOKUP_REQUIRE_BIRTH_DATE": "maybe"})


def test_logs_are_json_with_message_id_and_refuse_personal_keys() -> None:
    """Each line is JSON, carries the bound message id, and drops keys like name or birth_date."""
    out = io.StringIO()
    configure_logging("INFO", out)
    try:
        with bind_message_id(message_id="m-42"):
            get_logger("test").info("processed", name="Jane Roe", birth_date="1990-01-01", offset=7)
    finally:
        configure_logging("INFO")
    # Library lines share the stream now (a stray asyncio or aiohttp warning, say): read only this test's.
    (line,) = [ln for ln in map(json.loads, out.getvalue().splitlines()) if ln.get("component") == "test"]
    assert line["message_id"] == "m-42" and line["offset"] == 7 and line["component"] == "test"
    assert "Jane" not in out.getvalue() and "1990" not in out.getvalue()
    assert line["redacted_keys"] == ["birth_date", "name"]
