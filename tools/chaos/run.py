"""One chaos row: a fresh deployment on the row's broker, the stream, one fault, the settle check, the verdict.

Time to settle is measured from the later of the stream's last answer and the fault's clearing (the
restart, the resume, the operator's last step) to the first check that finds everything settled: the drop
directory empty, the accounting complete, every expected delivery at its partner, every process healthy.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from services.devstack.embedded_broker import free_port
from services.kernel.config import Settings, load_settings
from services.kernel.kafka import ensure_topics, standard_topics
from tools.chaos import processes
from tools.chaos.brokers import Backend, Broker
from tools.chaos.faults import Fault, FaultOptions, Scene
from tools.chaos.load import Item, Stream, plan
from tools.chaos.parties import PARTNERS, Parties
from tools.chaos.postgres import PostgresServer
from tools.chaos.processes import CrxProcess
from tools.chaos.settle import (
    Deliveries,
    Duplicates,
    OutputScan,
    audit_books,
    audit_findings,
    census,
    receipt_duplicates,
)
from tools.chaos.table import ERROR, NOT_EXACT, SKIPPED, Row

SERVICES = ("intake", "normaliser", "router", "cases", "audit")
CHECK_EVERY = 2.0


@dataclass(frozen=True)
class RowOptions:
    """How big, how fast, how long to wait, and the faults' own durations."""

    records: int = 1000
    rate: float = 50.0
    seed: int = 0
    settle_timeout: float = 180.0
    fault_window: tuple[float, float] = (0.2, 0.6)  # where in the stream the fault strikes (fraction of records)
    faults: FaultOptions = field(default_factory=FaultOptions)
    extra_environ: dict[str, str] = field(default_factory=dict)


def row_environ(broker: Broker, prefix: str, extra: dict[str, str]) -> dict[str, str]:
    """The settings every process of the row shares: the broker, short group timings and shutdown steps, a
    quick topic check, and the intake reconciler's age (tolerated by builds that do not have it yet)."""
    return {
        "CRX_KAFKA_BOOTSTRAP": broker.bootstrap,
        "CRX_TOPIC_PREFIX": prefix,
        "CRX_TOPIC_PARTITIONS": "2",
        "CRX_SESSION_TIMEOUT_MS": "3000",
        "CRX_HEARTBEAT_INTERVAL_MS": "1000",
        "CRX_SHUTDOWN_SECONDS": "3",
        "CRX_TOPIC_CHECK_SECONDS": "2",
        "CRX_DROP_POLL_MS": "250",
        "CRX_LOG_LEVEL": "WARNING",
        "CRX_RECONCILE_AFTER_SECONDS": "5",
        **extra,
    }


def _processes(
    parties: Parties, common: dict[str, str], broker_extra: dict[str, str], logs: Path
) -> dict[str, CrxProcess]:
    broker_env = parties.broker.environ({**common, **broker_extra})
    procs = {name: processes.service(name, broker_env, logs) for name in SERVICES}
    for party in PARTNERS:
        member = parties.partner(party)
        procs[f"partner-{party}"] = processes.partner(party, member.directory / "records", member.environ(common), logs)
    return procs


def _stop_all(procs: dict[str, CrxProcess], row: Row) -> None:
    for process in procs.values():
        with contextlib.suppress(Exception):
            process.thaw()  # a row that failed mid-freeze must not leave a stopped process behind
        process.terminate()
    for process in procs.values():
        code = process.stop()
        if code == processes.KILLED:
            row.notes.append(f"{process.name} did not stop within {processes.STOP_SECONDS:.0f} s of SIGTERM: killed")
        elif code not in (0, None):
            row.notes.append(f"{process.name} exited {code} on SIGTERM")


async def run_row(
    fault: Fault, backend: Backend, template: Parties, options: RowOptions, workdir: Path,
    postgres: PostgresServer | None = None,
) -> Row:  # fmt: skip
    """Run ``fault`` on ``backend`` and return its row (never raises for crx's failures: the row says them)."""
    row = Row(fault.name, backend.kind)
    if fault.needs_postgres and postgres is None:
        row.result = SKIPPED
        row.reasons.append(PostgresServer.unavailable() or "no PostgreSQL server for the audit store")
        return row
    row_dir = workdir / backend.kind / fault.name
    shutil.rmtree(row_dir, ignore_errors=True)
    row_dir.mkdir(parents=True)
    try:
        await _run(fault, backend, template, options, row_dir, postgres, row)
    except Exception as exc:  # the harness's own failure (a service that never came up): the row says it
        row.result = ERROR
        row.reasons.insert(0, f"{type(exc).__name__}: {exc}")
    return row


