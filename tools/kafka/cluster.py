"""A KRaft cluster of Apache Kafka brokers on loopback, for tests, benchmarks and `make kafka`.

Each node is one JVM (combined broker + controller), started as its own process. Plain clusters listen
PLAINTEXT on 127.0.0.1. Secure clusters are built only with deploy/kafka's scripts, run as an operator runs
them: ``gen-certs.sh`` (CA and broker keystore), ``start-broker.sh`` per node (SASL_SSL with SCRAM-SHA-512,
mutual TLS between controllers, StandardAuthorizer denying by default), then ``init.sh`` (SCRAM users,
topics, ACLs). Replication follows the cluster's size: 3 nodes give replication factor 3 and
min.insync.replicas 2 (so one broker may die under acks=all), 1 node gives 1 and 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from services.devstack.embedded_broker import free_port
from tools.kafka.distribution import Distribution, KafkaUnavailable

REPO = Path(__file__).resolve().parents[2]
DEPLOY_KAFKA = REPO / "deploy" / "kafka"
BASH = shutil.which("bash") or "/bin/bash"
SECURE_HOST = "localhost"  # the name in the broker certificate's SAN (gen-certs.sh BROKER_HOSTS)


def die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """SIGKILL the node if the process that started it dies, however it dies (Linux PR_SET_PDEATHSIG)."""
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)


@dataclass
class Node:
    """One broker+controller process."""

    node_id: int
    port: int
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        """True while the node's process runs."""
        return self.process is not None and self.process.poll() is None


@dataclass(frozen=True)
class Principal:
    """A SCRAM user of a secure cluster, as CRX_KAFKA_* settings for a crx process."""

    user: str
    password: str
    ca_file: Path

    def environ(self, bootstrap: str) -> dict[str, str]:
        """The CRX_KAFKA_* environment that connects a crx service as this user."""
        return {
            "CRX_KAFKA_BOOTSTRAP": bootstrap,
            "CRX_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "CRX_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "CRX_KAFKA_SASL_USERNAME": self.user,
            "CRX_KAFKA_SASL_PASSWORD": self.password,
            "CRX_KAFKA_SSL_CAFILE": str(self.ca_file),
        }


