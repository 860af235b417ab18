"""The parties of a chaos run, each with its own data directory and key store, set up as operators do it.

The broker operator (``crx``) holds its own private keys and only the public halves of the partners'; each
partner (DE, FR, PL) holds its own private keys and the broker's public ones. Keys are made and exchanged with
the commands an operator runs (``crx keys generate | export | import --trust``), intake tokens with
``crx intake token``. That takes a few seconds, so it is done once into a template that every row copies.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

CRX = str(Path(sys.executable).parent / "crx")
BROKER = "crx"
SENDERS = ("DE", "FR")  # the jurisdictions pushing records
PARTNERS = ("DE", "FR", "PL")  # the partner clients receiving them
JURISDICTIONS = ",".join(sorted({*SENDERS, *PARTNERS}))


class ChaosError(RuntimeError):
    """The harness could not do what it needed (a command failed, a service never came up)."""


def run_crx(args: list[str], env: Mapping[str, str], timeout: float = 120.0) -> str:
    """Run ``crx ARGS`` with ``env``; returns stdout. Raises ChaosError with the tail of stderr on failure."""
    done = subprocess.run(  # noqa: S603 - the crx of this venv, arguments built here
        [CRX, *args], env=dict(env), capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise ChaosError(f"crx {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-800:]}")
    return done.stdout


@dataclass(frozen=True)
class Party:
    """One party's data directory and key passphrase."""

    name: str
    directory: Path
    passphrase: str

    def environ(self, common: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment of a ``crx`` command run as this party, with ``common`` settings added."""
        return {
            **os.environ,
            **(common or {}),
            "CRX_DATA_DIR": str(self.directory),
            "CRX_KEY_PASSPHRASE": self.passphrase,
            "CRX_JURISDICTIONS": JURISDICTIONS,
        }

    def crx(self, *args: str) -> str:
        """``crx ARGS`` as this party (key and token commands: no Kafka needed)."""
        return run_crx(list(args), self.environ())

    def signing_key_id(self, party: str | None = None) -> str:
        """The id of ``party``'s (default: this party's) active signing key in this party's registry."""
        who = party or self.name
        rows = json.loads(self.crx("keys", "list", "--json"))
        for row in rows:
            if row["party"] == who and row["purpose"] == "signing" and row["status"] == "active" and row["in_use"]:
                return str(row["key_id"])
        raise ChaosError(f"no active signing key of {who} in {self.name}'s registry")

    def moved(self, root: Path) -> Party:
        """The same party with its directory under ``root``."""
        return Party(self.name, root / self.name, self.passphrase)


@dataclass(frozen=True)
class Parties:
    """The broker operator, the partners, and the senders' intake bearer tokens."""

    root: Path
    members: dict[str, Party]
    tokens: dict[str, str]

    @property
    def broker(self) -> Party:
        """The broker operator."""
        return self.members[BROKER]

    def partner(self, name: str) -> Party:
        """A partner (DE, FR, PL)."""
        return self.members[name]

    @classmethod
    def create(cls, root: Path) -> Parties:
        """Generate every party's keys, exchange public bundles (trusting the signing key ids, as an operator
        checks them out of band), and issue an intake token per sender, in a fresh ``root``. Raises ChaosError."""
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        members = {name: Party(name, root / name, os.urandom(12).hex()) for name in (BROKER, *PARTNERS)}
        broker = members[BROKER]
        broker.crx("keys", "generate", "--party", BROKER)
        broker.crx("keys", "export", "--party", BROKER, "--out", str(root / "crx.bundle.json"))
        broker_key = broker.signing_key_id()
        for name in PARTNERS:
            partner = members[name]
            partner.crx("keys", "generate", "--party", name)
            bundle = root / f"{name}.bundle.json"
            partner.crx("keys", "export", "--party", name, "--out", str(bundle))
            broker.crx("keys", "import", str(bundle), "--trust", partner.signing_key_id())
            partner.crx("keys", "import", str(root / "crx.bundle.json"), "--trust", broker_key)
        tokens = {j: broker.crx("intake", "token", "--jurisdiction", j).strip() for j in SENDERS}
        return cls(root, members, tokens)

    def copy_to(self, root: Path) -> Parties:
        """A copy of every party's directory under ``root`` (a fresh deployment with the same keys)."""
        root.mkdir(parents=True, exist_ok=True)
        for party in self.members.values():
            shutil.copytree(party.directory, root / party.name)
        return Parties(root, {n: p.moved(root) for n, p in self.members.items()}, dict(self.tokens))
