"""Deployment-shaped: every party keeps its own key store and every service is its own process.

The broker's store holds its own private keys and only the public halves of the partners' (imported from
signed bundles, trusted by key id); each partner's store (DE, the sender; FR and PL, the recipients) holds
its own private keys and the broker's public ones. Keys are exchanged only with `crx keys export` /
`crx keys import`, services started with `crx ... run`, records submitted with `crx push` and over the
intake's HTTP API: the commands an operator and a partner run. Runs on Tansu in `make test` and on Apache
Kafka in `make test-apache`.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.audit.store import open_store
from services.devstack.embedded_broker import free_port
from services.kernel.config import Settings, load_settings
from services.kernel.producers import COMPONENTS, component_party

pytestmark = pytest.mark.integration

CRX = str(Path(sys.executable).parent / "crx")
SAMPLE = Path(__file__).resolve().parents[2] / "adapters" / "json_v1" / "samples" / "DE-notification-fr-pl.json"
PARTNERS = ("FR", "PL")
SENDER = "DE"  # a national system with its own store, pushing itself or over the broker's HTTP intake


class Party:
    """One party's own data directory, key store and passphrase, and the `crx` command run as that party."""

    def __init__(self, name: str, root: Path, settings: Settings) -> None:
        self.name = name
        self.dir = root / name
        self.env = os.environ | {
            "CRX_DATA_DIR": str(self.dir),
            "CRX_KEY_PASSPHRASE": f"{name}-{os.urandom(8).hex()}",  # each store its own secret
            "CRX_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "CRX_TOPIC_PREFIX": settings.topic_prefix,
            "CRX_TOPIC_PARTITIONS": "2",
            "CRX_JURISDICTIONS": "DE,FR,PL",
            "CRX_SESSION_TIMEOUT_MS": "3000",
            "CRX_HEARTBEAT_INTERVAL_MS": "1000",
            "CRX_AUDIT_SECRET": "test-audit-secret",
            "CRX_AUDIT_API_PORT": str(free_port()),
            "CRX_INTAKE_PORT": str(free_port()),
            "CRX_LOG_LEVEL": "WARNING",
        }

    def crx(self, *args: str) -> str:
        """Run `crx ARGS` as this party; returns stdout, fails the test with stderr on a non-zero exit."""
        done = subprocess.run([CRX, *args], env=self.env, capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, f"crx {' '.join(args)}: {done.stderr[-2000:]}"
        return done.stdout

    def key_list(self) -> list[dict[str, object]]:
        """`crx keys list --json`: every registered key, with whether this store holds its private half."""
        listed: list[dict[str, object]] = json.loads(self.crx("keys", "list", "--json"))
        return listed

    def signing_key_id(self) -> str:
        """The id of this party's active signing key (what the other side checks out of band)."""
        return next(
            str(k["key_id"])
            for k in self.key_list()
            if k["party"] == self.name and k["purpose"] == "signing" and k["status"] == "active"
        )

    def spawn(self, *args: str) -> tuple[subprocess.Popen[bytes], int]:
        """Start `crx ARGS --metrics-port PORT` as this party; returns the process and its ops port."""
        port = free_port()
        process = subprocess.Popen([CRX, *args, "--metrics-port", str(port)], env=self.env)
        return process, port


def exchange_keys(broker: Party, partner: Party, tmp: Path) -> None:
    """Each side exports its signed public bundle; the other imports it, trusting the signing key id."""
    partner.crx("keys", "generate", "--party", partner.name)
    partner.crx("keys", "export", "--party", partner.name, "--out", str(tmp / f"{partner.name}.json"))
    broker.crx("keys", "import", str(tmp / f"{partner.name}.json"), "--trust", partner.signing_key_id())
    broker.crx("keys", "export", "--party", "crx", "--out", str(tmp / "crx.json"))
    partner.crx("keys", "import", str(tmp / "crx.json"), "--trust", broker.signing_key_id())


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    """Until the process's /readyz answers 200 (fails if the process exits or 60 s pass)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, f"{process.args!r} exited with {process.returncode}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{process.args!r} not ready")


@pytest.fixture
def parties(settings: Settings, tmp_path: Path) -> Iterator[dict[str, Party]]:
    """The broker operator and two partners, each with its own store, keys exchanged by bundle."""
    broker = Party("crx", tmp_path, settings)
    broker.crx("keys", "generate", "--party", "crx")
    partners = {name: Party(name, tmp_path, settings) for name in (SENDER, *PARTNERS)}
    for partner in partners.values():
        exchange_keys(broker, partner, tmp_path)
    yield {"crx": broker, **partners}


def _accepted_receipts(broker: Party) -> list[str]:
    """The parties whose ACCEPTED delivery receipts the broker's audit store holds (read while it runs)."""
    store = open_store(load_settings(None, broker.env), create=False)
    try:
        return sorted(e["actor"] for e in store.events(event_type="DELIVERY_RECEIPT") if e["outcome"] == "accepted")
    finally:
        store.close()


def _documents(tmp: Path, count: int) -> list[Path]:
    """``count`` distinct DE records (the sample with other record ids), as files."""
    template = json.loads(SAMPLE.read_text())
    paths = []
    for i in range(count):
        path = tmp / f"DE-{i}.json"
        path.write_text(json.dumps(dict(template, record_id=f"{template['record_id']}-DEPLOY{i}")))
        paths.append(path)
    return paths


def _post(url: str, token: str, body: bytes) -> int:
    request = urllib.request.Request(  # noqa: S310 - a loopback URL built here
        url, data=body, method="POST", headers={"Authorization": f"Bearer {token}", "Crx-Adapter": "json-v1"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return int(response.status)


def test_separate_stores_and_processes_deliver_and_audit(parties: dict[str, Party], tmp_path: Path) -> None:
    """No store holds another party's private key. Three DE records reach FR and PL, each decrypting with its
    own store: one pushed by DE from its own store (signed by DE, its batch too), one pushed with the broker's
    store (which holds only DE's public key: signed by the broker, its batch by the intake component), one
    over the broker's HTTP intake; the audit log verifies."""
    broker = parties["crx"]
    held = {(k["party"], bool(k["private_key_held"])) for k in broker.key_list()}
    components = {(component_party("crx", c), True) for c in COMPONENTS}  # made with the broker's keys
    assert held == {("crx", True), ("DE", False), ("FR", False), ("PL", False), *components}
    for name in (SENDER, *PARTNERS):
        assert {(k["party"], bool(k["private_key_held"])) for k in parties[name].key_list()} == {
            (name, True),
            ("crx", False),
        }
    by_de, by_broker, by_http = _documents(tmp_path, 3)

    started = [broker.spawn(service, "run") for service in ("intake", "normaliser", "router", "cases", "audit")]
    started += [
        parties[p].spawn("partner", "consume", "--as", p, "--out", str(parties[p].dir / "records")) for p in PARTNERS
    ]
    try:
        for process, port in started:
            wait_ready(port, process)
        parties[SENDER].crx("push", "--jurisdiction", SENDER, "--adapter", "json-v1", str(by_de))
        broker.crx("push", "--jurisdiction", SENDER, "--adapter", "json-v1", str(by_broker))
        token = broker.crx("intake", "token", "--jurisdiction", SENDER).strip()
        url = f"http://127.0.0.1:{broker.env['CRX_INTAKE_PORT']}/v1/feeds/{SENDER}"
        assert _post(url, token, by_http.read_bytes()) == 202
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(len(list((parties[p].dir / "records").glob("*.json"))) >= 3 for p in PARTNERS):
                break
            time.sleep(0.2)
        for name in PARTNERS:
            records = [json.loads(f.read_text()) for f in (parties[name].dir / "records").glob("*.json")]
            assert len(records) == 3, name
            assert all(r["header"]["source_jurisdiction"] == SENDER for r in records)
            assert all(name in r["person"]["nationalities"] for r in records)
        # A partner's receipt follows its delivery: stop only once the audit writer has them all.
        while time.monotonic() < deadline and len(_accepted_receipts(broker)) < 3 * len(PARTNERS):
            time.sleep(0.2)
    finally:
        for process, _ in started:
            process.send_signal(signal.SIGTERM)
        for process, _ in started:
            process.wait(30)
    assert json.loads(broker.crx("audit", "verify"))["ok"] is True
    store = open_store(load_settings(None, broker.env), create=False)
    try:
        receipts = store.events(event_type="DELIVERY_RECEIPT")
        disclosures = store.events(event_type="DISCLOSURE")
    finally:
        store.close()
    assert sorted(e["actor"] for e in receipts if e["outcome"] == "accepted") == sorted(PARTNERS * 3)
    assert sorted(r for e in disclosures for r in e["recipients"]) == sorted(PARTNERS * 3)