@dataclass
class KafkaCluster:
    """``brokers`` Apache Kafka nodes under ``workdir``; plain, or ``secure`` with deploy/kafka's scripts.

    ``start()`` returns once every broker is registered (and, when secure, users, topics and ACLs exist);
    ``stop()`` ends every node and is idempotent; ``kill(i)`` / ``restart(i)`` take one node down and up.
    """

    dist: Distribution
    workdir: Path
    brokers: int = 1
    secure: bool = False
    jurisdictions: Sequence[str] = ("DE", "FR", "PL", "US")
    topic_prefix: str = "crx"
    nodes: list[Node] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    started_seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.brokers < 1:
            raise ValueError("a cluster needs at least one broker")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.nodes = [
            Node(i + 1, free_port(), free_port(), self.workdir / f"node-{i + 1}") for i in range(self.brokers)
        ]
        self.cluster_id = uuid.uuid4().hex[:22]  # any 16-byte id in base64 works; Kafka wants 22 characters
        self.passwords = {user: secrets.token_hex(16) for user in ("admin", "keystore", *self.users())}

    @property
    def host(self) -> str:
        """The host clients connect to."""
        return SECURE_HOST if self.secure else "127.0.0.1"

    @property
    def bootstrap(self) -> str:
        """Every node's client address, comma-separated."""
        return ",".join(f"{self.host}:{node.port}" for node in self.nodes)

    @property
    def replication(self) -> int:
        """Replication factor of every topic: 3 on three or more nodes, else 1."""
        return 3 if self.brokers >= 3 else 1

    @property
    def min_insync(self) -> int:
        """min.insync.replicas: 2 with replication 3, else 1."""
        return 2 if self.replication == 3 else 1

    @property
    def secrets_dir(self) -> Path:
        """Certificates of a secure cluster (ca.crt is the clients' trust store)."""
        return self.workdir / "secrets"

    def users(self) -> list[str]:
        """The SCRAM users deploy/kafka/scram-users.sh creates for these jurisdictions."""
        return [
            "normaliser", "router", "cases", "lookup", "audit", "intake", "exporter",
            *(f"{kind}-{j}" for j in self.jurisdictions for kind in ("partner", "intake")),
        ]  # fmt: skip

    def principal(self, user: str) -> Principal:
        """``user`` of this secure cluster with its password (``admin``, or one of ``users()``)."""
        return Principal(user, self.passwords[user], self.secrets_dir / "ca.crt")

    def __enter__(self) -> KafkaCluster:
        self.start()
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.stop()

    # --- lifecycle ------------------------------------------------------------------------------------------

    def start(self, timeout: float = 180.0) -> None:
        """Format and start every node, wait until all are registered, then (secure) run init.sh.

        Raises KafkaUnavailable when a node exits or the cluster is not ready within ``timeout`` seconds; the
        nodes are stopped then, and their logs are under ``workdir``.
        """
        started = time.monotonic()
        try:
            if self.secure:
                self._script("gen-certs.sh", str(self.secrets_dir), BROKER_HOSTS=SECURE_HOST)
            for node in self.nodes:
                self._launch(node, format_storage=True)
            self._wait_ready(started + timeout)
            if self.secure:
                self._script("init.sh", **self._init_environ())
        except BaseException:
            self.stop()
            raise
        self.started_seconds = time.monotonic() - started

    def stop(self) -> None:
        """SIGTERM every node, SIGKILL what is left after 20 s. Idempotent."""
        for node in self.nodes:
            if node.alive and node.process is not None:
                node.process.terminate()
        deadline = time.monotonic() + 20
        for node in self.nodes:
            if node.process is not None:
                try:
                    node.process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    node.process.kill()
                    node.process.wait()
                node.process = None

    def kill(self, index: int) -> None:
        """kill -9 node ``index`` (0-based): no shutdown, no flush, like a lost machine."""
        process = self.nodes[index].process
        if process is not None:
            process.kill()
            process.wait()

    def restart(self, index: int, timeout: float = 120.0) -> None:
        """Start node ``index`` again on its existing storage and wait until the cluster has every broker."""
        self._launch(self.nodes[index], format_storage=False)
        self._wait_ready(time.monotonic() + timeout)

    # --- internals ------------------------------------------------------------------------------------------

    def _voters(self) -> str:
        return ",".join(f"{n.node_id}@{self.host}:{n.controller_port}" for n in self.nodes)

    def _launch(self, node: Node, *, format_storage: bool) -> None:
        node.directory.mkdir(parents=True, exist_ok=True)
        log = open(node.directory / "server.log", "ab")  # noqa: SIM115 - handed to the child process
        try:
            if self.secure:
                argv = [BASH, str(DEPLOY_KAFKA / "start-broker.sh")]
                env = self._node_environ(node)
            else:
                config = self._write_plain_config(node)
                if format_storage:
                    self._run(self.dist.java("kafka.tools.StorageTool", "format", "--ignore-formatted",
                                             "-t", self.cluster_id, "-c", str(config)), log)  # fmt: skip
                argv, env = self.dist.java("kafka.Kafka", str(config), heap="-Xmx768m"), dict(os.environ)
            node.process = subprocess.Popen(  # noqa: S603 - argv built here from fixed parts
                argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                preexec_fn=die_with_parent, start_new_session=True,  # Ctrl-C reaches crx, not the brokers
            )  # fmt: skip
        finally:
            log.close()

    def _write_plain_config(self, node: Node) -> Path:
        config = node.directory / "server.properties"
        config.write_text(
            "\n".join([
                "process.roles=broker,controller",
                f"node.id={node.node_id}",
                f"controller.quorum.voters={self._voters()}",
                f"listeners=PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{node.port}",
                "controller.listener.names=CONTROLLER",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
                f"log.dirs={node.directory / 'data'}",
                f"default.replication.factor={self.replication}",
                f"min.insync.replicas={self.min_insync}",
                f"offsets.topic.replication.factor={self.replication}",
                f"transaction.state.log.replication.factor={self.replication}",
                f"transaction.state.log.min.isr={self.min_insync}",
                "group.initial.rebalance.delay.ms=0",
                "group.min.session.timeout.ms=1000",  # tests run consumers with 3 s sessions (TANSU.md timings)
                "unclean.leader.election.enable=false",
                "",
            ]),
            encoding="utf-8",
        )  # fmt: skip
        return config

    def _node_environ(self, node: Node) -> dict[str, str]:
        return os.environ | {
            "CLUSTER_ID": self.cluster_id,
            "KEYSTORE_PASSWORD": self.passwords["keystore"],
            "ADMIN_PASSWORD": self.passwords["admin"],
            "KAFKA_BIN": str(self.dist.bin),
            "KAFKA_HEAP_OPTS": "-Xmx768m",
            "SECRETS_DIR": str(self.secrets_dir),
            "DATA_DIR": str(node.directory / "data"),
            "CONFIG": str(node.directory / "server.properties"),
            "ADVERTISED_HOST": SECURE_HOST,
            "LISTEN_HOST": "127.0.0.1",
            "NODE_ID": str(node.node_id),
            "SASL_PORT": str(node.port),
            "CONTROLLER_PORT": str(node.controller_port),
            "QUORUM_VOTERS": self._voters(),
            "REPLICATION_FACTOR": str(self.replication),
            "MIN_INSYNC_REPLICAS": str(self.min_insync),
        }

    def _init_environ(self) -> dict[str, str]:
        environ = {
            "ADMIN_PASSWORD": self.passwords["admin"],
            "CA_FILE": str(self.secrets_dir / "ca.crt"),
            "BOOTSTRAP": self.bootstrap,
            "KAFKA_BIN": str(self.dist.bin),
            "CRX_JURISDICTIONS": ",".join(self.jurisdictions),
            "CRX_TOPIC_PREFIX": self.topic_prefix,
            "CRX_TOPIC_REPLICATION": str(self.replication),
            "MIN_INSYNC_REPLICAS": str(self.min_insync),
        }
        for user in self.users():
            environ["KAFKA_PW_" + user.upper().replace("-", "_")] = self.passwords[user]
        return environ

    def _script(self, name: str, *args: str, **env: str) -> None:
        """Run deploy/kafka/NAME as an operator would; raises KafkaUnavailable with its output on failure."""
        environ = os.environ | {"KEYSTORE_PASSWORD": self.passwords["keystore"], "KAFKA_BIN": str(self.dist.bin)}
        done = subprocess.run(  # noqa: S603 - fixed script of this repository
            [BASH, str(DEPLOY_KAFKA / name), *args], env=environ | env, capture_output=True, text=True,
            timeout=600, check=False,
        )  # fmt: skip
        (self.workdir / f"{name}.log").write_text(done.stdout + done.stderr, encoding="utf-8")
        if done.returncode != 0:
            raise KafkaUnavailable(f"deploy/kafka/{name} failed ({done.returncode}): {done.stderr[-1500:]}")

    def _run(self, argv: list[str], log: Any) -> None:
        done = subprocess.run(argv, stdout=log, stderr=subprocess.STDOUT, timeout=120, check=False)  # noqa: S603
        if done.returncode != 0:
            raise KafkaUnavailable(f"{argv[-4]} failed ({done.returncode}); see {log.name}")

    def _wait_ready(self, deadline: float) -> None:
        with ThreadPoolExecutor(1) as pool:  # the caller may be inside an event loop already
            pool.submit(asyncio.run, self._await_brokers(deadline)).result()

    async def _await_brokers(self, deadline: float) -> None:
        from aiokafka.admin import AIOKafkaAdminClient

        from services.kernel.config import load_settings
        from services.kernel.kafka import client_options

        environ = self.principal("admin").environ(self.bootstrap) if self.secure else {}
        options = client_options(load_settings(None, environ, kafka_bootstrap=self.bootstrap))
        last = "no answer"
        while time.monotonic() < deadline:
            for node in self.nodes:
                if node.process is not None and node.process.poll() is not None:
                    raise KafkaUnavailable(f"node {node.node_id} exited; see {node.directory / 'server.log'}")
            if not all(_accepts(self.host, node.port) for node in self.nodes):  # spares the client's error logs
                last = "ports not open"
                await asyncio.sleep(0.25)
                continue
            admin = AIOKafkaAdminClient(**options, request_timeout_ms=5000)
            try:
                await admin.start()
                described = await admin.describe_cluster()
                registered = len(described["brokers"])
                if registered == len(self.nodes) and described.get("controller_id", -1) >= 0:
                    return
                last = f"{registered} of {len(self.nodes)} brokers registered"
            except Exception as exc:  # not up yet: any client error means "try again"
                last = type(exc).__name__
            finally:
                with contextlib.suppress(Exception):
                    await admin.close()
            await asyncio.sleep(0.5)
        raise KafkaUnavailable(f"cluster not ready in time ({last}); logs under {self.workdir}")


def _accepts(host: str, port: int) -> bool:
    """True when something accepts TCP connections on host:port."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False
