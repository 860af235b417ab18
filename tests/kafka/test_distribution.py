"""tools/kafka's distribution: the jars are exactly the pinned ones, and the launchers are what deploy/kafka calls."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tools.kafka import distribution
from tools.kafka.distribution import LAUNCHERS, Distribution, KafkaIntegrityError


def test_every_tool_deploy_kafka_calls_has_a_launcher() -> None:
    """deploy/kafka's scripts call $KAFKA_BIN/kafka-*.sh: each such tool is one the distribution provides."""
    called = set()
    for script in (distribution.HERE.parents[1] / "deploy" / "kafka").glob("*.sh"):
        called |= set(re.findall(r"(kafka-[a-z-]+\.sh)", script.read_text(encoding="utf-8")))
    assert called and called <= set(LAUNCHERS), called - set(LAUNCHERS)


def test_launchers_run_the_verified_jars(kafka_dist: Distribution) -> None:
    """Each launcher is `java ... -cp <the verified lib>/* <main class>`, with the cached log4j2 config."""
    for name, main_class in LAUNCHERS.items():
        text = (kafka_dist.bin / name).read_text(encoding="utf-8")
        assert f'-cp "{kafka_dist.lib}/*" {main_class} "$@"' in text
        assert str(kafka_dist.root / "log4j2.properties") in text


@pytest.mark.parametrize("change", ["altered", "removed", "added"])
def test_a_jar_that_is_not_the_pinned_one_is_refused(kafka_dist: Distribution, tmp_path: Path, change: str) -> None:
    """One changed byte, a missing jar or an extra jar: the distribution is refused, naming the jar."""
    root = tmp_path / f"kafka-{kafka_dist.version}"
    shutil.copytree(kafka_dist.root, root)
    lib = root / "lib"
    jar = sorted(lib.glob("kafka-clients-*.jar"))[0]
    if change == "altered":
        data = bytearray(jar.read_bytes())
        data[len(data) // 2] ^= 1
        jar.write_bytes(bytes(data))
    elif change == "removed":
        jar.unlink()
    else:
        jar = lib / "evil-1.0.jar"
        jar.write_bytes(b"PK\x05\x06" + b"\x00" * 18)
    with pytest.raises(KafkaIntegrityError, match=re.escape(jar.name)):
        distribution.fetch(tmp_path)
    assert distribution.fetch(kafka_dist.root.parent).root == kafka_dist.root  # the real one still verifies
