"""``crx audit run | verify | checkpoint | prove | consistency | report | vkey``: the log on the command line.

All but ``run`` only read the store.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from services.cli.common import run_command, settings_of
from services.kernel.errors import CrxError

if TYPE_CHECKING:
    from services.audit.store import AuditStore

T = TypeVar("T")

group = click.Group(name="audit", help="The audit log: its writer, verification, proofs and reports.")
group.add_command(run_command("audit"))


def _store(ctx: click.Context) -> AuditStore:
    from services.audit.store import open_store

    return open_store(settings_of(ctx), create=False)


def _answer(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)``, or exit 1 with its typed error on stderr."""
    try:
        return fn(*args)
    except CrxError as exc:
        click.echo(f"{exc.reason_code}: {exc.detail}", err=True)
        sys.exit(1)


@group.command(name="checkpoint")
@click.pass_context
def checkpoint(ctx: click.Context) -> None:
    """Print the latest signed checkpoint (C2SP signed note)."""
    from services.audit import proofs

    click.echo(_answer(proofs.latest_checkpoint, _store(ctx)), nl=False)


@group.command(name="prove")
@click.argument("event_id")
@click.pass_context
def prove(ctx: click.Context, event_id: str) -> None:
    """Print EVENT_ID's inclusion proof bundle (c2sp.org/tlog-proof@v1, the leaf as its extra data)."""
    from services.audit import proofs

    click.echo(_answer(proofs.prove, _store(ctx), event_id), nl=False)


@group.command(name="consistency")
@click.argument("old_size", type=int)
@click.argument("new_size", type=int, required=False)
@click.pass_context
def consistency(ctx: click.Context, old_size: int, new_size: int | None) -> None:
    """Print a consistency proof from OLD_SIZE to NEW_SIZE (default: the latest checkpoint), as JSON."""
    from services.audit import proofs

    click.echo(_answer(proofs.consistency_json, _store(ctx), old_size, new_size))


def _utc_day(value: str) -> dt.datetime:
    parsed = dt.datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


@group.command(name="report")
@click.option("--from", "start", help="Start, ISO date or time (UTC unless an offset is given).")
@click.option("--to", "end", help="End, exclusive, ISO date or time.")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option(
    "--table",
    type=click.Choice(["counts", "response-times", "erasures"]),
    default="counts",
    show_default=True,
    help="The table a CSV holds (JSON holds counts and response times); erasures: its own report.",
)
@click.option("--now", help="With --table erasures: the instant receipts are judged overdue at (default: now).")
@click.pass_context
def report(ctx: click.Context, start: str | None, end: str | None, fmt: str, table: str, now: str | None) -> None:
    """Counts per partner, purpose, event type and outcome over [--from, --to), and the response times of the
    requests disclosed in it, from the log's leaves alone.

    --table erasures (no --from/--to): per recipient, how many erasure receipts are overdue and the oldest due
    date: records past their retention end, or deleted, more than erasure_grace_days ago, without an ERASURE
    event from that recipient (services/audit/erasures.py). No record ids."""
    if table == "erasures":
        _erasures(ctx, fmt, now)
        return
    from services.audit.report import build_report

    if start is None or end is None:
        raise click.UsageError("--from and --to are required (but for --table erasures)")
    try:
        bounds = _utc_day(start), _utc_day(end)
    except ValueError:
        raise click.BadParameter("--from and --to take ISO dates or times") from None
    store = _store(ctx)
    result = _answer(build_report, store.leaves(), *bounds)
    click.echo(result.as_json() if fmt == "json" else result.as_csv(table), nl=fmt == "json")


def _erasures(ctx: click.Context, fmt: str, now: str | None) -> None:
    from services.audit.erasures import erasure_report

    try:
        at = dt.datetime.now(dt.UTC) if now is None else _utc_day(now)
    except ValueError:
        raise click.BadParameter("--now takes an ISO date or time") from None
    store = _store(ctx)
    try:
        result = _answer(erasure_report, store.leaves(), at, settings_of(ctx).erasure_grace_days)
    finally:
        store.close()
    click.echo(result.as_json() if fmt == "json" else result.as_csv(), nl=fmt == "json")


@group.command(name="vkey")
@click.pass_context
def vkey(ctx: click.Context) -> None:
    """Print the log's verifier key(s) in C2SP note form: what partners and supervisors verify checkpoints with."""
    from services.audit.notekey import load_note_verifiers

    for verifier in _answer(load_note_verifiers, settings_of(ctx)):
        click.echo(verifier.vkey())


@group.command(name="verify")
@click.option(
    "--vkey",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    help="The log's verifier key(s), pinned out of band (default: <keys_dir>/audit-note.vkey).",
)
@click.pass_context
def audit_verify(ctx: click.Context, vkey: Path | None) -> None:
    """Verify the audit store: recompute the Merkle tree, check every stored node and signed checkpoint.

    Checkpoint signatures are checked against the verifier keys in ``--vkey FILE``: a copy pinned out of band
    (whoever can rewrite the store may also rewrite the store's own ``<keys_dir>/audit-note.vkey``, the
    default). Prints JSON (ok, entries, signed, problem, bad_index); exits 1 when verification fails.
    """
    from services.audit.notekey import load_note_verifiers
    from services.audit.store import open_store
    from services.translog.trust import load_verifiers

    settings = settings_of(ctx)
    try:
        verifiers = load_verifiers(vkey) if vkey else load_note_verifiers(settings)
        store = open_store(settings, create=False)
    except CrxError as exc:
        raise click.ClickException(exc.detail) from None
    try:
        result = store.verify(verifiers)
    finally:
        store.close()
    click.echo(
        json.dumps(
            {
                "ok": result.ok,
                "entries": result.entries,
                "signed": result.signed,
                "problem": result.problem,
                "bad_index": result.bad_index,
            }
        )
    )
    sys.exit(0 if result.ok else 1)