async def _run(
    fault: Fault, backend: Backend, template: Parties, options: RowOptions, row_dir: Path,
    postgres: PostgresServer | None, row: Row,
) -> None:  # fmt: skip
    rng = random.Random(f"{options.seed}:{backend.kind}:{fault.name}")  # noqa: S311 - a reproducible plan, no secret
    parties = template.copy_to(row_dir / "parties")
    tag = uuid.UUID(int=rng.getrandbits(128)).hex[:8]
    with backend.row(row_dir) as broker:
        common = row_environ(broker, f"chaos{tag}", options.extra_environ)
        broker_extra = {
            "CRX_AUDIT_SECRET": "chaos-audit-secret",
            "CRX_INTAKE_PORT": str(free_port()),
            "CRX_AUDIT_API_PORT": str(free_port()),
        }
        if fault.needs_postgres and postgres is not None:
            schema = await asyncio.to_thread(postgres.schema)
            broker_extra |= {"CRX_AUDIT_DB": schema.dsn, "CRX_AUDIT_PG_SCHEMA": schema.schema}
        settings = load_settings(None, parties.broker.environ({**common, **broker_extra}))
        await ensure_topics(settings, standard_topics(settings))
        procs = _processes(parties, common, broker_extra, row_dir / "logs")
        try:
            for process in procs.values():
                process.start()
            await asyncio.gather(*(p.wait_ready() for p in procs.values()))
            await _stream_and_fault(fault, broker, procs, parties, options, settings, rng, tag, row_dir, postgres, row)
        finally:
            await asyncio.to_thread(_stop_all, procs, row)


async def _stream_and_fault(
    fault: Fault, broker: Broker, procs: dict[str, CrxProcess], parties: Parties, options: RowOptions,
    settings: Settings, rng: random.Random, tag: str, row_dir: Path, postgres: PostgresServer | None, row: Row,
) -> None:  # fmt: skip
    items = plan(options.records, rng, tag)
    stream = Stream(items, f"http://127.0.0.1:{settings.intake_port}", parties.tokens, settings.drop_dir,
                    rate=options.rate)  # fmt: skip
    scene = Scene(broker, procs, parties, options.faults, rng, row_dir, postgres)
    load = asyncio.create_task(stream.run())
    strike = int(len(items) * rng.uniform(*options.fault_window))
    await stream.reached(strike)
    scene.note(f"fault at record {stream.started} of {len(items)}")
    struck = time.monotonic()
    try:
        await fault.inject(scene)
    finally:
        cleared = time.monotonic()
        row.notes.extend(scene.notes)  # what was done, also when the fault itself failed
        await load
    assert stream.finished_at is not None
    origin = max(stream.finished_at, cleared)
    scan = OutputScan({p: parties.partner(p).directory / "records" for p in PARTNERS})
    settled, deliveries = await _settle(stream, settings, procs, scan, origin + options.settle_timeout)
    row.seconds = round(settled - origin, 1) if settled is not None else None
    await _verdict(row, stream, settings, procs, deliveries, settled is not None, options)
    row.details["timeline_s"] = {  # seconds since the stream started
        name: round(at - scene.started, 1)
        for name, at in (("fault", struck), ("cleared", cleared), ("stream_end", stream.finished_at),
                         ("settled", settled))
        if at is not None
    }  # fmt: skip


async def _settle(
    stream: Stream, settings: Settings, procs: dict[str, CrxProcess], scan: OutputScan, deadline: float
) -> tuple[float | None, Deliveries]:
    """Poll until everything is settled (returns when) or ``deadline`` (returns None)."""
    deliveries = Deliveries()
    while True:
        backlog = stream.drop_backlog()
        accepted = stream.accepted
        try:
            books = await asyncio.to_thread(audit_books, settings, [p.item.submission_id for p in accepted])
        except Exception:  # the store restarting (PostgreSQL) or not there yet: not settled, ask again
            books = None
        deliveries = await asyncio.to_thread(scan.check, [p.item for p in accepted])
        healthy = all(await asyncio.gather(*(asyncio.to_thread(p.healthy) for p in procs.values())))
        if not backlog and books is not None and books.complete and not deliveries.missing and healthy:
            return time.monotonic(), deliveries
        if time.monotonic() > deadline:
            return None, deliveries
        await asyncio.sleep(CHECK_EVERY)


