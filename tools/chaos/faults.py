"""The faults, one per row. Each ``inject`` does the fault and what clears it (a restart, a resume, the
operator's reaction), and returns once it is cleared; ``Scene.note`` records each step for the row.

- kill-<service>: SIGKILL of the intake, normaliser, router, audit writer or a partner client (FR); the
  supervisor's restart 1 s later clears it.
- broker-pause: SIGSTOP of the broker process for 10 s, then SIGCONT.
- broker-crash: SIGKILL of the broker (Tansu loses all it held), a new one on the same port 1 s later.
- postgres-restart: the audit store's PostgreSQL stopped with ``-m immediate`` (a crash), started 5 s later.
- partner-offline: the partner client (FR) frozen with SIGSTOP for 60 s (its connections hang, as behind a
  network partition), then SIGCONT.
- key-revoked: FR reports its signing key compromised mid-stream; the broker operator revokes it at once
  (``crx keys revoke``); 5 s later FR rotates its signing key, revokes the old one in its own store and
  exports its bundle, which the broker operator imports trusting the new key id (checked out of band).
  Receipts signed with the old key in between are refused by the audit writer.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from tools.chaos.brokers import Broker
from tools.chaos.parties import Parties
from tools.chaos.postgres import PostgresServer
from tools.chaos.processes import CrxProcess


@dataclass(frozen=True)
class FaultOptions:
    """Durations and targets of the faults."""

    pause_seconds: float = 10.0
    partner_offline_seconds: float = 60.0
    restart_delay: float = 1.0
    broker_down_seconds: float = 1.0
    postgres_down_seconds: float = 5.0
    operator_delay: float = 5.0  # key-revoked: from the broker's revocation to the partner's new key
    partner: str = "FR"


@dataclass
class Scene:
    """What a fault acts on: the row's broker, processes, parties and (for one row) PostgreSQL."""

    broker: Broker
    processes: dict[str, CrxProcess]
    parties: Parties
    options: FaultOptions
    rng: random.Random
    workdir: Path
    postgres: PostgresServer | None = None
    notes: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    def note(self, text: str) -> None:
        """Record a step, with the seconds since the stream started."""
        self.notes.append(f"t+{time.monotonic() - self.started:.1f}s {text}")


Inject = Callable[[Scene], Awaitable[None]]


@dataclass(frozen=True)
class Fault:
    """One fault: its name in ``--faults``, what it does, and whether it needs the PostgreSQL audit store."""

    name: str
    summary: str
    inject: Inject
    needs_postgres: bool = False


def _kill(target: str) -> Inject:
    async def inject(scene: Scene) -> None:
        name = f"partner-{scene.options.partner}" if target == "partner" else target
        process = scene.processes[name]
        process.kill9()
        scene.note(f"kill -9 {name}")
        await asyncio.sleep(scene.options.restart_delay)
        await process.restart()
        scene.note(f"{name} restarted and ready")

    return inject


async def _broker_pause(scene: Scene) -> None:
    os.kill(scene.broker.pid, signal.SIGSTOP)
    scene.note(f"broker paused (SIGSTOP) for {scene.options.pause_seconds:.0f} s")
    try:
        await asyncio.sleep(scene.options.pause_seconds)
    finally:
        os.kill(scene.broker.pid, signal.SIGCONT)
    scene.note("broker resumed (SIGCONT)")


async def _broker_crash(scene: Scene) -> None:
    scene.note("broker killed (SIGKILL)")
    await asyncio.to_thread(scene.broker.crash_and_restart, scene.options.broker_down_seconds)
    scene.note(f"broker started again on the same port ({scene.broker.kind})")


async def _postgres_restart(scene: Scene) -> None:
    assert scene.postgres is not None
    await asyncio.to_thread(scene.postgres.crash)
    scene.note("PostgreSQL stopped (-m immediate)")
    await asyncio.sleep(scene.options.postgres_down_seconds)
    await asyncio.to_thread(scene.postgres.resume)
    scene.note("PostgreSQL started again")


async def _partner_offline(scene: Scene) -> None:
    process = scene.processes[f"partner-{scene.options.partner}"]
    process.freeze()
    scene.note(f"partner {scene.options.partner} offline (SIGSTOP) for {scene.options.partner_offline_seconds:.0f} s")
    try:
        await asyncio.sleep(scene.options.partner_offline_seconds)
    finally:
        process.thaw()
    scene.note(f"partner {scene.options.partner} back (SIGCONT)")


async def _key_revoked(scene: Scene) -> None:
    """What the operators do when a partner's signing key is compromised, in the order they would."""
    party = scene.options.partner
    broker, partner = scene.parties.broker, scene.parties.partner(party)
    old = await asyncio.to_thread(partner.signing_key_id)
    await asyncio.to_thread(broker.crx, "keys", "revoke", "--party", party, "--key-id", old)
    scene.note(
        f"broker operator: crx keys revoke --party {party} --key-id {old[:8]}… ({party} reported it compromised)"
    )
    await asyncio.sleep(scene.options.operator_delay)
    rotated = json.loads(
        await asyncio.to_thread(partner.crx, "keys", "rotate", "--party", party, "--purpose", "signing")
    )
    new = str(rotated["key_id"])
    await asyncio.to_thread(partner.crx, "keys", "revoke", "--party", party, "--key-id", old)
    bundle = scene.workdir / f"{party}-rotated.bundle.json"
    await asyncio.to_thread(partner.crx, "keys", "export", "--party", party, "--out", str(bundle))
    scene.note(f"{party}: crx keys rotate --purpose signing (new {new[:8]}…), revoke the old key, export the bundle")
    await asyncio.to_thread(broker.crx, "keys", "import", str(bundle), "--trust", new)
    scene.note(f"broker operator: crx keys import {bundle.name} --trust {new[:8]}… (new key id checked out of band)")


async def _none(scene: Scene) -> None:
    scene.note("no fault (baseline)")


FAULTS: dict[str, Fault] = {
    f.name: f
    for f in (
        Fault("kill-intake", "kill -9 of the intake, restarted", _kill("intake")),
        Fault("kill-normaliser", "kill -9 of the normaliser, restarted", _kill("normaliser")),
        Fault("kill-router", "kill -9 of the router, restarted", _kill("router")),
        Fault("kill-audit", "kill -9 of the audit writer, restarted", _kill("audit")),
        Fault("kill-partner", "kill -9 of a partner client, restarted", _kill("partner")),
        Fault("broker-pause", "broker paused (SIGSTOP/SIGCONT)", _broker_pause),
        Fault("broker-crash", "broker killed and restarted on the same port", _broker_crash),
        Fault("postgres-restart", "PostgreSQL audit store crashed and restarted", _postgres_restart, True),
        Fault("partner-offline", "a partner client frozen, then back", _partner_offline),
        Fault("key-revoked", "a partner's signing key revoked mid-stream, then rotated", _key_revoked),
        Fault("none", "no fault: the baseline", _none),
    )
}
DEFAULT_FAULTS = tuple(name for name in FAULTS if name != "none")
