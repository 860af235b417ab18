"""Apache Kafka from Maven Central: fetched once into a cache folder, every jar checked against jars.sha256.

Maven resolves ``pom.xml`` (versions pinned there) and copies the jars into ``<cache>/kafka-<version>/lib``;
each jar's SHA-256 must then be exactly the one ``jars.sha256`` lists, and the set of jars exactly that list,
or nothing is installed. ``bin/`` gets the few launchers deploy/kafka's scripts call (``kafka-storage.sh``,
``kafka-server-start.sh``, ``kafka-topics.sh``, ``kafka-configs.sh``, ``kafka-acls.sh``), each one ``java``
with the same main class as Apache Kafka's own script of that name, so those scripts run unchanged.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
POM = HERE / "pom.xml"
LOCK = HERE / "jars.sha256"
LOG4J = HERE / "log4j2.properties"
LAUNCHERS = {
    "kafka-storage.sh": "kafka.tools.StorageTool",
    "kafka-server-start.sh": "kafka.Kafka",
    "kafka-topics.sh": "org.apache.kafka.tools.TopicCommand",
    "kafka-configs.sh": "org.apache.kafka.tools.ConfigCommand",
    "kafka-acls.sh": "org.apache.kafka.tools.AclCommand",
}

# Admin tools are short-lived JVMs: the C1 compiler alone and the serial collector start them about twice as fast.
TOOL_OPTS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto"


class KafkaUnavailable(RuntimeError):
    """Apache Kafka cannot run here (no Java or Maven, or the fetch failed); the message says which."""


class KafkaIntegrityError(KafkaUnavailable):
    """The fetched jars are not the ones jars.sha256 pins."""


@dataclass(frozen=True)
class Distribution:
    """A verified Apache Kafka: ``lib`` (the jars), ``bin`` (launchers), ``version``."""

    root: Path
    version: str

    @property
    def lib(self) -> Path:
        """The folder of jars."""
        return self.root / "lib"

    @property
    def bin(self) -> Path:
        """The launchers, as KAFKA_BIN for deploy/kafka's scripts."""
        return self.root / "bin"

    def java(self, main_class: str, *args: str, heap: str = "-Xmx512m") -> list[str]:
        """The argv that runs ``main_class`` of this distribution with ``args``."""
        config = f"-Dlog4j2.configurationFile={self.root / LOG4J.name}"
        return [_java(), heap, config, "-cp", f"{self.lib}/*", main_class, *args]


def kafka_version() -> str:
    """The Kafka version pom.xml pins."""
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", POM.read_text(encoding="utf-8"))
    if match is None:
        raise KafkaUnavailable(f"{POM}: no <kafka.version>")
    return match.group(1)


def default_cache() -> Path:
    """``$CRX_KAFKA_CACHE``, else ``$XDG_CACHE_HOME/crx`` (``~/.cache/crx``): shared by every clone."""
    if os.environ.get("CRX_KAFKA_CACHE"):
        return Path(os.environ["CRX_KAFKA_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "crx"


def _java() -> str:
    java = shutil.which("java")
    if java is None:
        raise KafkaUnavailable("no java on PATH: Apache Kafka needs Java 17 or later")
    return java


def _digests(lib: Path) -> dict[str, str]:
    return {jar.name: hashlib.sha256(jar.read_bytes()).hexdigest() for jar in sorted(lib.glob("*.jar"))}


def _read_lock() -> dict[str, str]:
    lock: dict[str, str] = {}
    for line in LOCK.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            digest, name = line.split()
            lock[name] = digest
    return lock


def _write_lock(digests: dict[str, str], version: str) -> None:
    lines = [f"# SHA-256 of every jar tools/kafka/pom.xml resolves (Kafka {version}); checked after each fetch."]
    lines += [f"{digest}  {name}" for name, digest in sorted(digests.items())]
    LOCK.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _write_launchers(staging: Path, root: Path) -> None:
    """Launchers in ``staging/bin`` that run the jars of ``root/lib`` (where staging will be renamed to)."""
    bin_dir = staging / "bin"
    bin_dir.mkdir()
    shutil.copy(LOG4J, staging / LOG4J.name)
    for name, main_class in LAUNCHERS.items():
        script = bin_dir / name
        script.write_text(
            "#!/bin/sh\n"
            f"# Apache Kafka's {name}, as crx's test distribution runs it.\n"
            f'exec "{_java()}" ${{KAFKA_HEAP_OPTS:--Xmx512m}} {"" if name == "kafka-server-start.sh" else TOOL_OPTS} '
            f'-Dlog4j2.configurationFile="{root / LOG4J.name}" -cp "{root / "lib"}/*" {main_class} "$@"\n',
            encoding="utf-8",
        )
        script.chmod(0o755)


def fetch(cache: Path | None = None, *, update_lock: bool = False) -> Distribution:
    """The verified distribution, fetched with Maven first if the cache lacks it.

    Guarantees: the returned ``lib`` holds exactly the jars of jars.sha256, each with its pinned digest
    (checked on every call, a few hundred milliseconds). ``update_lock`` rewrites jars.sha256 from a fresh
    fetch instead (after a version change in pom.xml). Raises KafkaUnavailable without Java or Maven or when
    Maven fails, KafkaIntegrityError when a jar differs from the lock.
    """
    version = kafka_version()
    root = (cache or default_cache()) / f"kafka-{version}"
    _java()
    complete = (root / LOG4J.name).is_file() and all((root / "bin" / name).is_file() for name in LAUNCHERS)
    if complete and not update_lock:
        _verify(root / "lib")
        return Distribution(root, version)
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaUnavailable("no mvn on PATH: Maven fetches Apache Kafka from Maven Central")
    root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".kafka-{version}-", dir=root.parent))
    try:
        done = subprocess.run(  # noqa: S603 - fixed argv
            [mvn, "-B", "-q", "--strict-checksums", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={staging / 'lib'}"],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        if done.returncode != 0:
            raise KafkaUnavailable(f"maven could not fetch Kafka {version}: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        if update_lock:
            _write_lock(_digests(staging / "lib"), version)
        _verify(staging / "lib")
        _write_launchers(staging, root)
        if root.exists():
            shutil.rmtree(root)
        staging.rename(root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Distribution(root, version)


def _verify(lib: Path) -> None:
    lock, found = _read_lock(), _digests(lib)
    if found != lock:
        wrong = sorted(name for name in set(lock) | set(found) if lock.get(name) != found.get(name))
        raise KafkaIntegrityError(f"{lib}: jars differ from {LOCK.name}: {wrong[:10]}")