def _expected(items: list[Item]) -> dict[str, int]:
    return {kind: sum(1 for i in items if i.expect == kind) for kind in ("delivered", "refused", "dead_lettered")}


async def _verdict(
    row: Row, stream: Stream, settings: Settings, procs: dict[str, CrxProcess], deliveries: Deliveries,
    settled: bool, options: RowOptions,
) -> None:  # fmt: skip
    """Fill the row's numbers and decide: exact, or NOT EXACT with every reason."""
    accepted = stream.accepted
    ids = [p.item.submission_id for p in accepted]
    books = await asyncio.to_thread(audit_books, settings, ids)
    dups = Duplicates(deliveries=deliveries.duplicated)
    errors = await asyncio.to_thread(audit_findings, settings, dups)
    await receipt_duplicates(settings, dups)
    expected = _expected([p.item for p in accepted])
    row.pushed, row.accepted = len(stream.pushes), len(accepted)
    row.delivered, row.refused, row.dead_lettered = books.delivered_records, books.refused, books.dead_lettered
    row.duplicates = dups.total
    reasons = row.reasons
    if not settled:
        reasons.append(f"not settled within {options.settle_timeout:.0f} s")
    if books.pending:
        reasons.append(f"{len(books.pending)} accepted submissions pending")
    if books.pending or not settled:
        stages = await asyncio.to_thread(census, settings, ids)
        if stages:
            reasons.append("where they stand: " + ", ".join(f"{n} {stage}" for stage, n in stages.most_common()))
    if books.records.pending:
        reasons.append(f"{books.records.pending} normalised records never routed")
    if books.receipts < books.disclosures:
        reasons.append(f"{books.disclosures - books.receipts} disclosures without an accepted receipt")
    for kind, got in (("delivered", row.delivered), ("refused", row.refused), ("dead_lettered", row.dead_lettered)):
        if got != expected[kind]:
            reasons.append(f"{kind} {got}, expected {expected[kind]}")
    if deliveries.missing:
        reasons.append(f"{deliveries.missing} of {deliveries.expected} deliveries missing at the partners")
    if deliveries.unexpected:
        reasons.append(f"{deliveries.unexpected} deliveries no accepted submission asked for")
    if dups.total:
        reasons.append(f"duplicates: {dups.as_dict()}")
    lost = [p for p in stream.pushes if not p.accepted]
    if lost:
        reasons.append(f"{len(lost)} submissions never accepted (first: {lost[0].error})")
    unhealthy = [p.name for p in procs.values() if not await asyncio.to_thread(p.healthy)]
    if unhealthy:
        reasons.append(f"not healthy: {', '.join(unhealthy)}")
    for process in procs.values():
        if process.unexpected_exits:
            reasons.append(f"{process.name} exited by itself (codes {process.unexpected_exits})")
    false_alarms = {r: n for r, n in errors.items() if r == "EVENT_ID_CONFLICT" or r.startswith("UNAUTHENTICATED_")}
    if false_alarms:  # no forger in a chaos row: a redone act that differs, or a component's own record refused
        reasons.append(f"alarms without an attack: {false_alarms}")
    if reasons:
        row.result = NOT_EXACT
    row.details = {
        "expected": expected,
        "accounting": books.as_dict(),
        "deliveries": vars(deliveries),
        "duplicates": dups.as_dict(),
        "audit_errors": dict(errors.most_common()),
        "http_attempts": sum(p.attempts for p in stream.pushes if p.item.route == "http"),
        "drop_files": sum(1 for p in stream.pushes if p.item.route == "drop"),
    }
    if dups.resent_receipts:
        per_party = ", ".join(f"{p} {n}" for p, n in sorted(dups.resent_receipts.items()))
        row.notes.append(f"receipt copies re-sent with the same receipt id (absorbed): {per_party}")
    if errors:
        listed = ", ".join(f"{n} {reason}" for reason, n in errors.most_common())
        row.notes.append(f"audit log ERROR events (alarms an operator sees): {listed}")
